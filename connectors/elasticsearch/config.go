package elasticsearch

import (
	"strings"
	"time"

	"github.com/penstockhq/penstock/connect/config"
)

// Configuration keys. The names are those of Confluent's Elasticsearch sink
// unless marked as a Penstock extension.
const (
	ConnectionURLConfig      = "connection.url"
	ConnectionUsernameConfig = "connection.username"
	ConnectionPasswordConfig = "connection.password"
	ConnectionTimeoutConfig  = "connection.timeout.ms"
	ReadTimeoutConfig        = "read.timeout.ms"

	SecurityProtocolConfig       = "elastic.security.protocol"
	SSLTruststoreLocationConfig  = "elastic.https.ssl.truststore.location"
	SSLTruststoreTypeConfig      = "elastic.https.ssl.truststore.type"
	SSLTruststorePasswordConfig  = "elastic.https.ssl.truststore.password"
	SSLKeystoreLocationConfig    = "elastic.https.ssl.keystore.location"
	SSLKeystoreTypeConfig        = "elastic.https.ssl.keystore.type"
	SSLKeystorePasswordConfig    = "elastic.https.ssl.keystore.password"
	SSLKeyPasswordConfig         = "elastic.https.ssl.key.password"
	SSLEndpointIdentificationAlg = "elastic.https.ssl.endpoint.identification.algorithm"

	KeyIgnoreConfig         = "key.ignore"
	TopicKeyIgnoreConfig    = "topic.key.ignore"
	SchemaIgnoreConfig      = "schema.ignore"
	TopicSchemaIgnoreConfig = "topic.schema.ignore"
	WriteMethodConfig       = "write.method"
	NullValuesConfig        = "behavior.on.null.values"
	MalformedDocsConfig     = "behavior.on.malformed.documents"
	DropInvalidConfig       = "drop.invalid.message"
	DataStreamTypeConfig    = "data.stream.type"
	DataStreamDatasetConfig = "data.stream.dataset"

	// TopicIndexMapConfig is Confluent's (5.x) topic.index.map: "topic:index,...".
	TopicIndexMapConfig = "topic.index.map"
	// IndexNameFormatConfig is a Penstock extension: the index name as a
	// template in which ${topic} is replaced by the record's topic.
	IndexNameFormatConfig = "index.name.format"

	BatchSizeConfig     = "batch.size"
	BulkSizeBytesConfig = "bulk.size.bytes"
	MaxInFlightConfig   = "max.in.flight.requests"
	MaxBufferedConfig   = "max.buffered.records"
	LingerConfig        = "linger.ms"
	FlushTimeoutConfig  = "flush.timeout.ms"
	MaxRetriesConfig    = "max.retries"
	RetryBackoffConfig  = "retry.backoff.ms"
)

// Values of the enumerated keys.
const (
	ProtocolPlaintext = "PLAINTEXT"
	ProtocolSSL       = "SSL"

	WriteInsert = "INSERT"
	WriteUpsert = "UPSERT"

	BehaviorIgnore = "IGNORE"
	BehaviorDelete = "DELETE"
	BehaviorFail   = "FAIL"
	BehaviorWarn   = "WARN"

	StorePEM = "PEM"
)

const (
	groupConnection = "Connector"
	groupData       = "Data Conversion"
	groupSecurity   = "Security"
)

