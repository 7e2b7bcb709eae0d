package mysql

import (
	"crypto/x509"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/penstockhq/penstock/connect/config"
	"github.com/penstockhq/penstock/connectors/debezium"
	"github.com/penstockhq/penstock/internal/clientconfig"
)

// Configuration keys, named as Debezium's MySQL connector names them so that
// a Debezium configuration runs unchanged; those all Debezium CDC connectors
// share are package debezium's.
const (
	KeyHostname         = debezium.KeyHostname
	KeyPort             = debezium.KeyPort
	KeyUser             = debezium.KeyUser
	KeyPassword         = debezium.KeyPassword
	KeyServerID         = "database.server.id"
	KeySSLMode          = "database.ssl.mode"
	KeySSLTruststore    = "database.ssl.truststore"
	KeySSLTruststorePw  = "database.ssl.truststore.password"
	KeyTopicPrefix      = debezium.KeyTopicPrefix
	KeyDBInclude        = "database.include.list"
	KeyDBExclude        = "database.exclude.list"
	KeyTableInclude     = debezium.KeyTableInclude
	KeyTableExclude     = debezium.KeyTableExclude
	KeyColumnInclude    = debezium.KeyColumnInclude
	KeyColumnExclude    = debezium.KeyColumnExclude
	KeyMessageKeyCols   = debezium.KeyMessageKeyCols
	KeySnapshotMode     = debezium.KeySnapshotMode
	KeySnapshotLocking  = "snapshot.locking.mode"
	KeySnapshotThreads  = debezium.KeySnapshotThreads
	KeySnapshotChunk    = debezium.KeySnapshotChunk
	KeyTombstones       = debezium.KeyTombstones
	KeySkippedOps       = debezium.KeySkippedOps
	KeyDecimalMode      = debezium.KeyDecimalMode
	KeyTimePrecision    = debezium.KeyTimePrecision
	KeyBigintMode       = "bigint.unsigned.handling.mode"
	KeyBinaryMode       = debezium.KeyBinaryMode
	KeySchemaChanges    = "include.schema.changes"
	KeyIncludeQuery     = "include.query"
	KeyHeartbeatMs      = debezium.KeyHeartbeatMs
	KeyHeartbeatQuery   = debezium.KeyHeartbeatQuery
	KeyHeartbeatPrefix  = debezium.KeyHeartbeatPrefix
	KeyTxMetadata       = debezium.KeyTxMetadata
	KeyGTIDIncludes     = "gtid.source.includes"
	KeyGTIDExcludes     = "gtid.source.excludes"
	KeyMaxBatch         = debezium.KeyMaxBatch
	KeyMaxQueue         = debezium.KeyMaxQueue
	KeyMaxQueueBytes    = debezium.KeyMaxQueueBytes
	KeyPollInterval     = debezium.KeyPollInterval
	KeySignalCollection = debezium.KeySignalCollection
	KeyIncrementalChunk = debezium.KeyIncrementalChunk
	KeyHistoryTopic     = "schema.history.internal.kafka.topic"
	KeyHistoryServers   = "schema.history.internal.kafka.bootstrap.servers"
)

// Values of snapshot.mode.
const (
	SnapshotInitial     = "initial"
	SnapshotInitialOnly = "initial_only"
	SnapshotWhenNeeded  = "when_needed"
	SnapshotNoData      = "no_data"
	SnapshotNever       = "never"
	SnapshotSchemaOnly  = "schema_only" // Debezium's older name of no_data
	SnapshotRecovery    = "recovery"
	SnapshotSchemaRecov = "schema_only_recovery" // older name of recovery
	SnapshotAlways      = "always"
)

// Values of snapshot.locking.mode.
const (
	LockMinimal  = "minimal"
	LockExtended = "extended"
	LockNone     = "none"
)

// Debezium picks a random database.server.id in this range when none is set.
const (
	serverIDMin = 5400
	serverIDMax = 6400
)

// Groups of the keys in the documentation.
const (
	gConn   = "Connection"
	gFilter = "Filters"
	gRepl   = "Binlog"
	gSnap   = "Snapshot"
	gEvents = "Events"
)

