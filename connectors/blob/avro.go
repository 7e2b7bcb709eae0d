package blob

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"time"

	"github.com/penstockhq/penstock/connect"
)

// avroFormat is Confluent's AvroFormat: Avro object container files whose
// schema is derived from the Connect value schema as Confluent's AvroData
// does (int8/int16 as int, Decimal, Date, Time and Timestamp as Avro's
// logical types, optional values as unions with null, maps with string keys
// as maps and others as arrays of key/value records). The sync marker is
// derived from the schema, so a rewritten object has the same bytes.
type avroFormat struct{ codec string }

func newAvroFormat(codec string) (format, error) { return &avroFormat{codec: codec}, nil }

func (f *avroFormat) extension() string { return ".avro" }

func (f *avroFormat) open(w io.Writer, s *connect.Schema) (fileWriter, error) {
	if s == nil {
		return nil, recordErr("AvroFormat needs values with a schema")
	}
	g := &avroGen{names: map[string]int{}, records: map[*connect.Schema]string{}}
	js, err := g.schema(s)
	if err != nil {
		return nil, recordErr("value schema %s: %v", s.String(), err)
	}
	raw, err := json.Marshal(js)
	if err != nil {
		return nil, err
	}
	sj, err := schemaJSON(s)
	if err != nil {
		return nil, recordErr("value schema %s: %v", s.String(), err)
	}
	enc, err := newOCFWriter(w, raw, f.codec, sj)
	if err != nil {
		return nil, fmt.Errorf("avro: %w", err)
	}
	return &avroWriter{enc: enc, cs: s, gen: g}, nil
}

type avroWriter struct {
	enc *ocfWriter
	buf []byte
	cs  *connect.Schema
	gen *avroGen
}

func (w *avroWriter) write(rec *connect.Record) error {
	if rec.Value == nil {
		return recordErr("%s: a null value has no Avro record (behavior.on.null.values=write writes nulls in JsonFormat only)", where(rec))
	}
	var err error
	if w.buf, err = w.gen.encode(w.buf[:0], w.cs, rec.Value); err != nil { // whole, so a bad record leaves no partial bytes
		return recordErr("%s: %v", where(rec), err)
	}
	if err := w.enc.add(w.buf); err != nil {
		return fmt.Errorf("avro: %w", err)
	}
	return nil
}

func (w *avroWriter) close() error { return w.enc.close() }

// avroGen derives Avro schemas, naming records uniquely, and converts
// values for them.
type avroGen struct {
	names   map[string]int
	records map[*connect.Schema]string // struct schema -> its record's name
}

var avroNameRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func (g *avroGen) recordName(s *connect.Schema) string {
	name := "ConnectDefault"
	if s.Name != "" {
		name = regexp.MustCompile(`[^A-Za-z0-9_.]`).ReplaceAllString(s.Name, "_")
	}
	g.names[name]++
	if n := g.names[name]; n > 1 {
		name += strconv.Itoa(n)
	}
	return name
}

// schema returns the Avro schema (as JSON data) of s; optional schemas are
// unions with null first.
func (g *avroGen) schema(s *connect.Schema) (any, error) {
	t, err := g.bare(s)
	if err != nil || !s.Optional {
		return t, err
	}
	return []any{"null", t}, nil
}

func (g *avroGen) bare(s *connect.Schema) (any, error) {
	switch s.Name {
	case connect.DecimalName:
		scale, err := s.Scale()
		if err != nil {
			return nil, err
		}
		prec := defaultDecimalPrecision
		if p, err := strconv.Atoi(s.Parameters["connect.decimal.precision"]); err == nil && p > 0 {
			prec = p
		}
		return map[string]any{"type": "bytes", "logicalType": "decimal", "precision": max(prec, int(scale)), "scale": scale}, nil
	case connect.DateName:
		return map[string]any{"type": "int", "logicalType": "date"}, nil
	case connect.TimeName:
		return map[string]any{"type": "int", "logicalType": "time-millis"}, nil
	case connect.TimestampName:
		return map[string]any{"type": "long", "logicalType": "timestamp-millis"}, nil
	}
	switch s.Type {
	case connect.TypeBoolean:
		return "boolean", nil
	case connect.TypeInt8, connect.TypeInt16, connect.TypeInt32:
		return "int", nil
	case connect.TypeInt64:
		return "long", nil
	case connect.TypeFloat32:
		return "float", nil
	case connect.TypeFloat64:
		return "double", nil
	case connect.TypeString:
		return "string", nil
	case connect.TypeBytes:
		return "bytes", nil
	case connect.TypeArray:
		items, err := g.schema(s.Value)
		if err != nil {
			return nil, err
		}
		return map[string]any{"type": "array", "items": items}, nil
	case connect.TypeMap:
		vals, err := g.schema(s.Value)
		if err != nil {
			return nil, err
		}
		if s.Key.Type == connect.TypeString && s.Key.Name == "" {
			return map[string]any{"type": "map", "values": vals}, nil
		}
		keys, err := g.schema(s.Key)
		if err != nil {
			return nil, err
		}
		entry := map[string]any{"type": "record", "name": g.recordName(&connect.Schema{Name: "MapEntry"}),
			"fields": []any{map[string]any{"name": "key", "type": keys}, map[string]any{"name": "value", "type": vals}}}
		return map[string]any{"type": "array", "items": entry}, nil
	case connect.TypeStruct:
		if name, ok := g.records[s]; ok {
			return name, nil // defined once, then referred to by name
		}
		name := g.recordName(s)
		g.records[s] = name
		fields := make([]any, 0, len(s.Fields))
		for _, f := range s.Fields {
			if !avroNameRe.MatchString(f.Name) {
				return nil, fmt.Errorf("field name %q is not a valid Avro name", f.Name)
			}
			ft, err := g.schema(f.Schema)
			if err != nil {
				return nil, fmt.Errorf("field %q: %w", f.Name, err)
			}
			fd := map[string]any{"name": f.Name, "type": ft}
			if f.Schema.Optional {
				fd["default"] = nil
			}
			fields = append(fields, fd)
		}
		return map[string]any{"type": "record", "name": name, "fields": fields}, nil
	}
	return nil, fmt.Errorf("type %q has no Avro type", s.Type)
}

