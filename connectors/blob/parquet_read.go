package blob

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connect/converters"
)

// connectSchemaKey is the key-value metadata (Parquet) or header entry
// (Avro) where the sink keeps the value's Connect schema, as JsonConverter
// writes schemas, so the source restores values with the schema they had.
const connectSchemaKey = "penstock.connect.schema"

// schemaJSON is s as JsonConverter writes schemas.
func schemaJSON(s *connect.Schema) (string, error) {
	b, err := converters.NewJSON().SchemaJSON(s)
	return string(b), err
}

// parseSchemaJSON reads a schema schemaJSON wrote. JsonConverter reads
// schemas only inside an envelope, and a required schema with a null
// payload is an error: the schema goes in as the element of an optional
// array whose payload is null.
func parseSchemaJSON(raw string) (*connect.Schema, error) {
	env := `{"schema":{"type":"array","optional":true,"items":` + raw + `},"payload":null}`
	s, _, err := converters.NewJSON().ToConnect("", []byte(env))
	if err != nil {
		return nil, err
	}
	if s == nil || s.Value == nil {
		return nil, errors.New("no schema")
	}
	return s.Value, nil
}

// parquetValues reads the values of a Parquet object the sink wrote, with
// the Connect schema it keeps in the file's metadata. Parquet is read from
// its footer on: the source spools the object to a temporary file first.
type parquetValues struct {
	schema  *connect.Schema
	plan    *pnode
	wrapped bool
	r       *parquet.Reader
	total   int64 // the file's rows
	read    int64 // rows read from r or passed over
	rows    []parquet.Row
	n, i    int
	cols    [][]parquet.Value
	pos     []int
}

func newParquetValues(data io.ReaderAt, size int64) (*parquetValues, error) {
	f, err := parquet.OpenFile(data, size)
	if err != nil {
		return nil, err
	}
	raw, ok := f.Lookup(connectSchemaKey)
	if !ok {
		return nil, fmt.Errorf("no %s metadata: the source restores the Parquet objects Penstock's sink wrote", connectSchemaKey)
	}
	s, err := parseSchemaJSON(raw)
	if err != nil {
		return nil, fmt.Errorf("the schema in its metadata: %w", err)
	}
	plan, schema, wrapped, err := fileSchema(s)
	if err != nil {
		return nil, err
	}
	n := len(schema.Columns())
	if len(f.Schema().Columns()) != n {
		return nil, fmt.Errorf("%d columns, its schema has %d", len(f.Schema().Columns()), n)
	}
	return &parquetValues{schema: s, plan: plan, wrapped: wrapped, r: parquet.NewReader(f), total: f.NumRows(),
		rows: make([]parquet.Row, 64), cols: make([][]parquet.Value, n), pos: make([]int, n)}, nil
}

func (p *parquetValues) next() (*connect.Schema, any, error) {
	if p.i == p.n {
		n, err := p.r.ReadRows(p.rows)
		if n == 0 {
			if err == nil || errors.Is(err, io.EOF) {
				return nil, nil, io.EOF
			}
			return nil, nil, err
		}
		p.n, p.i = n, 0
		p.read += int64(n)
	}
	row := p.rows[p.i]
	p.i++
	for c := range p.cols {
		p.cols[c], p.pos[c] = p.cols[c][:0], 0
	}
	for _, v := range row {
		p.cols[v.Column()] = append(p.cols[v.Column()], v)
	}
	v, err := p.plan.decode(p.cols, p.pos)
	if err != nil {
		return nil, nil, err
	}
	if p.wrapped {
		v = v.(*connect.Struct).GetAt(0)
	}
	return p.schema, v, nil
}

// skip passes over n rows: over those read already, then seeks the reader
// to the row after them (parquet-go skips the row groups and, where the
// file has an offset index, the pages before it).
func (p *parquetValues) skip(n int64) error {
	if left := int64(p.n - p.i); n <= left {
		p.i += int(n)
		return nil
	}
	n -= int64(p.n - p.i)
	p.i = p.n
	if p.read+n > p.total {
		return fmt.Errorf("%d rows, fewer than %d: %w", p.total, p.read+n, io.ErrUnexpectedEOF)
	}
	if err := p.r.SeekToRow(p.read + n); err != nil {
		return err
	}
	p.read += n
	return nil
}

