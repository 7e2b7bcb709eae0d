package avro

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	havro "github.com/hamba/avro/v2"

	"github.com/penstockhq/penstock/connect"
)

// errSlowPath says appendDatum does not handle a schema (an enum, a fixed, a
// writer record with fields the Connect schema lacks): the caller encodes
// through toAvro and hamba/avro instead.
var errSlowPath = errors.New("avro: not on the fast path")

// appendDatum appends the Avro binary encoding of Connect value v of schema
// s, written with Avro schema as, to buf. It is the hot path of
// FromConnect: it writes straight from the Connect value, where toAvro and
// hamba/avro's generic encoder build and walk a map per record (about five
// times slower). Round-trip tests decode its output with hamba/avro and
// python3-avro.
func appendDatum(buf []byte, s *connect.Schema, as havro.Schema, v any) ([]byte, error) {
	as = unref(as)
	if v == nil {
		if s.Default != nil {
			v = s.Default
		} else if !s.Optional {
			return buf, fmt.Errorf("null value for required schema %s", s)
		}
	}
	if u, ok := as.(*havro.UnionSchema); ok {
		for i, b := range u.Types() {
			if (v == nil) == (b.Type() == havro.Null) {
				buf = appendLong(buf, int64(i))
				if v == nil {
					return buf, nil
				}
				return appendDatum(buf, s, b, v)
			}
		}
		return buf, fmt.Errorf("union %s has no branch for %T", u, v)
	}
	if v == nil {
		return buf, fmt.Errorf("null value for non-union Avro schema %s", as.Type())
	}
	switch t := as.(type) {
	case *havro.PrimitiveSchema:
		return appendPrimitive(buf, s, t, v)
	case *havro.RecordSchema:
		st, ok := v.(*connect.Struct)
		if !ok || s.Type != connect.TypeStruct {
			return buf, typeMismatch(s, v)
		}
		fs := t.Fields()
		if len(fs) != len(s.Fields) {
			return buf, errSlowPath
		}
		var err error
		for i, f := range s.Fields {
			if fs[i].Name() != f.Name && fs[i].Name() != scrub(f.Name) {
				return buf, errSlowPath
			}
			if buf, err = appendDatum(buf, f.Schema, fs[i].Type(), st.RawAt(i)); err != nil {
				if err == errSlowPath {
					return buf, err
				}
				return buf, fmt.Errorf("%s: %w", f.Name, err)
			}
		}
		return buf, nil
	case *havro.EnumSchema:
		str, ok := v.(string)
		if !ok {
			return buf, typeMismatch(s, v)
		}
		for i, sym := range t.Symbols() {
			if sym == str {
				return appendLong(buf, int64(i)), nil
			}
		}
		return buf, fmt.Errorf("%q is not a symbol of enum %s", str, t.FullName())
	case *havro.ArraySchema:
		if s.Type == connect.TypeMap {
			return appendMapEntries(buf, s, t, v)
		}
		a, ok := v.([]any)
		if !ok || s.Type != connect.TypeArray {
			return buf, typeMismatch(s, v)
		}
		var err error
		if len(a) > 0 {
			buf = appendLong(buf, int64(len(a)))
			for i, e := range a {
				if buf, err = appendDatum(buf, s.Value, t.Items(), e); err != nil {
					if err == errSlowPath {
						return buf, err
					}
					return buf, fmt.Errorf("[%d]: %w", i, err)
				}
			}
		}
		return append(buf, 0), nil
	case *havro.MapSchema:
		var err error
		put := func(k string, e any) error {
			buf = appendString(buf, k)
			if buf, err = appendDatum(buf, s.Value, t.Values(), e); err != nil && err != errSlowPath {
				err = fmt.Errorf("[%q]: %w", k, err)
			}
			return err
		}
		switch m := v.(type) {
		case map[string]any:
			if len(m) > 0 {
				buf = appendLong(buf, int64(len(m)))
				for k, e := range m {
					if err := put(k, e); err != nil {
						return buf, err
					}
				}
			}
		case map[any]any:
			if len(m) > 0 {
				buf = appendLong(buf, int64(len(m)))
				for k, e := range m {
					ks, ok := k.(string)
					if !ok {
						return buf, fmt.Errorf("map key %v: expected string, got %T", k, k)
					}
					if err := put(ks, e); err != nil {
						return buf, err
					}
				}
			}
		default:
			return buf, typeMismatch(s, v)
		}
		return append(buf, 0), nil
	}
	return buf, errSlowPath
}