// binding declares the keys the connector accepts and the settings fields
// they fill: Confluent's keys, plus index.name.format.
var binding = func() *config.Binding[settings] {
	order := 0
	key := func(k config.Key) config.Key { order++; k.OrderInGroup = order; return k }
	return config.Bind(
		config.ListField(key(config.Key{Name: ConnectionURLConfig, Required: true, Importance: config.High, Group: groupConnection,
			Validator: config.NonEmpty(),
			Doc:       "The Elasticsearch URLs to connect to, comma separated, e.g. http://eshost1:9200,http://eshost2:9200. Requests are spread over them and retried on another one when one fails."}),
			func(s *settings) *[]string { return &s.urls }),
		config.StringField(key(config.Key{Name: ConnectionUsernameConfig, Importance: config.Medium, Group: groupConnection,
			Doc: "The user for HTTP basic authentication; none when unset."}),
			func(s *settings) *string { return &s.username }),
		config.PasswordField(key(config.Key{Name: ConnectionPasswordConfig, Importance: config.Medium, Group: groupConnection,
			Doc: "The password for HTTP basic authentication."}),
			func(s *settings) *config.Secret { return &s.password }),
		config.DurationField(key(config.Key{Name: ConnectionTimeoutConfig, Type: config.Long, Default: int64(1000), Importance: config.Low, Group: groupConnection,
			Validator: config.AtLeast(0), Doc: "How long to wait for a TCP (and TLS) connection to be established, in milliseconds."}),
			func(s *settings) *time.Duration { return &s.connectTimeout }),
		config.DurationField(key(config.Key{Name: ReadTimeoutConfig, Type: config.Long, Default: int64(3000), Importance: config.Low, Group: groupConnection,
			Validator: config.AtLeast(0), Doc: "How long to wait for the response headers of a request, in milliseconds; 0 waits forever."}),
			func(s *settings) *time.Duration { return &s.readTimeout }),
		config.IntField(key(config.Key{Name: BatchSizeConfig, Default: 2000, Importance: config.Medium, Group: groupConnection,
			Validator: config.Between(1, 1000000),
			Doc:       "The number of records collapsed and staged together before they are handed to the bulk indexer; it also sizes the bulk indexer's queues. Requests are cut by bulk.size.bytes and linger.ms."}),
			func(s *settings) *int { return &s.batchSize }),
		config.LongField(key(config.Key{Name: BulkSizeBytesConfig, Default: int64(5 * 1024 * 1024), Importance: config.Low, Group: groupConnection,
			Validator: config.AtLeast(1024), Doc: "The largest bulk request body, in bytes: a request is sent once adding a document would exceed it."}),
			func(s *settings) *int64 { return &s.bulkBytesLong }),
		config.IntField(key(config.Key{Name: MaxInFlightConfig, Default: 5, Importance: config.Medium, Group: groupConnection,
			Validator: config.Between(1, 1000), Doc: "The most bulk requests the task has in flight at a time (the bulk indexer's workers)."}),
			func(s *settings) *int { return &s.maxInFlight }),
		config.IntField(key(config.Key{Name: MaxBufferedConfig, Default: 20000, Importance: config.Low, Group: groupConnection,
			Validator: config.AtLeast(1), Doc: "The most records the task holds that Elasticsearch has not acknowledged yet; Put waits when it is reached."}),
			func(s *settings) *int { return &s.maxBuffered }),
		config.DurationField(key(config.Key{Name: LingerConfig, Type: config.Long, Default: int64(1), Importance: config.Low, Group: groupConnection,
			Validator: config.Between(0, 600000), Doc: "How long a bulk request that is not full waits for more documents, in milliseconds (the bulk indexer's flush interval)."}),
			func(s *settings) *time.Duration { return &s.linger }),
		config.DurationField(key(config.Key{Name: FlushTimeoutConfig, Type: config.Long, Default: int64(180000), Importance: config.Low, Group: groupConnection,
			Validator: config.AtLeast(1), Doc: "How long Flush and Stop wait for outstanding documents to be acknowledged, in milliseconds."}),
			func(s *settings) *time.Duration { return &s.flushTimeout }),
		config.IntField(key(config.Key{Name: MaxRetriesConfig, Default: 5, Importance: config.Low, Group: groupConnection,
			Validator: config.AtLeast(0), Doc: "How many times a request or document refused with 429 or 5xx (or a failed connection) is retried before the task fails."}),
			func(s *settings) *int { return &s.maxRetries }),
		config.DurationField(key(config.Key{Name: RetryBackoffConfig, Type: config.Long, Default: int64(100), Importance: config.Low, Group: groupConnection,
			Validator: config.AtLeast(0), Doc: "The first retry's backoff in milliseconds; it doubles with each attempt, with random jitter, up to one minute."}),
			func(s *settings) *time.Duration { return &s.retryBackoff }),
		config.BoolField(key(config.Key{Name: KeyIgnoreConfig, Default: false, Importance: config.High, Group: groupData,
			Doc: "false: the document id is the record key and the record's Kafka offset is the document's external version, so redelivered or reordered records never make a document go back in time. true: the id is topic+partition+offset."}),
			func(s *settings) *bool { return &s.keyIgnore }),
		config.ListField(key(config.Key{Name: TopicKeyIgnoreConfig, Default: []string{}, Importance: config.Low, Group: groupData,
			Doc: "Topics for which key.ignore=true applies whatever key.ignore says."}),
			func(s *settings) *[]string { return &s.keyIgnoreList }),
		config.BoolField(key(config.Key{Name: SchemaIgnoreConfig, Default: false, Importance: config.Low, Group: groupData,
			Doc: "false: before the first write to an index that does not exist, create it with a mapping derived from the record's value schema. true: leave mappings to Elasticsearch."}),
			func(s *settings) *bool { return &s.schemaIgnore }),
		config.ListField(key(config.Key{Name: TopicSchemaIgnoreConfig, Default: []string{}, Importance: config.Low, Group: groupData,
			Doc: "Topics for which schema.ignore=true applies whatever schema.ignore says."}),
			func(s *settings) *[]string { return &s.schemaIgnoreList }),
		config.StringField(key(config.Key{Name: WriteMethodConfig, Default: WriteInsert, Importance: config.Low, Group: groupData,
			Validator: config.OneOf(WriteInsert, WriteUpsert),
			Doc:       "INSERT indexes whole documents (with external versions when keys are used); UPSERT sends partial updates with doc_as_upsert, merging into existing documents (no external versions: Elasticsearch's update API does not support them)."}),
			func(s *settings) *string { return &s.writeMethod }),
		config.StringField(key(config.Key{Name: NullValuesConfig, Default: BehaviorFail, Importance: config.Low, Group: groupData,
			Validator: config.OneOf(BehaviorIgnore, BehaviorDelete, BehaviorFail),
			Doc:       "What to do with a record whose value is null (a tombstone): IGNORE skips it, DELETE deletes the document of its key, FAIL reports it as an error (to the dead letter queue or failing the task, per errors.tolerance)."}),
			func(s *settings) *string { return &s.nullValues }),
		config.StringField(key(config.Key{Name: MalformedDocsConfig, Default: BehaviorFail, Importance: config.Low, Group: groupData,
			Validator: config.OneOf(BehaviorIgnore, BehaviorWarn, BehaviorFail),
			Doc:       "What to do when Elasticsearch rejects a document as malformed (a mapping or parsing error): IGNORE skips it, WARN logs and skips it, FAIL reports it (to the dead letter queue or failing the task, per errors.tolerance)."}),
			func(s *settings) *string { return &s.malformed }),
		config.BoolField(key(config.Key{Name: DropInvalidConfig, Default: false, Importance: config.Low, Group: groupData,
			Doc: "true: records that cannot be turned into a document (no key where one is needed, a value that is not an object) are logged and dropped instead of reported."}),
			func(s *settings) *bool { return &s.dropInvalid }),
		config.ListField(key(config.Key{Name: TopicIndexMapConfig, Default: []string{}, Importance: config.Low, Group: groupData,
			Doc: "topic:index pairs, comma separated: the index of each listed topic. Other topics use index.name.format."}),
			func(s *settings) *[]string { return &s.topicIndexList }),
		config.StringField(key(config.Key{Name: IndexNameFormatConfig, Default: "${topic}", Importance: config.Low, Group: groupData,
			Doc: "Penstock extension. The index name for a topic not in topic.index.map; ${topic} is replaced by the topic. The result is lowercased, as Elasticsearch requires."}),
			func(s *settings) *string { return &s.indexFormat }),
		config.OnlyKey[settings](key(config.Key{Name: DataStreamTypeConfig, Type: config.String, Default: "NONE", Importance: config.Low, Group: groupData,
			Doc: "Confluent's data stream support. Penstock writes to indices only: any value but NONE is refused by validation."})),
		config.OnlyKey[settings](key(config.Key{Name: DataStreamDatasetConfig, Type: config.String, Default: "", Importance: config.Low, Group: groupData,
			Doc: "Confluent's data stream dataset. Not supported by Penstock: must be empty."})),
		config.StringField(key(config.Key{Name: SecurityProtocolConfig, Default: ProtocolPlaintext, Importance: config.Medium, Group: groupSecurity,
			Validator: config.OneOf(ProtocolPlaintext, ProtocolSSL),
			Doc:       "PLAINTEXT or SSL. With SSL the elastic.https.ssl.* keys configure TLS for https:// URLs."}),
			func(s *settings) *string { return &s.protocol }),
		config.StringField(key(config.Key{Name: SSLTruststoreLocationConfig, Importance: config.Medium, Group: groupSecurity,
			Doc: "Path of a PEM file of CA certificates that sign Elasticsearch's certificate (Penstock reads PEM only). Unset: the system's roots."}),
			func(s *settings) *string { return &s.caFile }),
		config.OnlyKey[settings](key(config.Key{Name: SSLTruststoreTypeConfig, Type: config.String, Default: StorePEM, Importance: config.Low, Group: groupSecurity,
			Doc: "Must be PEM in Penstock: convert a JKS or PKCS12 truststore with keytool/openssl."})),
		config.OnlyKey[settings](key(config.Key{Name: SSLTruststorePasswordConfig, Type: config.Password, Importance: config.Low, Group: groupSecurity,
			Doc: "Accepted for compatibility and unused: PEM truststores are not encrypted."})),
		config.StringField(key(config.Key{Name: SSLKeystoreLocationConfig, Importance: config.Low, Group: groupSecurity,
			Doc: "Path of a PEM file holding the client certificate and its unencrypted private key, for mutual TLS."}),
			func(s *settings) *string { return &s.clientCertFile }),
		config.OnlyKey[settings](key(config.Key{Name: SSLKeystoreTypeConfig, Type: config.String, Default: StorePEM, Importance: config.Low, Group: groupSecurity,
			Doc: "Must be PEM in Penstock."})),
		config.OnlyKey[settings](key(config.Key{Name: SSLKeystorePasswordConfig, Type: config.Password, Importance: config.Low, Group: groupSecurity,
			Doc: "Accepted for compatibility; encrypted PEM keys are not supported."})),
		config.OnlyKey[settings](key(config.Key{Name: SSLKeyPasswordConfig, Type: config.Password, Importance: config.Low, Group: groupSecurity,
			Doc: "Accepted for compatibility; encrypted PEM keys are not supported."})),
		config.StringField(key(config.Key{Name: SSLEndpointIdentificationAlg, Default: "https", Importance: config.Low, Group: groupSecurity,
			Doc: "https verifies that the server certificate names the host; empty verifies the certificate chain only."}),
			func(s *settings) *string { return &s.endpointAlg }),
	)
}()

