package elasticsearch

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"sort"
	"strconv"
	"time"

	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connect/converters"
	"github.com/penstockhq/penstock/connectors/debezium"
	names "github.com/penstockhq/penstock/internal/debeziumnames"
)

// UnavailableValuePlaceholder is the value Debezium gives a column whose
// value it does not have, such as an unchanged TOASTed column in Postgres.
const UnavailableValuePlaceholder = debezium.UnavailableValuePlaceholder

// UnavailableColumnsHeader is the record header in which Penstock's CDC
// sources list, comma separated, the columns whose values are unavailable.
const UnavailableColumnsHeader = debezium.UnavailableColumnsHeader

// docJSON writes document values: the JsonConverter's JSON, with the
// renderings of docValue where Elasticsearch reads values best otherwise.
// (Set in init: docValue reaches docJSON again through appendMap.)
var docJSON *converters.ValueWriter

func init() { docJSON = converters.NewValueWriter(docValue) }

// appendValue appends the JSON form of v, whose schema is s (nil:
// schemaless), to buf. Logical types render as Elasticsearch reads them
// best: Decimal as a JSON number with its exact digits, Timestamp as epoch
// milliseconds, Date as an ISO date, Time as an ISO time of day; bytes as
// base64.
func appendValue(buf []byte, s *connect.Schema, v any) ([]byte, error) {
	return docJSON.Append(buf, s, v)
}

// appendAny appends a schemaless value: what encoding/json produces, the Go
// types of the schema types, Struct, Decimal and time.Time.
func appendAny(buf []byte, v any) ([]byte, error) { return docJSON.Append(buf, nil, v) }

