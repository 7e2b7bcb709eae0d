package converters

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/penstockhq/penstock/connect"
)

// pathError locates an error inside a value: the struct fields, array
// indexes and map keys leading to it. Segments are added while the error
// travels up, so building the path costs nothing when there is no error.
type pathError struct {
	segs []string // innermost first
	err  error
}

func (e *pathError) Path() string {
	var b strings.Builder
	for i := len(e.segs) - 1; i >= 0; i-- {
		s := e.segs[i]
		if b.Len() > 0 && s[0] != '[' {
			b.WriteByte('.')
		}
		b.WriteString(s)
	}
	return b.String()
}

func (e *pathError) Error() string { return fmt.Sprintf("field %q: %v", e.Path(), e.err) }

func (e *pathError) Unwrap() error { return e.err }

// atPath adds one path segment (a field name, or "[i]") to err.
func atPath(err error, seg string) error {
	var pe *pathError
	if errors.As(err, &pe) {
		pe.segs = append(pe.segs, seg)
		return err
	}
	return &pathError{segs: []string{seg}, err: err}
}

func index(i int) string { return "[" + strconv.Itoa(i) + "]" }

// appendValue appends v of schema s (nil: schemaless) as JSON.
func (c *JSON) appendValue(buf []byte, s *connect.Schema, v any) ([]byte, error) {
	if s == nil {
		return c.appendAny(buf, v)
	}
	if c.override != nil {
		if out, ok, err := c.override(c.writer, buf, s, v); ok {
			return out, err
		}
	}
	if v == nil {
		switch {
		case s.Default != nil && c.replaceNull:
			return c.appendValue(buf, s, s.Default)
		case s.Optional:
			return append(buf, "null"...), nil
		}
		return buf, fmt.Errorf("null value for a required %s with no default", s.Type)
	}
	switch s.Name {
	case connect.DecimalName:
		d, ok := v.(connect.Decimal)
		if !ok {
			return buf, typeMismatch(s, v)
		}
		scale, err := s.Scale()
		if err != nil {
			return buf, err
		}
		if d, err = fitScale(d, scale); err != nil {
			return buf, err
		}
		if c.numeric {
			return appendBigDecimal(buf, d.Unscaled, d.Scale), nil
		}
		if d.Unscaled == nil {
			d.Unscaled = new(big.Int)
		}
		return appendBase64(buf, connect.DecimalBytes(d.Unscaled)), nil
	case connect.DateName, connect.TimeName, connect.TimestampName:
		t, ok := v.(time.Time)
		if !ok {
			return buf, typeMismatch(s, v)
		}
		switch s.Name {
		case connect.DateName:
			return strconv.AppendInt(buf, int64(connect.DateDays(t)), 10), nil
		case connect.TimeName:
			return strconv.AppendInt(buf, int64(connect.TimeMillis(t)), 10), nil
		}
		return strconv.AppendInt(buf, t.UnixMilli(), 10), nil
	}
	switch s.Type {
	case connect.TypeBoolean:
		if b, ok := v.(bool); ok {
			return strconv.AppendBool(buf, b), nil
		}
	case connect.TypeInt8:
		if n, ok := v.(int8); ok {
			return strconv.AppendInt(buf, int64(n), 10), nil
		}
	case connect.TypeInt16:
		if n, ok := v.(int16); ok {
			return strconv.AppendInt(buf, int64(n), 10), nil
		}
	case connect.TypeInt32:
		if n, ok := v.(int32); ok {
			return strconv.AppendInt(buf, int64(n), 10), nil
		}
	case connect.TypeInt64:
		if n, ok := v.(int64); ok {
			return strconv.AppendInt(buf, n, 10), nil
		}
	case connect.TypeFloat32:
		if f, ok := v.(float32); ok {
			return appendFloat(buf, float64(f), 32), nil
		}
	case connect.TypeFloat64:
		if f, ok := v.(float64); ok {
			return appendFloat(buf, f, 64), nil
		}
	case connect.TypeString:
		if str, ok := v.(string); ok {
			return AppendJSONString(buf, str), nil
		}
	case connect.TypeBytes:
		if b, ok := v.([]byte); ok {
			return appendBase64(buf, b), nil
		}
	case connect.TypeArray:
		a, ok := v.([]any)
		if !ok {
			break
		}
		buf = append(buf, '[')
		var err error
		for i, e := range a {
			if i > 0 {
				buf = append(buf, ',')
			}
			if buf, err = c.appendValue(buf, s.Value, e); err != nil {
				return buf, atPath(err, index(i))
			}
		}
		return append(buf, ']'), nil
	case connect.TypeMap:
		return c.appendMap(buf, s, v)
	case connect.TypeStruct:
		st, ok := v.(*connect.Struct)
		if !ok {
			break
		}
		if st.Schema() != s && !connect.Equal(st.Schema(), s) {
			return buf, fmt.Errorf("struct of schema %s does not match schema %s", st.Schema(), s)
		}
		return c.appendStruct(buf, st)
	default:
		return buf, fmt.Errorf("unknown schema type %q", s.Type)
	}
	return buf, typeMismatch(s, v)
}

