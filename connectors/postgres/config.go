package postgres

import (
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/penstockhq/penstock/connect/config"
	"github.com/penstockhq/penstock/connectors/debezium"
)

// Configuration keys, named as Debezium's PostgreSQL connector names them so
// that a Debezium configuration runs unchanged.
const (
	KeyHostname        = debezium.KeyHostname
	KeyPort            = debezium.KeyPort
	KeyUser            = debezium.KeyUser
	KeyPassword        = debezium.KeyPassword
	KeyDBName          = "database.dbname"
	KeySSLMode         = "database.sslmode"
	KeyTopicPrefix     = debezium.KeyTopicPrefix
	KeyPluginName      = "plugin.name"
	KeySlotName        = "slot.name"
	KeySlotDropOnStop  = "slot.drop.on.stop"
	KeyPublicationName = "publication.name"
	KeyPublicationMode = "publication.autocreate.mode"
	KeySchemaInclude   = "schema.include.list"
	KeySchemaExclude   = "schema.exclude.list"
	KeyTableInclude    = debezium.KeyTableInclude
	KeyTableExclude    = debezium.KeyTableExclude
	KeyColumnInclude   = debezium.KeyColumnInclude
	KeyColumnExclude   = debezium.KeyColumnExclude
	KeyMessageKeyCols  = debezium.KeyMessageKeyCols
	KeySnapshotMode    = debezium.KeySnapshotMode
	KeySnapshotThreads = debezium.KeySnapshotThreads
	KeySnapshotChunk   = debezium.KeySnapshotChunk
	KeyTombstones      = debezium.KeyTombstones
	KeySkippedOps      = debezium.KeySkippedOps
	KeyDecimalMode     = debezium.KeyDecimalMode
	KeyTimePrecision   = debezium.KeyTimePrecision
	KeyBinaryMode      = debezium.KeyBinaryMode
	KeyPlaceholder     = "unavailable.value.placeholder"
	KeyStatusInterval  = "status.update.interval.ms"
	KeyHeartbeatMs     = debezium.KeyHeartbeatMs
	KeyHeartbeatQuery  = debezium.KeyHeartbeatQuery
	KeyHeartbeatPrefix = debezium.KeyHeartbeatPrefix
	KeyMaxBatch        = debezium.KeyMaxBatch
	KeyMaxQueue        = debezium.KeyMaxQueue
	KeyMaxQueueBytes   = debezium.KeyMaxQueueBytes
	KeyPollInterval    = debezium.KeyPollInterval
	KeyTxMetadata      = debezium.KeyTxMetadata
	KeyStreamInProg    = "penstock.stream.in.progress.transactions"
	KeySignalTable     = debezium.KeySignalCollection
	KeyIncChunk        = debezium.KeyIncrementalChunk
)

// Values of snapshot.mode.
const (
	SnapshotInitial     = "initial"
	SnapshotInitialOnly = "initial_only"
	SnapshotNoData      = "no_data"
	SnapshotNever       = "never" // Debezium's older name of no_data
	SnapshotAlways      = "always"
	SnapshotWhenNeeded  = "when_needed"
)

// UnavailableColumnsHeader is the header a change record carries when some
// of its after-image columns had no value in the WAL (unchanged TOASTed
// values under a replica identity other than FULL); see
// debezium.UnavailableColumnsHeader.
const UnavailableColumnsHeader = debezium.UnavailableColumnsHeader