// docValue renders what a document holds differently from the
// JsonConverter: a null as null whatever its schema says (a struct field's
// default aside), logical and Debezium types (see appendValue), numbers
// without Java's float notation (NaN and infinities are errors), maps as
// objects with sorted keys (non-string keys rendered as ids), Decimal, big
// integers and times without a schema, and a value that does not fit its
// schema as the value it is.
func docValue(w *converters.ValueWriter, buf []byte, s *connect.Schema, v any) ([]byte, bool, error) {
	if v == nil {
		if s != nil && s.Default != nil {
			return buf, false, nil // the writer renders the default, as Struct.GetAt gives it
		}
		return append(buf, "null"...), true, nil
	}
	if s != nil {
		switch s.Name {
		case connect.DecimalName:
			switch d := v.(type) {
			case connect.Decimal:
				return append(buf, d.String()...), true, nil
			case []byte:
				scale, err := s.Scale()
				if err != nil {
					return buf, true, err
				}
				return append(buf, connect.Decimal{Unscaled: connect.DecimalFromBytes(d), Scale: scale}.String()...), true, nil
			}
		case connect.DateName:
			if t, ok := v.(time.Time); ok {
				return converters.AppendJSONString(buf, t.UTC().Format("2006-01-02")), true, nil
			}
			if n, ok := v.(int32); ok {
				return converters.AppendJSONString(buf, connect.DateFromDays(n).Format("2006-01-02")), true, nil
			}
		case connect.TimeName:
			if t, ok := v.(time.Time); ok {
				return converters.AppendJSONString(buf, t.UTC().Format("15:04:05.000")), true, nil
			}
			if n, ok := v.(int32); ok {
				return converters.AppendJSONString(buf, connect.TimeFromMillis(n).Format("15:04:05.000")), true, nil
			}
		case connect.TimestampName:
			if t, ok := v.(time.Time); ok {
				return strconv.AppendInt(buf, t.UnixMilli(), 10), true, nil
			}
		case names.Date:
			if n, ok := v.(int32); ok {
				return converters.AppendJSONString(buf, connect.DateFromDays(n).Format("2006-01-02")), true, nil
			}
		case names.Timestamp:
			if n, ok := v.(int64); ok {
				return strconv.AppendInt(buf, n, 10), true, nil
			}
		case names.MicroTimestamp:
			if n, ok := v.(int64); ok {
				return converters.AppendJSONString(buf, time.UnixMicro(n).UTC().Format("2006-01-02T15:04:05.000000Z")), true, nil
			}
		case names.NanoTimestamp:
			if n, ok := v.(int64); ok {
				return converters.AppendJSONString(buf, time.Unix(0, n).UTC().Format("2006-01-02T15:04:05.000000000Z")), true, nil
			}
		case names.Time:
			if n, ok := asInt64(v); ok {
				return converters.AppendJSONString(buf, time.UnixMilli(n).UTC().Format("15:04:05.000")), true, nil
			}
		case names.MicroTime:
			if n, ok := asInt64(v); ok {
				return converters.AppendJSONString(buf, time.UnixMicro(n).UTC().Format("15:04:05.000000")), true, nil
			}
		case names.NanoTime:
			if n, ok := asInt64(v); ok {
				return converters.AppendJSONString(buf, time.Unix(0, n).UTC().Format("15:04:05.000000000")), true, nil
			}
		case names.VariableScaleDecimal:
			if st, ok := v.(*connect.Struct); ok {
				scale, _ := st.Get("scale").(int32)
				raw, _ := st.Get("value").([]byte)
				return append(buf, connect.Decimal{Unscaled: connect.DecimalFromBytes(raw), Scale: scale}.String()...), true, nil
			}
		}
		switch s.Name {
		case connect.DecimalName, connect.DateName, connect.TimeName, connect.TimestampName:
			// A value of another type than the logical type's: as it is.
			out, err := w.Append(buf, nil, v)
			return out, true, err
		}
		if !s.Holds(v) {
			out, err := w.Append(buf, nil, v)
			return out, true, err
		}
	}
	switch x := v.(type) {
	case float32:
		out, err := appendFloat(buf, float64(x), 32)
		return out, true, err
	case float64:
		out, err := appendFloat(buf, x, 64)
		return out, true, err
	case map[string]any, map[any]any:
		var vs *connect.Schema
		if s != nil {
			vs = s.Value
		}
		out, err := appendMap(buf, x, vs)
		return out, true, err
	}
	if s != nil {
		return buf, false, nil
	}
	switch x := v.(type) {
	case string, bool, int8, int16, int32, int64, int, uint8, uint16, uint32, uint64, []byte, []any, *connect.Struct:
		return buf, false, nil // as the JsonConverter writes them
	case json.Number:
		return append(buf, x...), true, nil
	case connect.Decimal:
		return append(buf, x.String()...), true, nil
	case *big.Int:
		return append(buf, x.String()...), true, nil
	case time.Time:
		return converters.AppendJSONString(buf, x.UTC().Format(time.RFC3339Nano)), true, nil
	}
	// Anything else (typed slices and maps from hand-written sources): let
	// encoding/json decide, and say which type failed if it cannot.
	b, err := json.Marshal(v)
	if err != nil {
		return buf, true, fmt.Errorf("value of type %s: %w", reflect.TypeOf(v), err)
	}
	return append(buf, b...), true, nil
}

func asInt64(v any) (int64, bool) {
	switch n := v.(type) {
	case int32:
		return int64(n), true
	case int64:
		return n, true
	}
	return 0, false
}

// appendMap appends a map as a JSON object with sorted keys; non-string
// keys are rendered with idString.
func appendMap(buf []byte, v any, valueSchema *connect.Schema) ([]byte, error) {
	type entry struct {
		k string
		v any
	}
	var entries []entry
	switch m := v.(type) {
	case map[string]any:
		entries = make([]entry, 0, len(m))
		for k, e := range m {
			entries = append(entries, entry{k, e})
		}
	case map[any]any:
		entries = make([]entry, 0, len(m))
		for k, e := range m {
			ks, err := idString(nil, k)
			if err != nil {
				return buf, fmt.Errorf("map key: %w", err)
			}
			entries = append(entries, entry{ks, e})
		}
	default:
		return appendAny(buf, v)
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].k < entries[j].k })
	buf = append(buf, '{')
	var err error
	for i, e := range entries {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = converters.AppendJSONString(buf, e.k)
		buf = append(buf, ':')
		if buf, err = appendValue(buf, valueSchema, e.v); err != nil {
			return buf, fmt.Errorf("map value %q: %w", e.k, err)
		}
	}
	return append(buf, '}'), nil
}

