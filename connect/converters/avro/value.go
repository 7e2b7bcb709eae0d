package avro

import (
	"fmt"
	"math/big"
	"reflect"
	"time"

	havro "github.com/hamba/avro/v2"

	"github.com/penstockhq/penstock/connect"
)

// branchName is the name hamba/avro gives a union branch in its generic
// form map[string]any{name: value}.
func branchName(as havro.Schema) string {
	as = unref(as)
	if n, ok := as.(havro.NamedSchema); ok {
		return n.FullName()
	}
	name := string(as.Type())
	if l, ok := as.(havro.LogicalTypeSchema); ok && l.Logical() != nil {
		name += "." + string(l.Logical().Type())
	}
	return name
}

// nonNull returns the one non-null branch of a [null, T] union.
func nonNull(u *havro.UnionSchema) havro.Schema {
	for _, b := range u.Types() {
		if b.Type() != havro.Null {
			return b
		}
	}
	return nil
}

func logical(as havro.Schema) havro.LogicalType {
	if l, ok := as.(havro.LogicalTypeSchema); ok && l.Logical() != nil {
		return l.Logical().Type()
	}
	return ""
}

// toAvro converts Connect value v of schema s to the generic form hamba/avro
// encodes with Avro schema as (nil: as FromConnectSchema renders s).
func toAvro(s *connect.Schema, as havro.Schema, v any) (any, error) {
	as = unref(as)
	if v == nil {
		if s.Default != nil {
			v = s.Default
		} else if s.Optional {
			return nil, nil
		} else {
			return nil, fmt.Errorf("null value for required schema %s", s)
		}
	}
	if u, ok := as.(*havro.UnionSchema); ok {
		b := nonNull(u)
		if b == nil {
			return nil, fmt.Errorf("union %s has no non-null branch", u)
		}
		inner, err := toAvro(s, b, v)
		if err != nil {
			return nil, err
		}
		return map[string]any{branchName(b): inner}, nil
	}
	lt := logical(as)
	switch s.Name {
	case connect.DecimalName:
		d, ok := v.(connect.Decimal)
		if !ok {
			return nil, typeMismatch(s, v)
		}
		scale, err := s.Scale()
		if err != nil {
			return nil, err
		}
		d = d.Rescale(scale)
		if lt == havro.Decimal {
			return d.Rat(), nil
		}
		return connect.DecimalBytes(d.Unscaled), nil
	case connect.DateName, connect.TimeName, connect.TimestampName:
		t, ok := v.(time.Time)
		if !ok {
			return nil, typeMismatch(s, v)
		}
		switch {
		case lt == havro.Date:
			return connect.DateFromDays(connect.DateDays(t)), nil
		case lt == havro.TimeMillis:
			return time.Duration(connect.TimeMillis(t)) * time.Millisecond, nil
		case lt == havro.TimestampMillis:
			return t.UTC(), nil
		case s.Name == connect.DateName:
			return connect.DateDays(t), nil
		case s.Name == connect.TimeName:
			return connect.TimeMillis(t), nil
		}
		return t.UnixMilli(), nil
	}
	switch s.Type {
	case connect.TypeBoolean, connect.TypeString, connect.TypeBytes, connect.TypeInt8, connect.TypeInt16,
		connect.TypeInt32, connect.TypeInt64, connect.TypeFloat32, connect.TypeFloat64:
		if !primitiveOK(s.Type, v) {
			return nil, typeMismatch(s, v)
		}
		return v, nil
	case connect.TypeArray:
		a, ok := v.([]any)
		if !ok {
			return nil, typeMismatch(s, v)
		}
		var items havro.Schema
		if arr, ok := as.(*havro.ArraySchema); ok {
			items = arr.Items()
		}
		out := make([]any, len(a))
		for i, e := range a {
			x, err := toAvro(s.Value, items, e)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			out[i] = x
		}
		return out, nil
	case connect.TypeMap:
		return mapToAvro(s, as, v)
	case connect.TypeStruct:
		st, ok := v.(*connect.Struct)
		if !ok {
			return nil, typeMismatch(s, v)
		}
		rec, _ := as.(*havro.RecordSchema)
		out := make(map[string]any, len(s.Fields))
		for i, f := range s.Fields {
			var ft havro.Schema
			name := scrub(f.Name)
			if rec != nil {
				ft = fieldType(rec, i, name)
				if ft == nil {
					continue // not in the writer schema (use.latest.version)
				}
			}
			x, err := toAvro(f.Schema, ft, st.RawAt(i))
			if err != nil {
				return nil, fmt.Errorf("%s: %w", f.Name, err)
			}
			out[name] = x
		}
		return out, nil
	}
	return nil, fmt.Errorf("schema type %q has no Avro form", s.Type)
}

