package blob

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/penstockhq/penstock/connect/config"
)

// Configuration keys. The names are those of Confluent's S3, GCS and Azure
// Blob Storage sinks unless marked as a Penstock extension.
const (
	StoreURLConfig       = "store.url"
	BlobURLConfig        = "blob.url" // Penstock: the gocloud bucket URL under its own name
	S3BucketConfig       = "s3.bucket.name"
	S3RegionConfig       = "s3.region"
	S3PathStyleConfig    = "s3.path.style.access.enabled"
	S3PartSizeConfig     = "s3.part.size"
	AWSAccessKeyConfig   = "aws.access.key.id"
	AWSSecretKeyConfig   = "aws.secret.access.key"
	CompressionConfig    = "s3.compression.type"
	GCSBucketConfig      = "gcs.bucket.name"
	GCSCredentialsConfig = "gcs.credentials.path"
	AzAccountConfig      = "azblob.account.name"
	AzKeyConfig          = "azblob.account.key"
	AzContainerConfig    = "azblob.container.name"
	AzEndpointConfig     = "azblob.endpoint" // Penstock: the blob service URL (an emulator's)
	StorageClassConfig   = "storage.class"
	RetryBackoffConfig   = "retry.backoff.ms"
	PartRetriesConfig    = "s3.part.retries"

	TopicsDirConfig      = "topics.dir"
	DirDelimConfig       = "directory.delim"
	FileDelimConfig      = "file.delim"
	ZeroPadConfig        = "filename.offset.zero.pad.width"
	FormatConfig         = "format.class"
	FlushSizeConfig      = "flush.size"
	RotateIntervalConfig = "rotate.interval.ms"
	RotateScheduleConfig = "rotate.schedule.interval.ms"
	SchemaCompatConfig   = "schema.compatibility"
	NullValuesConfig     = "behavior.on.null.values"
	ParquetCodecConfig   = "parquet.codec"
	ParquetRowGroupBytes = "parquet.row.group.bytes" // Penstock: bounds a Parquet file's buffered row group
	AvroCodecConfig      = "avro.codec"
	BytesExtensionConfig = "format.bytearray.extension"
	JSONDecimalConfig    = "json.decimal.format"
	ChangeLogConfig      = "cdc.change.log" // Penstock: Debezium envelopes as change-log rows
	StoreKeysConfig      = "store.kafka.keys"
	StoreHeadersConfig   = "store.kafka.headers"

	PartitionerConfig       = "partitioner.class"
	PartitionFieldConfig    = "partition.field.name"
	PathFormatConfig        = "path.format"
	PartitionDurationConfig = "partition.duration.ms"
	LocaleConfig            = "locale"
	TimezoneConfig          = "timezone"
	TimestampExtractor      = "timestamp.extractor"
	TimestampFieldConfig    = "timestamp.field"
)

// Values of the enumerated keys.
const (
	NullFail   = "fail"
	NullIgnore = "ignore"
	NullWrite  = "write"

	CompatNone     = "NONE"
	CompatBackward = "BACKWARD"
	CompatForward  = "FORWARD"
	CompatFull     = "FULL"

	ExtractRecord      = "Record"
	ExtractRecordField = "RecordField"
	ExtractWallclock   = "Wallclock"
)

const (
	groupStore     = "Storage"
	groupFormat    = "Format"
	groupPartition = "Partitioner"
	groupUpload    = "Upload" // the sink's store keys the source does not take
)

