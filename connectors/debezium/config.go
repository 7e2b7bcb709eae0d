package debezium

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/penstockhq/penstock/connect/config"
)

// Configuration keys Debezium's CDC connectors have in common, named as
// Debezium names them.
const (
	KeyHostname        = "database.hostname"
	KeyPort            = "database.port"
	KeyUser            = "database.user"
	KeyPassword        = "database.password"
	KeyTopicPrefix     = "topic.prefix"
	KeyTableInclude    = "table.include.list"
	KeyTableExclude    = "table.exclude.list"
	KeyColumnInclude   = "column.include.list"
	KeyColumnExclude   = "column.exclude.list"
	KeyMessageKeyCols  = "message.key.columns"
	KeySnapshotMode    = "snapshot.mode"
	KeySnapshotThreads = "snapshot.max.threads"
	KeySnapshotChunk   = "snapshot.chunk.size"
	KeyMaxQueueBytes   = "max.queue.size.in.bytes"
	KeyTombstones      = "tombstones.on.delete"
	KeySkippedOps      = "skipped.operations"
	KeyDecimalMode     = "decimal.handling.mode"
	KeyTimePrecision   = "time.precision.mode"
	KeyBinaryMode      = "binary.handling.mode"
	KeyHeartbeatMs     = "heartbeat.interval.ms"
	KeyHeartbeatQuery  = "heartbeat.action.query"
	KeyHeartbeatPrefix = "heartbeat.topics.prefix"
	KeyMaxBatch        = "max.batch.size"
	KeyMaxQueue        = "max.queue.size"
	KeyPollInterval    = "poll.interval.ms"
	KeyTxMetadata      = "provide.transaction.metadata"
	// KeySignalCollection names the signal table of incremental snapshots.
	KeySignalCollection = "signal.data.collection"
	KeyIncrementalChunk = "incremental.snapshot.chunk.size"
)

// TombstonesKey is tombstones.on.delete in group, declared once for every
// CDC connector.
func TombstonesKey(group string) config.Key {
	return config.Key{Name: KeyTombstones, Default: true, Importance: config.Medium, Group: group,
		Doc: "Emit a tombstone (null value) after each delete event, so compacted topics drop the key."}
}

// SkippedOpsKey is skipped.operations in group.
func SkippedOpsKey(group string) config.Key {
	return config.Key{Name: KeySkippedOps, Default: []string{"t"}, Importance: config.Low, Group: group,
		Validator: config.OneOf("c", "u", "d", "t", "none"),
		Doc:       "Operations not emitted while streaming: c (inserts), u (updates), d (deletes), t (truncates), or none."}
}

// MaxBatchKey is max.batch.size in group.
func MaxBatchKey(group string) config.Key {
	return config.Key{Name: KeyMaxBatch, Default: 2048, Importance: config.Low, Group: group, Validator: config.AtLeast(1),
		Doc: "Most records one poll returns."}
}

// MaxQueueKey is max.queue.size in group: the record bound of the queue
// between the database reader and the worker (see MaxQueueBytesKey).
func MaxQueueKey(group string) config.Key {
	return config.Key{Name: KeyMaxQueue, Default: 8192, Importance: config.Low, Group: group, Validator: config.AtLeast(1),
		Doc: "Most records buffered between the database and the worker; reading pauses when it is full."}
}

// SignalCollectionKey is signal.data.collection in group, declared once for
// every CDC connector with incremental snapshots: container names what holds
// the table in the connector's names ("database", "schema"), and needs is
// what the connector requires of the table beyond the common, or "".
func SignalCollectionKey(group, container, needs string) config.Key {
	form := "<" + container + ">.<table>"
	return config.Key{Name: KeySignalCollection, Importance: config.Medium, Group: group,
		Validator: config.ValidatorFunc{Description: form, Check: func(v any) error {
			if s := v.(string); s != "" && strings.Count(s, ".") != 1 {
				return fmt.Errorf("must be %s", form)
			}
			return nil
		}},
		Doc: form + " of the signal table (id VARCHAR(64) PRIMARY KEY, type VARCHAR(32) NOT NULL, data VARCHAR(2048))" + needs +
			". Inserting a row of type execute-snapshot with data {\"data-collections\": [\"" + container + ".table\"], \"type\": \"incremental\"} " +
			"starts an incremental snapshot of those tables while streaming goes on: they are read in primary-key chunks between watermark " +
			"rows the connector inserts into the signal table (it needs INSERT on it). Each table is read up to its greatest key when its " +
			"reading began (rows inserted since come by streaming). Progress is kept in the offsets (incremental_snapshot_collections, " +
			"incremental_snapshot_primary_key, incremental_snapshot_maximum_key): a restarted task resumes at the chunk after the last row emitted."}
}