// peek is the next value of column c; ok is false past its end.
func peek(cols [][]parquet.Value, pos []int, c int) (parquet.Value, bool) {
	if pos[c] >= len(cols[c]) {
		return parquet.Value{}, false
	}
	return cols[c][pos[c]], true
}

// skipNull passes over the null (or empty list or map) emit wrote as one
// value in each of the node's columns.
func skipNull(pos []int, leaves []int) {
	for _, c := range leaves {
		pos[c]++
	}
}

// decode is the inverse of emit: it takes one value of n from the
// columns, from each column's position on.
func (n *pnode) decode(cols [][]parquet.Value, pos []int) (any, error) {
	first, ok := peek(cols, pos, n.leaves[0])
	if !ok {
		return nil, fmt.Errorf("column %d ends early", n.leaves[0])
	}
	if n.optional && first.DefinitionLevel() < n.def {
		skipNull(pos, n.leaves)
		return nil, nil
	}
	switch {
	case n.conv != nil:
		pos[n.col]++
		return n.connectValue(first)
	case n.fields != nil:
		st := connect.NewStruct(n.schema)
		for i, c := range n.children {
			v, err := c.decode(cols, pos)
			if err != nil {
				return nil, fmt.Errorf("field %q: %w", n.schema.Fields[i].Name, err)
			}
			st.SetAt(i, v)
		}
		return st, nil
	case n.elem != nil:
		items := []any{}
		if first.DefinitionLevel() == n.def {
			skipNull(pos, n.leaves)
			return items, nil
		}
		for {
			v, err := n.elem.decode(cols, pos)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", len(items), err)
			}
			items = append(items, v)
			if nx, ok := peek(cols, pos, n.leaves[0]); !ok || nx.RepetitionLevel() != n.rep {
				return items, nil
			}
		}
	default:
		var m any
		var put func(k, v any)
		if n.key.schema.Type == connect.TypeString {
			sm := map[string]any{}
			m, put = sm, func(k, v any) { sm[k.(string)] = v }
		} else {
			am := map[any]any{}
			m, put = am, func(k, v any) { am[k] = v }
		}
		if first.DefinitionLevel() == n.def {
			skipNull(pos, n.leaves)
			return m, nil
		}
		for {
			k, err := n.key.decode(cols, pos)
			if err != nil {
				return nil, fmt.Errorf("map key: %w", err)
			}
			v, err := n.val.decode(cols, pos)
			if err != nil {
				return nil, fmt.Errorf("map value of %v: %w", k, err)
			}
			put(k, v)
			if nx, ok := peek(cols, pos, n.leaves[0]); !ok || nx.RepetitionLevel() != n.rep {
				return m, nil
			}
		}
	}
}

// connectValue is the Connect value of a leaf's Parquet value, as the
// JsonConverter gives it for the schema.
func (n *pnode) connectValue(v parquet.Value) (any, error) {
	s := n.schema
	switch {
	case s.Name == connect.DecimalName && s.Type == connect.TypeBytes:
		scale, err := s.Scale()
		if err != nil {
			return nil, err
		}
		return connect.Decimal{Unscaled: connect.DecimalFromBytes(v.ByteArray()), Scale: scale}, nil
	case s.Name == connect.DateName && s.Type == connect.TypeInt32:
		return connect.DateFromDays(v.Int32()), nil
	case s.Name == connect.TimeName && s.Type == connect.TypeInt32:
		return connect.TimeFromMillis(v.Int32()), nil
	case s.Name == connect.TimestampName && s.Type == connect.TypeInt64:
		return time.UnixMilli(v.Int64()).UTC(), nil
	}
	switch s.Type {
	case connect.TypeBoolean:
		return v.Boolean(), nil
	case connect.TypeInt8:
		return int8(v.Int32()), nil
	case connect.TypeInt16:
		return int16(v.Int32()), nil
	case connect.TypeInt32:
		return v.Int32(), nil
	case connect.TypeInt64:
		return v.Int64(), nil
	case connect.TypeFloat32:
		return v.Float(), nil
	case connect.TypeFloat64:
		return v.Double(), nil
	case connect.TypeString:
		return string(v.ByteArray()), nil
	case connect.TypeBytes:
		return bytes.Clone(v.ByteArray()), nil
	}
	return nil, fmt.Errorf("type %q has no Parquet column", s.Type)
}
