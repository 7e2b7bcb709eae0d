package mysql

import (
	"fmt"
	"math/big"
	"math/bits"
	"strconv"
	"strings"

	gm "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connectors/debezium"
)

// column is one column of a captured table, in the table's column order.
type column struct {
	def      colDef
	codec    codec
	valuePos int // field position in the value struct; -1 when excluded
	keyPos   int // field position in the key struct; -1 when not a key column
}

// table is what the connector knows of one captured table: its columns and
// the schemas of its records. A table is replaced, never changed, when its
// definition changes.
type table struct {
	db, name  string
	topic     string
	captured  bool
	cols      []*column
	pk        []string // primary key columns, in key order
	keySchema *connect.Schema
	valSchema *connect.Schema
	envSchema *connect.Schema
	keyCount  int
	plan      *binlogPlan // how its rows events' images are read (decode.go)
}

// buildTable makes the table of db.name from its column definitions and
// primary key.
func (s *settings) buildTable(db, name string, defs []colDef, pk []string) (*table, error) {
	t := &table{db: db, name: name, topic: s.prefix + "." + db + "." + name, pk: pk}
	t.captured = s.filter.Table(db, name)
	if !t.captured {
		return t, nil
	}
	keyNames := s.keyColumnsFor(db, name)
	if keyNames == nil {
		keyNames = pk
	}
	keyIndex := map[string]int{}
	for i, n := range keyNames {
		keyIndex[n] = i
	}
	keyFields := make([]connect.Field, len(keyNames))
	var valFields []connect.Field
	found := 0
	for _, d := range defs {
		c := &column{def: d, valuePos: -1, keyPos: -1}
		cd, err := s.codecFor(&c.def)
		if err != nil {
			return nil, fmt.Errorf("table %s.%s: %w", db, name, err)
		}
		c.codec = cd
		if k, ok := keyIndex[d.name]; ok {
			ks := cd.schema
			if ks.Optional && len(pk) > 0 {
				c2 := *ks
				c2.Optional = false
				ks = &c2
			}
			keyFields[k] = connect.F(d.name, ks)
			c.keyPos = k
			found++
		}
		if s.filter.Column(db, name, d.name) {
			c.valuePos = len(valFields)
			valFields = append(valFields, connect.F(d.name, cd.schema))
		}
		t.cols = append(t.cols, c)
	}
	prefix := s.prefix + "." + db + "." + name
	if len(keyNames) > 0 && found == len(keyNames) {
		t.keySchema = connect.NewStructSchema(prefix+".Key", keyFields...)
		t.keyCount = len(keyNames)
	} else {
		for _, c := range t.cols {
			c.keyPos = -1
		}
	}
	t.valSchema = connect.NewStructSchema(prefix+".Value", valFields...)
	t.valSchema.Optional = true
	t.envSchema = debezium.EnvelopeSchema(prefix, t.valSchema, sourceSchema)
	return t, nil
}

// rowValues are one row image as key and value structs.
type rowValues struct {
	key   *connect.Struct
	val   *connect.Struct
	bytes int // the image's length in the rows event, or what debezium.RecordSize counts for a snapshot row's values (decodeText); 0: not known
}

// structArena makes structs a few dozen at a time (connect.NewStructs),
// and the big.Int of decimal values likewise: fewer, larger allocations. An
// arena belongs to one goroutine.
type structArena struct {
	// structs are each schema's free structs, behind a pointer so that
	// taking one is a map read, not a map write.
	structs map[*connect.Schema]*[]connect.Struct
	ints    []big.Int
	words   []big.Word
}

func newStructArena() *structArena {
	return &structArena{structs: map[*connect.Schema]*[]connect.Struct{}}
}

// structBatch is how many structs of one schema are made at once: small, so
// a record kept long after the others keeps little memory alive.
const structBatch = 32

func (a *structArena) new(s *connect.Schema) *connect.Struct {
	free := a.structs[s]
	if free == nil {
		free = new([]connect.Struct)
		a.structs[s] = free
	}
	if len(*free) == 0 {
		*free = connect.NewStructs(s, structBatch)
	}
	st := &(*free)[0]
	*free = (*free)[1:]
	return st
}