func appendFloat(buf []byte, f float64, bits int) ([]byte, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return buf, fmt.Errorf("%v cannot be written as JSON", f)
	}
	return strconv.AppendFloat(buf, f, 'g', -1, bits), nil
}

// idString renders a record key as a document id: a primitive as its
// string form; a struct or map with exactly one field as that field's value
// rendered the same way; any other struct or map, or an array, as canonical
// JSON (object keys sorted), so equal keys always give equal ids.
func idString(s *connect.Schema, v any) (string, error) {
	switch x := v.(type) {
	case nil:
		return "", fmt.Errorf("key is null")
	case string:
		return x, nil
	case []byte:
		if s != nil && s.Name == connect.DecimalName {
			break
		}
		return base64.StdEncoding.EncodeToString(x), nil
	case bool:
		return strconv.FormatBool(x), nil
	case *connect.Struct:
		fields := x.Schema().Fields
		if len(fields) == 1 {
			return idString(fields[0].Schema, x.GetAt(0))
		}
		m := make(map[string]any, len(fields))
		schemas := make(map[string]*connect.Schema, len(fields))
		for i, f := range fields {
			m[f.Name] = x.GetAt(i)
			schemas[f.Name] = f.Schema
		}
		return canonicalJSON(m, schemas)
	case map[string]any:
		if len(x) == 1 {
			for _, e := range x {
				var vs *connect.Schema
				if s != nil {
					vs = s.Value
				}
				return idString(vs, e)
			}
		}
		var vs *connect.Schema
		if s != nil {
			vs = s.Value
		}
		b, err := appendMap(nil, x, vs)
		return string(b), err
	case map[any]any:
		if len(x) == 1 {
			for _, e := range x {
				var vs *connect.Schema
				if s != nil {
					vs = s.Value
				}
				return idString(vs, e)
			}
		}
		var vs *connect.Schema
		if s != nil {
			vs = s.Value
		}
		b, err := appendMap(nil, x, vs)
		return string(b), err
	}
	b, err := appendValue(nil, s, v)
	if err != nil {
		return "", err
	}
	if len(b) > 1 && b[0] == '"' {
		// A logical type rendered as a JSON string (Date, Time): unquote.
		var str string
		if json.Unmarshal(b, &str) == nil {
			return str, nil
		}
	}
	return string(b), nil
}

// canonicalJSON renders struct fields as a JSON object with sorted keys and
// nested maps sorted too.
func canonicalJSON(m map[string]any, schemas map[string]*connect.Schema) (string, error) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	buf := []byte{'{'}
	var err error
	for i, k := range keys {
		if i > 0 {
			buf = append(buf, ',')
		}
		buf = converters.AppendJSONString(buf, k)
		buf = append(buf, ':')
		v := m[k]
		if st, ok := v.(*connect.Struct); ok {
			sub := map[string]any{}
			subSchemas := map[string]*connect.Schema{}
			for j, f := range st.Schema().Fields {
				sub[f.Name] = st.GetAt(j)
				subSchemas[f.Name] = f.Schema
			}
			var s string
			if s, err = canonicalJSON(sub, subSchemas); err != nil {
				return "", err
			}
			buf = append(buf, s...)
			continue
		}
		if buf, err = appendValue(buf, schemas[k], v); err != nil {
			return "", fmt.Errorf("key field %q: %w", k, err)
		}
	}
	return string(append(buf, '}')), nil
}