// binding declares every key the connector accepts and the settings field
// it fills.
var binding = func() *config.Binding[settings] {
	const (
		gConn   = "Connection"
		gFilter = "Filters"
		gRepl   = "Replication"
		gSnap   = "Snapshot"
		gEvents = "Events"
	)
	return config.Bind(
		config.StringField(config.Key{Name: KeyHostname, Required: true, Importance: config.High, Group: gConn,
			Doc: "Resolvable hostname or IP address of the PostgreSQL server."},
			func(s *settings) *string { return &s.host }),
		config.IntField(config.Key{Name: KeyPort, Default: 5432, Importance: config.High, Group: gConn,
			Validator: config.Between(1, 65535), Doc: "Port of the PostgreSQL server."},
			func(s *settings) *int { return &s.port }),
		config.StringField(config.Key{Name: KeyUser, Required: true, Importance: config.High, Group: gConn,
			Doc: "Name of the PostgreSQL user; it needs the REPLICATION attribute (or rds_replication) and SELECT on the captured tables."},
			func(s *settings) *string { return &s.user }),
		config.PasswordField(config.Key{Name: KeyPassword, Importance: config.High, Group: gConn,
			Doc: "Password of the PostgreSQL user."},
			func(s *settings) *config.Secret { return &s.password }),
		config.StringField(config.Key{Name: KeyDBName, Required: true, Importance: config.High, Group: gConn,
			Doc: "Name of the database to capture."},
			func(s *settings) *string { return &s.dbname }),
		config.StringField(config.Key{Name: KeySSLMode, Default: "prefer", Importance: config.Medium, Group: gConn,
			Validator: config.OneOf("disable", "allow", "prefer", "require", "verify-ca", "verify-full"),
			Doc:       "libpq sslmode of the connections: disable, allow, prefer, require, verify-ca or verify-full."},
			func(s *settings) *string { return &s.sslmode }),
		config.StringField(config.Key{Name: KeyTopicPrefix, Required: true, Importance: config.High, Group: gEvents,
			Validator: debezium.TopicPrefixValidator(),
			Doc:       "Prefix of every topic name (<prefix>.<schema>.<table>) and the logical name of the server in source.name and the source partition."},
			func(s *settings) *string { return &s.prefix }),
		config.StringField(config.Key{Name: KeyPluginName, Default: "pgoutput", Importance: config.Medium, Group: gRepl,
			Validator: config.OneOf("pgoutput"),
			Doc:       "Logical decoding plugin. Penstock uses PostgreSQL's built-in pgoutput only (decoderbufs and wal2json are not supported)."},
			func(s *settings) *string { return &s.pluginName }),
		config.StringField(config.Key{Name: KeySlotName, Default: "debezium", Importance: config.Medium, Group: gRepl,
			Validator: identValidator(), Doc: "Name of the logical replication slot the connector streams from."},
			func(s *settings) *string { return &s.slot }),
		config.BoolField(config.Key{Name: KeySlotDropOnStop, Default: false, Importance: config.Low, Group: gRepl,
			Doc: "Drop the slot when the task stops gracefully. For tests and development only: WAL written while the connector is stopped is lost to it."},
			func(s *settings) *bool { return &s.dropSlot }),
		config.StringField(config.Key{Name: KeyPublicationName, Default: "dbz_publication", Importance: config.Medium, Group: gRepl,
			Validator: identValidator(), Doc: "Name of the publication pgoutput streams."},
			func(s *settings) *string { return &s.publication }),
		config.StringField(config.Key{Name: KeyPublicationMode, Default: "all_tables", Importance: config.Medium, Group: gRepl,
			Validator: config.OneOf("all_tables", "filtered", "disabled", "no_tables"),
			Doc:       "all_tables: create the publication FOR ALL TABLES when missing; filtered: create or alter it to hold exactly the captured tables; disabled: the publication must exist; no_tables: create it empty when missing."},
			func(s *settings) *string { return &s.pubMode }),
		config.ListField(config.Key{Name: KeySchemaInclude, Importance: config.Medium, Group: gFilter, Validator: debezium.RegexListValidator(),
			Doc: "Regular expressions matched against whole schema names: only matching schemas are captured."},
			func(s *settings) *[]string { return &s.lists.schemaIn }),
		config.ListField(config.Key{Name: KeySchemaExclude, Importance: config.Medium, Group: gFilter, Validator: debezium.RegexListValidator(),
			Doc: "Regular expressions matched against whole schema names: matching schemas are not captured."},
			func(s *settings) *[]string { return &s.lists.schemaEx }),
		config.ListField(config.Key{Name: KeyTableInclude, Importance: config.Medium, Group: gFilter, Validator: debezium.RegexListValidator(),
			Doc: "Regular expressions matched against whole schema.table names: only matching tables are captured."},
			func(s *settings) *[]string { return &s.lists.tableIn }),
		config.ListField(config.Key{Name: KeyTableExclude, Importance: config.Medium, Group: gFilter, Validator: debezium.RegexListValidator(),
			Doc: "Regular expressions matched against whole schema.table names: matching tables are not captured."},
			func(s *settings) *[]string { return &s.lists.tableEx }),
		config.ListField(config.Key{Name: KeyColumnInclude, Importance: config.Medium, Group: gFilter, Validator: debezium.RegexListValidator(),
			Doc: "Regular expressions matched against whole schema.table.column names: only matching columns are emitted."},
			func(s *settings) *[]string { return &s.lists.colIn }),
		config.ListField(config.Key{Name: KeyColumnExclude, Importance: config.Medium, Group: gFilter, Validator: debezium.RegexListValidator(),
			Doc: "Regular expressions matched against whole schema.table.column names: matching columns are not emitted."},
			func(s *settings) *[]string { return &s.lists.colEx }),
		config.StringField(config.Key{Name: KeyMessageKeyCols, Importance: config.Low, Group: gEvents,
			Validator: debezium.MessageKeyColumnsValidator(),
			Doc:       "Record key columns for tables without a primary key or to override it: semicolon-separated entries <fully-qualified table regex>:<column>,<column>."},
			func(s *settings) *string { return &s.keyColumns }),
		config.StringField(config.Key{Name: KeySnapshotMode, Default: SnapshotInitial, Importance: config.Medium, Group: gSnap,
			Validator: config.OneOf(SnapshotInitial, SnapshotInitialOnly, SnapshotNoData, SnapshotNever, SnapshotAlways, SnapshotWhenNeeded),
			Doc:       "initial: snapshot when no offset is stored, then stream; initial_only: snapshot then stop; no_data (never): stream only; always: snapshot at every start; when_needed: snapshot when no offset is stored or the slot cannot serve the stored position."},
			func(s *settings) *string { return &s.snapshotMode }),
		config.IntField(config.Key{Name: KeySnapshotThreads, Default: 1, Importance: config.Medium, Group: gSnap, Validator: config.Between(1, 64),
			Doc: "Connections reading the snapshot in parallel. They share one exported snapshot; a large table is split into primary-key ranges read concurrently."},
			func(s *settings) *int { return &s.snapshotThreads }),
		config.LongField(config.Key{Name: KeySnapshotChunk, Default: int64(200000), Importance: config.Low, Group: gSnap, Validator: config.AtLeast(1000),
			Doc: "Penstock: approximate rows per key-range chunk of a snapshotted table (tables with a single-column integer primary key are chunked)."},
			func(s *settings) *int64 { return &s.chunkRows }),
		config.StringField(debezium.SignalCollectionKey(gSnap, "schema", "; it must be in the publication"),
			func(s *settings) *string { return &s.signalTable }),
		config.IntField(debezium.IncrementalChunkKey(gSnap), func(s *settings) *int { return &s.incrementalChunk }),
		config.BoolField(debezium.TombstonesKey(gEvents), func(s *settings) *bool { return &s.tombstones }),
		config.ListField(debezium.SkippedOpsKey(gEvents), func(s *settings) *[]string { return &s.skipped }),
		config.StringField(config.Key{Name: KeyDecimalMode, Default: "precise", Importance: config.Medium, Group: gEvents,
			Validator: config.OneOf("precise", "double", "string"),
			Doc:       "NUMERIC/DECIMAL as precise (Decimal logical type, VariableScaleDecimal when unconstrained), double or string."},
			func(s *settings) *string { return &s.decimalMode }),
		config.StringField(config.Key{Name: KeyTimePrecision, Default: "adaptive", Importance: config.Medium, Group: gEvents,
			Validator: config.OneOf("adaptive", "adaptive_time_microseconds", "connect"),
			Doc:       "Temporal types as Debezium's adaptive mode (precision-dependent io.debezium.time types), adaptive_time_microseconds (TIME always MicroTime) or connect (Kafka Connect's Date/Time/Timestamp)."},
			func(s *settings) *string { return &s.timeMode }),
		config.StringField(config.Key{Name: KeyBinaryMode, Default: "bytes", Importance: config.Low, Group: gEvents,
			Validator: config.OneOf("bytes", "base64", "base64-url-safe", "hex"),
			Doc:       "BYTEA as bytes, or as a base64, url-safe base64 or hex string."},
			func(s *settings) *string { return &s.binaryMode }),
		config.StringField(config.Key{Name: KeyPlaceholder, Default: debezium.UnavailableValuePlaceholder, Importance: config.Low, Group: gEvents,
			Doc: "Value standing for an unchanged TOASTed column whose value the WAL does not carry; the record also lists such columns in the penstock.unavailable.columns header."},
			func(s *settings) *string { return &s.placeholder }),
		config.DurationField(config.Key{Name: KeyStatusInterval, Type: config.Int, Default: 10000, Importance: config.Low, Group: gRepl, Validator: config.Between(10, 3600000),
			Doc: "Milliseconds between standby status updates to the server; each reports the last committed LSN."},
			func(s *settings) *time.Duration { return &s.statusInterval }),
		config.DurationField(config.Key{Name: KeyHeartbeatMs, Type: config.Int, Default: 0, Importance: config.Medium, Group: gRepl, Validator: config.AtLeast(0),
			Doc: "Milliseconds between heartbeat records (0: none). Heartbeats carry the server's latest WAL position, so committing them lets the slot advance while captured tables are idle."},
			func(s *settings) *time.Duration { return &s.heartbeat }),
		config.StringField(config.Key{Name: KeyHeartbeatQuery, Importance: config.Low, Group: gRepl,
			Doc: "SQL statement run on each heartbeat, e.g. an update of a heartbeat table, to create WAL in an otherwise idle database."},
			func(s *settings) *string { return &s.heartbeatQuery }),
		config.StringField(config.Key{Name: KeyHeartbeatPrefix, Default: debezium.DefaultHeartbeatTopicsPrefix, Importance: config.Low, Group: gRepl,
			Doc: "Prefix of the heartbeat topic <prefix>.<topic.prefix>."},
			func(s *settings) *string { return &s.heartbeatPrefix }),
		config.IntField(debezium.MaxBatchKey(gEvents), func(s *settings) *int { return &s.maxBatch }),
		config.IntField(debezium.MaxQueueKey(gEvents), func(s *settings) *int { return &s.maxQueue }),
		config.LongField(debezium.MaxQueueBytesKey(gEvents), func(s *settings) *int64 { return &s.maxQueueBytes }),
		config.DurationField(config.Key{Name: KeyPollInterval, Type: config.Long, Default: int64(500), Importance: config.Low, Group: gEvents, Validator: config.AtLeast(1),
			Doc: "Milliseconds a poll waits for records before returning none."},
			func(s *settings) *time.Duration { return &s.pollInterval }),
		config.BoolField(config.Key{Name: KeyTxMetadata, Default: false, Importance: config.Low, Group: gEvents,
			Validator: config.ValidatorFunc{Description: "false", Check: func(v any) error {
				if v == true {
					return fmt.Errorf("transaction metadata topics are not supported by Penstock's PostgreSQL connector yet")
				}
				return nil
			}},
			Doc: "Transaction metadata events; not supported yet (must be false)."},
			func(s *settings) *bool { return &s.txMetadata }),
		config.BoolField(config.Key{Name: KeyStreamInProg, Default: false, Importance: config.Low, Group: gRepl,
			Doc: "Penstock: ask PostgreSQL 14+ to stream large in-progress transactions (pgoutput protocol 2). The connector buffers them in memory until they commit and discards them if they abort; useful to keep the server from spilling huge transactions to disk."},
			func(s *settings) *bool { return &s.streamInProgress }),
	)
}()