// ConfigDef returns the keys the connector accepts.
func ConfigDef() *config.Def { return binding.Def() }

// settings are the parsed configuration of a connector or task: the bound
// keys, then what parseSettings derives from them.
type settings struct {
	urls             []string
	username         string
	password         config.Secret
	connectTimeout   time.Duration
	readTimeout      time.Duration
	protocol         string
	caFile           string
	clientCertFile   string
	endpointAlg      string
	keyIgnore        bool
	keyIgnoreList    []string
	schemaIgnore     bool
	schemaIgnoreList []string
	writeMethod      string
	nullValues       string
	malformed        string
	dropInvalid      bool
	topicIndexList   []string
	indexFormat      string
	batchSize        int
	bulkBytesLong    int64
	maxInFlight      int
	maxBuffered      int
	linger           time.Duration
	flushTimeout     time.Duration
	maxRetries       int
	retryBackoff     time.Duration

	ssl               bool
	verifyHostname    bool
	upsert            bool
	keyIgnoreTopics   map[string]bool
	schemaIgnoreTopic map[string]bool
	topicIndex        map[string]string
	bulkBytes         int
}

// parseSettings parses and checks props, including the checks across keys.
func parseSettings(props map[string]string) (*settings, error) {
	s := &settings{}
	v, err := binding.Parse(props, s)
	if err != nil {
		return nil, err
	}
	if problems := crossCheck(v); len(problems) > 0 {
		return nil, &config.Error{Problems: problems}
	}
	s.ssl = s.protocol == ProtocolSSL
	s.verifyHostname = s.endpointAlg != ""
	s.upsert = s.writeMethod == WriteUpsert
	s.bulkBytes = int(s.bulkBytesLong)
	s.keyIgnoreTopics = setOf(s.keyIgnoreList)
	s.schemaIgnoreTopic = setOf(s.schemaIgnoreList)
	s.topicIndex = map[string]string{}
	for _, pair := range s.topicIndexList {
		t, idx, _ := strings.Cut(pair, ":")
		s.topicIndex[strings.TrimSpace(t)] = strings.TrimSpace(idx)
	}
	if s.linger <= 0 {
		s.linger = time.Millisecond
	}
	return s, nil
}