// binding declares every key the sink accepts and the settings field it
// fills.
var binding = config.Bind(inOrder(
	config.StringField(config.Key{Name: StoreURLConfig, Importance: config.High, Group: groupStore,
		Doc: "Where objects go: a bucket URL (s3://BUCKET?region=R&endpoint=URL&use_path_style=true, gs://BUCKET, azblob://CONTAINER, file:///DIR, mem://) or, as in Confluent's S3 sink, the http(s) endpoint of an S3-compatible server used with s3.bucket.name."},
		func(s *settings) *string { return &s.rawStoreURL }),
	config.StringField(config.Key{Name: BlobURLConfig, Importance: config.Medium, Group: groupStore,
		Doc: "Penstock extension. The bucket URL, as store.url takes it; wins over store.url."},
		func(s *settings) *string { return &s.rawBlobURL }),
	config.StringField(config.Key{Name: S3BucketConfig, Importance: config.High, Group: groupStore,
		Doc: "The S3 bucket (Confluent's S3 sink); store.url, when an http(s) URL, is its endpoint."},
		func(s *settings) *string { return &s.s3Bucket }),
	config.StringField(config.Key{Name: S3RegionConfig, Default: "us-west-2", Importance: config.Medium, Group: groupStore,
		Doc: "The S3 region."},
		func(s *settings) *string { return &s.s3Region }),
	config.BoolField(config.Key{Name: S3PathStyleConfig, Default: true, Importance: config.Low, Group: groupStore,
		Doc: "Address buckets by path (http://endpoint/bucket) instead of virtual host, as S3-compatible servers need."},
		func(s *settings) *bool { return &s.s3PathStyle }),
	config.StringField(config.Key{Name: AWSAccessKeyConfig, Importance: config.Medium, Group: groupStore,
		Doc: "The AWS access key id; unset: the SDK's default chain (environment, profile, instance role)."},
		func(s *settings) *string { return &s.awsKey }),
	config.PasswordField(config.Key{Name: AWSSecretKeyConfig, Importance: config.Medium, Group: groupStore,
		Doc: "The AWS secret access key (use ${env:...} or ${file:...} to keep it out of the config topic)."},
		func(s *settings) *config.Secret { return &s.rawAWSSecret }),
	config.IntField(config.Key{Name: S3PartSizeConfig, Default: 5 << 20, Validator: config.Between(5<<20, 1<<30), Importance: config.Low, Group: groupUpload,
		Doc: "The size of the parts of a multipart upload, and of the upload buffer of each open object, in bytes. Penstock's default is 5 MiB (Confluent: 25 MiB) so a task stays within its memory budget."},
		func(s *settings) *int { return &s.partSize }),
	config.StringField(config.Key{Name: CompressionConfig, Default: "none", Validator: config.OneOf("none", "gzip", "zstd"), Importance: config.Low, Group: groupStore,
		Doc: "Compression of JSON, CSV and byte array objects, whatever the store: none, gzip (.gz) or zstd (.zst, a Penstock extension)."},
		func(s *settings) *string { return &s.compression }),
	config.StringField(config.Key{Name: GCSBucketConfig, Importance: config.High, Group: groupStore,
		Doc: "The Google Cloud Storage bucket (Confluent's GCS sink)."},
		func(s *settings) *string { return &s.gcsBucket }),
	config.StringField(config.Key{Name: GCSCredentialsConfig, Importance: config.Medium, Group: groupStore,
		Doc: "Path of a service account JSON key; unset: Application Default Credentials."},
		func(s *settings) *string { return &s.gcsCreds }),
	config.StringField(config.Key{Name: AzAccountConfig, Importance: config.High, Group: groupStore,
		Doc: "The Azure storage account (Confluent's Azure Blob Storage sink)."},
		func(s *settings) *string { return &s.azAccount }),
	config.PasswordField(config.Key{Name: AzKeyConfig, Importance: config.Medium, Group: groupStore,
		Doc: "The storage account's shared key; unset: Azure's default credential chain."},
		func(s *settings) *config.Secret { return &s.rawAzKey }),
	config.StringField(config.Key{Name: AzContainerConfig, Importance: config.High, Group: groupStore,
		Doc: "The blob container."},
		func(s *settings) *string { return &s.azContainer }),
	config.StringField(config.Key{Name: AzEndpointConfig, Importance: config.Low, Group: groupStore,
		Doc: "Penstock extension. The blob service URL when it is not https://ACCOUNT.blob.core.windows.net, e.g. an emulator's http://127.0.0.1:10000/devstoreaccount1."},
		func(s *settings) *string { return &s.azEndpoint }),
	config.OnlyKey[settings](config.Key{Name: StorageClassConfig, Type: config.Class, Importance: config.Low, Group: groupStore,
		Doc: "Accepted for compatibility (io.confluent.connect.s3.storage.S3Storage...); the store follows from the keys above."}),
	config.DurationField(config.Key{Name: RetryBackoffConfig, Default: int64(200), Validator: config.AtLeast(1), Importance: config.Low, Group: groupUpload,
		Doc: "The first backoff after a failed upload, in milliseconds; it doubles with each failure up to one minute. A failed upload is retried (s3.part.retries): its records are read again from Kafka and the object rewritten whole."},
		func(s *settings) *time.Duration { return &s.retryBackoff }),
	config.IntField(config.Key{Name: PartRetriesConfig, Default: 3, Validator: config.AtLeast(-1), Importance: config.Low, Group: groupUpload,
		Doc: "How many times in a row a failed upload (on any store, not only S3) is retried, each after retry.backoff.ms doubled, before the task fails with the store's error in its status; -1 retries forever (Penstock). A restarted task rewrites the objects from the committed offsets. Each attempt of the store's client has its own retries besides."},
		func(s *settings) *int { return &s.partRetries }),

	config.StringField(config.Key{Name: TopicsDirConfig, Default: "topics", Importance: config.High, Group: groupPartition,
		Doc: "The top-level directory of the objects."},
		func(s *settings) *string { return &s.topicsDir }),
	config.StringField(config.Key{Name: DirDelimConfig, Default: "/", Importance: config.Low, Group: groupPartition,
		Doc: "The directory delimiter in object names."},
		func(s *settings) *string { return &s.dirDelim }),
	config.StringField(config.Key{Name: FileDelimConfig, Default: "+", Importance: config.Low, Group: groupPartition,
		Doc: "The delimiter between topic, partition and start offset in file names."},
		func(s *settings) *string { return &s.fileDelim }),
	config.IntField(config.Key{Name: ZeroPadConfig, Default: 10, Validator: config.Between(0, 19), Importance: config.Low, Group: groupPartition,
		Doc: "The width to which a file's start offset is zero-padded."},
		func(s *settings) *int { return &s.zeroPad }),
	config.ClassField(config.Key{Name: PartitionerConfig, Default: "io.confluent.connect.storage.partitioner.DefaultPartitioner", Importance: config.High, Group: groupPartition,
		Doc: "DefaultPartitioner (partition=N), FieldPartitioner (partition.field.name), TimeBasedPartitioner (path.format, partition.duration.ms), DailyPartitioner or HourlyPartitioner, by Confluent's class name or simple name."},
		func(s *settings) *string { return &s.part.class }),
	config.ListField(config.Key{Name: PartitionFieldConfig, Default: []string{}, Importance: config.Medium, Group: groupPartition,
		Doc: "FieldPartitioner: the value fields whose values name the directories, field=value, in order."},
		func(s *settings) *[]string { return &s.part.fields }),
	config.StringField(config.Key{Name: PathFormatConfig, Default: "", Importance: config.Medium, Group: groupPartition,
		Doc: "TimeBasedPartitioner: the directory as a Joda-Time pattern, e.g. 'year'=YYYY/'month'=MM/'day'=dd/'hour'=HH."},
		func(s *settings) *string { return &s.part.pathFormat }),
	config.LongField(config.Key{Name: PartitionDurationConfig, Default: int64(-1), Importance: config.Medium, Group: groupPartition,
		Doc: "TimeBasedPartitioner: the length of a time partition in milliseconds."},
		func(s *settings) *int64 { return &s.part.duration }),
	config.OnlyKey[settings](config.Key{Name: LocaleConfig, Type: config.String, Default: "", Importance: config.Low, Group: groupPartition,
		Doc: "TimeBasedPartitioner: the locale of path.format (month and day names are English whatever it says)."}),
	config.StringField(config.Key{Name: TimezoneConfig, Default: "", Importance: config.Low, Group: groupPartition,
		Doc: "TimeBasedPartitioner: the time zone of path.format, e.g. UTC or Europe/Paris (an IANA name)."},
		func(s *settings) *string { return &s.part.timezone }),
	config.StringField(config.Key{Name: TimestampExtractor, Default: ExtractWallclock, Validator: config.OneOf(ExtractRecord, ExtractRecordField, ExtractWallclock), Importance: config.Medium, Group: groupPartition,
		Doc: "TimeBasedPartitioner and rotate.interval.ms: the time of a record. Record (its Kafka timestamp) and RecordField (timestamp.field) are deterministic and keep exactly-once; Wallclock (the default, as Confluent's) does not."},
		func(s *settings) *string { return &s.part.extractor }),
	config.StringField(config.Key{Name: TimestampFieldConfig, Default: "timestamp", Importance: config.Low, Group: groupPartition,
		Doc: "RecordField: the value field holding the time (Timestamp, int64 milliseconds, or an RFC 3339 string); dotted for a nested field."},
		func(s *settings) *string { return &s.part.field }),

	config.ClassField(config.Key{Name: FormatConfig, Required: true, Importance: config.High, Group: groupFormat,
		Doc: "io.confluent.connect.s3.format.json.JsonFormat, ...avro.AvroFormat, ...parquet.ParquetFormat, ...bytearray.ByteArrayFormat (the gcs and azure.blob packages' too), or Penstock's csv.CsvFormat; simple names (JsonFormat, json) work too."},
		func(s *settings) *string { return &s.rawFormat }),
	config.IntField(config.Key{Name: FlushSizeConfig, Required: true, Validator: config.AtLeast(1), Importance: config.High, Group: groupFormat,
		Doc: "The number of records of a Kafka partition after which its open objects are closed and uploaded."},
		func(s *settings) *int { return &s.flushSize }),
	config.LongField(config.Key{Name: RotateIntervalConfig, Default: int64(-1), Importance: config.High, Group: groupFormat,
		Doc: "Close and upload a Kafka partition's objects when a record's time (timestamp.extractor with a time-based partitioner, the Kafka timestamp otherwise) is this many milliseconds past the first record's, or falls in another time partition. Deterministic: keeps exactly-once. -1: off."},
		func(s *settings) *int64 { return &s.rotateInterval }),
	config.DurationField(config.Key{Name: RotateScheduleConfig, Default: int64(-1), Importance: config.Medium, Group: groupFormat,
		Doc: "Close and upload open objects at wall-clock times, every this many milliseconds, so data is exported even when no more records come. Not deterministic: after a crash objects may be cut differently and records land in two objects. -1: off."},
		func(s *settings) *time.Duration { return &s.rotateSchedule }),
	config.StringField(config.Key{Name: SchemaCompatConfig, Default: CompatNone, Validator: config.OneOf(CompatNone, CompatBackward, CompatForward, CompatFull), Importance: config.Medium, Group: groupFormat,
		Doc: "NONE: a record whose value schema differs from the open objects' closes them. BACKWARD, FULL: a record with a newer schema version closes them; one with an older version is projected onto the open schema (missing fields take defaults). FORWARD: likewise, records of a newer version are projected onto the older open schema. A record that cannot be projected is reported (dead letter queue or task failure)."},
		func(s *settings) *string { return &s.compat }),
	config.StringField(config.Key{Name: NullValuesConfig, Default: NullFail, Validator: config.OneOf(NullFail, NullIgnore, NullWrite), Importance: config.Low, Group: groupFormat,
		Doc: "A record with a null value (a tombstone): fail reports it (dead letter queue or task failure, per errors.tolerance), ignore skips it, write writes it as a null line (JSON) or an empty line (byte array); other formats report it."},
		func(s *settings) *string { return &s.nullValues }),
	config.StringField(config.Key{Name: ParquetCodecConfig, Default: "snappy", Validator: config.OneOf("snappy", "gzip", "zstd", "none", "uncompressed"), Importance: config.Low, Group: groupFormat,
		Doc: "Parquet column compression: snappy, gzip, zstd or none."},
		func(s *settings) *string { return &s.parquetCodec }),
	config.IntField(config.Key{Name: ParquetRowGroupBytes, Default: 8 << 20, Validator: config.AtLeast(64 << 10), Importance: config.Low, Group: groupFormat,
		Doc: "Penstock extension. A Parquet object's row group is written out once its buffered values reach about this many bytes, so memory stays bounded however large the object."},
		func(s *settings) *int { return &s.rowGroupBytes }),
	config.StringField(config.Key{Name: AvroCodecConfig, Default: "null", Validator: config.OneOf("null", "deflate", "snappy", "zstandard"), Importance: config.Low, Group: groupFormat,
		Doc: "Avro object container block compression: null, deflate, snappy or zstandard."},
		func(s *settings) *string { return &s.avroCodec }),
	config.StringField(config.Key{Name: BytesExtensionConfig, Default: ".bin", Importance: config.Low, Group: groupFormat,
		Doc: "ByteArrayFormat: the objects' file extension."},
		func(s *settings) *string { return &s.bytesExt }),
	config.StringField(config.Key{Name: JSONDecimalConfig, Default: "BASE64", Validator: config.OneOf("BASE64", "NUMERIC"), Importance: config.Low, Group: groupFormat,
		Doc: "JsonFormat and CSV: decimals as base64 of their unscaled bytes (BASE64, Kafka Connect's default) or as JSON numbers (NUMERIC, what warehouses load)."},
		func(s *settings) *string { return &s.rawDecimal }),
	config.BoolField(config.Key{Name: StoreKeysConfig, Default: false, Importance: config.Low, Group: groupFormat,
		Doc: "Keep each record's key (and, always with it, its Kafka offset and timestamp) beside the objects, for the source to restore. Penstock writes them, with the headers, in one side object <object name without extension>.kafka.json (a JSON line per record: o offset, t timestamp, k the key and h the headers as JsonConverter envelopes with schemas), uploaded before its data object; Confluent writes .keys and .headers objects."},
		func(s *settings) *bool { return &s.storeKeys }),
	config.BoolField(config.Key{Name: StoreHeadersConfig, Default: false, Importance: config.Low, Group: groupFormat,
		Doc: "Keep each record's headers beside the objects (see store.kafka.keys)."},
		func(s *settings) *bool { return &s.storeHeaders }),
	config.BoolField(config.Key{Name: ChangeLogConfig, Default: false, Importance: config.Low, Group: groupFormat,
		Doc: "Penstock extension. Debezium change events (envelope values with op, before, after, source) are written as change-log rows: the row (after, or before for a delete) with __op, __source_ts_ms, __source_pos and __ts_ms columns beside it, which a warehouse can MERGE. Other records are written as they are."},
		func(s *settings) *bool { return &s.changeLog }),
)...)

