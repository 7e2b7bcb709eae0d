package converters

import (
	"bytes"
	"encoding/json"
	"math"
	"math/big"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/penstockhq/penstock/connect"
)

func newJSON(t testing.TB, props map[string]string) *JSON {
	t.Helper()
	c := NewJSON()
	if err := c.Configure(props, false); err != nil {
		t.Fatal(err)
	}
	return c
}

func mustStruct(t testing.TB, s *connect.Schema, kv ...any) *connect.Struct {
	t.Helper()
	st := connect.NewStruct(s)
	for i := 0; i < len(kv); i += 2 {
		if err := st.Set(kv[i].(string), kv[i+1]); err != nil {
			t.Fatal(err)
		}
	}
	return st
}

// Java's Double.toString, Float.toString and BigDecimal.toString outputs,
// taken from a JVM, which Kafka Connect's JSON serializer writes.
func TestJavaNumberFormatting(t *testing.T) {
	doubles := []float64{1.0, 12.34, 1e7, 9999999.0, 0.001, 0.000999, 1e-4, 123456789.125, -2.5e-10, 1e21,
		1.7976931348623157e308, 4.9e-324, 0.1, 100.0, math.Copysign(0, -1)}
	want := "1.0 12.34 1.0E7 9999999.0 0.001 9.99E-4 1.0E-4 1.23456789125E8 -2.5E-10 1.0E21 1.7976931348623157E308 4.9E-324 0.1 100.0 -0.0"
	var got []string
	for _, d := range doubles {
		got = append(got, string(appendFloat(nil, d, 64)))
	}
	if g := strings.Join(got, " "); g != want {
		t.Errorf("doubles:\n got %s\nwant %s", g, want)
	}
	floats := []float32{1.0, 12.34, 1e7, 0.1, 3.4028235e38, 1.4e-45, 123456.79}
	want = "1.0 12.34 1.0E7 0.1 3.4028235E38 1.4E-45 123456.79"
	got = nil
	for _, f := range floats {
		got = append(got, string(appendFloat(nil, float64(f), 32)))
	}
	if g := strings.Join(got, " "); g != want {
		t.Errorf("floats:\n got %s\nwant %s", g, want)
	}
	decs := []struct {
		u     int64
		scale int32
	}{{156, 2}, {15600, 4}, {1, -3}, {1, 7}, {123, 9}, {-156, -2}, {0, 2}, {0, -2}, {123456, 10}, {-5, 1}}
	want = "1.56 1.5600 1E+3 1E-7 1.23E-7 -1.56E+4 0.00 0E+2 0.0000123456 -0.5"
	got = nil
	for _, d := range decs {
		got = append(got, string(appendBigDecimal(nil, big.NewInt(d.u), d.scale)))
	}
	if g := strings.Join(got, " "); g != want {
		t.Errorf("decimals:\n got %s\nwant %s", g, want)
	}
	if s := string(appendFloat(nil, math.NaN(), 64)); s != `"NaN"` {
		t.Errorf("NaN = %s", s)
	}
}

