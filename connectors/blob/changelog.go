package blob

import (
	"fmt"
	"sync"

	"github.com/penstockhq/penstock/connect"
)

// Columns a change-log row adds beside the row's own (cdc.change.log).
const (
	ColOp          = "__op"           // c, u, d or r, as Debezium's op
	ColSourceTsMs  = "__source_ts_ms" // when the change happened in the database
	ColSourcePos   = "__source_pos"   // the change's position: a Postgres LSN, or MySQL binlog file:pos
	ColEventTsMs   = "__ts_ms"        // when the connector processed it
	changeLogExtra = 4
)

// changeLog turns Debezium change events (envelopes with op, before, after
// and source) into change-log rows: the row after the change (before it,
// for a delete) with the change's operation, source time and position, so a
// warehouse can MERGE the export. Other records pass unchanged.
type changeLog struct {
	mu      sync.Mutex
	schemas map[*connect.Schema]*connect.Schema // envelope schema -> row schema
}

func newChangeLog() *changeLog { return &changeLog{schemas: map[*connect.Schema]*connect.Schema{}} }

// isEnvelope says whether s is a Debezium envelope schema.
func isEnvelope(s *connect.Schema) bool {
	if s == nil || s.Type != connect.TypeStruct {
		return false
	}
	op, ok1 := s.Field("op")
	after, ok2 := s.Field("after")
	_, ok3 := s.Field("before")
	return ok1 && ok2 && ok3 && op.Schema.Type == connect.TypeString && after.Schema.Type == connect.TypeStruct
}

// rowSchema returns the change-log row schema of an envelope schema: the
// row's fields, all optional (a delete may carry only the key), then the
// change columns.
func (c *changeLog) rowSchema(env *connect.Schema) *connect.Schema {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.schemas[env]; ok {
		return s
	}
	after, _ := env.Field("after")
	fields := make([]connect.Field, 0, len(after.Schema.Fields)+changeLogExtra)
	for _, f := range after.Schema.Fields {
		fields = append(fields, connect.F(f.Name, connect.OptionalOf(f.Schema)))
	}
	fields = append(fields, connect.F(ColOp, connect.StringSchema), connect.F(ColSourceTsMs, connect.OptionalInt64Schema),
		connect.F(ColSourcePos, connect.OptionalStringSchema), connect.F(ColEventTsMs, connect.OptionalInt64Schema))
	s := connect.NewStructSchema(after.Schema.Name, fields...)
	c.schemas[env] = s
	return s
}

func (c *changeLog) row(rec *connect.Record) (*connect.Record, error) {
	if !isEnvelope(rec.ValueSchema) {
		return rec, nil
	}
	env, ok := rec.Value.(*connect.Struct)
	if !ok {
		return nil, recordErr("%s: a change event is not a %T", where(rec), rec.Value)
	}
	schema := c.rowSchema(rec.ValueSchema)
	op, _ := env.Get("op").(string)
	src := env.Get("after")
	if op == "d" {
		src = env.Get("before")
	}
	out := connect.NewStruct(schema)
	if row, ok := src.(*connect.Struct); ok {
		for i := range row.Schema().Fields {
			out.SetAt(i, row.GetAt(i))
		}
	}
	n := len(schema.Fields) - changeLogExtra
	out.SetAt(n, op)
	if source, ok := env.Get("source").(*connect.Struct); ok {
		if ts, ok := source.Get("ts_ms").(int64); ok {
			out.SetAt(n+1, ts)
		}
		out.SetAt(n+2, sourcePosition(source))
	}
	if ts, ok := env.Get("ts_ms").(int64); ok {
		out.SetAt(n+3, ts)
	}
	c2 := rec.Clone()
	c2.ValueSchema, c2.Value = schema, out
	return c2, nil
}

// sourcePosition renders where a change is in the database's log: the
// Postgres LSN, or the MySQL binlog file:pos; nil when the source has none.
func sourcePosition(source *connect.Struct) any {
	s := source.Schema()
	if _, ok := s.Field("lsn"); ok {
		if lsn := source.Get("lsn"); lsn != nil {
			return fmt.Sprint(lsn)
		}
	}
	if _, ok := s.Field("file"); ok {
		if file := source.Get("file"); file != nil {
			return fmt.Sprintf("%v:%v", file, source.Get("pos"))
		}
	}
	return nil
}
