package postgres

import (
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/penstockhq/penstock/connect/config"
)

// Configuration keys, named as Debezium's PostgreSQL connector names them so
// that a Debezium configuration runs unchanged.
const (
	KeyHostname        = "database.hostname"
	KeyPort            = "database.port"
	KeyUser            = "database.user"
	KeyPassword        = "database.password"
	KeyDBName          = "database.dbname"
	KeySSLMode         = "database.sslmode"
	KeyTopicPrefix     = "topic.prefix"
	KeyPluginName      = "plugin.name"
	KeySlotName        = "slot.name"
	KeySlotDropOnStop  = "slot.drop.on.stop"
	KeyPublicationName = "publication.name"
	KeyPublicationMode = "publication.autocreate.mode"
	KeySchemaInclude   = "schema.include.list"
	KeySchemaExclude   = "schema.exclude.list"
	KeyTableInclude    = "table.include.list"
	KeyTableExclude    = "table.exclude.list"
	KeyColumnInclude   = "column.include.list"
	KeyColumnExclude   = "column.exclude.list"
	KeyMessageKeyCols  = "message.key.columns"
	KeySnapshotMode    = "snapshot.mode"
	KeySnapshotThreads = "snapshot.max.threads"
	KeySnapshotChunk   = "snapshot.chunk.size"
	KeyTombstones      = "tombstones.on.delete"
	KeySkippedOps      = "skipped.operations"
	KeyDecimalMode     = "decimal.handling.mode"
	KeyTimePrecision   = "time.precision.mode"
	KeyBinaryMode      = "binary.handling.mode"
	KeyPlaceholder     = "unavailable.value.placeholder"
	KeyStatusInterval  = "status.update.interval.ms"
	KeyHeartbeatMs     = "heartbeat.interval.ms"
	KeyHeartbeatQuery  = "heartbeat.action.query"
	KeyHeartbeatPrefix = "heartbeat.topics.prefix"
	KeyMaxBatch        = "max.batch.size"
	KeyMaxQueue        = "max.queue.size"
	KeyMaxQueueBytes   = "max.queue.size.in.bytes"
	KeyPollInterval    = "poll.interval.ms"
	KeyTxMetadata      = "provide.transaction.metadata"
	KeyStreamInProg    = "penstock.stream.in.progress.transactions"
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
// values under a replica identity other than FULL). Its value is the
// comma-separated list of those column names; their fields in the record hold
// the unavailable.value.placeholder (or null when the column's type cannot
// hold the placeholder). A sink must not write those columns.
const UnavailableColumnsHeader = "penstock.unavailable.columns"

// ConfigDef returns the definition of every key the connector accepts.
func ConfigDef() *config.Def {
	const (
		gConn   = "Connection"
		gFilter = "Filters"
		gRepl   = "Replication"
		gSnap   = "Snapshot"
		gEvents = "Events"
	)
	return config.NewDef(
		config.Key{Name: KeyHostname, Type: config.String, Required: true, Importance: config.High, Group: gConn,
			Doc: "Resolvable hostname or IP address of the PostgreSQL server."},
		config.Key{Name: KeyPort, Type: config.Int, Default: 5432, Importance: config.High, Group: gConn,
			Validator: config.Between(1, 65535), Doc: "Port of the PostgreSQL server."},
		config.Key{Name: KeyUser, Type: config.String, Required: true, Importance: config.High, Group: gConn,
			Doc: "Name of the PostgreSQL user; it needs the REPLICATION attribute (or rds_replication) and SELECT on the captured tables."},
		config.Key{Name: KeyPassword, Type: config.Password, Importance: config.High, Group: gConn,
			Doc: "Password of the PostgreSQL user."},
		config.Key{Name: KeyDBName, Type: config.String, Required: true, Importance: config.High, Group: gConn,
			Doc: "Name of the database to capture."},
		config.Key{Name: KeySSLMode, Type: config.String, Default: "prefer", Importance: config.Medium, Group: gConn,
			Validator: config.OneOf("disable", "allow", "prefer", "require", "verify-ca", "verify-full"),
			Doc:       "libpq sslmode of the connections: disable, allow, prefer, require, verify-ca or verify-full."},
		config.Key{Name: KeyTopicPrefix, Type: config.String, Required: true, Importance: config.High, Group: gEvents,
			Validator: topicPrefixValidator(),
			Doc:       "Prefix of every topic name (<prefix>.<schema>.<table>) and the logical name of the server in source.name and the source partition."},
		config.Key{Name: KeyPluginName, Type: config.String, Default: "pgoutput", Importance: config.Medium, Group: gRepl,
			Validator: config.OneOf("pgoutput"),
			Doc:       "Logical decoding plugin. Penstock uses PostgreSQL's built-in pgoutput only (decoderbufs and wal2json are not supported)."},
		config.Key{Name: KeySlotName, Type: config.String, Default: "debezium", Importance: config.Medium, Group: gRepl,
			Validator: identValidator(), Doc: "Name of the logical replication slot the connector streams from."},
		config.Key{Name: KeySlotDropOnStop, Type: config.Boolean, Default: false, Importance: config.Low, Group: gRepl,
			Doc: "Drop the slot when the task stops gracefully. For tests and development only: WAL written while the connector is stopped is lost to it."},
		config.Key{Name: KeyPublicationName, Type: config.String, Default: "dbz_publication", Importance: config.Medium, Group: gRepl,
			Validator: identValidator(), Doc: "Name of the publication pgoutput streams."},
		config.Key{Name: KeyPublicationMode, Type: config.String, Default: "all_tables", Importance: config.Medium, Group: gRepl,
			Validator: config.OneOf("all_tables", "filtered", "disabled", "no_tables"),
			Doc:       "all_tables: create the publication FOR ALL TABLES when missing; filtered: create or alter it to hold exactly the captured tables; disabled: the publication must exist; no_tables: create it empty when missing."},
		config.Key{Name: KeySchemaInclude, Type: config.List, Importance: config.Medium, Group: gFilter, Validator: regexListValidator(),
			Doc: "Regular expressions matched against whole schema names: only matching schemas are captured."},
		config.Key{Name: KeySchemaExclude, Type: config.List, Importance: config.Medium, Group: gFilter, Validator: regexListValidator(),
			Doc: "Regular expressions matched against whole schema names: matching schemas are not captured."},
		config.Key{Name: KeyTableInclude, Type: config.List, Importance: config.Medium, Group: gFilter, Validator: regexListValidator(),
			Doc: "Regular expressions matched against whole schema.table names: only matching tables are captured."},
		config.Key{Name: KeyTableExclude, Type: config.List, Importance: config.Medium, Group: gFilter, Validator: regexListValidator(),
			Doc: "Regular expressions matched against whole schema.table names: matching tables are not captured."},
		config.Key{Name: KeyColumnInclude, Type: config.List, Importance: config.Medium, Group: gFilter, Validator: regexListValidator(),
			Doc: "Regular expressions matched against whole schema.table.column names: only matching columns are emitted."},
		config.Key{Name: KeyColumnExclude, Type: config.List, Importance: config.Medium, Group: gFilter, Validator: regexListValidator(),
			Doc: "Regular expressions matched against whole schema.table.column names: matching columns are not emitted."},
		config.Key{Name: KeyMessageKeyCols, Type: config.String, Importance: config.Low, Group: gEvents,
			Validator: config.ValidatorFunc{Description: "<schema.table regex>:<col>[,<col>...][;...]", Check: func(v any) error {
				_, err := parseMessageKeyColumns(v.(string))
				return err
			}},
			Doc: "Record key columns for tables without a primary key or to override it: semicolon-separated entries <fully-qualified table regex>:<column>,<column>."},
		config.Key{Name: KeySnapshotMode, Type: config.String, Default: SnapshotInitial, Importance: config.Medium, Group: gSnap,
			Validator: config.OneOf(SnapshotInitial, SnapshotInitialOnly, SnapshotNoData, SnapshotNever, SnapshotAlways, SnapshotWhenNeeded),
			Doc:       "initial: snapshot when no offset is stored, then stream; initial_only: snapshot then stop; no_data (never): stream only; always: snapshot at every start; when_needed: snapshot when no offset is stored or the slot cannot serve the stored position."},
		config.Key{Name: KeySnapshotThreads, Type: config.Int, Default: 1, Importance: config.Medium, Group: gSnap, Validator: config.Between(1, 64),
			Doc: "Connections reading the snapshot in parallel. They share one exported snapshot; a large table is split into primary-key ranges read concurrently."},
		config.Key{Name: KeySnapshotChunk, Type: config.Long, Default: int64(200000), Importance: config.Low, Group: gSnap, Validator: config.AtLeast(1000),
			Doc: "Penstock: approximate rows per key-range chunk of a snapshotted table (tables with a single-column integer primary key are chunked)."},
		config.Key{Name: KeyTombstones, Type: config.Boolean, Default: true, Importance: config.Medium, Group: gEvents,
			Doc: "Emit a tombstone (null value) after each delete event, so compacted topics drop the key."},
		config.Key{Name: KeySkippedOps, Type: config.List, Default: []string{"t"}, Importance: config.Low, Group: gEvents,
			Validator: config.OneOf("c", "u", "d", "t", "none"),
			Doc:       "Operations not emitted while streaming: c (inserts), u (updates), d (deletes), t (truncates), or none."},
		config.Key{Name: KeyDecimalMode, Type: config.String, Default: "precise", Importance: config.Medium, Group: gEvents,
			Validator: config.OneOf("precise", "double", "string"),
			Doc:       "NUMERIC/DECIMAL as precise (Decimal logical type, VariableScaleDecimal when unconstrained), double or string."},
		config.Key{Name: KeyTimePrecision, Type: config.String, Default: "adaptive", Importance: config.Medium, Group: gEvents,
			Validator: config.OneOf("adaptive", "adaptive_time_microseconds", "connect"),
			Doc:       "Temporal types as Debezium's adaptive mode (precision-dependent io.debezium.time types), adaptive_time_microseconds (TIME always MicroTime) or connect (Kafka Connect's Date/Time/Timestamp)."},
		config.Key{Name: KeyBinaryMode, Type: config.String, Default: "bytes", Importance: config.Low, Group: gEvents,
			Validator: config.OneOf("bytes", "base64", "base64-url-safe", "hex"),
			Doc:       "BYTEA as bytes, or as a base64, url-safe base64 or hex string."},
		config.Key{Name: KeyPlaceholder, Type: config.String, Default: "__debezium_unavailable_value", Importance: config.Low, Group: gEvents,
			Doc: "Value standing for an unchanged TOASTed column whose value the WAL does not carry; the record also lists such columns in the penstock.unavailable.columns header."},
		config.Key{Name: KeyStatusInterval, Type: config.Int, Default: 10000, Importance: config.Low, Group: gRepl, Validator: config.Between(10, 3600000),
			Doc: "Milliseconds between standby status updates to the server; each reports the last committed LSN."},
		config.Key{Name: KeyHeartbeatMs, Type: config.Int, Default: 0, Importance: config.Medium, Group: gRepl, Validator: config.AtLeast(0),
			Doc: "Milliseconds between heartbeat records (0: none). Heartbeats carry the server's latest WAL position, so committing them lets the slot advance while captured tables are idle."},
		config.Key{Name: KeyHeartbeatQuery, Type: config.String, Importance: config.Low, Group: gRepl,
			Doc: "SQL statement run on each heartbeat, e.g. an update of a heartbeat table, to create WAL in an otherwise idle database."},
		config.Key{Name: KeyHeartbeatPrefix, Type: config.String, Default: "__debezium-heartbeat", Importance: config.Low, Group: gRepl,
			Doc: "Prefix of the heartbeat topic <prefix>.<topic.prefix>."},
		config.Key{Name: KeyMaxBatch, Type: config.Int, Default: 2048, Importance: config.Low, Group: gEvents, Validator: config.AtLeast(1),
			Doc: "Most records one poll returns."},
		config.Key{Name: KeyMaxQueue, Type: config.Int, Default: 8192, Importance: config.Low, Group: gEvents, Validator: config.AtLeast(1),
			Doc: "Most records buffered between the database and the worker; reading pauses when it is full."},
		config.Key{Name: KeyMaxQueueBytes, Type: config.Long, Default: int64(8 << 20), Importance: config.Low, Group: gEvents, Validator: config.AtLeast(0),
			Doc: "Most bytes (estimated) of records buffered between the database and the worker, beside max.queue.size; reading pauses when it is reached. 0: no byte bound. Debezium's default is 0; Penstock's 8 MiB keeps wide rows from filling memory."},
		config.Key{Name: KeyPollInterval, Type: config.Long, Default: int64(500), Importance: config.Low, Group: gEvents, Validator: config.AtLeast(1),
			Doc: "Milliseconds a poll waits for records before returning none."},
		config.Key{Name: KeyTxMetadata, Type: config.Boolean, Default: false, Importance: config.Low, Group: gEvents,
			Validator: config.ValidatorFunc{Description: "false", Check: func(v any) error {
				if v == true {
					return fmt.Errorf("transaction metadata topics are not supported by Penstock's PostgreSQL connector yet")
				}
				return nil
			}},
			Doc: "Transaction metadata events; not supported yet (must be false)."},
		config.Key{Name: KeyStreamInProg, Type: config.Boolean, Default: false, Importance: config.Low, Group: gRepl,
			Doc: "Penstock: ask PostgreSQL 14+ to stream large in-progress transactions (pgoutput protocol 2). The connector buffers them in memory until they commit and discards them if they abort; useful to keep the server from spilling huge transactions to disk."},
	)
}

func topicPrefixValidator() config.Validator {
	re := regexp.MustCompile(`^[a-zA-Z0-9._-]+$`)
	return config.ValidatorFunc{Description: "[a-zA-Z0-9._-]+", Check: func(v any) error {
		if !re.MatchString(v.(string)) {
			return fmt.Errorf("topic prefix may contain only ASCII letters, digits, '.', '_' and '-'")
		}
		return nil
	}}
}

func identValidator() config.Validator {
	re := regexp.MustCompile(`^[a-z0-9_]{1,63}$`)
	return config.ValidatorFunc{Description: "[a-z0-9_]{1,63}", Check: func(v any) error {
		if !re.MatchString(v.(string)) {
			return fmt.Errorf("must be 1 to 63 lower-case letters, digits or underscores")
		}
		return nil
	}}
}

func regexListValidator() config.Validator {
	return config.ValidatorFunc{Description: "comma-separated regular expressions", Check: func(v any) error {
		for _, s := range v.([]string) {
			if _, err := regexp.Compile(s); err != nil {
				return fmt.Errorf("invalid regular expression %q: %v", s, err)
			}
		}
		return nil
	}}
}

// settings are the parsed connector settings a task works with.
type settings struct {
	host, user, dbname, sslmode string
	port                        int
	password                    string
	prefix                      string
	slot, publication, pubMode  string
	dropSlot                    bool
	filter                      *filter
	keyCols                     []keyColumnsRule
	snapshotMode                string
	snapshotThreads             int
	chunkRows                   int64
	tombstones                  bool
	skip                        map[string]bool
	decimalMode, timeMode       string
	binaryMode                  string
	placeholder                 string
	statusInterval              time.Duration
	heartbeat                   time.Duration
	heartbeatQuery              string
	heartbeatTopic              string
	maxBatch, maxQueue          int
	maxQueueBytes               int
	pollInterval                time.Duration
	streamInProgress            bool
	// boxed holds prefix and dbname as interface values, made once instead
	// of for every record's source block.
	boxed struct{ prefix, dbname any }
}

// parseSettings validates props and returns the task settings.
func parseSettings(props map[string]string) (*settings, error) {
	v, err := ConfigDef().Parse(props)
	if err != nil {
		return nil, err
	}
	f, err := newFilter(v.List(KeySchemaInclude), v.List(KeySchemaExclude), v.List(KeyTableInclude),
		v.List(KeyTableExclude), v.List(KeyColumnInclude), v.List(KeyColumnExclude))
	if err != nil {
		return nil, err
	}
	if (len(v.List(KeySchemaInclude)) > 0 && len(v.List(KeySchemaExclude)) > 0) ||
		(len(v.List(KeyTableInclude)) > 0 && len(v.List(KeyTableExclude)) > 0) ||
		(len(v.List(KeyColumnInclude)) > 0 && len(v.List(KeyColumnExclude)) > 0) {
		return nil, fmt.Errorf("an include list and the matching exclude list cannot both be set (schema, table or column)")
	}
	kc, err := parseMessageKeyColumns(v.String(KeyMessageKeyCols))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", KeyMessageKeyCols, err)
	}
	s := &settings{
		host: v.String(KeyHostname), port: v.Int(KeyPort), user: v.String(KeyUser),
		password: v.Password(KeyPassword).Value(), dbname: v.String(KeyDBName),
		sslmode: strings.ToLower(v.String(KeySSLMode)), prefix: v.String(KeyTopicPrefix),
		slot: v.String(KeySlotName), publication: v.String(KeyPublicationName),
		pubMode: strings.ToLower(v.String(KeyPublicationMode)), dropSlot: v.Bool(KeySlotDropOnStop),
		filter: f, keyCols: kc,
		snapshotMode: strings.ToLower(v.String(KeySnapshotMode)), snapshotThreads: v.Int(KeySnapshotThreads),
		chunkRows:  v.Long(KeySnapshotChunk),
		tombstones: v.Bool(KeyTombstones), skip: map[string]bool{},
		decimalMode: strings.ToLower(v.String(KeyDecimalMode)), timeMode: strings.ToLower(v.String(KeyTimePrecision)),
		binaryMode: strings.ToLower(v.String(KeyBinaryMode)), placeholder: v.String(KeyPlaceholder),
		statusInterval: time.Duration(v.Int(KeyStatusInterval)) * time.Millisecond,
		heartbeat:      time.Duration(v.Int(KeyHeartbeatMs)) * time.Millisecond,
		heartbeatQuery: v.String(KeyHeartbeatQuery),
		maxBatch:       v.Int(KeyMaxBatch), maxQueue: v.Int(KeyMaxQueue), maxQueueBytes: int(v.Long(KeyMaxQueueBytes)),
		pollInterval:     v.Duration(KeyPollInterval),
		streamInProgress: v.Bool(KeyStreamInProg),
	}
	s.heartbeatTopic = v.String(KeyHeartbeatPrefix) + "." + s.prefix
	if s.snapshotMode == SnapshotNever {
		s.snapshotMode = SnapshotNoData
	}
	for _, op := range v.List(KeySkippedOps) {
		if op != "none" {
			s.skip[strings.ToLower(op)] = true
		}
	}
	if s.maxQueue < s.maxBatch {
		s.maxQueue = s.maxBatch
	}
	s.boxed.prefix, s.boxed.dbname = s.prefix, s.dbname
	return s, nil
}