// IncrementalChunkKey is incremental.snapshot.chunk.size in group, declared
// once for every CDC connector with incremental snapshots.
func IncrementalChunkKey(group string) config.Key {
	return config.Key{Name: KeyIncrementalChunk, Default: 1024, Importance: config.Low, Group: group, Validator: config.AtLeast(1),
		Doc: "Rows per chunk of an incremental snapshot. A chunk is held in memory from its reading until its closing watermark is streamed, as Debezium holds it: lower it for tables with wide rows."}
}

// MaxQueueBytesKey is max.queue.size.in.bytes in group: the byte bound of
// the queue between the database reader and the worker (see Queue), declared
// once for every CDC connector, which binds it to its own settings field.
func MaxQueueBytesKey(group string) config.Key {
	return config.Key{Name: KeyMaxQueueBytes, Default: int64(8 << 20), Importance: config.Low, Group: group, Validator: config.AtLeast(0),
		Doc: "Most bytes (estimated) of records buffered between the database and the worker, beside max.queue.size; reading pauses when it is reached. 0: no byte bound. Debezium's default is 0; Penstock's 8 MiB keeps wide rows from filling memory."}
}

// TopicPrefixValidator accepts topic.prefix values: ASCII letters, digits,
// '.', '_' and '-'.
func TopicPrefixValidator() config.Validator {
	re := regexp.MustCompile(`^[a-zA-Z0-9._-]+$`)
	return config.ValidatorFunc{Description: "[a-zA-Z0-9._-]+", Check: func(v any) error {
		if !re.MatchString(v.(string)) {
			return fmt.Errorf("topic prefix may contain only ASCII letters, digits, '.', '_' and '-'")
		}
		return nil
	}}
}

// RegexListValidator accepts a list of regular expressions (the include and
// exclude lists).
func RegexListValidator() config.Validator {
	return config.ValidatorFunc{Description: "comma-separated regular expressions", Check: func(v any) error {
		for _, s := range v.([]string) {
			if _, err := regexp.Compile(s); err != nil {
				return fmt.Errorf("invalid regular expression %q: %v", s, err)
			}
		}
		return nil
	}}
}

// CompileAll compiles include or exclude list entries; each must match a
// whole name, as Debezium's lists do.
func CompileAll(list []string) ([]*regexp.Regexp, error) {
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

// AnyMatch reports whether one of res matches s.
func AnyMatch(res []*regexp.Regexp, s string) bool {
	for _, re := range res {
		if re.MatchString(s) {
			return true
		}
	}
	return false
}

// KeyColumns is one entry of message.key.columns: the key columns of the
// tables whose fully-qualified name matches Table.
type KeyColumns struct {
	Table   *regexp.Regexp
	Columns []string
}

// ParseMessageKeyColumns parses message.key.columns:
// "<table regex>:<col>,<col>;<table regex>:<col>".
func ParseMessageKeyColumns(s string) ([]KeyColumns, error) {
	var out []KeyColumns
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
		out = append(out, KeyColumns{Table: re, Columns: cols})
	}
	return out, nil
}

// KeyColumnsFor returns the key columns rules give the table named name
// (nil: none, use the primary key).
func KeyColumnsFor(rules []KeyColumns, name string) []string {
	for _, r := range rules {
		if r.Table.MatchString(name) {
			return r.Columns
		}
	}
	return nil
}

// MessageKeyColumnsValidator accepts message.key.columns values.
func MessageKeyColumnsValidator() config.Validator {
	return config.ValidatorFunc{Description: "<schema.table regex>:<col>[,<col>...][;...]", Check: func(v any) error {
		_, err := ParseMessageKeyColumns(v.(string))
		return err
	}}
}