// bigInt returns n as a big.Int of the arena. Its one word has a capacity of
// one, so arithmetic on it that grows reallocates rather than write into
// its neighbour's.
func (a *structArena) bigInt(n int64) *big.Int {
	if len(a.ints) == 0 {
		a.ints, a.words = make([]big.Int, structBatch), make([]big.Word, structBatch)
	}
	z, w := &a.ints[0], a.words[:1:1]
	a.ints, a.words = a.ints[1:], a.words[1:]
	u := uint64(n)
	if n < 0 {
		u = -u
	}
	if u == 0 || bits.UintSize == 32 && u>>32 != 0 {
		return z.SetInt64(n)
	}
	w[0] = big.Word(u)
	z.SetBits(w)
	if n < 0 {
		z.Neg(z)
	}
	return z
}

// decodeRow converts one row (values in column order) into key and value
// structs.
func (t *table) decodeRow(row []any, fromBinlog bool, a *structArena) (rowValues, error) {
	var r rowValues
	r.val = a.new(t.valSchema)
	if t.keySchema != nil {
		r.key = a.new(t.keySchema)
	}
	for i, c := range t.cols {
		if c.valuePos < 0 && c.keyPos < 0 {
			continue
		}
		var raw any
		if i < len(row) {
			raw = row[i]
		}
		v, err := c.codec.convert(raw, fromBinlog, a)
		if err != nil {
			return r, fmt.Errorf("%s.%s column %s: %w", t.db, t.name, c.def.name, err)
		}
		if c.valuePos >= 0 {
			r.val.SetAt(c.valuePos, v)
		}
		if c.keyPos >= 0 {
			r.key.SetAt(c.keyPos, v)
		}
	}
	return r, nil
}

// latin1Collations are the collation ids of the latin1 character set.
var latin1Collations = map[uint64]bool{5: true, 8: true, 15: true, 31: true, 47: true, 48: true, 49: true, 94: true}

// binaryCollation is the id of the binary collation (binary strings).
const binaryCollation = 63

// defsFromTableMap reads column definitions from a table-map event's
// optional metadata (binlog_row_metadata=FULL). ok is false when the server
// did not write column names.
func defsFromTableMap(tm *replication.TableMapEvent) (defs []colDef, pk []string, ok bool) {
	names := tm.ColumnNameString()
	if len(names) != int(tm.ColumnCount) {
		return nil, nil, false
	}
	unsigned := tm.UnsignedMap()
	colls := tm.CollationMap()
	enums := tm.EnumStrValueMap()
	sets := tm.SetStrValueMap()
	defs = make([]colDef, tm.ColumnCount)
	for i := range defs {
		d := &defs[i]
		d.name = names[i]
		d.unsigned = unsigned[i]
		_, d.nullable = tm.Nullable(i)
		typ, meta := tm.ColumnType[i], tm.ColumnMeta[i]
		if typ == gm.MYSQL_TYPE_STRING && meta >= 256 {
			if rt := byte(meta >> 8); rt == gm.MYSQL_TYPE_ENUM || rt == gm.MYSQL_TYPE_SET {
				typ = rt
			}
		}
		coll, hasColl := colls[i]
		d.binary = hasColl && coll == binaryCollation
		if latin1Collations[coll] {
			d.charset = "latin1"
		}
		switch typ {
		case gm.MYSQL_TYPE_TINY:
			d.dataType = "tinyint"
		case gm.MYSQL_TYPE_SHORT:
			d.dataType = "smallint"
		case gm.MYSQL_TYPE_INT24:
			d.dataType = "mediumint"
		case gm.MYSQL_TYPE_LONG:
			d.dataType = "int"
		case gm.MYSQL_TYPE_LONGLONG:
			d.dataType = "bigint"
		case gm.MYSQL_TYPE_FLOAT:
			d.dataType = "float"
		case gm.MYSQL_TYPE_DOUBLE:
			d.dataType = "double"
		case gm.MYSQL_TYPE_NEWDECIMAL, gm.MYSQL_TYPE_DECIMAL:
			d.dataType, d.precision, d.scale = "decimal", int(meta>>8), int(meta&0xFF)
		case gm.MYSQL_TYPE_BIT:
			d.dataType, d.precision = "bit", int(meta>>8)*8+int(meta&0xFF)
		case gm.MYSQL_TYPE_DATE, gm.MYSQL_TYPE_NEWDATE:
			d.dataType = "date"
		case gm.MYSQL_TYPE_TIME, gm.MYSQL_TYPE_TIME2:
			d.dataType, d.fsp = "time", int(meta)
		case gm.MYSQL_TYPE_DATETIME, gm.MYSQL_TYPE_DATETIME2:
			d.dataType, d.fsp = "datetime", int(meta)
		case gm.MYSQL_TYPE_TIMESTAMP, gm.MYSQL_TYPE_TIMESTAMP2:
			d.dataType, d.fsp = "timestamp", int(meta)
		case gm.MYSQL_TYPE_YEAR:
			d.dataType = "year"
		case gm.MYSQL_TYPE_ENUM:
			d.dataType, d.values = "enum", enums[i]
		case gm.MYSQL_TYPE_SET:
			d.dataType, d.values = "set", sets[i]
		case gm.MYSQL_TYPE_JSON:
			d.dataType = "json"
		case gm.MYSQL_TYPE_GEOMETRY:
			d.dataType = "geometry"
		case gm.MYSQL_TYPE_VARCHAR, gm.MYSQL_TYPE_VAR_STRING:
			d.dataType = "varchar"
		case gm.MYSQL_TYPE_STRING:
			d.dataType, d.length = "char", stringLength(meta)
		case gm.MYSQL_TYPE_BLOB, gm.MYSQL_TYPE_TINY_BLOB, gm.MYSQL_TYPE_MEDIUM_BLOB, gm.MYSQL_TYPE_LONG_BLOB:
			d.dataType = "text"
		default:
			d.dataType = "type" + strconv.Itoa(int(typ))
		}
		if d.binary {
			switch d.dataType {
			case "varchar":
				d.dataType = "varbinary"
			case "char":
				d.dataType = "binary"
			case "text":
				d.dataType = "blob"
			}
		}
	}
	for _, k := range tm.PrimaryKey {
		if int(k) < len(names) {
			pk = append(pk, names[k])
		}
	}
	return defs, pk, true
}