// binding declares every key the connector accepts and the settings field
// it fills.
var binding = config.Bind(
	config.StringField(config.Key{Name: KeyHostname, Required: true, Importance: config.High, Group: gConn,
		Doc: "Resolvable hostname or IP address of the MySQL or MariaDB server."},
		func(s *settings) *string { return &s.host }),
	config.IntField(config.Key{Name: KeyPort, Default: 3306, Importance: config.High, Group: gConn,
		Validator: config.Between(1, 65535), Doc: "Port of the server."},
		func(s *settings) *int { return &s.port }),
	config.StringField(config.Key{Name: KeyUser, Required: true, Importance: config.High, Group: gConn,
		Doc: "Name of the database user; it needs SELECT, RELOAD, SHOW DATABASES, REPLICATION SLAVE and REPLICATION CLIENT."},
		func(s *settings) *string { return &s.user }),
	config.PasswordField(config.Key{Name: KeyPassword, Importance: config.High, Group: gConn,
		Doc: "Password of the database user."},
		func(s *settings) *config.Secret { return &s.secret }),
	config.LongField(config.Key{Name: KeyServerID, Importance: config.High, Group: gConn,
		Validator: config.Between(1, 4294967295),
		Doc:       "Replica server id the connector registers with; it must differ from every server and replica of the cluster. Default: a random number between 5400 and 6400, as Debezium's."},
		func(s *settings) *int64 { return &s.serverIDSet }),
	config.StringField(config.Key{Name: KeySSLMode, Default: "disabled", Importance: config.Medium, Group: gConn,
		Validator: config.OneOf("disabled", "preferred", "required", "verify_ca", "verify_identity"),
		Doc:       "TLS of the connections: disabled, preferred (TLS when the server offers it, unverified), required (TLS, unverified), verify_ca (TLS with a certificate signed by a CA of " + KeySSLTruststore + ", or of the system's when unset) or verify_identity (verify_ca, and the certificate names " + KeyHostname + ")."},
		func(s *settings) *string { return &s.sslMode }),
	config.StringField(config.Key{Name: KeySSLTruststore, Importance: config.Low, Group: gConn,
		Doc: "File of the CA certificates verify_ca and verify_identity trust instead of the system's: PEM, or PKCS12 (convert a JKS truststore with keytool -importkeystore -deststoretype PKCS12)."},
		func(s *settings) *string { return &s.truststore }),
	config.PasswordField(config.Key{Name: KeySSLTruststorePw, Importance: config.Low, Group: gConn,
		Doc: "Password of a PKCS12 " + KeySSLTruststore + "."},
		func(s *settings) *config.Secret { return &s.truststorePw }),
	config.StringField(config.Key{Name: KeyTopicPrefix, Required: true, Importance: config.High, Group: gEvents,
		Validator: debezium.TopicPrefixValidator(),
		Doc:       "Prefix of every topic name (<prefix>.<database>.<table>), the schema change topic's name, and the logical name of the server in source.name and the source partition."},
		func(s *settings) *string { return &s.prefix }),
	config.ListField(config.Key{Name: KeyDBInclude, Importance: config.Medium, Group: gFilter, Validator: debezium.RegexListValidator(),
		Doc: "Regular expressions matched against whole database names: only matching databases are captured."},
		func(s *settings) *[]string { return &s.lists.dbIn }),
	config.ListField(config.Key{Name: KeyDBExclude, Importance: config.Medium, Group: gFilter, Validator: debezium.RegexListValidator(),
		Doc: "Regular expressions matched against whole database names: matching databases are not captured."},
		func(s *settings) *[]string { return &s.lists.dbEx }),
	config.ListField(config.Key{Name: KeyTableInclude, Importance: config.Medium, Group: gFilter, Validator: debezium.RegexListValidator(),
		Doc: "Regular expressions matched against whole database.table names: only matching tables are captured."},
		func(s *settings) *[]string { return &s.lists.tableIn }),
	config.ListField(config.Key{Name: KeyTableExclude, Importance: config.Medium, Group: gFilter, Validator: debezium.RegexListValidator(),
		Doc: "Regular expressions matched against whole database.table names: matching tables are not captured."},
		func(s *settings) *[]string { return &s.lists.tableEx }),
	config.ListField(config.Key{Name: KeyColumnInclude, Importance: config.Medium, Group: gFilter, Validator: debezium.RegexListValidator(),
		Doc: "Regular expressions matched against whole database.table.column names: only matching columns are emitted."},
		func(s *settings) *[]string { return &s.lists.colIn }),
	config.ListField(config.Key{Name: KeyColumnExclude, Importance: config.Medium, Group: gFilter, Validator: debezium.RegexListValidator(),
		Doc: "Regular expressions matched against whole database.table.column names: matching columns are not emitted."},
		func(s *settings) *[]string { return &s.lists.colEx }),
	config.StringField(config.Key{Name: KeyMessageKeyCols, Importance: config.Low, Group: gEvents,
		Validator: debezium.MessageKeyColumnsValidator(),
		Doc:       "Record key columns for tables without a primary key or to override it: semicolon-separated entries <database.table regex>:<column>,<column>."},
		func(s *settings) *string { return &s.keyColumns }),
	config.StringField(config.Key{Name: KeySnapshotMode, Default: SnapshotInitial, Importance: config.Medium, Group: gSnap,
		Validator: config.OneOf(SnapshotInitial, SnapshotInitialOnly, SnapshotWhenNeeded, SnapshotNoData, SnapshotNever,
			SnapshotSchemaOnly, SnapshotRecovery, SnapshotSchemaRecov, SnapshotAlways),
		Doc: "initial: snapshot when no offset is stored, then stream; initial_only: snapshot then stop; when_needed: also snapshot when the binlog at the stored position was purged; no_data (never, schema_only): stream from the current position; always: snapshot at every start; recovery (schema_only_recovery): streams from the stored offset like initial and rebuilds the schema history (when one is kept) from the current schema at every start."},
		func(s *settings) *string { return &s.snapshotMode }),
	config.StringField(config.Key{Name: KeySnapshotLocking, Default: LockMinimal, Importance: config.Medium, Group: gSnap,
		Validator: config.OneOf(LockMinimal, "minimal_percona", LockExtended, LockNone),
		Doc:       "minimal: a global lock (BACKUP STAGE BLOCK_COMMIT on MariaDB, else FLUSH TABLES WITH READ LOCK) held only while the binlog position is read and the snapshot transactions start; extended: the lock is held for the whole snapshot; none: no lock (one snapshot connection; exact on MariaDB, which reports the binlog position of a consistent snapshot)."},
		func(s *settings) *string { return &s.lockMode }),
	config.IntField(config.Key{Name: KeySnapshotThreads, Default: 1, Importance: config.Medium, Group: gSnap, Validator: config.Between(1, 64),
		Doc: "Connections reading the snapshot in parallel. All start their consistent-snapshot transactions while commits are blocked, so they see the same data; a large table is split into primary-key ranges read concurrently."},
		func(s *settings) *int { return &s.snapshotThreads }),
	config.LongField(config.Key{Name: KeySnapshotChunk, Default: int64(100000), Importance: config.Low, Group: gSnap, Validator: config.AtLeast(100),
		Doc: "Penstock: approximate rows per key-range chunk of a snapshotted table (tables with a single-column integer primary key are chunked when snapshot.max.threads > 1)."},
		func(s *settings) *int64 { return &s.chunkRows }),
	config.BoolField(debezium.TombstonesKey(gEvents), func(s *settings) *bool { return &s.tombstones }),
	config.ListField(debezium.SkippedOpsKey(gEvents), func(s *settings) *[]string { return &s.skipped }),
	config.StringField(config.Key{Name: KeyDecimalMode, Default: "precise", Importance: config.Medium, Group: gEvents,
		Validator: config.OneOf("precise", "double", "string"),
		Doc:       "DECIMAL as precise (Kafka Connect Decimal), double or string."},
		func(s *settings) *string { return &s.decimalMode }),
	config.StringField(config.Key{Name: KeyTimePrecision, Default: "adaptive_time_microseconds", Importance: config.Medium, Group: gEvents,
		Validator: config.OneOf("adaptive", "adaptive_time_microseconds", "connect"),
		Doc:       "Temporal types: adaptive_time_microseconds (TIME as MicroTime, DATETIME by precision as Timestamp or MicroTimestamp), adaptive (TIME(0-3) as Time in milliseconds) or connect (Kafka Connect's Date/Time/Timestamp)."},
		func(s *settings) *string { return &s.timeMode }),
	config.StringField(config.Key{Name: KeyBigintMode, Default: "long", Importance: config.Medium, Group: gEvents,
		Validator: config.OneOf("long", "precise"),
		Doc:       "BIGINT UNSIGNED as long (int64; values above 2^63-1 wrap) or precise (Decimal with scale 0)."},
		func(s *settings) *string { return &s.bigintMode }),
	config.StringField(config.Key{Name: KeyBinaryMode, Default: "bytes", Importance: config.Low, Group: gEvents,
		Validator: config.OneOf("bytes", "base64", "base64-url-safe", "hex"),
		Doc:       "BINARY, VARBINARY and BLOB as bytes, or as a base64, url-safe base64 or hex string."},
		func(s *settings) *string { return &s.binaryMode }),
	config.BoolField(config.Key{Name: KeySchemaChanges, Default: true, Importance: config.Medium, Group: gEvents,
		Doc: "Publish DDL statements of captured databases to the topic <topic.prefix>, keyed by database name, as Debezium's SchemaChangeValue."},
		func(s *settings) *bool { return &s.schemaChanges }),
	config.BoolField(config.Key{Name: KeyIncludeQuery, Default: false, Importance: config.Low, Group: gEvents,
		Doc: "Put the statement that made a change in source.query (the server must write it: binlog_rows_query_log_events on MySQL, binlog_annotate_row_events on MariaDB)."},
		func(s *settings) *bool { return &s.includeQuery }),
	config.DurationField(config.Key{Name: KeyHeartbeatMs, Default: time.Duration(0), Importance: config.Medium, Group: gRepl, Validator: config.AtLeast(0),
		Doc: "Milliseconds between heartbeat records (0: none). Heartbeats carry the latest binlog position, so the stored offset moves while captured tables are idle."},
		func(s *settings) *time.Duration { return &s.heartbeat }),
	config.StringField(config.Key{Name: KeyHeartbeatQuery, Importance: config.Low, Group: gRepl,
		Doc: "SQL statement run on each heartbeat, e.g. an update of a heartbeat table."},
		func(s *settings) *string { return &s.heartbeatQuery }),
	config.StringField(config.Key{Name: KeyHeartbeatPrefix, Default: "__debezium-heartbeat", Importance: config.Low, Group: gRepl,
		Doc: "Prefix of the heartbeat topic <prefix>.<topic.prefix>."},
		func(s *settings) *string { return &s.heartbeatPrefix }),
	config.BoolField(config.Key{Name: KeyTxMetadata, Default: false, Importance: config.Low, Group: gEvents,
		Doc: "Add the transaction block (id, total_order, data_collection_order) to change events and publish BEGIN and END events to <topic.prefix>.transaction."},
		func(s *settings) *bool { return &s.txMetadata }),
	config.ListField(config.Key{Name: KeyGTIDIncludes, Importance: config.Low, Group: gRepl, Validator: debezium.RegexListValidator(),
		Doc: "Regular expressions matched against GTID sources (MySQL server UUIDs, MariaDB domain-server pairs such as 0-1): only matching sources are kept in the offset's GTID set."},
		func(s *settings) *[]string { return &s.lists.gtidIn }),
	config.ListField(config.Key{Name: KeyGTIDExcludes, Importance: config.Low, Group: gRepl, Validator: debezium.RegexListValidator(),
		Doc: "Regular expressions matched against GTID sources: matching sources are dropped from the offset's GTID set."},
		func(s *settings) *[]string { return &s.lists.gtidEx }),
	config.IntField(debezium.MaxBatchKey(gEvents), func(s *settings) *int { return &s.maxBatch }),
	config.IntField(debezium.MaxQueueKey(gEvents), func(s *settings) *int { return &s.maxQueue }),
	config.LongField(debezium.MaxQueueBytesKey(gEvents), func(s *settings) *int64 { return &s.maxQueueBytes }),
	config.DurationField(config.Key{Name: KeyPollInterval, Default: 500 * time.Millisecond, Importance: config.Low, Group: gEvents, Validator: config.AtLeast(1),
		Doc: "Milliseconds a poll waits for records before returning none."},
		func(s *settings) *time.Duration { return &s.pollInterval }),
	config.StringField(debezium.SignalCollectionKey(gSnap, "database", ""),
		func(s *settings) *string { return &s.signalTable }),
	config.IntField(debezium.IncrementalChunkKey(gSnap), func(s *settings) *int { return &s.incrementalChunk }),
	config.StringField(config.Key{Name: KeyHistoryTopic, Importance: config.Medium, Group: gRepl,
		Doc: "Schema history topic, used only when the binlog does not name columns (binlog_row_metadata other than FULL; with FULL, on MySQL 8.0.1+ and MariaDB 10.5+, the table-map events carry the definitions and no history is needed). DDL statements are parsed and applied to a model of the captured tables, each change recorded here as Debezium records it (one partition, infinite retention). A missing, empty, truncated or corrupt history is rebuilt with a warning, never a failed start: the current definitions from information_schema, recorded at the position streaming resumes from. Unset: definitions come from information_schema."},
		func(s *settings) *string { return &s.historyTopic }),
	config.StringField(config.Key{Name: KeyHistoryServers, Importance: config.Medium, Group: gRepl,
		Doc: "Comma-separated host:port of the brokers holding the schema history topic, reached with the security keys under " + HistoryProducerPrefix + " and " + HistoryConsumerPrefix + " (plaintext without them)."},
		func(s *settings) *string { return &s.historyServers }),
)