// crossCheck returns the problems that involve more than one key, or a
// Confluent feature Penstock does not have, each naming its key.
func crossCheck(v *config.Values) []string {
	var out []string
	for _, k := range []string{SSLTruststoreTypeConfig, SSLKeystoreTypeConfig} {
		if t := v.String(k); t != "" && !strings.EqualFold(t, StorePEM) {
			out = append(out, config.InvalidError(k, t, "Penstock reads PEM files only; convert the store to PEM (keytool -exportcert -rfc, or openssl pkcs12 -nodes)").Error())
		}
	}
	if t := v.String(DataStreamTypeConfig); t != "" && !strings.EqualFold(t, "NONE") {
		out = append(out, config.InvalidError(DataStreamTypeConfig, t, "data streams are not supported by Penstock's Elasticsearch sink; it writes to indices").Error())
	}
	if d := v.String(DataStreamDatasetConfig); d != "" {
		out = append(out, config.InvalidError(DataStreamDatasetConfig, d, "data streams are not supported by Penstock's Elasticsearch sink").Error())
	}
	for _, pair := range v.List(TopicIndexMapConfig) {
		t, idx, ok := strings.Cut(pair, ":")
		if !ok || strings.TrimSpace(t) == "" || strings.TrimSpace(idx) == "" {
			out = append(out, config.InvalidError(TopicIndexMapConfig, pair, "expected topic:index pairs").Error())
		}
	}
	ssl := strings.EqualFold(v.String(SecurityProtocolConfig), ProtocolSSL)
	for _, u := range v.List(ConnectionURLConfig) {
		lu := strings.ToLower(u)
		if !strings.HasPrefix(lu, "http://") && !strings.HasPrefix(lu, "https://") {
			out = append(out, config.InvalidError(ConnectionURLConfig, u, "URLs must start with http:// or https://").Error())
		}
	}
	if !ssl && (v.String(SSLTruststoreLocationConfig) != "" || v.String(SSLKeystoreLocationConfig) != "") {
		out = append(out, config.InvalidError(SecurityProtocolConfig, v.String(SecurityProtocolConfig),
			"the elastic.https.ssl.* files are used only with "+SecurityProtocolConfig+"=SSL").Error())
	}
	return out
}

func setOf(items []string) map[string]bool {
	m := make(map[string]bool, len(items))
	for _, s := range items {
		m[s] = true
	}
	return m
}

// indexFor returns the index of a topic: topic.index.map, else
// index.name.format with ${topic} replaced, lowercased.
func (s *settings) indexFor(topic string) string {
	if idx, ok := s.topicIndex[topic]; ok {
		return strings.ToLower(idx)
	}
	return strings.ToLower(strings.ReplaceAll(s.indexFormat, "${topic}", topic))
}

func (s *settings) ignoreKey(topic string) bool { return s.keyIgnore || s.keyIgnoreTopics[topic] }
func (s *settings) ignoreSchema(topic string) bool {
	return s.schemaIgnore || s.schemaIgnoreTopic[topic]
}
