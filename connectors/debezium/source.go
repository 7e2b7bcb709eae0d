package debezium

import (
	"github.com/penstockhq/penstock/connect"
	names "github.com/penstockhq/penstock/internal/debeziumnames"
)

// Values of the source block's snapshot field.
const (
	SnapshotTrue  = "true"
	SnapshotFirst = "first"
	SnapshotLast  = "last"
	SnapshotFalse = "false"
	// SnapshotFirstInCollection and SnapshotLastInCollection mark a table's
	// first and last snapshot records.
	SnapshotFirstInCollection = "first_in_data_collection"
	SnapshotLastInCollection  = "last_in_data_collection"
	SnapshotIncremental       = "incremental"
)

// Positions of the common fields of a source block made by SourceSchema;
// a connector's own fields follow from SourceFields on.
const (
	SourceVersion = iota
	SourceConnector
	SourceName
	SourceTsMs
	SourceSnapshot
	SourceDB
	SourceSequence
	SourceTsUs
	SourceTsNs
	// SourceFields is the number of common fields.
	SourceFields
)

// SourceSchema returns the schema of a connector's source block, named as
// Debezium names it (e.g. io.debezium.connector.postgresql.Source): the
// common fields version, connector, name, ts_ms, snapshot, db, sequence,
// ts_us and ts_ns, then the connector's own fields.
func SourceSchema(name string, own ...connect.Field) *connect.Schema {
	snap := &connect.Schema{Type: connect.TypeString, Optional: true, Default: SnapshotFalse, Name: names.Enum, Version: 1,
		Parameters: map[string]string{"allowed": "true,first,first_in_data_collection,last_in_data_collection,last,false,incremental"}}
	fields := append([]connect.Field{
		connect.F("version", connect.StringSchema),
		connect.F("connector", connect.StringSchema),
		connect.F("name", connect.StringSchema),
		connect.F("ts_ms", connect.Int64Schema),
		connect.F("snapshot", snap),
		connect.F("db", connect.StringSchema),
		connect.F("sequence", connect.OptionalStringSchema),
		connect.F("ts_us", connect.OptionalInt64Schema),
		connect.F("ts_ns", connect.OptionalInt64Schema),
	}, own...)
	return connect.NewStructSchema(name, fields...)
}

// Source makes the source blocks of one connector: it holds the schema and
// the values every block shares, boxed once.
type Source struct {
	Schema               *connect.Schema
	version, conn, label any
}

// NewSource returns the maker of blocks of schema s (from SourceSchema) for
// connector (Debezium's short name: "postgresql", "mysql"), its version and
// the logical server name (topic.prefix).
func NewSource(s *connect.Schema, connector, version, serverName string) *Source {
	return &Source{Schema: s, version: version, conn: connector, label: serverName}
}

// New returns a new block with the common fields set: t is when the change
// was made in the database, snapshot one of Snapshot*, db the database.
// The caller sets sequence and its own fields.
func (s *Source) New(t Times, snapshot string, db any) *connect.Struct {
	src := connect.NewStruct(s.Schema)
	s.Fill(src, t, snapshot, db)
	return src
}

// Fill sets the common fields of src, a struct of s.Schema made by the
// caller (for example in an arena), as New does.
func (s *Source) Fill(src *connect.Struct, t Times, snapshot string, db any) {
	src.SetAt(SourceVersion, s.version)
	src.SetAt(SourceConnector, s.conn)
	src.SetAt(SourceName, s.label)
	t.Set(src, SourceTsMs, SourceTsUs, SourceTsNs)
	src.SetAt(SourceSnapshot, boxSnapshot(snapshot))
	src.SetAt(SourceDB, db)
}

// boxSnapshot returns a snapshot marker as an interface value without
// allocating for the known markers.
func boxSnapshot(m string) any {
	switch m {
	case SnapshotFalse:
		return SnapshotFalse
	case SnapshotTrue:
		return SnapshotTrue
	case SnapshotFirst:
		return SnapshotFirst
	case SnapshotLast:
		return SnapshotLast
	case SnapshotFirstInCollection:
		return SnapshotFirstInCollection
	case SnapshotLastInCollection:
		return SnapshotLastInCollection
	case SnapshotIncremental:
		return SnapshotIncremental
	}
	return m
}

// SetSnapshot sets source.snapshot of a change event to marker (one of
// Snapshot*). The source block may be shared by several records (a
// snapshot batch shares one), so the record gets its own copy.
func SetSnapshot(r *connect.Record, marker string) {
	env, ok := r.Value.(*connect.Struct)
	if !ok {
		return
	}
	src, ok := env.GetAt(EnvSource).(*connect.Struct)
	if !ok {
		return
	}
	c := connect.NewStruct(src.Schema())
	for i := range src.Schema().Fields {
		c.SetAt(i, src.GetAt(i))
	}
	c.SetAt(SourceSnapshot, marker)
	env.SetAt(EnvSource, c)
}

// Snapshot returns source.snapshot of a change event ("" when r is not one).
func Snapshot(r *connect.Record) string {
	if env, ok := r.Value.(*connect.Struct); ok {
		if src, ok := env.GetAt(EnvSource).(*connect.Struct); ok {
			s, _ := src.GetAt(SourceSnapshot).(string)
			return s
		}
	}
	return ""
}