// Prefixes of the schema history's clients' security keys (Kafka's
// security.protocol, sasl.*, ssl.* under them), Debezium's.
const (
	HistoryProducerPrefix = "schema.history.internal.producer."
	HistoryConsumerPrefix = "schema.history.internal.consumer."
)

var configDef = binding.Def().
	With(clientconfig.Declare(HistoryProducerPrefix, gRepl, " For the schema history's producer (and the admin client creating its topic).")...).
	With(clientconfig.Declare(HistoryConsumerPrefix, gRepl, " For the schema history's consumer.")...)

// ConfigDef returns the definition of every key the connector accepts.
func ConfigDef() *config.Def { return configDef }

// settings are the parsed connector settings a task works with.
type settings struct {
	host, user       string
	secret           config.Secret
	password         string
	port             int
	serverIDSet      int64 // database.server.id as configured, 0 when unset
	serverID         uint32
	sslMode          string
	truststore       string
	truststorePw     config.Secret
	roots            *x509.CertPool // the truststore's CAs; nil: the system's
	plainFallback    atomic.Bool    // preferred, and the server offers no TLS
	prefix           string
	lists            struct{ dbIn, dbEx, tableIn, tableEx, colIn, colEx, gtidIn, gtidEx []string }
	filter           *debezium.Filter
	keyColumns       string
	keyCols          []debezium.KeyColumns
	snapshotMode     string
	lockMode         string
	snapshotThreads  int
	chunkRows        int64
	tombstones       bool
	skipped          []string
	skip             map[string]bool
	decimalMode      string
	timeMode         string
	bigintMode       string
	binaryMode       string
	schemaChanges    bool
	includeQuery     bool
	heartbeat        time.Duration
	heartbeatQuery   string
	heartbeatPrefix  string
	heartbeatTopic   string
	txMetadata       bool
	gtidIn, gtidEx   []*regexp.Regexp
	signalTable      string
	incrementalChunk int
	historyTopic     string
	historyServers   string
	historyClients   [2][]kgo.Opt // the schema history's producer and consumer security
	maxBatch         int
	maxQueue         int
	maxQueueBytes    int64
	pollInterval     time.Duration
}