// dsn returns a pgx connection string for the settings; replication adds
// replication=database for a walsender connection.
func (s *settings) dsn(replication bool) string {
	u := url.URL{Scheme: "postgres", Host: s.host + ":" + strconv.Itoa(s.port), Path: "/" + s.dbname}
	if s.password != "" {
		u.User = url.UserPassword(s.user, s.password)
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

// keyColumnsRule is one entry of message.key.columns.
type keyColumnsRule struct {
	table   *regexp.Regexp
	columns []string
}

// parseMessageKeyColumns parses "<table regex>:<col>,<col>;<table regex>:<col>".
func parseMessageKeyColumns(s string) ([]keyColumnsRule, error) {
	var out []keyColumnsRule
	for _, entry := range strings.Split(s, ";") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			continue
		}
		i := strings.LastIndexByte(entry, ':')
		if i <= 0 || i == len(entry)-1 {
			return nil, fmt.Errorf("entry %q: want <schema.table>:<column>[,<column>...]", entry)
		}
		re, err := regexp.Compile("^(?:" + strings.TrimSpace(entry[:i]) + ")$")
		if err != nil {
			return nil, fmt.Errorf("entry %q: table pattern: %w", entry, err)
		}
		var cols []string
		for _, c := range strings.Split(entry[i+1:], ",") {
			if c = strings.TrimSpace(c); c != "" {
				cols = append(cols, c)
			}
		}
		if len(cols) == 0 {
			return nil, fmt.Errorf("entry %q: no columns", entry)
		}
		out = append(out, keyColumnsRule{table: re, columns: cols})
	}
	return out, nil
}

