package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connectors/debezium"
)

// Schema names of Debezium's PostgreSQL events.
const (
	sourceSchemaName       = "io.debezium.connector.postgresql.Source"
	messageValueSchemaName = "io.debezium.connector.postgresql.MessageValue"
	messageKeySchemaName   = "io.debezium.connector.postgresql.MessageKey"
	messageBlockSchemaName = "io.debezium.connector.postgresql.Message"
)

// Version is the connector version reported in source.version and by the
// plugin catalogue.
const Version = "0.1.0"

// SourceSchema returns the schema of the envelope's source block, as
// Debezium's io.debezium.connector.postgresql.Source: the common fields,
// then schema, table, txId, lsn and xmin.
func SourceSchema() *connect.Schema {
	return debezium.SourceSchema(sourceSchemaName,
		connect.F("schema", connect.StringSchema),
		connect.F("table", connect.StringSchema),
		connect.F("txId", connect.OptionalInt64Schema),
		connect.F("lsn", connect.OptionalInt64Schema),
		connect.F("xmin", connect.OptionalInt64Schema),
	)
}

// Positions of the source block's fields.
const (
	srcSnapshot = debezium.SourceSnapshot
	srcTsMs     = debezium.SourceTsMs
	srcTsUs     = debezium.SourceTsUs
	srcTsNs     = debezium.SourceTsNs
	srcSequence = debezium.SourceSequence
)

// Positions of the PostgreSQL fields of the source block.
const (
	srcSchema = debezium.SourceFields + iota
	srcTable
	srcTxID
	srcLSN
	srcXmin
)

var sourceSchema = SourceSchema()

// Positions of the envelope's fields.
const (
	envBefore = debezium.EnvBefore
	envAfter  = debezium.EnvAfter
	envSource = debezium.EnvSource
	envOp     = debezium.EnvOp
)

// column is one published column of a captured table.
type column struct {
	name     string
	oid      uint32
	typmod   int32
	codec    codec
	valuePos int // field position in the value struct; -1 when excluded
	keyPos   int // field position in the key struct; -1 when not a key column
	// adapt is set when the codec's values hold structs, which adaptStruct
	// must give the exact schema of their field.
	adapt bool
}

// table is what the connector knows of one captured table: its columns in
// publication order and the schemas of its records. A table is replaced,
// never changed, when its definition changes.
type table struct {
	relID     uint32
	schema    string
	name      string
	topic     string
	captured  bool
	signal    bool // the signal table (signal.data.collection)
	identity  byte // d default, f full, n nothing, i index
	cols      []*column
	keySchema *connect.Schema // nil: the table has no key (records have a null key)
	valSchema *connect.Schema
	envSchema *connect.Schema
	keyCount  int
	// boxed holds schema and name as interface values, made once instead of
	// for every record's source block.
	boxed struct{ schema, name any }
}

// catalogColumn is a column as pg_attribute describes it.
type catalogColumn struct {
	name    string
	oid     uint32
	typmod  int32
	notNull bool
}

// catalogTable is a table as the catalog describes it.
type catalogTable struct {
	relID    uint32
	schema   string
	name     string
	identity byte
	cols     []catalogColumn // published (non-generated) columns by attnum
	pk       []string
	estRows  float64
}

const describeQuery = `SELECT n.nspname, c.relname, c.relreplident::text, c.reltuples::float8,
  coalesce((SELECT array_agg(a.attname::text ORDER BY k.ord) FROM pg_index i
     CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
     JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
     WHERE i.indrelid = c.oid AND i.indisprimary), '{}')
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = $1`

const columnsQuery = `SELECT a.attname::text, a.atttypid, a.atttypmod, a.attnotnull FROM pg_attribute a
WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '' ORDER BY a.attnum`

