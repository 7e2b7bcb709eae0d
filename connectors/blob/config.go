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
)

// ConfigDef returns the definition of every key the sink accepts.
func ConfigDef() *config.Def {
	order := 0
	key := func(k config.Key) config.Key { order++; k.OrderInGroup = order; return k }
	return config.NewDef(
		key(config.Key{Name: StoreURLConfig, Type: config.String, Importance: config.High, Group: groupStore,
			Doc: "Where objects go: a bucket URL (s3://BUCKET?region=R&endpoint=URL&use_path_style=true, gs://BUCKET, azblob://CONTAINER, file:///DIR, mem://) or, as in Confluent's S3 sink, the http(s) endpoint of an S3-compatible server used with s3.bucket.name."}),
		key(config.Key{Name: BlobURLConfig, Type: config.String, Importance: config.Medium, Group: groupStore,
			Doc: "Penstock extension. The bucket URL, as store.url takes it; wins over store.url."}),
		key(config.Key{Name: S3BucketConfig, Type: config.String, Importance: config.High, Group: groupStore,
			Doc: "The S3 bucket (Confluent's S3 sink); store.url, when an http(s) URL, is its endpoint."}),
		key(config.Key{Name: S3RegionConfig, Type: config.String, Default: "us-west-2", Importance: config.Medium, Group: groupStore,
			Doc: "The S3 region."}),
		key(config.Key{Name: S3PathStyleConfig, Type: config.Boolean, Default: true, Importance: config.Low, Group: groupStore,
			Doc: "Address buckets by path (http://endpoint/bucket) instead of virtual host, as S3-compatible servers need."}),
		key(config.Key{Name: AWSAccessKeyConfig, Type: config.String, Importance: config.Medium, Group: groupStore,
			Doc: "The AWS access key id; unset: the SDK's default chain (environment, profile, instance role)."}),
		key(config.Key{Name: AWSSecretKeyConfig, Type: config.Password, Importance: config.Medium, Group: groupStore,
			Doc: "The AWS secret access key (use ${env:...} or ${file:...} to keep it out of the config topic)."}),
		key(config.Key{Name: S3PartSizeConfig, Type: config.Int, Default: 5 << 20, Validator: config.Between(5<<20, 1<<30), Importance: config.Low, Group: groupStore,
			Doc: "The size of the parts of a multipart upload, and of the upload buffer of each open object, in bytes. Penstock's default is 5 MiB (Confluent: 25 MiB) so a task stays within its memory budget."}),
		key(config.Key{Name: CompressionConfig, Type: config.String, Default: "none", Validator: config.OneOf("none", "gzip", "zstd"), Importance: config.Low, Group: groupStore,
			Doc: "Compression of JSON, CSV and byte array objects, whatever the store: none, gzip (.gz) or zstd (.zst, a Penstock extension)."}),
		key(config.Key{Name: GCSBucketConfig, Type: config.String, Importance: config.High, Group: groupStore,
			Doc: "The Google Cloud Storage bucket (Confluent's GCS sink)."}),
		key(config.Key{Name: GCSCredentialsConfig, Type: config.String, Importance: config.Medium, Group: groupStore,
			Doc: "Path of a service account JSON key; unset: Application Default Credentials."}),
		key(config.Key{Name: AzAccountConfig, Type: config.String, Importance: config.High, Group: groupStore,
			Doc: "The Azure storage account (Confluent's Azure Blob Storage sink)."}),
		key(config.Key{Name: AzKeyConfig, Type: config.Password, Importance: config.Medium, Group: groupStore,
			Doc: "The storage account's shared key; unset: Azure's default credential chain."}),
		key(config.Key{Name: AzContainerConfig, Type: config.String, Importance: config.High, Group: groupStore,
			Doc: "The blob container."}),
		key(config.Key{Name: AzEndpointConfig, Type: config.String, Importance: config.Low, Group: groupStore,
			Doc: "Penstock extension. The blob service URL when it is not https://ACCOUNT.blob.core.windows.net, e.g. an emulator's http://127.0.0.1:10000/devstoreaccount1."}),
		key(config.Key{Name: StorageClassConfig, Type: config.Class, Importance: config.Low, Group: groupStore,
			Doc: "Accepted for compatibility (io.confluent.connect.s3.storage.S3Storage...); the store follows from the keys above."}),
		key(config.Key{Name: RetryBackoffConfig, Type: config.Long, Default: int64(200), Validator: config.AtLeast(1), Importance: config.Low, Group: groupStore,
			Doc: "The first backoff after a failed upload, in milliseconds; it doubles with each failure up to one minute. A failed upload is retried forever: its records are read again from Kafka and the object rewritten whole."}),

		key(config.Key{Name: TopicsDirConfig, Type: config.String, Default: "topics", Importance: config.High, Group: groupPartition,
			Doc: "The top-level directory of the objects."}),
		key(config.Key{Name: DirDelimConfig, Type: config.String, Default: "/", Importance: config.Low, Group: groupPartition,
			Doc: "The directory delimiter in object names."}),
		key(config.Key{Name: FileDelimConfig, Type: config.String, Default: "+", Importance: config.Low, Group: groupPartition,
			Doc: "The delimiter between topic, partition and start offset in file names."}),
		key(config.Key{Name: ZeroPadConfig, Type: config.Int, Default: 10, Validator: config.Between(0, 19), Importance: config.Low, Group: groupPartition,
			Doc: "The width to which a file's start offset is zero-padded."}),
		key(config.Key{Name: PartitionerConfig, Type: config.Class, Default: "io.confluent.connect.storage.partitioner.DefaultPartitioner", Importance: config.High, Group: groupPartition,
			Doc: "DefaultPartitioner (partition=N), FieldPartitioner (partition.field.name), TimeBasedPartitioner (path.format, partition.duration.ms), DailyPartitioner or HourlyPartitioner, by Confluent's class name or simple name."}),
		key(config.Key{Name: PartitionFieldConfig, Type: config.List, Default: []string{}, Importance: config.Medium, Group: groupPartition,
			Doc: "FieldPartitioner: the value fields whose values name the directories, field=value, in order."}),
		key(config.Key{Name: PathFormatConfig, Type: config.String, Default: "", Importance: config.Medium, Group: groupPartition,
			Doc: "TimeBasedPartitioner: the directory as a Joda-Time pattern, e.g. 'year'=YYYY/'month'=MM/'day'=dd/'hour'=HH."}),
		key(config.Key{Name: PartitionDurationConfig, Type: config.Long, Default: int64(-1), Importance: config.Medium, Group: groupPartition,
			Doc: "TimeBasedPartitioner: the length of a time partition in milliseconds."}),
		key(config.Key{Name: LocaleConfig, Type: config.String, Default: "", Importance: config.Low, Group: groupPartition,
			Doc: "TimeBasedPartitioner: the locale of path.format (month and day names are English whatever it says)."}),
		key(config.Key{Name: TimezoneConfig, Type: config.String, Default: "", Importance: config.Low, Group: groupPartition,
			Doc: "TimeBasedPartitioner: the time zone of path.format, e.g. UTC or Europe/Paris (an IANA name)."}),
		key(config.Key{Name: TimestampExtractor, Type: config.String, Default: ExtractWallclock, Validator: config.OneOf(ExtractRecord, ExtractRecordField, ExtractWallclock), Importance: config.Medium, Group: groupPartition,
			Doc: "TimeBasedPartitioner and rotate.interval.ms: the time of a record. Record (its Kafka timestamp) and RecordField (timestamp.field) are deterministic and keep exactly-once; Wallclock (the default, as Confluent's) does not."}),
		key(config.Key{Name: TimestampFieldConfig, Type: config.String, Default: "timestamp", Importance: config.Low, Group: groupPartition,
			Doc: "RecordField: the value field holding the time (Timestamp, int64 milliseconds, or an RFC 3339 string); dotted for a nested field."}),

		key(config.Key{Name: FormatConfig, Type: config.Class, Required: true, Importance: config.High, Group: groupFormat,
			Doc: "io.confluent.connect.s3.format.json.JsonFormat, ...avro.AvroFormat, ...parquet.ParquetFormat, ...bytearray.ByteArrayFormat (the gcs and azure.blob packages' too), or Penstock's csv.CsvFormat; simple names (JsonFormat, json) work too."}),
		key(config.Key{Name: FlushSizeConfig, Type: config.Int, Required: true, Validator: config.AtLeast(1), Importance: config.High, Group: groupFormat,
			Doc: "The number of records of a Kafka partition after which its open objects are closed and uploaded."}),
		key(config.Key{Name: RotateIntervalConfig, Type: config.Long, Default: int64(-1), Importance: config.High, Group: groupFormat,
			Doc: "Close and upload a Kafka partition's objects when a record's time (timestamp.extractor with a time-based partitioner, the Kafka timestamp otherwise) is this many milliseconds past the first record's, or falls in another time partition. Deterministic: keeps exactly-once. -1: off."}),
		key(config.Key{Name: RotateScheduleConfig, Type: config.Long, Default: int64(-1), Importance: config.Medium, Group: groupFormat,
			Doc: "Close and upload open objects at wall-clock times, every this many milliseconds, so data is exported even when no more records come. Not deterministic: after a crash objects may be cut differently and records land in two objects. -1: off."}),
		key(config.Key{Name: SchemaCompatConfig, Type: config.String, Default: CompatNone, Validator: config.OneOf(CompatNone, CompatBackward, CompatForward, CompatFull), Importance: config.Medium, Group: groupFormat,
			Doc: "NONE: a record whose value schema differs from the open objects' closes them. BACKWARD, FULL: a record with a newer schema version closes them; one with an older version is projected onto the open schema (missing fields take defaults). FORWARD: likewise, records of a newer version are projected onto the older open schema. A record that cannot be projected is reported (dead letter queue or task failure)."}),
		key(config.Key{Name: NullValuesConfig, Type: config.String, Default: NullFail, Validator: config.OneOf(NullFail, NullIgnore, NullWrite), Importance: config.Low, Group: groupFormat,
			Doc: "A record with a null value (a tombstone): fail reports it (dead letter queue or task failure, per errors.tolerance), ignore skips it, write writes it as a null line (JSON) or an empty line (byte array); other formats report it."}),
		key(config.Key{Name: ParquetCodecConfig, Type: config.String, Default: "snappy", Validator: config.OneOf("snappy", "gzip", "zstd", "none", "uncompressed"), Importance: config.Low, Group: groupFormat,
			Doc: "Parquet column compression: snappy, gzip, zstd or none."}),
		key(config.Key{Name: ParquetRowGroupBytes, Type: config.Int, Default: 8 << 20, Validator: config.AtLeast(64 << 10), Importance: config.Low, Group: groupFormat,
			Doc: "Penstock extension. A Parquet object's row group is written out once its buffered values reach about this many bytes, so memory stays bounded however large the object."}),
		key(config.Key{Name: AvroCodecConfig, Type: config.String, Default: "null", Validator: config.OneOf("null", "deflate", "snappy", "zstandard"), Importance: config.Low, Group: groupFormat,
			Doc: "Avro object container block compression: null, deflate, snappy or zstandard."}),
		key(config.Key{Name: BytesExtensionConfig, Type: config.String, Default: ".bin", Importance: config.Low, Group: groupFormat,
			Doc: "ByteArrayFormat: the objects' file extension."}),
		key(config.Key{Name: JSONDecimalConfig, Type: config.String, Default: "BASE64", Validator: config.OneOf("BASE64", "NUMERIC"), Importance: config.Low, Group: groupFormat,
			Doc: "JsonFormat and CSV: decimals as base64 of their unscaled bytes (BASE64, Kafka Connect's default) or as JSON numbers (NUMERIC, what warehouses load)."}),
		key(config.Key{Name: StoreKeysConfig, Type: config.Boolean, Default: false, Importance: config.Low, Group: groupFormat,
			Doc: "Keep each record's key (and, always with it, its Kafka offset and timestamp) beside the objects, for the source to restore. Penstock writes them, with the headers, in one side object <object name without extension>.kafka.json (a JSON line per record: o offset, t timestamp, k the key and h the headers as JsonConverter envelopes with schemas), uploaded before its data object; Confluent writes .keys and .headers objects."}),
		key(config.Key{Name: StoreHeadersConfig, Type: config.Boolean, Default: false, Importance: config.Low, Group: groupFormat,
			Doc: "Keep each record's headers beside the objects (see store.kafka.keys)."}),
		key(config.Key{Name: ChangeLogConfig, Type: config.Boolean, Default: false, Importance: config.Low, Group: groupFormat,
			Doc: "Penstock extension. Debezium change events (envelope values with op, before, after, source) are written as change-log rows: the row (after, or before for a delete) with __op, __source_ts_ms, __source_pos and __ts_ms columns beside it, which a warehouse can MERGE. Other records are written as they are."}),
	)
}

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
	s.topicsDir, s.dirDelim, s.fileDelim = strings.Trim(v.String(TopicsDirConfig), "/"), v.String(DirDelimConfig), v.String(FileDelimConfig)
	s.zeroPad, s.flushSize = v.Int(ZeroPadConfig), v.Int(FlushSizeConfig)
	s.rotateInterval, s.rotateSchedule = v.Long(RotateIntervalConfig), v.Duration(RotateScheduleConfig)
	s.compat, s.nullValues = strings.ToUpper(v.String(SchemaCompatConfig)), strings.ToLower(v.String(NullValuesConfig))
	s.parquetCodec, s.rowGroupBytes = strings.ToLower(v.String(ParquetCodecConfig)), v.Int(ParquetRowGroupBytes)
	s.avroCodec, s.bytesExt = strings.ToLower(v.String(AvroCodecConfig)), v.String(BytesExtensionConfig)
	s.decimalNumeric, s.changeLog = strings.EqualFold(v.String(JSONDecimalConfig), "NUMERIC"), v.Bool(ChangeLogConfig)
	s.storeKeys, s.storeHeaders = v.Bool(StoreKeysConfig), v.Bool(StoreHeadersConfig)
	if s.dirDelim == "" {
		out = append(out, problem(DirDelimConfig, `""`, "must not be empty"))
	}
	if s.fileDelim == "" {
		out = append(out, problem(FileDelimConfig, `""`, "must not be empty"))
	}
	var ok bool
	if s.format, ok = formats[simpleName(v.String(FormatConfig))]; !ok {
		out = append(out, problem(FormatConfig, v.String(FormatConfig), "not a known format: JsonFormat, AvroFormat, ParquetFormat, ByteArrayFormat or CsvFormat"))
	}
	var err error
	if s.partitioner, err = newPartitioner(v); err != nil {
		out = append(out, err)
	}
	if s.rotateInterval == 0 || s.rotateInterval < -1 {
		out = append(out, problem(RotateIntervalConfig, s.rotateInterval, "must be positive, or -1 (off)"))
	}
	if s.rotateSchedule == 0 || s.rotateSchedule < -time.Millisecond {
		out = append(out, problem(RotateScheduleConfig, v.Long(RotateScheduleConfig), "must be positive, or -1 (off)"))
	}
	return s, out
}