// parseSettings validates props and returns the task settings.
func parseSettings(props map[string]string) (*settings, error) {
	s := &settings{}
	if _, err := binding.Parse(props, s); err != nil {
		return nil, err
	}
	l := &s.lists
	for _, p := range [][2][]string{{l.dbIn, l.dbEx}, {l.tableIn, l.tableEx}, {l.colIn, l.colEx}, {l.gtidIn, l.gtidEx}} {
		if len(p[0]) > 0 && len(p[1]) > 0 {
			return nil, fmt.Errorf("an include list and the matching exclude list cannot both be set (database, table, column or GTID source)")
		}
	}
	var err error
	if s.filter, err = debezium.NewFilter(systemDatabase, l.dbIn, l.dbEx, l.tableIn, l.tableEx, l.colIn, l.colEx); err != nil {
		return nil, err
	}
	if s.keyCols, err = debezium.ParseMessageKeyColumns(s.keyColumns); err != nil {
		return nil, fmt.Errorf("%s: %w", KeyMessageKeyCols, err)
	}
	s.password = s.secret.Value()
	for i, prefix := range []string{HistoryProducerPrefix, HistoryConsumerPrefix} {
		if s.historyClients[i], err = clientconfig.Opts(clientconfig.Layers(props, prefix)); err != nil {
			return nil, fmt.Errorf("%s*: %w", prefix, err)
		}
	}
	if s.truststore != "" {
		if s.roots, err = loadTruststore(s.truststore, s.truststorePw.Value()); err != nil {
			return nil, err
		}
	}
	if s.serverIDSet > 0 {
		s.serverID = uint32(s.serverIDSet)
	} else {
		s.serverID = uint32(serverIDMin + rand.IntN(serverIDMax-serverIDMin+1))
	}
	s.heartbeatTopic = debezium.HeartbeatTopic(s.heartbeatPrefix, s.prefix)
	switch s.snapshotMode {
	case SnapshotNever, SnapshotSchemaOnly:
		s.snapshotMode = SnapshotNoData
	case SnapshotSchemaRecov:
		s.snapshotMode = SnapshotRecovery
	}
	if s.lockMode == "minimal_percona" {
		s.lockMode = LockMinimal
	}
	s.skip = map[string]bool{}
	for _, op := range s.skipped {
		if op != "none" {
			s.skip[op] = true
		}
	}
	if s.maxQueue < s.maxBatch {
		s.maxQueue = s.maxBatch
	}
	if s.gtidIn, err = debezium.CompileAll(l.gtidIn); err != nil {
		return nil, fmt.Errorf("%s: %w", KeyGTIDIncludes, err)
	}
	if s.gtidEx, err = debezium.CompileAll(l.gtidEx); err != nil {
		return nil, fmt.Errorf("%s: %w", KeyGTIDExcludes, err)
	}
	return s, nil
}

// includeExcludePairs are the include and exclude lists that exclude each
// other.
var includeExcludePairs = [][2]string{{KeyDBInclude, KeyDBExclude}, {KeyTableInclude, KeyTableExclude},
	{KeyColumnInclude, KeyColumnExclude}, {KeyGTIDIncludes, KeyGTIDExcludes}}

// addr is the server's host:port.
func (s *settings) addr() string { return s.host + ":" + strconv.Itoa(s.port) }

// gtidSource reports whether the GTID source (MySQL server UUID, MariaDB
// domain-server) is kept in offsets.
func (s *settings) gtidSource(src string) bool {
	if len(s.gtidIn) > 0 && !debezium.AnyMatch(s.gtidIn, src) {
		return false
	}
	return !debezium.AnyMatch(s.gtidEx, src)
}

// keyColumnsFor returns the message.key.columns override for db.table.
func (s *settings) keyColumnsFor(db, table string) []string {
	return debezium.KeyColumnsFor(s.keyCols, db+"."+table)
}

// systemDatabase reports databases never captured.
func systemDatabase(db string) bool {
	switch strings.ToLower(db) {
	case "mysql", "information_schema", "performance_schema", "sys":
		return true
	}
	return false
}