func typeMismatch(s *connect.Schema, v any) error {
	return fmt.Errorf("expected a value of schema %s, got %T", s, v)
}

// appendStruct writes every field of st in schema order; unset fields are
// null or their default, per replace.null.with.default.
func (c *JSON) appendStruct(buf []byte, st *connect.Struct) ([]byte, error) {
	buf = append(buf, '{')
	var err error
	for i, f := range st.Schema().Fields {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = AppendJSONString(buf, f.Name)
		buf = append(buf, ':')
		if buf, err = c.appendValue(buf, f.Schema, st.RawAt(i)); err != nil {
			return buf, atPath(err, f.Name)
		}
	}
	return append(buf, '}'), nil
}

// appendMap writes a map of schema s: a JSON object when its keys are
// strings, otherwise an array of [key,value] pairs; entries sorted by key.
func (c *JSON) appendMap(buf []byte, s *connect.Schema, v any) ([]byte, error) {
	var err error
	switch m := v.(type) {
	case map[string]any:
		if s.Key.Type != connect.TypeString {
			return buf, fmt.Errorf("map with string keys for key schema %s", s.Key)
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		buf = append(buf, '{')
		for i, k := range keys {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = AppendJSONString(buf, k)
			buf = append(buf, ':')
			if buf, err = c.appendValue(buf, s.Value, m[k]); err != nil {
				return buf, atPath(err, "["+strconv.Quote(k)+"]")
			}
		}
		return append(buf, '}'), nil
	case map[any]any:
		if s.Key.Type == connect.TypeString {
			sm := make(map[string]any, len(m))
			for k, e := range m {
				ks, ok := k.(string)
				if !ok {
					return buf, fmt.Errorf("map key %v: expected string, got %T", k, k)
				}
				sm[ks] = e
			}
			return c.appendMap(buf, s, sm)
		}
		return c.appendPairs(buf, m, s.Key, s.Value)
	}
	return buf, typeMismatch(s, v)
}

// appendPairs writes a map as an array of [key,value] pairs sorted by the
// key's JSON; ks and vs are nil for a schemaless map.
func (c *JSON) appendPairs(buf []byte, m map[any]any, ks, vs *connect.Schema) ([]byte, error) {
	type pair struct{ key, val []byte }
	pairs := make([]pair, 0, len(m))
	for k, e := range m {
		kb, err := c.appendValue(nil, ks, k)
		if err != nil {
			return buf, atPath(err, fmt.Sprintf("[%v]", k))
		}
		vb, err := c.appendValue(nil, vs, e)
		if err != nil {
			return buf, atPath(err, fmt.Sprintf("[%v]", k))
		}
		pairs = append(pairs, pair{kb, vb})
	}
	slices.SortFunc(pairs, func(a, b pair) int { return bytes.Compare(a.key, b.key) })
	buf = append(buf, '[')
	for i, p := range pairs {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, '[')
		buf = append(buf, p.key...)
		buf = append(buf, ',')
		buf = append(buf, p.val...)
		buf = append(buf, ']')
	}
	return append(buf, ']'), nil
}