// keyColumnsFor returns the message.key.columns override for schema.table.
func (s *settings) keyColumnsFor(schema, table string) []string {
	name := schema + "." + table
	for _, r := range s.keyCols {
		if r.table.MatchString(name) {
			return r.columns
		}
	}
	return nil
}

// filter decides which schemas, tables and columns are captured, as
// Debezium's include/exclude lists: each regex must match the whole name.
type filter struct {
	schemaIn, schemaEx, tableIn, tableEx, colIn, colEx []*regexp.Regexp
}

func compileAll(list []string) ([]*regexp.Regexp, error) {
	var out []*regexp.Regexp
	for _, s := range list {
		re, err := regexp.Compile("^(?:" + s + ")$")
		if err != nil {
			return nil, fmt.Errorf("regular expression %q: %w", s, err)
		}
		out = append(out, re)
	}
	return out, nil
}

func newFilter(schemaIn, schemaEx, tableIn, tableEx, colIn, colEx []string) (*filter, error) {
	f := &filter{}
	var err error
	for _, x := range []struct {
		dst *[]*regexp.Regexp
		src []string
	}{{&f.schemaIn, schemaIn}, {&f.schemaEx, schemaEx}, {&f.tableIn, tableIn}, {&f.tableEx, tableEx}, {&f.colIn, colIn}, {&f.colEx, colEx}} {
		if *x.dst, err = compileAll(x.src); err != nil {
			return nil, err
		}
	}
	return f, nil
}

func anyMatch(res []*regexp.Regexp, s string) bool {
	for _, re := range res {
		if re.MatchString(s) {
			return true
		}
	}
	return false
}

// systemSchema reports schemas never captured.
func systemSchema(schema string) bool {
	return schema == "pg_catalog" || schema == "information_schema" || strings.HasPrefix(schema, "pg_toast") ||
		strings.HasPrefix(schema, "pg_temp")
}

// table reports whether schema.table is captured.
func (f *filter) table(schema, table string) bool {
	if systemSchema(schema) {
		return false
	}
	if len(f.schemaIn) > 0 && !anyMatch(f.schemaIn, schema) {
		return false
	}
	if anyMatch(f.schemaEx, schema) {
		return false
	}
	name := schema + "." + table
	if len(f.tableIn) > 0 && !anyMatch(f.tableIn, name) {
		return false
	}
	return !anyMatch(f.tableEx, name)
}

// column reports whether schema.table.column is emitted.
func (f *filter) column(schema, table, column string) bool {
	name := schema + "." + table + "." + column
	if len(f.colIn) > 0 && !anyMatch(f.colIn, name) {
		return false
	}
	return !anyMatch(f.colEx, name)
}