// stringLength decodes the byte length of a CHAR or BINARY column from its
// table-map metadata.
func stringLength(meta uint16) int {
	if meta < 256 {
		return int(meta)
	}
	b0, b1 := byte(meta>>8), byte(meta)
	if b0&0x30 != 0x30 {
		return int(uint16(b1) | uint16((b0&0x30)^0x30)<<4)
	}
	return int(b1)
}

// defFromInfoSchema makes a column definition from information_schema.COLUMNS
// values.
func defFromInfoSchema(name, dataType, columnType, nullable string, charset *string, precision, scale, fsp, octets *int64) colDef {
	d := colDef{name: name, dataType: strings.ToLower(dataType), nullable: strings.EqualFold(nullable, "YES")}
	ct := strings.ToLower(columnType)
	d.unsigned = strings.Contains(ct, "unsigned")
	if charset != nil {
		d.charset = strings.ToLower(*charset)
		d.binary = d.charset == "binary"
	} else {
		switch d.dataType {
		case "binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob":
			d.binary = true
		}
	}
	if precision != nil {
		d.precision = int(*precision)
	}
	if scale != nil {
		d.scale = int(*scale)
	}
	if fsp != nil {
		d.fsp = int(*fsp)
	}
	if octets != nil {
		d.length = int(*octets)
	}
	switch d.dataType {
	case "bit":
		// information_schema gives BIT's length as NUMERIC_PRECISION.
	case "enum", "set":
		d.values = parseEnumValues(columnType)
	case "longtext":
		// MariaDB's JSON is LONGTEXT with a json_valid check; it stays a string.
	}
	return d
}

// parseEnumValues reads the values of enum('a','b') or set('a','b').
func parseEnumValues(columnType string) []string {
	open := strings.IndexByte(columnType, '(')
	close := strings.LastIndexByte(columnType, ')')
	if open < 0 || close <= open {
		return nil
	}
	body := columnType[open+1 : close]
	var out []string
	for i := 0; i < len(body); i++ {
		if body[i] != '\'' {
			continue
		}
		var b strings.Builder
		for i++; i < len(body); i++ {
			if body[i] == '\'' {
				if i+1 < len(body) && body[i+1] == '\'' {
					b.WriteByte('\'')
					i++
					continue
				}
				break
			}
			if body[i] == '\\' && i+1 < len(body) {
				i++
			}
			b.WriteByte(body[i])
		}
		out = append(out, b.String())
	}
	return out
}
