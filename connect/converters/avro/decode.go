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

var errTruncated = errors.New("avro: datum truncated")

// readDatum decodes the Avro binary datum at the start of b, written with
// Avro schema as, into the Connect value of schema s (s from
// ToConnectSchema(as)), and returns the rest of b. It is ToConnect's hot
// path, the mirror of appendDatum; what it does not cover (enums, fixed,
// unions of several types) returns errSlowPath and goes through hamba/avro
// and fromAvro.
func readDatum(b []byte, s *connect.Schema, as havro.Schema) (any, []byte, error) {
	as = unref(as)
	switch t := as.(type) {
	case *havro.UnionSchema:
		i, b, err := readLong(b)
		if err != nil {
			return nil, b, err
		}
		types := t.Types()
		if i < 0 || int(i) >= len(types) {
			return nil, b, fmt.Errorf("union branch %d of %d", i, len(types))
		}
		if types[i].Type() == havro.Null {
			return nil, b, nil
		}
		return readDatum(b, s, types[i])
	case *havro.RecordSchema:
		fs := t.Fields()
		if s.Type != connect.TypeStruct || len(fs) != len(s.Fields) {
			return nil, b, errSlowPath
		}
		st := connect.NewStruct(s)
		for i, f := range s.Fields {
			v, rest, err := readDatum(b, f.Schema, fs[i].Type())
			if err != nil {
				if err == errSlowPath {
					return nil, rest, err
				}
				return nil, rest, fmt.Errorf("%s: %w", f.Name, err)
			}
			st.SetAt(i, v)
			b = rest
		}
		return st, b, nil
	case *havro.ArraySchema:
		if s.Type == connect.TypeMap {
			r, ok := unref(t.Items()).(*havro.RecordSchema)
			if !ok || len(r.Fields()) != 2 {
				return nil, b, errSlowPath
			}
			m := map[any]any{}
			b, err := readBlocks(b, func(b []byte) ([]byte, error) {
				k, b, err := readDatum(b, s.Key, r.Fields()[0].Type())
				if err != nil {
					return b, err
				}
				v, b, err := readDatum(b, s.Value, r.Fields()[1].Type())
				m[k] = v
				return b, err
			})
			return m, b, err
		}
		if s.Type != connect.TypeArray {
			return nil, b, errSlowPath
		}
		a := []any{}
		b, err := readBlocks(b, func(b []byte) ([]byte, error) {
			v, b, err := readDatum(b, s.Value, t.Items())
			a = append(a, v)
			return b, err
		})
		return a, b, err
	case *havro.MapSchema:
		if s.Type != connect.TypeMap {
			return nil, b, errSlowPath
		}
		m := map[string]any{}
		b, err := readBlocks(b, func(b []byte) ([]byte, error) {
			k, b, err := readBytes(b)
			if err != nil {
				return b, err
			}
			v, b, err := readDatum(b, s.Value, t.Values())
			m[string(k)] = v
			return b, err
		})
		return m, b, err
	case *havro.PrimitiveSchema:
		return readPrimitive(b, s, t)
	}
	return nil, b, errSlowPath
}

func readPrimitive(b []byte, s *connect.Schema, t *havro.PrimitiveSchema) (any, []byte, error) {
	switch t.Type() {
	case havro.Boolean:
		if len(b) < 1 {
			return nil, b, errTruncated
		}
		return b[0] != 0, b[1:], nil
	case havro.Int, havro.Long:
		n, b, err := readLong(b)
		if err != nil {
			return nil, b, err
		}
		switch {
		case s.Name == connect.DateName:
			return connect.DateFromDays(int32(n)), b, nil
		case s.Name == connect.TimeName, s.Name == connect.TimestampName:
			return time.UnixMilli(n).UTC(), b, nil
		}
		switch s.Type {
		case connect.TypeInt8:
			if int64(int8(n)) == n {
				return int8(n), b, nil
			}
		case connect.TypeInt16:
			if int64(int16(n)) == n {
				return int16(n), b, nil
			}
		case connect.TypeInt32:
			if int64(int32(n)) == n {
				return int32(n), b, nil
			}
		case connect.TypeInt64:
			return n, b, nil
		default:
			return nil, b, errSlowPath
		}
		return nil, b, fmt.Errorf("%d is out of range for %s", n, s.Type)
	case havro.Float:
		if len(b) < 4 || s.Type != connect.TypeFloat32 {
			return nil, b, cmpErr(len(b) < 4)
		}
		return math.Float32frombits(binary.LittleEndian.Uint32(b)), b[4:], nil
	case havro.Double:
		if len(b) < 8 || s.Type != connect.TypeFloat64 {
			return nil, b, cmpErr(len(b) < 8)
		}
		return math.Float64frombits(binary.LittleEndian.Uint64(b)), b[8:], nil
	case havro.String:
		v, b, err := readBytes(b)
		if err != nil || s.Type != connect.TypeString {
			return nil, b, cmpErr(err != nil)
		}
		return string(v), b, nil
	case havro.Bytes:
		v, b, err := readBytes(b)
		if err != nil || s.Type != connect.TypeBytes {
			return nil, b, cmpErr(err != nil)
		}
		if s.Name == connect.DecimalName {
			scale, err := s.Scale()
			if err != nil {
				return nil, b, err
			}
			return connect.Decimal{Unscaled: connect.DecimalFromBytes(v), Scale: scale}, b, nil
		}
		return append([]byte(nil), v...), b, nil
	}
	return nil, b, errSlowPath
}

// cmpErr is errTruncated when truncated, else errSlowPath (a schema pair
// the fast path does not map).
func cmpErr(truncated bool) error {
	if truncated {
		return errTruncated
	}
	return errSlowPath
}

// readBlocks reads an array's or a map's blocks, calling item per item.
func readBlocks(b []byte, item func([]byte) ([]byte, error)) ([]byte, error) {
	for {
		n, rest, err := readLong(b)
		if err != nil {
			return rest, err
		}
		b = rest
		if n == 0 {
			return b, nil
		}
		if n < 0 { // a block with its size in bytes
			n = -n
			if _, b, err = readLong(b); err != nil {
				return b, err
			}
		}
		if n > int64(len(b)) {
			return b, fmt.Errorf("block of %d items in %d bytes", n, len(b))
		}
		for ; n > 0; n-- {
			if b, err = item(b); err != nil {
				return b, err
			}
		}
	}
}

// readLong reads a zig-zag varint (Avro int and long).
func readLong(b []byte) (int64, []byte, error) {
	u, n := binary.Uvarint(b)
	if n <= 0 {
		return 0, b, errTruncated
	}
	return int64(u>>1) ^ -int64(u&1), b[n:], nil
}

// readBytes reads length-prefixed bytes, sharing b's memory.
func readBytes(b []byte) ([]byte, []byte, error) {
	n, b, err := readLong(b)
	if err != nil {
		return nil, b, err
	}
	if n < 0 || n > int64(len(b)) {
		return nil, b, errTruncated
	}
	return b[:n], b[n:], nil
}
