package elasticsearch

import (
	"fmt"
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

// ConfigDef returns the definition of every key the sink accepts.
func ConfigDef() *config.Def {
	order := 0
	next := func() int { order++; return order }
	key := func(k config.Key) config.Key { k.OrderInGroup = next(); return k }
	return config.NewDef(
		key(config.Key{Name: ConnectionURLConfig, Type: config.List, Required: true, Importance: config.High, Group: groupConnection,
			Validator: config.NonEmpty(),
			Doc:       "The Elasticsearch URLs to connect to, comma separated, e.g. http://eshost1:9200,http://eshost2:9200. Requests are spread over them and retried on another one when one fails."}),
		key(config.Key{Name: ConnectionUsernameConfig, Type: config.String, Importance: config.Medium, Group: groupConnection,
			Doc: "The user for HTTP basic authentication; none when unset."}),
		key(config.Key{Name: ConnectionPasswordConfig, Type: config.Password, Importance: config.Medium, Group: groupConnection,
			Doc: "The password for HTTP basic authentication."}),
		key(config.Key{Name: ConnectionTimeoutConfig, Type: config.Long, Default: int64(1000), Importance: config.Low, Group: groupConnection,
			Validator: config.AtLeast(0), Doc: "How long to wait for a TCP (and TLS) connection to be established, in milliseconds."}),
		key(config.Key{Name: ReadTimeoutConfig, Type: config.Long, Default: int64(3000), Importance: config.Low, Group: groupConnection,
			Validator: config.AtLeast(0), Doc: "How long to wait for the response headers of a request, in milliseconds; 0 waits forever."}),
		key(config.Key{Name: BatchSizeConfig, Type: config.Int, Default: 2000, Importance: config.Medium, Group: groupConnection,
			Validator: config.Between(1, 1000000),
			Doc:       "The number of records collapsed and staged together before they are handed to the bulk indexer; it also sizes the bulk indexer's queues. Requests are cut by bulk.size.bytes and linger.ms."}),
		key(config.Key{Name: BulkSizeBytesConfig, Type: config.Long, Default: int64(5 * 1024 * 1024), Importance: config.Low, Group: groupConnection,
			Validator: config.AtLeast(1024), Doc: "The largest bulk request body, in bytes: a request is sent once adding a document would exceed it."}),
		key(config.Key{Name: MaxInFlightConfig, Type: config.Int, Default: 5, Importance: config.Medium, Group: groupConnection,
			Validator: config.Between(1, 1000), Doc: "The most bulk requests the task has in flight at a time (the bulk indexer's workers)."}),
		key(config.Key{Name: MaxBufferedConfig, Type: config.Int, Default: 20000, Importance: config.Low, Group: groupConnection,
			Validator: config.AtLeast(1), Doc: "The most records the task holds that Elasticsearch has not acknowledged yet; Put waits when it is reached."}),
		key(config.Key{Name: LingerConfig, Type: config.Long, Default: int64(1), Importance: config.Low, Group: groupConnection,
			Validator: config.Between(0, 600000), Doc: "How long a bulk request that is not full waits for more documents, in milliseconds (the bulk indexer's flush interval)."}),
		key(config.Key{Name: FlushTimeoutConfig, Type: config.Long, Default: int64(180000), Importance: config.Low, Group: groupConnection,
			Validator: config.AtLeast(1), Doc: "How long Flush and Stop wait for outstanding documents to be acknowledged, in milliseconds."}),
		key(config.Key{Name: MaxRetriesConfig, Type: config.Int, Default: 5, Importance: config.Low, Group: groupConnection,
			Validator: config.AtLeast(0), Doc: "How many times a request or document refused with 429 or 5xx (or a failed connection) is retried before the task fails."}),
		key(config.Key{Name: RetryBackoffConfig, Type: config.Long, Default: int64(100), Importance: config.Low, Group: groupConnection,
			Validator: config.AtLeast(0), Doc: "The first retry's backoff in milliseconds; it doubles with each attempt, with random jitter, up to one minute."}),

		key(config.Key{Name: KeyIgnoreConfig, Type: config.Boolean, Default: false, Importance: config.High, Group: groupData,
			Doc: "false: the document id is the record key and the record's Kafka offset is the document's external version, so redelivered or reordered records never make a document go back in time. true: the id is topic+partition+offset."}),
		key(config.Key{Name: TopicKeyIgnoreConfig, Type: config.List, Default: []string{}, Importance: config.Low, Group: groupData,
			Doc: "Topics for which key.ignore=true applies whatever key.ignore says."}),
		key(config.Key{Name: SchemaIgnoreConfig, Type: config.Boolean, Default: false, Importance: config.Low, Group: groupData,
			Doc: "false: before the first write to an index that does not exist, create it with a mapping derived from the record's value schema. true: leave mappings to Elasticsearch."}),
		key(config.Key{Name: TopicSchemaIgnoreConfig, Type: config.List, Default: []string{}, Importance: config.Low, Group: groupData,
			Doc: "Topics for which schema.ignore=true applies whatever schema.ignore says."}),
		key(config.Key{Name: WriteMethodConfig, Type: config.String, Default: WriteInsert, Importance: config.Low, Group: groupData,
			Validator: config.OneOf(WriteInsert, WriteUpsert),
			Doc:       "INSERT indexes whole documents (with external versions when keys are used); UPSERT sends partial updates with doc_as_upsert, merging into existing documents (no external versions: Elasticsearch's update API does not support them)."}),
		key(config.Key{Name: NullValuesConfig, Type: config.String, Default: BehaviorFail, Importance: config.Low, Group: groupData,
			Validator: config.OneOf(BehaviorIgnore, BehaviorDelete, BehaviorFail),
			Doc:       "What to do with a record whose value is null (a tombstone): IGNORE skips it, DELETE deletes the document of its key, FAIL reports it as an error (to the dead letter queue or failing the task, per errors.tolerance)."}),
		key(config.Key{Name: MalformedDocsConfig, Type: config.String, Default: BehaviorFail, Importance: config.Low, Group: groupData,
			Validator: config.OneOf(BehaviorIgnore, BehaviorWarn, BehaviorFail),
			Doc:       "What to do when Elasticsearch rejects a document as malformed (a mapping or parsing error): IGNORE skips it, WARN logs and skips it, FAIL reports it (to the dead letter queue or failing the task, per errors.tolerance)."}),
		key(config.Key{Name: DropInvalidConfig, Type: config.Boolean, Default: false, Importance: config.Low, Group: groupData,
			Doc: "true: records that cannot be turned into a document (no key where one is needed, a value that is not an object) are logged and dropped instead of reported."}),
		key(config.Key{Name: TopicIndexMapConfig, Type: config.List, Default: []string{}, Importance: config.Low, Group: groupData,
			Doc: "topic:index pairs, comma separated: the index of each listed topic. Other topics use index.name.format."}),
		key(config.Key{Name: IndexNameFormatConfig, Type: config.String, Default: "${topic}", Importance: config.Low, Group: groupData,
			Doc: "Penstock extension. The index name for a topic not in topic.index.map; ${topic} is replaced by the topic. The result is lowercased, as Elasticsearch requires."}),
		key(config.Key{Name: DataStreamTypeConfig, Type: config.String, Default: "NONE", Importance: config.Low, Group: groupData,
			Doc: "Confluent's data stream support. Penstock writes to indices only: any value but NONE is refused by validation."}),
		key(config.Key{Name: DataStreamDatasetConfig, Type: config.String, Default: "", Importance: config.Low, Group: groupData,
			Doc: "Confluent's data stream dataset. Not supported by Penstock: must be empty."}),

		key(config.Key{Name: SecurityProtocolConfig, Type: config.String, Default: ProtocolPlaintext, Importance: config.Medium, Group: groupSecurity,
			Validator: config.OneOf(ProtocolPlaintext, ProtocolSSL),
			Doc:       "PLAINTEXT or SSL. With SSL the elastic.https.ssl.* keys configure TLS for https:// URLs."}),
		key(config.Key{Name: SSLTruststoreLocationConfig, Type: config.String, Importance: config.Medium, Group: groupSecurity,
			Doc: "Path of a PEM file of CA certificates that sign Elasticsearch's certificate (Penstock reads PEM only). Unset: the system's roots."}),
		key(config.Key{Name: SSLTruststoreTypeConfig, Type: config.String, Default: StorePEM, Importance: config.Low, Group: groupSecurity,
			Doc: "Must be PEM in Penstock: convert a JKS or PKCS12 truststore with keytool/openssl."}),
		key(config.Key{Name: SSLTruststorePasswordConfig, Type: config.Password, Importance: config.Low, Group: groupSecurity,
			Doc: "Accepted for compatibility and unused: PEM truststores are not encrypted."}),
		key(config.Key{Name: SSLKeystoreLocationConfig, Type: config.String, Importance: config.Low, Group: groupSecurity,
			Doc: "Path of a PEM file holding the client certificate and its unencrypted private key, for mutual TLS."}),
		key(config.Key{Name: SSLKeystoreTypeConfig, Type: config.String, Default: StorePEM, Importance: config.Low, Group: groupSecurity,
			Doc: "Must be PEM in Penstock."}),
		key(config.Key{Name: SSLKeystorePasswordConfig, Type: config.Password, Importance: config.Low, Group: groupSecurity,
			Doc: "Accepted for compatibility; encrypted PEM keys are not supported."}),
		key(config.Key{Name: SSLKeyPasswordConfig, Type: config.Password, Importance: config.Low, Group: groupSecurity,
			Doc: "Accepted for compatibility; encrypted PEM keys are not supported."}),
		key(config.Key{Name: SSLEndpointIdentificationAlg, Type: config.String, Default: "https", Importance: config.Low, Group: groupSecurity,
			Doc: "https verifies that the server certificate names the host; empty verifies the certificate chain only."}),
	)
}

// settings are the parsed configuration of a connector or task.
type settings struct {
	urls              []string
	username          string
	password          string
	connectTimeout    time.Duration
	readTimeout       time.Duration
	ssl               bool
	caFile            string
	clientCertFile    string
	verifyHostname    bool
	keyIgnore         bool
	keyIgnoreTopics   map[string]bool
	schemaIgnore      bool
	schemaIgnoreTopic map[string]bool
	upsert            bool
	nullValues        string
	malformed         string
	dropInvalid       bool
	topicIndex        map[string]string
	indexFormat       string
	batchSize         int
	bulkBytes         int
	maxInFlight       int
	maxBuffered       int
	linger            time.Duration
	flushTimeout      time.Duration
	maxRetries        int
	retryBackoff      time.Duration
}

// parseSettings parses and checks props, including the checks across keys.
func parseSettings(props map[string]string) (*settings, error) {
	v, err := ConfigDef().Parse(props)
	if err != nil {
		return nil, err
	}
	if problems := crossCheck(v); len(problems) > 0 {
		return nil, &config.Error{Problems: problems}
	}
	s := &settings{
		urls:              v.List(ConnectionURLConfig),
		username:          v.String(ConnectionUsernameConfig),
		password:          v.Password(ConnectionPasswordConfig).Value(),
		connectTimeout:    v.Duration(ConnectionTimeoutConfig),
		readTimeout:       v.Duration(ReadTimeoutConfig),
		ssl:               strings.EqualFold(v.String(SecurityProtocolConfig), ProtocolSSL),
		caFile:            v.String(SSLTruststoreLocationConfig),
		clientCertFile:    v.String(SSLKeystoreLocationConfig),
		verifyHostname:    v.String(SSLEndpointIdentificationAlg) != "",
		keyIgnore:         v.Bool(KeyIgnoreConfig),
		keyIgnoreTopics:   setOf(v.List(TopicKeyIgnoreConfig)),
		schemaIgnore:      v.Bool(SchemaIgnoreConfig),
		schemaIgnoreTopic: setOf(v.List(TopicSchemaIgnoreConfig)),
		upsert:            strings.EqualFold(v.String(WriteMethodConfig), WriteUpsert),
		nullValues:        strings.ToUpper(v.String(NullValuesConfig)),
		malformed:         strings.ToUpper(v.String(MalformedDocsConfig)),
		dropInvalid:       v.Bool(DropInvalidConfig),
		topicIndex:        map[string]string{},
		indexFormat:       v.String(IndexNameFormatConfig),
		batchSize:         v.Int(BatchSizeConfig),
		bulkBytes:         int(v.Long(BulkSizeBytesConfig)),
		maxInFlight:       v.Int(MaxInFlightConfig),
		maxBuffered:       v.Int(MaxBufferedConfig),
		linger:            v.Duration(LingerConfig),
		flushTimeout:      v.Duration(FlushTimeoutConfig),
		maxRetries:        v.Int(MaxRetriesConfig),
		retryBackoff:      v.Duration(RetryBackoffConfig),
	}
	for _, pair := range v.List(TopicIndexMapConfig) {
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
			out = append(out, fmt.Sprintf("Invalid value %s for configuration %s: Penstock reads PEM files only; convert the store to PEM (keytool -exportcert -rfc, or openssl pkcs12 -nodes)", t, k))
		}
	}
	if t := v.String(DataStreamTypeConfig); t != "" && !strings.EqualFold(t, "NONE") {
		out = append(out, fmt.Sprintf("Invalid value %s for configuration %s: data streams are not supported by Penstock's Elasticsearch sink; it writes to indices", t, DataStreamTypeConfig))
	}
	if d := v.String(DataStreamDatasetConfig); d != "" {
		out = append(out, fmt.Sprintf("Invalid value %s for configuration %s: data streams are not supported by Penstock's Elasticsearch sink", d, DataStreamDatasetConfig))
	}
	for _, pair := range v.List(TopicIndexMapConfig) {
		t, idx, ok := strings.Cut(pair, ":")
		if !ok || strings.TrimSpace(t) == "" || strings.TrimSpace(idx) == "" {
			out = append(out, fmt.Sprintf("Invalid value %s for configuration %s: expected topic:index pairs", pair, TopicIndexMapConfig))
		}
	}
	ssl := strings.EqualFold(v.String(SecurityProtocolConfig), ProtocolSSL)
	for _, u := range v.List(ConnectionURLConfig) {
		lu := strings.ToLower(u)
		if !strings.HasPrefix(lu, "http://") && !strings.HasPrefix(lu, "https://") {
			out = append(out, fmt.Sprintf("Invalid value %s for configuration %s: URLs must start with http:// or https://", u, ConnectionURLConfig))
		}
	}
	if !ssl && (v.String(SSLTruststoreLocationConfig) != "" || v.String(SSLKeystoreLocationConfig) != "") {
		out = append(out, fmt.Sprintf("Invalid value %s for configuration %s: the elastic.https.ssl.* files are used only with %s=SSL",
			v.String(SecurityProtocolConfig), SecurityProtocolConfig, SecurityProtocolConfig))
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