// ConfigDef returns the definition of every key the connector accepts.
func ConfigDef() *config.Def { return binding.Def() }

func identValidator() config.Validator {
	re := regexp.MustCompile(`^[a-z0-9_]{1,63}$`)
	return config.ValidatorFunc{Description: "[a-z0-9_]{1,63}", Check: func(v any) error {
		if !re.MatchString(v.(string)) {
			return fmt.Errorf("must be 1 to 63 lower-case letters, digits or underscores")
		}
		return nil
	}}
}

// settings are the parsed connector settings a task works with: the bound
// keys, then what parseSettings derives from them.
type settings struct {
	host, user, dbname, sslmode string
	port                        int
	password                    config.Secret
	prefix                      string
	pluginName                  string
	slot, publication, pubMode  string
	dropSlot                    bool
	lists                       struct{ schemaIn, schemaEx, tableIn, tableEx, colIn, colEx []string }
	keyColumns                  string
	snapshotMode                string
	snapshotThreads             int
	chunkRows                   int64
	tombstones                  bool
	skipped                     []string
	decimalMode, timeMode       string
	binaryMode                  string
	placeholder                 string
	statusInterval              time.Duration
	heartbeat                   time.Duration
	heartbeatQuery              string
	heartbeatPrefix             string
	maxBatch, maxQueue          int
	maxQueueBytes               int64
	pollInterval                time.Duration
	txMetadata                  bool
	streamInProgress            bool
	signalTable                 string
	incrementalChunk            int

	filter         *debezium.Filter
	keyCols        []debezium.KeyColumns
	skip           map[string]bool
	heartbeatTopic string
	// boxed holds dbname as an interface value, made once instead of for
	// every record's source block.
	boxed struct{ dbname any }
	// source fills the common fields of source blocks.
	source *debezium.Source
}