// appendMapEntries writes a map as an array of MapEntry records.
func appendMapEntries(buf []byte, s *connect.Schema, t *havro.ArraySchema, v any) ([]byte, error) {
	r, ok := unref(t.Items()).(*havro.RecordSchema)
	if !ok || len(r.Fields()) != 2 {
		return buf, errSlowPath
	}
	kt, vt := r.Fields()[0].Type(), r.Fields()[1].Type()
	var err error
	entry := func(k, e any) error {
		if buf, err = appendDatum(buf, s.Key, kt, k); err != nil {
			return err
		}
		buf, err = appendDatum(buf, s.Value, vt, e)
		return err
	}
	switch m := v.(type) {
	case map[any]any:
		if len(m) > 0 {
			buf = appendLong(buf, int64(len(m)))
			for k, e := range m {
				if err := entry(k, e); err != nil {
					return buf, err
				}
			}
		}
	case map[string]any:
		if len(m) > 0 {
			buf = appendLong(buf, int64(len(m)))
			for k, e := range m {
				if err := entry(k, e); err != nil {
					return buf, err
				}
			}
		}
	default:
		return buf, typeMismatch(s, v)
	}
	return append(buf, 0), nil
}

func appendPrimitive(buf []byte, s *connect.Schema, t *havro.PrimitiveSchema, v any) ([]byte, error) {
	switch s.Name {
	case connect.DecimalName:
		d, ok := v.(connect.Decimal)
		if !ok || t.Type() != havro.Bytes {
			return buf, typeMismatch(s, v)
		}
		scale, err := s.Scale()
		if err != nil {
			return buf, err
		}
		return appendBytes(buf, connect.DecimalBytes(d.Rescale(scale).Unscaled)), nil
	case connect.DateName, connect.TimeName, connect.TimestampName:
		tm, ok := v.(time.Time)
		if !ok {
			return buf, typeMismatch(s, v)
		}
		switch {
		case s.Name == connect.DateName && t.Type() == havro.Int:
			return appendLong(buf, int64(connect.DateDays(tm))), nil
		case s.Name == connect.TimeName && t.Type() == havro.Int:
			return appendLong(buf, int64(connect.TimeMillis(tm))), nil
		case s.Name == connect.TimestampName && t.Type() == havro.Long:
			return appendLong(buf, tm.UnixMilli()), nil
		}
		return buf, typeMismatch(s, v)
	}
	switch t.Type() {
	case havro.Boolean:
		if b, ok := v.(bool); ok {
			if b {
				return append(buf, 1), nil
			}
			return append(buf, 0), nil
		}
	case havro.Int:
		switch n := v.(type) {
		case int8:
			return appendLong(buf, int64(n)), nil
		case int16:
			return appendLong(buf, int64(n)), nil
		case int32:
			return appendLong(buf, int64(n)), nil
		}
	case havro.Long:
		switch n := v.(type) {
		case int64:
			return appendLong(buf, n), nil
		case int32: // an int promoted to long (use.latest.version)
			return appendLong(buf, int64(n)), nil
		}
	case havro.Float:
		if f, ok := v.(float32); ok {
			return binary.LittleEndian.AppendUint32(buf, math.Float32bits(f)), nil
		}
	case havro.Double:
		switch f := v.(type) {
		case float64:
			return binary.LittleEndian.AppendUint64(buf, math.Float64bits(f)), nil
		case float32:
			return binary.LittleEndian.AppendUint64(buf, math.Float64bits(float64(f))), nil
		}
	case havro.String:
		if str, ok := v.(string); ok {
			return appendString(buf, str), nil
		}
	case havro.Bytes:
		if b, ok := v.([]byte); ok {
			return appendBytes(buf, b), nil
		}
	}
	if !primitiveOK(s.Type, v) {
		return buf, typeMismatch(s, v)
	}
	return buf, errSlowPath
}

// appendLong appends Avro's zig-zag varint encoding of n (int and long).
func appendLong(buf []byte, n int64) []byte {
	return binary.AppendUvarint(buf, uint64((n<<1)^(n>>63)))
}

func appendString(buf []byte, s string) []byte {
	return append(appendLong(buf, int64(len(s))), s...)
}

func appendBytes(buf []byte, b []byte) []byte {
	return append(appendLong(buf, int64(len(b))), b...)
}