// storeSettings reads the keys that say where objects are and how they are
// laid out, shared by the sink and the source.
func storeSettings(v *config.Values) (*settings, []error) {
	s := &settings{
		s3Bucket: v.String(S3BucketConfig), s3Region: v.String(S3RegionConfig), s3PathStyle: v.Bool(S3PathStyleConfig),
		awsKey: v.String(AWSAccessKeyConfig), awsSecret: v.Password(AWSSecretKeyConfig).Value(),
		gcsBucket: v.String(GCSBucketConfig), gcsCreds: v.String(GCSCredentialsConfig),
		azAccount: v.String(AzAccountConfig), azKey: v.Password(AzKeyConfig).Value(),
		azContainer: v.String(AzContainerConfig), azEndpoint: v.String(AzEndpointConfig),
		partSize: v.Int(S3PartSizeConfig), compression: strings.ToLower(v.String(CompressionConfig)),
		retryBackoff: v.Duration(RetryBackoffConfig),
	}
	return s, s.where(v)
}

// where resolves the store keys into a bucket URL or the S3, GCS or Azure
// fields, and returns the problems.
func (s *settings) where(v *config.Values) []error {
	raw := strings.TrimSpace(v.String(BlobURLConfig))
	key := BlobURLConfig
	if raw == "" {
		raw, key = strings.TrimSpace(v.String(StoreURLConfig)), StoreURLConfig
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