// inOrder numbers the keys of fields in the order given, for the docs.
func inOrder(fields ...config.Field[settings]) []config.Field[settings] {
	for i := range fields {
		fields[i].Key.OrderInGroup = i + 1
	}
	return fields
}

// ConfigDef returns the definition of every key the sink accepts.
func ConfigDef() *config.Def { return binding.Def() }

// settings are the parsed configuration of a connector or task.
type settings struct {
	url          string // gocloud bucket URL, when given as one
	s3Bucket     string
	s3Region     string
	s3Endpoint   string
	s3PathStyle  bool
	awsKey       string
	awsSecret    string
	gcsBucket    string
	gcsCreds     string
	azAccount    string
	azKey        string
	azContainer  string
	azEndpoint   string
	partSize     int
	compression  string
	retryBackoff time.Duration
	partRetries  int

	topicsDir, dirDelim, fileDelim string
	zeroPad                        int
	format                         string // json, avro, parquet, bytearray, csv
	flushSize                      int
	rotateInterval                 int64
	rotateSchedule                 time.Duration
	compat                         string
	nullValues                     string
	parquetCodec                   string
	rowGroupBytes                  int
	avroCodec                      string
	bytesExt                       string
	decimalNumeric                 bool
	changeLog                      bool
	storeKeys, storeHeaders        bool

	partitioner partitioner
	part        partitionKeys

	every time.Duration // the source's poll.interval.ms
	batch int           // the source's batch.max.records

	// The keys as parsed, read into the fields above.
	rawStoreURL, rawBlobURL, rawFormat, rawDecimal string
	rawAWSSecret, rawAzKey                         config.Secret
}