// fieldType returns the type of the record's field called name, looked up
// at position i first.
func fieldType(rec *havro.RecordSchema, i int, name string) havro.Schema {
	fs := rec.Fields()
	if i < len(fs) && fs[i].Name() == name {
		return fs[i].Type()
	}
	for _, f := range fs {
		if f.Name() == name {
			return f.Type()
		}
	}
	return nil
}

func mapToAvro(s *connect.Schema, as havro.Schema, v any) (any, error) {
	if ms, ok := as.(*havro.MapSchema); ok || (as == nil && s.Key.Type == connect.TypeString && !s.Key.Optional) {
		var values havro.Schema
		if ms != nil {
			values = ms.Values()
		}
		out := map[string]any{}
		put := func(k string, e any) error {
			x, err := toAvro(s.Value, values, e)
			if err != nil {
				return fmt.Errorf("[%q]: %w", k, err)
			}
			out[k] = x
			return nil
		}
		switch m := v.(type) {
		case map[string]any:
			for k, e := range m {
				if err := put(k, e); err != nil {
					return nil, err
				}
			}
		case map[any]any:
			for k, e := range m {
				ks, ok := k.(string)
				if !ok {
					return nil, fmt.Errorf("map key %v: expected string, got %T", k, k)
				}
				if err := put(ks, e); err != nil {
					return nil, err
				}
			}
		default:
			return nil, typeMismatch(s, v)
		}
		return out, nil
	}
	// An array of MapEntry records.
	var kt, vt havro.Schema
	if arr, ok := as.(*havro.ArraySchema); ok {
		if r, ok := unref(arr.Items()).(*havro.RecordSchema); ok && len(r.Fields()) == 2 {
			kt, vt = r.Fields()[0].Type(), r.Fields()[1].Type()
		}
	}
	var out []any
	add := func(k, e any) error {
		kx, err := toAvro(s.Key, kt, k)
		if err != nil {
			return fmt.Errorf("map key %v: %w", k, err)
		}
		vx, err := toAvro(s.Value, vt, e)
		if err != nil {
			return fmt.Errorf("[%v]: %w", k, err)
		}
		out = append(out, map[string]any{"key": kx, "value": vx})
		return nil
	}
	switch m := v.(type) {
	case map[any]any:
		for k, e := range m {
			if err := add(k, e); err != nil {
				return nil, err
			}
		}
	case map[string]any:
		for k, e := range m {
			if err := add(k, e); err != nil {
				return nil, err
			}
		}
	default:
		return nil, typeMismatch(s, v)
	}
	if out == nil {
		out = []any{}
	}
	return out, nil
}

func primitiveOK(t connect.Type, v any) bool {
	switch v.(type) {
	case bool:
		return t == connect.TypeBoolean
	case string:
		return t == connect.TypeString
	case []byte:
		return t == connect.TypeBytes
	case int8:
		return t == connect.TypeInt8
	case int16:
		return t == connect.TypeInt16
	case int32:
		return t == connect.TypeInt32
	case int64:
		return t == connect.TypeInt64
	case float32:
		return t == connect.TypeFloat32
	case float64:
		return t == connect.TypeFloat64
	}
	return false
}

func typeMismatch(s *connect.Schema, v any) error {
	return fmt.Errorf("expected a value of schema %s, got %T", s, v)
}