// appendAny writes a schemaless value: Go scalars, []byte (base64), slices,
// maps (string keys as an object, others as [key,value] pairs), json.Number
// and *connect.Struct (an object, using the struct's own schema). Like Kafka
// Connect it refuses Decimal and time values without a schema, whose JSON
// form depends on a schema.
func (c *JSON) appendAny(buf []byte, v any) ([]byte, error) {
	if c.override != nil {
		if out, ok, err := c.override(c.writer, buf, nil, v); ok {
			return out, err
		}
	}
	switch x := v.(type) {
	case nil:
		return append(buf, "null"...), nil
	case string:
		return AppendJSONString(buf, x), nil
	case bool:
		return strconv.AppendBool(buf, x), nil
	case int64:
		return strconv.AppendInt(buf, x, 10), nil
	case int32:
		return strconv.AppendInt(buf, int64(x), 10), nil
	case int:
		return strconv.AppendInt(buf, int64(x), 10), nil
	case int16:
		return strconv.AppendInt(buf, int64(x), 10), nil
	case int8:
		return strconv.AppendInt(buf, int64(x), 10), nil
	case uint64:
		return strconv.AppendUint(buf, x, 10), nil
	case uint32:
		return strconv.AppendUint(buf, uint64(x), 10), nil
	case uint:
		return strconv.AppendUint(buf, uint64(x), 10), nil
	case uint16:
		return strconv.AppendUint(buf, uint64(x), 10), nil
	case uint8:
		return strconv.AppendUint(buf, uint64(x), 10), nil
	case float64:
		return appendFloat(buf, x, 64), nil
	case float32:
		return appendFloat(buf, float64(x), 32), nil
	case []byte:
		return appendBase64(buf, x), nil
	case json.Number:
		p := parser{data: []byte(x)}
		if _, err := p.number(); err != nil || p.pos != len(x) {
			return buf, fmt.Errorf("json.Number %q is not a JSON number", string(x))
		}
		return append(buf, x...), nil
	case []any:
		buf = append(buf, '[')
		var err error
		for i, e := range x {
			if i > 0 {
				buf = append(buf, ',')
			}
			if buf, err = c.appendAny(buf, e); err != nil {
				return buf, atPath(err, index(i))
			}
		}
		return append(buf, ']'), nil
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		buf = append(buf, '{')
		var err error
		for i, k := range keys {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = AppendJSONString(buf, k)
			buf = append(buf, ':')
			if buf, err = c.appendAny(buf, x[k]); err != nil {
				return buf, atPath(err, "["+strconv.Quote(k)+"]")
			}
		}
		return append(buf, '}'), nil
	case map[any]any:
		sm := make(map[string]any, len(x))
		for k, e := range x {
			ks, ok := k.(string)
			if !ok {
				return c.appendPairs(buf, x, nil, nil)
			}
			sm[ks] = e
		}
		return c.appendAny(buf, sm)
	case *connect.Struct:
		if x == nil {
			return append(buf, "null"...), nil
		}
		return c.appendStruct(buf, x)
	case connect.Decimal:
		return buf, fmt.Errorf("a Decimal needs a schema (with its scale) to be written as JSON")
	case time.Time:
		return buf, fmt.Errorf("a time.Time needs a Date, Time or Timestamp schema to be written as JSON")
	}
	return c.appendReflect(buf, v)
}

// appendReflect handles the rarer schemaless shapes: typed slices and maps
// such as []string or map[string]int64.
func (c *JSON) appendReflect(buf []byte, v any) ([]byte, error) {
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Slice, reflect.Array:
		buf = append(buf, '[')
		var err error
		for i := 0; i < rv.Len(); i++ {
			if i > 0 {
				buf = append(buf, ',')
			}
			if buf, err = c.appendAny(buf, rv.Index(i).Interface()); err != nil {
				return buf, atPath(err, index(i))
			}
		}
		return append(buf, ']'), nil
	case reflect.Map:
		m := make(map[any]any, rv.Len())
		it := rv.MapRange()
		for it.Next() {
			m[it.Key().Interface()] = it.Value().Interface()
		}
		return c.appendAny(buf, m)
	case reflect.Pointer:
		if rv.IsNil() {
			return append(buf, "null"...), nil
		}
		return c.appendAny(buf, rv.Elem().Interface())
	}
	return buf, fmt.Errorf("a %T has no JSON form without a schema", v)
}