// partitionKeys are the partitioner's keys, from which newPartitioner
// builds it.
type partitionKeys struct {
	class, pathFormat, timezone, extractor, field string
	fields                                        []string
	duration                                      int64
}

// formats maps the simple name (last dotted component, lowercased) of a
// format class to Penstock's format name.
var formats = map[string]string{
	"jsonformat": "json", "json": "json",
	"avroformat": "avro", "avro": "avro",
	"parquetformat": "parquet", "parquet": "parquet",
	"bytearrayformat": "bytearray", "bytearray": "bytearray", "bytes": "bytearray",
	"csvformat": "csv", "csv": "csv",
}

func simpleName(class string) string {
	class = strings.TrimSpace(class)
	if i := strings.LastIndexByte(class, '.'); i >= 0 {
		class = class[i+1:]
	}
	return strings.ToLower(class)
}

// parseSettings parses and checks props, including the checks across keys.
func parseSettings(props map[string]string) (*settings, error) {
	v, err := ConfigDef().Parse(props)
	if err != nil {
		return nil, err
	}
	s, problems := fromValues(v)
	if len(problems) > 0 {
		return nil, configError(problems)
	}
	return s, nil
}

// keyError is a problem with a key's value, worded as Kafka Connect words it.
type keyError struct{ key, msg string }