// encode appends the Avro binary encoding of v of schema s to b. Map
// entries are written in key order, so the same value always has the same
// bytes.
func (g *avroGen) encode(b []byte, s *connect.Schema, v any) ([]byte, error) {
	if v == nil && !s.Optional {
		if s.Default == nil {
			return b, fmt.Errorf("a required %s value is null", s.String())
		}
		v = s.Default
	}
	if s.Optional {
		if v == nil {
			return appendLong(b, 0), nil // the null branch
		}
		b = appendLong(b, 1)
	}
	switch s.Name {
	case connect.DecimalName:
		d, ok := decimalOf(v)
		if !ok {
			return b, fmt.Errorf("a Decimal is not a %T", v)
		}
		scale, err := s.Scale()
		if err != nil {
			return b, err
		}
		return appendBytes(b, connect.DecimalBytes(d.Rescale(scale).Unscaled)), nil
	case connect.DateName, connect.TimeName, connect.TimestampName:
		t, ok := v.(time.Time)
		if !ok {
			return b, fmt.Errorf("a time is not a %T", v)
		}
		switch s.Name {
		case connect.DateName:
			return appendLong(b, int64(connect.DateDays(t))), nil
		case connect.TimeName:
			return appendLong(b, int64(connect.TimeMillis(t))), nil
		}
		return appendLong(b, t.UnixMilli()), nil
	}
	switch s.Type {
	case connect.TypeBoolean:
		x, ok := v.(bool)
		if !ok {
			return b, fmt.Errorf("a boolean is not a %T", v)
		}
		if x {
			return append(b, 1), nil
		}
		return append(b, 0), nil
	case connect.TypeInt8, connect.TypeInt16, connect.TypeInt32, connect.TypeInt64:
		i, ok := intOf(v)
		if !ok {
			return b, fmt.Errorf("%v (%T) is not an %s", v, v, s.Type)
		}
		return appendLong(b, i), nil
	case connect.TypeFloat32:
		f, ok := v.(float32)
		if !ok {
			return b, fmt.Errorf("a float is not a %T", v)
		}
		return binary.LittleEndian.AppendUint32(b, math.Float32bits(f)), nil
	case connect.TypeFloat64:
		f, ok := v.(float64)
		if !ok {
			return b, fmt.Errorf("a double is not a %T", v)
		}
		return binary.LittleEndian.AppendUint64(b, math.Float64bits(f)), nil
	case connect.TypeString:
		str, ok := v.(string)
		if !ok {
			return b, fmt.Errorf("a string is not a %T", v)
		}
		return append(appendLong(b, int64(len(str))), str...), nil
	case connect.TypeBytes:
		raw, ok := v.([]byte)
		if !ok {
			return b, fmt.Errorf("bytes are not a %T", v)
		}
		return appendBytes(b, raw), nil
	case connect.TypeStruct:
		st, ok := v.(*connect.Struct)
		if !ok {
			return b, fmt.Errorf("a struct is not a %T", v)
		}
		var err error
		for i, f := range s.Fields {
			if b, err = g.encode(b, f.Schema, st.GetAt(i)); err != nil {
				return b, fmt.Errorf("field %q: %w", f.Name, err)
			}
		}
		return b, nil
	case connect.TypeArray:
		items, ok := v.([]any)
		if !ok {
			return b, fmt.Errorf("an array is not a %T", v)
		}
		if len(items) > 0 {
			b = appendLong(b, int64(len(items)))
		}
		var err error
		for i, it := range items {
			if b, err = g.encode(b, s.Value, it); err != nil {
				return b, fmt.Errorf("[%d]: %w", i, err)
			}
		}
		return appendLong(b, 0), nil
	case connect.TypeMap:
		keys, vals, err := mapEntries(v)
		if err != nil {
			return b, err
		}
		if len(keys) > 0 {
			b = appendLong(b, int64(len(keys)))
		}
		for i, k := range keys { // as a map, or an array of key/value records
			if b, err = g.encode(b, s.Key, k); err != nil {
				return b, fmt.Errorf("map key %v: %w", k, err)
			}
			if b, err = g.encode(b, s.Value, vals[i]); err != nil {
				return b, fmt.Errorf("map value of %v: %w", k, err)
			}
		}
		return appendLong(b, 0), nil
	}
	return b, fmt.Errorf("type %q has no Avro type", s.Type)
}