// fitScale returns d with the given scale; it fails when that would drop
// non-zero digits.
func fitScale(d connect.Decimal, scale int32) (connect.Decimal, error) {
	if d.Unscaled == nil {
		return connect.Decimal{Unscaled: new(big.Int), Scale: scale}, nil
	}
	if d.Scale == scale {
		return d, nil
	}
	r := d.Rescale(scale)
	if scale < d.Scale && r.Rescale(d.Scale).Unscaled.Cmp(d.Unscaled) != 0 {
		return d, fmt.Errorf("decimal %s has more fraction digits than the schema's scale %d", d, scale)
	}
	return r, nil
}

// jsonKind names the JSON type of a parsed node, for error messages.
func jsonKind(node any) string {
	switch node.(type) {
	case nil:
		return "null"
	case bool:
		return "boolean"
	case string:
		return "string"
	case jsonNumber, int64, float64:
		return "number"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", node)
}

func expected(s *connect.Schema, node any) error {
	return fmt.Errorf("expected %s, got JSON %s", s, jsonKind(node))
}

// toConnectValue converts a parsed JSON node (numbers as jsonNumber) to the
// Connect value of schema s, checking it on the way.
func (c *JSON) toConnectValue(s *connect.Schema, node any) (any, error) {
	if node == nil {
		switch {
		case s.Default != nil && c.replaceNull:
			return s.Default, nil
		case s.Optional:
			return nil, nil
		}
		return nil, fmt.Errorf("null value for a required %s", s)
	}
	switch s.Name {
	case connect.DecimalName:
		scale, err := s.Scale()
		if err != nil {
			return nil, err
		}
		var d connect.Decimal
		switch x := node.(type) {
		case jsonNumber:
			if d, err = connect.ParseDecimal(string(x)); err != nil {
				return nil, err
			}
		case string:
			b, err := decodeBase64(x)
			if err != nil {
				return nil, fmt.Errorf("invalid bytes for Decimal: %w", err)
			}
			d = connect.Decimal{Unscaled: connect.DecimalFromBytes(b), Scale: scale}
		default:
			return nil, fmt.Errorf("expected a Decimal as number or base64 string, got JSON %s", jsonKind(node))
		}
		return fitScale(d, scale)
	case connect.DateName:
		n, err := intNode(s, node, 32)
		if err != nil {
			return nil, err
		}
		return connect.DateFromDays(int32(n)), nil
	case connect.TimeName:
		n, err := intNode(s, node, 32)
		if err != nil {
			return nil, err
		}
		return connect.TimeFromMillis(int32(n)), nil
	case connect.TimestampName:
		n, err := intNode(s, node, 64)
		if err != nil {
			return nil, err
		}
		return time.UnixMilli(n).UTC(), nil
	}
	switch s.Type {
	case connect.TypeBoolean:
		if b, ok := node.(bool); ok {
			return b, nil
		}
	case connect.TypeInt8:
		n, err := intNode(s, node, 8)
		return int8(n), err
	case connect.TypeInt16:
		n, err := intNode(s, node, 16)
		return int16(n), err
	case connect.TypeInt32:
		n, err := intNode(s, node, 32)
		return int32(n), err
	case connect.TypeInt64:
		return intNode(s, node, 64)
	case connect.TypeFloat32:
		f, err := floatNode(s, node, 32)
		return float32(f), err
	case connect.TypeFloat64:
		return floatNode(s, node, 64)
	case connect.TypeString:
		if str, ok := node.(string); ok {
			return str, nil
		}
	case connect.TypeBytes:
		if str, ok := node.(string); ok {
			b, err := decodeBase64(str)
			if err != nil {
				return nil, fmt.Errorf("invalid base64 bytes: %w", err)
			}
			return b, nil
		}
	case connect.TypeArray:
		a, ok := node.([]any)
		if !ok {
			break
		}
		for i, e := range a {
			v, err := c.toConnectValue(s.Value, e)
			if err != nil {
				return nil, atPath(err, index(i))
			}
			a[i] = v
		}
		return a, nil
	case connect.TypeMap:
		if s.Key.Type == connect.TypeString {
			m, ok := node.(map[string]any)
			if !ok {
				return nil, fmt.Errorf("a map with string keys must be a JSON object, got JSON %s", jsonKind(node))
			}
			for k, e := range m {
				v, err := c.toConnectValue(s.Value, e)
				if err != nil {
					return nil, atPath(err, "["+strconv.Quote(k)+"]")
				}
				m[k] = v
			}
			return m, nil
		}
		pairs, ok := node.([]any)
		if !ok {
			return nil, fmt.Errorf("a map with non-string keys must be a JSON array of [key,value] pairs, got JSON %s", jsonKind(node))
		}
		switch s.Key.Type {
		case connect.TypeBytes, connect.TypeArray, connect.TypeMap:
			return nil, fmt.Errorf("map keys of type %s are not supported", s.Key.Type)
		}
		m := make(map[any]any, len(pairs))
		for i, pn := range pairs {
			pair, ok := pn.([]any)
			if !ok || len(pair) != 2 {
				return nil, atPath(fmt.Errorf("a map entry must be a [key,value] array"), index(i))
			}
			k, err := c.toConnectValue(s.Key, pair[0])
			if err != nil {
				return nil, atPath(fmt.Errorf("key: %w", err), index(i))
			}
			v, err := c.toConnectValue(s.Value, pair[1])
			if err != nil {
				return nil, atPath(err, index(i))
			}
			m[k] = v
		}
		return m, nil
	case connect.TypeStruct:
		obj, ok := node.(map[string]any)
		if !ok {
			break
		}
		st := connect.NewStruct(s)
		for i, f := range s.Fields {
			v, err := c.toConnectValue(f.Schema, obj[f.Name])
			if err != nil {
				return nil, atPath(err, f.Name)
			}
			st.SetAt(i, v)
		}
		return st, nil
	}
	return nil, expected(s, node)
}

// intNode reads an integer of the given bit size. A number with a fraction
// or exponent is accepted when its value is a whole number in range.
func intNode(s *connect.Schema, node any, bits int) (int64, error) {
	n, ok := node.(jsonNumber)
	if !ok {
		return 0, expected(s, node)
	}
	if n.integral() {
		i, err := strconv.ParseInt(string(n), 10, bits)
		if err != nil {
			return 0, fmt.Errorf("%s is out of range for %s", n, s.Type)
		}
		return i, nil
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil || f != math.Trunc(f) {
		return 0, fmt.Errorf("%s is not a whole number, expected %s", n, s)
	}
	limit := math.Ldexp(1, bits-1)
	if f < -limit || f >= limit {
		return 0, fmt.Errorf("%s is out of range for %s", n, s.Type)
	}
	return int64(f), nil
}

// floatNode reads a float; the strings NaN, Infinity and -Infinity that
// Jackson writes for non-finite numbers are accepted.
func floatNode(s *connect.Schema, node any, bits int) (float64, error) {
	switch x := node.(type) {
	case jsonNumber:
		f, err := strconv.ParseFloat(string(x), bits)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return 0, fmt.Errorf("%s: %w", x, err)
		}
		return f, nil
	case string:
		switch x {
		case "NaN":
			return math.NaN(), nil
		case "Infinity":
			return math.Inf(1), nil
		case "-Infinity":
			return math.Inf(-1), nil
		}
	}
	return 0, expected(s, node)
}

// decodeBase64 decodes standard base64, padded or not.
func decodeBase64(s string) ([]byte, error) {
	if len(s)%4 == 0 {
		return base64.StdEncoding.DecodeString(s)
	}
	return base64.RawStdEncoding.DecodeString(s)
}