func (e *keyError) Error() string { return e.msg }

func problem(key string, value any, why string) error {
	return &keyError{key: key, msg: fmt.Sprintf("Invalid value %v for configuration %s: %s", value, key, why)}
}

// configError joins problems into the error Parse would give.
func configError(problems []error) error {
	msgs := make([]string, len(problems))
	for i, p := range problems {
		msgs[i] = p.Error()
	}
	return &config.Error{Problems: msgs}
}

// addProblems adds problems to infos under the key each names.
func addProblems(infos *config.Infos, problems []error) {
	for _, p := range problems {
		key := StoreURLConfig
		var ke *keyError
		if errors.As(p, &ke) {
			key = ke.key
		}
		infos.AddError(key, p.Error())
	}
}

// fromValues builds settings, returning every problem that involves more
// than one key (each naming a key).
func fromValues(v *config.Values) (*settings, []error) {
	s, out := storeSettings(v)
	s.decimalNumeric = s.rawDecimal == "NUMERIC"
	if s.dirDelim == "" {
		out = append(out, problem(DirDelimConfig, `""`, "must not be empty"))
	}
	if s.fileDelim == "" {
		out = append(out, problem(FileDelimConfig, `""`, "must not be empty"))
	}
	var ok bool
	if s.format, ok = formats[simpleName(s.rawFormat)]; !ok {
		out = append(out, problem(FormatConfig, s.rawFormat, "not a known format: JsonFormat, AvroFormat, ParquetFormat, ByteArrayFormat or CsvFormat"))
	}
	var err error
	if s.partitioner, err = newPartitioner(s.part, s.dirDelim); err != nil {
		out = append(out, err)
	}
	if s.rotateInterval == 0 || s.rotateInterval < -1 {
		out = append(out, problem(RotateIntervalConfig, s.rotateInterval, "must be positive, or -1 (off)"))
	}
	if s.rotateSchedule == 0 || s.rotateSchedule < -time.Millisecond {
		out = append(out, problem(RotateScheduleConfig, s.rotateSchedule.Milliseconds(), "must be positive, or -1 (off)"))
	}
	return s, out
}