// The exact bytes Kafka Connect's JsonConverter writes (compact Jackson
// output, ObjectNode insertion order) for the values of its own tests.
func TestJSONFromConnectExactBytes(t *testing.T) {
	structSchema := connect.NewStructSchema("",
		connect.F("field1", connect.BooleanSchema), connect.F("field2", connect.StringSchema),
		connect.F("field3", connect.StringSchema), connect.F("field4", connect.BooleanSchema))
	idSchema := connect.NewStructSchema("shop.Order", connect.F("id", connect.Int32Schema))
	defField := connect.NewStructSchema("", connect.F("field1", &connect.Schema{Type: connect.TypeString, Optional: true, Default: "default"}))
	date := time.Date(1970, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, 10000)
	cases := []struct {
		name  string
		props map[string]string
		s     *connect.Schema
		v     any
		want  string
	}{
		{"boolean", nil, connect.BooleanSchema, true, `{"schema":{"type":"boolean","optional":false},"payload":true}`},
		{"int8", nil, connect.Int8Schema, int8(12), `{"schema":{"type":"int8","optional":false},"payload":12}`},
		{"int16", nil, connect.Int16Schema, int16(12), `{"schema":{"type":"int16","optional":false},"payload":12}`},
		{"int32", nil, connect.Int32Schema, int32(12), `{"schema":{"type":"int32","optional":false},"payload":12}`},
		{"int64", nil, connect.Int64Schema, int64(4398046511104), `{"schema":{"type":"int64","optional":false},"payload":4398046511104}`},
		{"float", nil, connect.Float32Schema, float32(12.34), `{"schema":{"type":"float","optional":false},"payload":12.34}`},
		{"double", nil, connect.Float64Schema, 12.34, `{"schema":{"type":"double","optional":false},"payload":12.34}`},
		{"double integral", nil, connect.Float64Schema, 3.0, `{"schema":{"type":"double","optional":false},"payload":3.0}`},
		{"bytes", nil, connect.BytesSchema, []byte("test-string"), `{"schema":{"type":"bytes","optional":false},"payload":"dGVzdC1zdHJpbmc="}`},
		{"string", nil, connect.StringSchema, "test-string", `{"schema":{"type":"string","optional":false},"payload":"test-string"}`},
		{"array", nil, connect.ArrayOf(connect.Int32Schema), []any{int32(1), int32(2), int32(3)},
			`{"schema":{"type":"array","items":{"type":"int32","optional":false},"optional":false},"payload":[1,2,3]}`},
		{"map string keys", nil, connect.MapOf(connect.StringSchema, connect.Int32Schema), map[string]any{"key2": int32(15), "key1": int32(12)},
			`{"schema":{"type":"map","keys":{"type":"string","optional":false},"values":{"type":"int32","optional":false},"optional":false},"payload":{"key1":12,"key2":15}}`},
		{"map int keys", nil, connect.MapOf(connect.Int32Schema, connect.Int32Schema), map[any]any{int32(2): int32(15), int32(1): int32(12)},
			`{"schema":{"type":"map","keys":{"type":"int32","optional":false},"values":{"type":"int32","optional":false},"optional":false},"payload":[[1,12],[2,15]]}`},
		{"struct", nil, structSchema, mustStruct(t, structSchema, "field1", true, "field2", "string2", "field3", "string3", "field4", false),
			`{"schema":{"type":"struct","fields":[{"type":"boolean","optional":false,"field":"field1"},{"type":"string","optional":false,"field":"field2"},{"type":"string","optional":false,"field":"field3"},{"type":"boolean","optional":false,"field":"field4"}],"optional":false},"payload":{"field1":true,"field2":"string2","field3":"string3","field4":false}}`},
		{"compat.md envelope", nil, idSchema, mustStruct(t, idSchema, "id", int32(1)),
			`{"schema":{"type":"struct","fields":[{"type":"int32","optional":false,"field":"id"}],"optional":false,"name":"shop.Order"},"payload":{"id":1}}`},
		{"decimal base64", nil, connect.DecimalSchema(2), connect.NewDecimal(156, 2),
			`{"schema":{"type":"bytes","optional":false,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"2"}},"payload":"AJw="}`},
		{"decimal numeric", map[string]string{JSONDecimalFormat: "numeric"}, connect.DecimalSchema(4), connect.NewDecimal(15600, 4),
			`{"schema":{"type":"bytes","optional":false,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"4"}},"payload":1.5600}`},
		{"date", nil, connect.DateSchema(), date,
			`{"schema":{"type":"int32","optional":false,"name":"org.apache.kafka.connect.data.Date","version":1},"payload":10000}`},
		{"time", nil, connect.TimeSchema(), time.UnixMilli(14400000).UTC(),
			`{"schema":{"type":"int32","optional":false,"name":"org.apache.kafka.connect.data.Time","version":1},"payload":14400000}`},
		{"timestamp", nil, connect.TimestampSchema(), time.UnixMilli(4000000000).UTC(),
			`{"schema":{"type":"int64","optional":false,"name":"org.apache.kafka.connect.data.Timestamp","version":1},"payload":4000000000}`},
		{"null schema primitive", nil, nil, true, `{"schema":null,"payload":true}`},
		{"null schema array", nil, nil, []any{1, "string", true}, `{"schema":null,"payload":[1,"string",true]}`},
		{"null schema map", nil, nil, map[string]any{"key1": 12, "key2": "string", "key3": true},
			`{"schema":null,"payload":{"key1":12,"key2":"string","key3":true}}`},
		{"null schema map non-string keys", nil, nil, map[any]any{"string": 12, 52: "string", false: true},
			`{"schema":null,"payload":[["string",12],[52,"string"],[false,true]]}`},
		{"serializeNullToDefault", nil, &connect.Schema{Type: connect.TypeString, Optional: true, Default: "default"}, nil,
			`{"schema":{"type":"string","optional":true,"default":"default"},"payload":"default"}`},
		{"serializeNullToNull", map[string]string{JSONReplaceNullWithDefault: "false"}, &connect.Schema{Type: connect.TypeString, Optional: true, Default: "default"}, nil,
			`{"schema":{"type":"string","optional":true,"default":"default"},"payload":null}`},
		{"serializeFieldNullToDefault", nil, defField, connect.NewStruct(defField),
			`{"schema":{"type":"struct","fields":[{"type":"string","optional":true,"default":"default","field":"field1"}],"optional":false},"payload":{"field1":"default"}}`},
		{"serializeFieldNullToNull", map[string]string{JSONReplaceNullWithDefault: "false"}, defField, connect.NewStruct(defField),
			`{"schema":{"type":"struct","fields":[{"type":"string","optional":true,"default":"default","field":"field1"}],"optional":false},"payload":{"field1":null}}`},
		{"all schema attributes", nil, &connect.Schema{Type: connect.TypeBoolean, Name: "bool", Version: 2, Doc: "the documentation", Parameters: map[string]string{"foo": "bar"}}, true,
			`{"schema":{"type":"boolean","optional":false,"name":"bool","version":2,"doc":"the documentation","parameters":{"foo":"bar"}},"payload":true}`},
		{"schemaless mode", map[string]string{JSONSchemasEnable: "false"}, nil, true, `true`},
		{"schemaless mode schema'd value", map[string]string{JSONSchemasEnable: "false"}, idSchema, mustStruct(t, idSchema, "id", int32(7)), `{"id":7}`},
		{"optional null payload", nil, connect.OptionalStringSchema, nil, `{"schema":{"type":"string","optional":true},"payload":null}`},
		{"string escapes", nil, connect.StringSchema, "q\"b\\s/\n\t\x01é€<>&", `{"schema":{"type":"string","optional":false},"payload":"q\"b\\s/\n\t\u0001é€<>&"}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := newJSON(t, tc.props)
			got, err := c.FromConnect("topic", tc.s, tc.v)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tc.want {
				t.Fatalf("\n got %s\nwant %s", got, tc.want)
			}
			// Served from the schema cache the second time: same bytes.
			again, err := c.FromConnect("topic", tc.s, tc.v)
			if err != nil || !bytes.Equal(again, got) {
				t.Fatalf("second conversion differs: %s, %v", again, err)
			}
		})
	}
}

func TestJSONTombstones(t *testing.T) {
	for _, enable := range []string{"true", "false"} {
		c := newJSON(t, map[string]string{JSONSchemasEnable: enable})
		b, err := c.FromConnect("t", nil, nil)
		if err != nil || b != nil {
			t.Fatalf("schemas.enable=%s: FromConnect(nil, nil) = %q, %v", enable, b, err)
		}
		for _, data := range [][]byte{nil, {}, []byte("  ")} {
			s, v, err := c.ToConnect("t", data)
			if err != nil || s != nil || v != nil {
				t.Fatalf("schemas.enable=%s: ToConnect(%q) = %v, %v, %v", enable, data, s, v, err)
			}
		}
	}
	s, v, err := newJSON(t, nil).ToConnect("t", []byte(`{ "schema": null, "payload": null }`))
	if err != nil || s != nil || v != nil {
		t.Fatalf("null envelope: %v %v %v", s, v, err)
	}
}

// Inputs of Kafka Connect's JsonConverterTest (with its whitespace).
func TestJSONToConnectKafkaExamples(t *testing.T) {
	c := newJSON(t, nil)
	boolNamed := &connect.Schema{Type: connect.TypeBoolean, Name: "bool", Version: 2, Doc: "the documentation", Parameters: map[string]string{"foo": "bar"}}
	optStruct := connect.NewStructSchema("", connect.F("optional", connect.OptionalStringSchema), connect.F("required", connect.StringSchema))
	cases := []struct {
		in     string
		schema *connect.Schema
		value  any
	}{
		{`{ "schema": { "type": "boolean" }, "payload": true }`, connect.BooleanSchema, true},
		{`{ "schema": { "type": "boolean", "optional": true }, "payload": null }`, connect.OptionalBooleanSchema, nil},
		{`{ "schema": { "type": "boolean", "default": true }, "payload": null }`, &connect.Schema{Type: connect.TypeBoolean, Default: true}, true},
		{`{ "schema": { "type": "boolean", "optional": false, "name": "bool", "version": 2, "doc": "the documentation", "parameters": { "foo": "bar" }}, "payload": true }`, boolNamed, true},
		{`{ "schema": { "type": "int8" }, "payload": 12 }`, connect.Int8Schema, int8(12)},
		{`{ "schema": { "type": "int16" }, "payload": 12 }`, connect.Int16Schema, int16(12)},
		{`{ "schema": { "type": "int32" }, "payload": 12 }`, connect.Int32Schema, int32(12)},
		{`{ "schema": { "type": "int64" }, "payload": 4398046511104 }`, connect.Int64Schema, int64(4398046511104)},
		{`{ "schema": { "type": "int8" }, "payload": 0012 }`, connect.Int8Schema, int8(12)},
		{`{ "schema": { "type": "int64" }, "payload": 00000123456789 }`, connect.Int64Schema, int64(123456789)},
		{`{ "schema": { "type": "float" }, "payload": 12.34 }`, connect.Float32Schema, float32(12.34)},
		{`{ "schema": { "type": "double" }, "payload": 12.34 }`, connect.Float64Schema, 12.34},
		{`{ "schema": { "type": "bytes" }, "payload": "dGVzdC1zdHJpbmc=" }`, connect.BytesSchema, []byte("test-string")},
		{`{ "schema": { "type": "string" }, "payload": "foo-bar-baz" }`, connect.StringSchema, "foo-bar-baz"},
		{`{ "schema": { "type": "array", "items": { "type" : "int32" } }, "payload": [1, 2, 3] }`, connect.ArrayOf(connect.Int32Schema), []any{int32(1), int32(2), int32(3)}},
		{`{ "schema": { "type": "map", "keys": { "type" : "string" }, "values": { "type" : "int32" } }, "payload": { "key1": 12, "key2": 15} }`,
			connect.MapOf(connect.StringSchema, connect.Int32Schema), map[string]any{"key1": int32(12), "key2": int32(15)}},
		{`{ "schema": { "type": "map", "keys": { "type" : "int32" }, "values": { "type" : "int32" } }, "payload": [ [1, 12], [2, 15] ] }`,
			connect.MapOf(connect.Int32Schema, connect.Int32Schema), map[any]any{int32(1): int32(12), int32(2): int32(15)}},
		{`{ "schema": { "type": "struct", "fields": [{ "field":"optional", "type": "string", "optional": true }, {  "field": "required", "type": "string" }] }, "payload": { "required": "required" } }`,
			optStruct, mustStruct(t, optStruct, "required", "required")},
		{`{ "schema": { "type": "bytes", "name": "org.apache.kafka.connect.data.Decimal", "version": 1, "parameters": { "scale": "2" } }, "payload": "AJw=" }`,
			connect.DecimalSchema(2), connect.NewDecimal(156, 2)},
		{`{ "schema": { "type": "bytes", "name": "org.apache.kafka.connect.data.Decimal", "version": 1, "parameters": { "scale": "2" } }, "payload": 1.56 }`,
			connect.DecimalSchema(2), connect.NewDecimal(156, 2)},
		{`{ "schema": { "type": "bytes", "name": "org.apache.kafka.connect.data.Decimal", "version": 1, "parameters": { "scale": "4" } }, "payload": 1.5600 }`,
			connect.DecimalSchema(4), connect.NewDecimal(15600, 4)},
		{`{ "schema": { "type": "int32", "name": "org.apache.kafka.connect.data.Date", "version": 1 }, "payload": 10000 }`,
			connect.DateSchema(), time.Date(1997, 5, 19, 0, 0, 0, 0, time.UTC)},
		{`{ "schema": { "type": "int32", "name": "org.apache.kafka.connect.data.Time", "version": 1 }, "payload": 14400000 }`,
			connect.TimeSchema(), time.Date(1970, 1, 1, 4, 0, 0, 0, time.UTC)},
		{`{ "schema": { "type": "int64", "name": "org.apache.kafka.connect.data.Timestamp", "version": 1 }, "payload": 4000000000 }`,
			connect.TimestampSchema(), time.UnixMilli(4000000000).UTC()},
		{`{ "schema": { "type": "int64", "name": "org.apache.kafka.connect.data.Timestamp", "version": 1, "default": 42 }, "payload": null }`,
			&connect.Schema{Type: connect.TypeInt64, Name: connect.TimestampName, Version: 1, Default: time.UnixMilli(42).UTC()}, time.UnixMilli(42).UTC()},
		{`{ "schema": null, "payload": 12 }`, nil, int64(12)},
		{`{ "schema": null, "payload": 12.24 }`, nil, 12.24},
		{`{ "schema": null, "payload": [1, "2", 3] }`, nil, []any{int64(1), "2", int64(3)}},
		{`{ "schema": null, "payload": { "field1": 1, "field2": 2} }`, nil, map[string]any{"field1": int64(1), "field2": int64(2)}},
		{`{ "payload": "p", "schema": { "type": "string" } }`, connect.StringSchema, "p"},
	}
	for _, tc := range cases {
		s, v, err := c.ToConnect("topic", []byte(tc.in))
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
			continue
		}
		if !connect.Equal(s, tc.schema) {
			t.Errorf("%s: schema %v, want %v", tc.in, s, tc.schema)
		}
		if !valuesEqual(v, tc.value) {
			t.Errorf("%s: value %#v, want %#v", tc.in, v, tc.value)
		}
	}
	// High precision numeric decimal keeps every digit.
	s, v, err := c.ToConnect("t", []byte(`{ "schema": { "type": "bytes", "name": "org.apache.kafka.connect.data.Decimal", "version": 1, "parameters": { "scale": "17" } }, "payload": 1.23456789123456789 }`))
	if err != nil || s.Name != connect.DecimalName || v.(connect.Decimal).String() != "1.23456789123456789" {
		t.Fatalf("high precision decimal: %v %v", v, err)
	}
	// Schemaless mode.
	sl := newJSON(t, map[string]string{JSONSchemasEnable: "false"})
	_, v, err = sl.ToConnect("t", []byte(`{ "a": "", "b": null}`))
	if err != nil || !reflect.DeepEqual(v, map[string]any{"a": "", "b": nil}) {
		t.Fatalf("schemaless: %#v %v", v, err)
	}
	// replace.null.with.default=false keeps a null payload null.
	nn := newJSON(t, map[string]string{JSONReplaceNullWithDefault: "false"})
	_, v, err = nn.ToConnect("t", []byte(`{"schema":{"type":"string","optional":true,"default":"default"},"payload":null}`))
	if err != nil || v != nil {
		t.Fatalf("deserializeNullToNull: %#v %v", v, err)
	}
}

// valuesEqual compares Connect values: structs field by field, decimals and
// times by value.
func valuesEqual(a, b any) bool {
	switch x := a.(type) {
	case *connect.Struct:
		y, ok := b.(*connect.Struct)
		if !ok || !connect.Equal(x.Schema(), y.Schema()) {
			return false
		}
		for i := range x.Schema().Fields {
			if !valuesEqual(x.GetAt(i), y.GetAt(i)) {
				return false
			}
		}
		return true
	case connect.Decimal:
		y, ok := b.(connect.Decimal)
		return ok && x.Scale == y.Scale && x.Unscaled.Cmp(y.Unscaled) == 0
	case time.Time:
		y, ok := b.(time.Time)
		return ok && x.Equal(y)
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !valuesEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k := range x {
			if !valuesEqual(x[k], y[k]) {
				return false
			}
		}
		return true
	case map[any]any:
		y, ok := b.(map[any]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k := range x {
			if !valuesEqual(x[k], y[k]) {
				return false
			}
		}
		return true
	case float64:
		y, ok := b.(float64)
		return ok && (x == y || (math.IsNaN(x) && math.IsNaN(y)))
	}
	return reflect.DeepEqual(a, b)
}

// A schema with every type and logical type, nested, optional and default.
func richSchema() *connect.Schema {
	address := connect.NewStructSchema("shop.Address",
		connect.F("street", connect.StringSchema),
		connect.F("zip", connect.OptionalInt32Schema))
	return connect.NewStructSchema("shop.Order",
		connect.F("b", connect.BooleanSchema),
		connect.F("i8", connect.Int8Schema),
		connect.F("i16", connect.Int16Schema),
		connect.F("i32", connect.Int32Schema),
		connect.F("i64", connect.Int64Schema),
		connect.F("f32", connect.Float32Schema),
		connect.F("f64", connect.Float64Schema),
		connect.F("s", connect.StringSchema),
		connect.F("raw", connect.BytesSchema),
		connect.F("amount", connect.DecimalSchema(2)),
		connect.F("neg", connect.DecimalSchema(3)),
		connect.F("day", connect.DateSchema()),
		connect.F("at", connect.TimeSchema()),
		connect.F("ts", connect.TimestampSchema()),
		connect.F("tags", connect.ArrayOf(connect.StringSchema)),
		connect.F("counts", connect.MapOf(connect.StringSchema, connect.Int64Schema)),
		connect.F("byid", connect.MapOf(connect.Int64Schema, connect.OptionalStringSchema)),
		connect.F("addr", address),
		connect.F("addrs", connect.ArrayOf(address)),
		connect.F("note", connect.OptionalStringSchema),
		connect.F("qty", &connect.Schema{Type: connect.TypeInt32, Optional: true, Default: int32(1)}),
		connect.F("nan", connect.Float64Schema),
	)
}

func richValue(t testing.TB, s *connect.Schema) *connect.Struct {
	addrSchema, _ := s.Field("addr")
	a := addrSchema.Schema
	return mustStruct(t, s,
		"b", true, "i8", int8(-8), "i16", int16(1600), "i32", int32(-320000), "i64", int64(1)<<62,
		"f32", float32(3.25), "f64", -1.5e-9, "s", "héllo \"world\"\n", "raw", []byte{0, 1, 2, 255},
		"amount", connect.NewDecimal(-12345, 2), "neg", connect.NewDecimal(-128, 3),
		"day", time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC), "at", time.UnixMilli(45296789).UTC(),
		"ts", time.UnixMilli(1700000000123).UTC(),
		"tags", []any{"a", "b"}, "counts", map[string]any{"x": int64(1), "y": int64(-2)},
		"byid", map[any]any{int64(2): "two", int64(1): nil},
		"addr", mustStruct(t, a, "street", "Main St", "zip", int32(12345)),
		"addrs", []any{mustStruct(t, a, "street", "A")},
		"nan", math.NaN(),
	)
}

func TestJSONRoundTripEveryType(t *testing.T) {
	s := richSchema()
	v := richValue(t, s)
	for _, props := range []map[string]string{nil, {JSONDecimalFormat: DecimalNumeric}} {
		c := newJSON(t, props)
		b, err := c.FromConnect("t", s, v)
		if err != nil {
			t.Fatal(err)
		}
		if !json.Valid(b) {
			t.Fatalf("invalid JSON: %s", b)
		}
		gs, gv, err := c.ToConnect("t", b)
		if err != nil {
			t.Fatalf("%v\n%s", err, b)
		}
		if !connect.Equal(gs, s) {
			t.Fatalf("schema %v, want %v", gs, s)
		}
		if err := gv.(*connect.Struct).Validate(); err != nil {
			t.Fatal(err)
		}
		if !valuesEqual(gv, v) {
			t.Fatalf("value\n got %v\nwant %v", gv, v)
		}
		// Re-serializing the parsed value gives the same bytes.
		b2, err := c.FromConnect("t", gs, gv)
		if err != nil || !bytes.Equal(b, b2) {
			t.Fatalf("re-serialized differs:\n%s\n%s (%v)", b, b2, err)
		}
	}
}

func TestJSONSchemaWithStructDefaultRoundTrip(t *testing.T) {
	inner := connect.NewStructSchema("P", connect.F("x", connect.Int32Schema))
	withDef := *inner
	withDef.Optional = true
	def := connect.NewStruct(&withDef)
	def.SetAt(0, int32(5))
	withDef.Default = def
	outer := connect.NewStructSchema("O", connect.F("p", &withDef), connect.F("d", &connect.Schema{Type: connect.TypeBytes, Name: connect.DecimalName, Version: 1, Parameters: map[string]string{"scale": "1", "connect.decimal.precision": "5"}, Default: connect.NewDecimal(15, 1)}))
	c := newJSON(t, nil)
	b, err := c.FromConnect("t", outer, connect.NewStruct(outer))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"schema":{"type":"struct","fields":[{"type":"struct","fields":[{"type":"int32","optional":false,"field":"x"}],"optional":true,"name":"P","default":{"x":5},"field":"p"},{"type":"bytes","optional":false,"name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"1","connect.decimal.precision":"5"},"default":"Dw==","field":"d"}],"optional":false,"name":"O"},"payload":{"p":{"x":5},"d":"Dw=="}}`
	if string(b) != want {
		t.Fatalf("\n got %s\nwant %s", b, want)
	}
	s, v, err := c.ToConnect("t", b)
	if err != nil {
		t.Fatal(err)
	}
	if !connect.Equal(s, outer) || !valuesEqual(v.(*connect.Struct).Get("p"), def) {
		t.Fatalf("round trip: %v %v", s, v)
	}
}

func TestJSONSchemalessRoundTrip(t *testing.T) {
	c := newJSON(t, map[string]string{JSONSchemasEnable: "false"})
	in := map[string]any{
		"n": int64(-3), "f": 2.5, "s": "x", "b": false, "nil": nil,
		"arr": []any{int64(1), "two", []any{}, map[string]any{}},
		"obj": map[string]any{"deep": map[string]any{"big": int64(math.MaxInt64)}},
	}
	b, err := c.FromConnect("t", nil, in)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"arr":[1,"two",[],{}],"b":false,"f":2.5,"n":-3,"nil":null,"obj":{"deep":{"big":9223372036854775807}},"s":"x"}`
	if string(b) != want {
		t.Fatalf("\n got %s\nwant %s", b, want)
	}
	s, v, err := c.ToConnect("t", b)
	if err != nil || s != nil || !reflect.DeepEqual(v, in) {
		t.Fatalf("got %#v, %v", v, err)
	}
	// Typed Go slices and maps and structs are written too.
	st := richValue(t, richSchema())
	for _, v := range []any{[]string{"a"}, map[string]int64{"k": 1}, []int{1, 2}, st} {
		if b, err := c.FromConnect("t", nil, v); err != nil || !json.Valid(b) {
			t.Fatalf("%T: %s %v", v, b, err)
		}
	}
	// Integers beyond int64 read as float64; floats as float64.
	_, v, err = c.ToConnect("t", []byte(`[18446744073709551616, 1e3, -0.5]`))
	if err != nil || !reflect.DeepEqual(v, []any{1.8446744073709552e19, 1000.0, -0.5}) {
		t.Fatalf("numbers: %#v %v", v, err)
	}
}

func TestJSONErrors(t *testing.T) {
	c := newJSON(t, nil)
	s := richSchema()
	v := richValue(t, s)
	addr, _ := s.Field("addr")
	bad := connect.NewStruct(addr.Schema)
	bad.SetAt(0, "Main")
	bad.SetAt(1, "not-a-zip")
	v.SetAt(addr.Index, bad)
	_, err := c.FromConnect("orders", s, v)
	if err == nil || !strings.Contains(err.Error(), `field "addr.zip"`) || !strings.Contains(err.Error(), `"orders"`) {
		t.Fatalf("FromConnect bad nested field: %v", err)
	}
	if _, err := c.FromConnect("t", connect.Float64Schema, true); err == nil {
		t.Fatal("mismatching schema accepted")
	}
	if _, err := c.FromConnect("t", nil, connect.NewDecimal(156, 2)); err == nil {
		t.Fatal("decimal without schema accepted")
	}
	if _, err := c.FromConnect("t", connect.Int32Schema, nil); err == nil || !strings.Contains(err.Error(), "required") {
		t.Fatalf("null for required: %v", err)
	}
	arr := connect.ArrayOf(connect.Int32Schema)
	if _, err := c.FromConnect("t", arr, []any{int32(1), "x"}); err == nil || !strings.Contains(err.Error(), `"[1]"`) {
		t.Fatalf("bad array element: %v", err)
	}

	order := `{"schema":{"type":"struct","fields":[{"type":"int32","optional":false,"field":"id"},{"type":"struct","fields":[{"type":"int16","optional":false,"field":"zip"}],"optional":false,"field":"addr"}],"optional":false},"payload":%s}`
	cases := []struct{ in, want string }{
		{`{"id":1,"addr":{"zip":"x"}}`, `field "addr.zip": expected int16, got JSON string`},
		{`{"id":1,"addr":{"zip":70000}}`, `field "addr.zip": 70000 is out of range for int16`},
		{`{"id":1,"addr":{}}`, `field "addr.zip": null value for a required int16`},
		{`{"id":1.5,"addr":{"zip":1}}`, `field "id": 1.5 is not a whole number`},
		{`{"addr":{"zip":1}}`, `field "id"`},
		{`[1]`, `expected struct<id:int32,addr:struct<zip:int16>>, got JSON array`},
	}
	for _, tc := range cases {
		_, _, err := c.ToConnect("orders", []byte(strings.Replace(order, "%s", tc.in, 1)))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want %q", tc.in, err, tc.want)
		}
	}
	for _, in := range []string{
		`{"schema":{"type":"int32"},"payload":1`, // truncated
		`{"schema":{"type":"int32"},"payload":1}x`,
		`{"schema":{"type":"int32"},"payload":[1,]}`,
		`not json`,
		`{"schema":{"type":"int32"},"payload":"\x"}`,
	} {
		if _, _, err := c.ToConnect("t", []byte(in)); err == nil {
			t.Errorf("%s: accepted", in)
		}
	}
	envelopeErrs := []string{`true`, `{"payload":1}`, `{"schema":null,"payload":1,"extra":2}`, `{}`}
	for _, in := range envelopeErrs {
		if _, _, err := c.ToConnect("t", []byte(in)); err == nil || !strings.Contains(err.Error(), "schemas.enable=false") {
			t.Errorf("%s: %v", in, err)
		}
	}
	schemaErrs := map[string]string{
		`{"schema":{},"payload":1}`:                                            "'type'",
		`{"schema":{"type":"nope"},"payload":1}`:                               "unknown schema type",
		`{"schema":{"type":"array"},"payload":[]}`:                             "element type",
		`{"schema":{"type":"struct","fields":[{"type":"int8"}]},"payload":{}}`: "no \"field\" name",
		`{"schema":{"type":"struct","fields":[{"type":"int8","field":"a"},{"type":"int8","field":"a"}]},"payload":{}}`: "two fields",
		`{"schema":{"type":"int8","parameters":{"a":1}},"payload":1}`:                                                  "string value",
	}
	for in, want := range schemaErrs {
		if _, _, err := c.ToConnect("t", []byte(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", in, err, want)
		}
	}
}

func TestJSONSchemaCaches(t *testing.T) {
	c := newJSON(t, map[string]string{JSONSchemasCacheSize: "2"})
	s := connect.NewStructSchema("x", connect.F("a", connect.Int32Schema))
	st := mustStruct(t, s, "a", int32(1))
	b, _ := c.FromConnect("t", s, st)
	if _, ok := c.fromCache.get(s); !ok {
		t.Fatal("schema JSON not cached")
	}
	s1, _, _ := c.ToConnect("t", b)
	s2, _, _ := c.ToConnect("t", b)
	if s1 != s2 {
		t.Fatal("same schema JSON parsed twice")
	}
	// The cache stays bounded.
	for i := 0; i < 10; i++ {
		c.FromConnect("t", connect.OptionalOf(&connect.Schema{Type: connect.TypeInt32, Version: int32(i + 1)}), int32(1))
	}
	n := 0
	c.fromCache.m.Range(func(any, any) bool { n++; return true })
	if n > 2 {
		t.Fatalf("cache holds %d entries, limit 2", n)
	}
	if err := c.Configure(map[string]string{JSONDecimalFormat: "octal"}, false); err == nil {
		t.Fatal("bad decimal.format accepted")
	}
}

func TestJSONConcurrentUse(t *testing.T) {
	c := newJSON(t, nil)
	s := richSchema()
	v := richValue(t, s)
	want, _ := c.FromConnect("t", s, v)
	done := make(chan error, 4)
	for g := 0; g < 4; g++ {
		go func() {
			for i := 0; i < 200; i++ {
				b, err := c.FromConnect("t", s, v)
				if err == nil && !bytes.Equal(b, want) {
					err = errFmt("bytes differ")
				}
				if err == nil {
					_, _, err = c.ToConnect("t", b)
				}
				if err != nil {
					done <- err
					return
				}
			}
			done <- nil
		}()
	}
	for g := 0; g < 4; g++ {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
}

type errFmt string

func (e errFmt) Error() string { return string(e) }

func FuzzJSONToConnect(f *testing.F) {
	f.Add([]byte(`{"schema":{"type":"struct","fields":[{"type":"int32","optional":false,"field":"id"}],"optional":false},"payload":{"id":1}}`))
	f.Add([]byte(`{"schema":null,"payload":[1,"2",{"a":null}]}`))
	f.Add([]byte(`{"schema":{"type":"map","keys":{"type":"int32"},"values":{"type":"string"}},"payload":[[1,"a"]]}`))
	f.Add([]byte(`"\ud83d\ude00\u00e9"`))
	schemad := NewJSON()
	schemaless := newJSON(f, map[string]string{JSONSchemasEnable: "false"})
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, c := range []*JSON{schemad, schemaless} {
			s, v, err := c.ToConnect("t", data)
			if err != nil {
				continue
			}
			// Whatever parsed must serialize again.
			if _, err := c.FromConnect("t", s, v); err != nil && v != nil {
				t.Fatalf("%q parsed to %#v but does not serialize: %v", data, v, err)
			}
		}
	})
}