// parseSettings validates props and returns the task settings.
func parseSettings(props map[string]string) (*settings, error) {
	s := &settings{}
	if _, err := binding.Parse(props, s); err != nil {
		return nil, err
	}
	l := &s.lists
	f, err := debezium.NewFilter(systemSchema, l.schemaIn, l.schemaEx, l.tableIn, l.tableEx, l.colIn, l.colEx)
	if err != nil {
		return nil, err
	}
	if (len(l.schemaIn) > 0 && len(l.schemaEx) > 0) || (len(l.tableIn) > 0 && len(l.tableEx) > 0) ||
		(len(l.colIn) > 0 && len(l.colEx) > 0) {
		return nil, fmt.Errorf("an include list and the matching exclude list cannot both be set (schema, table or column)")
	}
	s.filter = f
	if s.keyCols, err = debezium.ParseMessageKeyColumns(s.keyColumns); err != nil {
		return nil, fmt.Errorf("%s: %w", KeyMessageKeyCols, err)
	}
	s.heartbeatTopic = debezium.HeartbeatTopic(s.heartbeatPrefix, s.prefix)
	if s.snapshotMode == SnapshotNever {
		s.snapshotMode = SnapshotNoData
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
	s.boxed.dbname = s.dbname
	s.source = debezium.NewSource(sourceSchema, "postgresql", Version, s.prefix)
	return s, nil
}

// dsn returns a pgx connection string for the settings; replication adds
// replication=database for a walsender connection.
func (s *settings) dsn(replication bool) string {
	u := url.URL{Scheme: "postgres", Host: s.host + ":" + strconv.Itoa(s.port), Path: "/" + s.dbname}
	if s.password != "" {
		u.User = url.UserPassword(s.user, s.password.Value())
	} else {
		u.User = url.User(s.user)
	}
	q := url.Values{}
	q.Set("sslmode", s.sslmode)
	q.Set("application_name", "penstock-"+s.prefix)
	if replication {
		q.Set("replication", "database")
	}
	// Output formats the value parsers expect, whatever the server defaults.
	q.Set("DateStyle", "ISO")
	q.Set("TimeZone", "UTC")
	q.Set("IntervalStyle", "postgres")
	q.Set("extra_float_digits", "3")
	q.Set("bytea_output", "hex")
	u.RawQuery = q.Encode()
	return u.String()
}

// keyColumnsFor returns the message.key.columns override for schema.table.
func (s *settings) keyColumnsFor(schema, table string) []string {
	return debezium.KeyColumnsFor(s.keyCols, schema+"."+table)
}

// systemSchema reports schemas never captured.
func systemSchema(schema string) bool {
	return schema == "pg_catalog" || schema == "information_schema" || strings.HasPrefix(schema, "pg_toast") ||
		strings.HasPrefix(schema, "pg_temp")
}