// storeSettings reads the bound keys of v, the sink's or the source's (which
// holds only the keys that say where objects are and how they are laid out),
// and resolves where objects are.
func storeSettings(v *config.Values) (*settings, []error) {
	s := &settings{}
	binding.Set(v, s)
	s.awsSecret, s.azKey = s.rawAWSSecret.Value(), s.rawAzKey.Value()
	s.topicsDir = strings.Trim(s.topicsDir, "/")
	return s, s.where()
}

// where resolves the store keys into a bucket URL or the S3, GCS or Azure
// fields, and returns the problems.
func (s *settings) where() []error {
	raw := strings.TrimSpace(s.rawBlobURL)
	key := BlobURLConfig
	if raw == "" {
		raw, key = strings.TrimSpace(s.rawStoreURL), StoreURLConfig
	}
	named := 0
	for _, b := range []string{s.s3Bucket, s.gcsBucket, s.azContainer} {
		if b != "" {
			named++
		}
	}
	if named > 1 {
		return []error{problem(S3BucketConfig, s.s3Bucket, "set only one of s3.bucket.name, gcs.bucket.name and azblob.container.name")}
	}
	if raw != "" {
		u, err := url.Parse(raw)
		if err != nil || u.Scheme == "" {
			return []error{problem(key, raw, "not a URL")}
		}
		switch u.Scheme {
		case "http", "https": // Confluent's store.url: an S3-compatible endpoint
			if s.s3Bucket == "" {
				return []error{problem(key, raw, "an http(s) store.url is an S3 endpoint: set s3.bucket.name too (or give a bucket URL such as s3://BUCKET?endpoint=...)")}
			}
			s.s3Endpoint = raw
			return nil
		case "s3", "gs", "azblob", "file", "mem":
			if named > 0 {
				return []error{problem(key, raw, "a bucket URL names the bucket: do not set s3.bucket.name, gcs.bucket.name or azblob.container.name with it")}
			}
			s.url = raw
			if u.Scheme == "s3" && u.Query().Get("region") != "" {
				s.s3Region = u.Query().Get("region")
			}
			return nil
		default:
			return []error{problem(key, raw, "the scheme must be s3, gs, azblob, file or mem (or http(s) for an S3 endpoint)")}
		}
	}
	if named == 0 {
		return []error{problem(StoreURLConfig, "null", "say where objects go: store.url (a bucket URL), s3.bucket.name, gcs.bucket.name or azblob.container.name")}
	}
	if s.azContainer != "" && s.azAccount == "" && s.azEndpoint == "" {
		return []error{problem(AzAccountConfig, "null", "azblob.container.name needs azblob.account.name")}
	}
	return nil
}

// exactlyOnce returns why the settings do not write each record to exactly
// one object across crashes, or "" when they do.
func (s *settings) exactlyOnce() string {
	var why []string
	if s.rotateSchedule > 0 {
		why = append(why, RotateScheduleConfig+" rotates by wall clock")
	}
	if s.partitioner.wallclock() {
		why = append(why, TimestampExtractor+"=Wallclock partitions or rotates by wall clock")
	}
	return strings.Join(why, "; ")
}