// fromAvro converts a value hamba/avro decoded with schema as to the Connect
// value of schema s (s from ToConnectSchema(as)).
func fromAvro(s *connect.Schema, as havro.Schema, v any) (any, error) {
	as = unref(as)
	if v == nil {
		return nil, nil
	}
	if u, ok := as.(*havro.UnionSchema); ok {
		b := nonNull(u)
		if m, ok := v.(map[string]any); ok && len(m) == 1 {
			for k, inner := range m {
				for _, t := range u.Types() {
					if branchName(t) == k {
						return fromAvro(s, t, inner)
					}
				}
			}
		}
		return fromAvro(s, b, v)
	}
	switch x := v.(type) {
	case *big.Rat:
		scale, err := s.Scale()
		if err != nil {
			return nil, err
		}
		r := new(big.Rat).Mul(x, new(big.Rat).SetInt(new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(scale)), nil)))
		if !r.IsInt() {
			return nil, fmt.Errorf("decimal %s has more than %d fraction digits", x.FloatString(int(scale)+4), scale)
		}
		return connect.Decimal{Unscaled: new(big.Int).Set(r.Num()), Scale: scale}, nil
	case time.Time:
		return x.UTC(), nil
	case time.Duration:
		return time.UnixMilli(x.Milliseconds()).UTC(), nil
	}
	switch s.Name {
	case connect.DecimalName:
		b, ok := v.([]byte)
		if !ok {
			return nil, typeMismatch(s, v)
		}
		scale, err := s.Scale()
		if err != nil {
			return nil, err
		}
		return connect.Decimal{Unscaled: connect.DecimalFromBytes(b), Scale: scale}, nil
	case connect.DateName:
		if n, ok := v.(int); ok {
			return connect.DateFromDays(int32(n)), nil
		}
	case connect.TimeName:
		if n, ok := v.(int); ok {
			return time.UnixMilli(int64(n)).UTC(), nil
		}
	case connect.TimestampName:
		if n, ok := v.(int64); ok {
			return time.UnixMilli(n).UTC(), nil
		}
	}
	switch s.Type {
	case connect.TypeInt8, connect.TypeInt16, connect.TypeInt32, connect.TypeInt64:
		var n int64
		switch x := v.(type) {
		case int:
			n = int64(x)
		case int32:
			n = int64(x)
		case int64:
			n = x
		default:
			return nil, typeMismatch(s, v)
		}
		switch s.Type {
		case connect.TypeInt8:
			if int64(int8(n)) != n {
				return nil, fmt.Errorf("%d is out of range for int8", n)
			}
			return int8(n), nil
		case connect.TypeInt16:
			if int64(int16(n)) != n {
				return nil, fmt.Errorf("%d is out of range for int16", n)
			}
			return int16(n), nil
		case connect.TypeInt32:
			return int32(n), nil
		}
		return n, nil
	case connect.TypeBytes:
		if b, ok := v.([]byte); ok {
			return b, nil
		}
		if rv := reflect.ValueOf(v); rv.Kind() == reflect.Array { // fixed
			b := make([]byte, rv.Len())
			reflect.Copy(reflect.ValueOf(b), rv)
			return b, nil
		}
		return nil, typeMismatch(s, v)
	case connect.TypeBoolean, connect.TypeString, connect.TypeFloat32, connect.TypeFloat64:
		if !primitiveOK(s.Type, v) {
			return nil, typeMismatch(s, v)
		}
		return v, nil
	case connect.TypeArray:
		a, ok := v.([]any)
		if !ok {
			return nil, typeMismatch(s, v)
		}
		items := as.(*havro.ArraySchema).Items()
		for i, e := range a {
			x, err := fromAvro(s.Value, items, e)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			a[i] = x
		}
		return a, nil
	case connect.TypeMap:
		if ms, ok := as.(*havro.MapSchema); ok {
			m, ok := v.(map[string]any)
			if !ok {
				return nil, typeMismatch(s, v)
			}
			for k, e := range m {
				x, err := fromAvro(s.Value, ms.Values(), e)
				if err != nil {
					return nil, fmt.Errorf("[%q]: %w", k, err)
				}
				m[k] = x
			}
			return m, nil
		}
		a, ok := v.([]any)
		if !ok {
			return nil, typeMismatch(s, v)
		}
		r := unref(as.(*havro.ArraySchema).Items()).(*havro.RecordSchema)
		out := make(map[any]any, len(a))
		for i, e := range a {
			entry, ok := e.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("[%d]: a map entry must be a record", i)
			}
			k, err := fromAvro(s.Key, r.Fields()[0].Type(), entry["key"])
			if err != nil {
				return nil, fmt.Errorf("[%d] key: %w", i, err)
			}
			x, err := fromAvro(s.Value, r.Fields()[1].Type(), entry["value"])
			if err != nil {
				return nil, fmt.Errorf("[%v]: %w", k, err)
			}
			out[k] = x
		}
		return out, nil
	case connect.TypeStruct:
		m, ok := v.(map[string]any)
		if !ok {
			return nil, typeMismatch(s, v)
		}
		rec := as.(*havro.RecordSchema)
		st := connect.NewStruct(s)
		for i, f := range s.Fields {
			x, err := fromAvro(f.Schema, rec.Fields()[i].Type(), m[f.Name])
			if err != nil {
				return nil, fmt.Errorf("%s: %w", f.Name, err)
			}
			st.SetAt(i, x)
		}
		return st, nil
	}
	return nil, fmt.Errorf("schema type %q has no Connect form", s.Type)
}