// describe reads a table's definition from the catalog.
func describe(ctx context.Context, conn *pgx.Conn, relID uint32) (*catalogTable, error) {
	t := &catalogTable{relID: relID}
	var ident string
	err := conn.QueryRow(ctx, describeQuery, relID).Scan(&t.schema, &t.name, &ident, &t.estRows, &t.pk)
	if err != nil {
		return nil, fmt.Errorf("describe relation %d: %w", relID, err)
	}
	if ident != "" {
		t.identity = ident[0]
	}
	rows, err := conn.Query(ctx, columnsQuery, relID)
	if err != nil {
		return nil, fmt.Errorf("describe columns of %s.%s: %w", t.schema, t.name, err)
	}
	defer rows.Close()
	for rows.Next() {
		var c catalogColumn
		if err := rows.Scan(&c.name, &c.oid, &c.typmod, &c.notNull); err != nil {
			return nil, fmt.Errorf("describe columns of %s.%s: %w", t.schema, t.name, err)
		}
		t.cols = append(t.cols, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("describe columns of %s.%s: %w", t.schema, t.name, err)
	}
	return t, nil
}

// buildTable makes the table of schema.name with the given published
// columns (from a Relation message or the catalog); cat supplies
// nullability and the primary key.
func (s *settings) buildTable(tm *typeMap, relID uint32, cat *catalogTable, identity byte, cols []catalogColumn) (*table, error) {
	t := &table{relID: relID, schema: cat.schema, name: cat.name, identity: identity,
		topic: s.prefix + "." + cat.schema + "." + cat.name}
	t.boxed.schema, t.boxed.name = t.schema, t.name
	t.captured = s.filter.Table(cat.schema, cat.name)
	if !t.captured {
		return t, nil
	}
	notNull := map[string]bool{}
	for _, c := range cat.cols {
		notNull[c.name] = c.notNull
	}
	keyNames := s.keyColumnsFor(cat.schema, cat.name)
	if keyNames == nil {
		keyNames = cat.pk
	}
	isKey := map[string]int{}
	for i, k := range keyNames {
		isKey[k] = i
	}
	base := s.prefix + "." + cat.schema + "." + cat.name
	var valFields []connect.Field
	keyFields := make([]connect.Field, len(keyNames))
	found := 0
	for _, cc := range cols {
		c := &column{name: cc.name, oid: cc.oid, typmod: cc.typmod, valuePos: -1, keyPos: -1}
		c.codec = s.codecFor(tm, cc.oid, cc.typmod)
		c.adapt = holdsStruct(c.codec.schema)
		kp, key := isKey[cc.name]
		sc := c.codec.schema
		// Non-key columns are optional unless declared NOT NULL under REPLICA
		// IDENTITY FULL: other identities give before images holding the key
		// columns only, whose other fields must be able to be null.
		if !key && (!notNull[cc.name] || identity != 'f') {
			sc = connect.OptionalOf(sc)
		}
		if key {
			c.keyPos = kp
			keyFields[kp] = connect.F(cc.name, c.codec.schema)
			found++
		}
		if s.filter.Column(cat.schema, cat.name, cc.name) {
			c.valuePos = len(valFields)
			valFields = append(valFields, connect.F(cc.name, sc))
		}
		t.cols = append(t.cols, c)
	}
	if found != len(keyNames) {
		return nil, fmt.Errorf("table %s.%s: key columns %s not all published (%d of %d found)",
			cat.schema, cat.name, strings.Join(keyNames, ","), found, len(keyNames))
	}
	if len(keyNames) > 0 {
		t.keySchema = connect.NewStructSchema(base+".Key", keyFields...)
		t.keyCount = len(keyNames)
	}
	t.valSchema = connect.NewStructSchema(base+".Value", valFields...)
	t.valSchema.Optional = true
	t.envSchema = debezium.EnvelopeSchema(base, t.valSchema, sourceSchema)
	return t, nil
}

// rowValues holds one decoded row: value struct, key struct, and the names
// of columns whose value was unavailable (unchanged TOAST).
type rowValues struct {
	val         *connect.Struct
	key         *connect.Struct
	unavailable []string
}

// tupleKind of one column of a tuple.
const (
	kindNull  = 'n'
	kindToast = 'u'
	kindText  = 't'
)

// decodeRow builds the value and key structs of one tuple. kinds and data
// give each published column's kind and text; fallback (may be nil) supplies
// values of unchanged TOASTed columns, e.g. from a REPLICA IDENTITY FULL old
// tuple. With an arena a, the structs and the values of the common types
// (see fastKind) are made in it; with a nil a, on their own.
func (t *table) decodeRow(kinds []byte, data [][]byte, fallback *rowValues, a *valueArena) (rowValues, error) {
	var r rowValues
	if a != nil {
		r.val = a.newStruct(t.valSchema)
		if t.keySchema != nil {
			r.key = a.newStruct(t.keySchema)
		}
	} else {
		r.val = connect.NewStruct(t.valSchema)
		if t.keySchema != nil {
			r.key = connect.NewStruct(t.keySchema)
		}
	}
	n := len(kinds)
	if n > len(t.cols) {
		n = len(t.cols)
	}
	for i := 0; i < n; i++ {
		c := t.cols[i]
		if c.valuePos < 0 && c.keyPos < 0 {
			continue
		}
		var v any
		switch kinds[i] {
		case kindNull:
		case kindToast:
			if fallback != nil && c.valuePos >= 0 && fallback.val.GetAt(c.valuePos) != nil && !fallback.isUnavailable(c.name) {
				v = fallback.val.GetAt(c.valuePos)
			} else {
				v = c.codec.unavailable
				r.unavailable = append(r.unavailable, c.name)
			}
		default:
			var err error
			if a != nil && c.codec.fast != fastNone {
				v, err = c.codec.decodeFast(data[i], a)
			} else {
				v, err = c.codec.decode(data[i])
			}
			if err != nil {
				return r, fmt.Errorf("table %s.%s column %s: %w", t.schema, t.name, c.name, err)
			}
		}
		if !c.adapt {
			if c.valuePos >= 0 {
				r.val.SetAt(c.valuePos, v)
			}
			if c.keyPos >= 0 && r.key != nil {
				r.key.SetAt(c.keyPos, v)
			}
			continue
		}
		if c.valuePos >= 0 {
			r.val.SetAt(c.valuePos, adaptStruct(v, t.valSchema.Fields[c.valuePos].Schema))
		}
		if c.keyPos >= 0 && r.key != nil {
			r.key.SetAt(c.keyPos, adaptStruct(v, t.keySchema.Fields[c.keyPos].Schema))
		}
	}
	return r, nil
}

func (r *rowValues) isUnavailable(name string) bool {
	for _, n := range r.unavailable {
		if n == name {
			return true
		}
	}
	return false
}

// holdsStruct reports whether values of schema s are or contain structs.
func holdsStruct(s *connect.Schema) bool {
	for s != nil {
		switch s.Type {
		case connect.TypeStruct:
			return true
		case connect.TypeArray:
			s = s.Value
		default:
			return false
		}
	}
	return false
}

// adaptStruct gives a struct value (VariableScaleDecimal) the exact schema of
// its field, optional or not, as Connect requires struct schemas to match.
func adaptStruct(v any, s *connect.Schema) any {
	switch x := v.(type) {
	case *connect.Struct:
		if x.Schema() == s || s.Type != connect.TypeStruct {
			return v
		}
		c := connect.NewStruct(s)
		for i := range s.Fields {
			c.SetAt(i, x.GetAt(i))
		}
		return c
	case []any:
		if s.Type != connect.TypeArray || s.Value.Type != connect.TypeStruct {
			return v
		}
		for i, e := range x {
			x[i] = adaptStruct(e, s.Value)
		}
	}
	return v
}
