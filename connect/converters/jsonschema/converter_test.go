package jsonschema_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connect/converters"
	"github.com/penstockhq/penstock/connect/converters/jsonschema"
	"github.com/penstockhq/penstock/internal/registrytest"
)

// TestRoundTrip writes a struct with every Connect type through the
// registry and reads it back: the same schema and value (compared through
// JsonConverter's output).
func TestRoundTrip(t *testing.T) {
	url, _ := registrytest.Start(t)
	inner := connect.NewStructSchema("test.Inner", connect.F("x", connect.Int32Schema))
	s := connect.NewStructSchema("test.Value",
		connect.F("b", connect.BooleanSchema),
		connect.F("i8", connect.Int8Schema),
		connect.F("i16", connect.Int16Schema),
		connect.F("i32", connect.Int32Schema),
		connect.F("i64", connect.Int64Schema),
		connect.F("f32", connect.Float32Schema),
		connect.F("f64", connect.Float64Schema),
		connect.F("s", connect.StringSchema),
		connect.F("bytes", connect.BytesSchema),
		connect.F("opt_set", connect.OptionalStringSchema),
		connect.F("opt_nil", connect.OptionalInt64Schema),
		connect.F("dec", connect.DecimalSchema(2)),
		connect.F("date", connect.DateSchema()),
		connect.F("ts", connect.TimestampSchema()),
		connect.F("zoned", &connect.Schema{Type: connect.TypeString, Name: "io.debezium.time.ZonedTimestamp", Version: 1}),
		connect.F("arr", connect.ArrayOf(connect.StringSchema)),
		connect.F("smap", connect.MapOf(connect.StringSchema, connect.Int32Schema)),
		connect.F("imap", connect.MapOf(connect.Int32Schema, connect.StringSchema)),
		connect.F("inner", inner),
	)
	in := connect.NewStruct(inner)
	in.SetAt(0, int32(5))
	v := connect.NewStruct(s)
	for k, x := range map[string]any{"b": true, "i8": int8(-8), "i16": int16(1600), "i32": int32(-32), "i64": int64(1) << 40,
		"f32": float32(1.5), "f64": 2.25, "s": "héllo", "bytes": []byte{0, 1, 255}, "opt_set": "x",
		"dec": connect.NewDecimal(-12345, 2), "date": connect.DateFromDays(19000), "ts": time.UnixMilli(1_700_000_000_123).UTC(),
		"zoned": "2024-01-02T03:04:05Z", "arr": []any{"p"}, "smap": map[string]any{"k": int32(1)},
		"imap": map[any]any{int32(1): "one"}, "inner": in} {
		if err := v.Set(k, x); err != nil {
			t.Fatal(k, err)
		}
	}
	c := jsonschema.New()
	if err := c.Configure(map[string]string{"schema.registry.url": url}, false); err != nil {
		t.Fatal(err)
	}
	b, err := c.FromConnect("topic", s, v)
	if err != nil {
		t.Fatal(err)
	}
	r := jsonschema.New()
	if err := r.Configure(map[string]string{"schema.registry.url": url}, false); err != nil {
		t.Fatal(err)
	}
	gs, gv, err := r.ToConnect("topic", b)
	if err != nil {
		t.Fatal(err)
	}
	if !connect.Equal(s, gs) {
		t.Fatalf("schema changed:\n%s\n%s", s, gs)
	}
	j := converters.NewJSON()
	want, _ := j.FromConnect("t", s, v)
	got, err := j.FromConnect("t", gs, gv)
	if err != nil || !bytes.Equal(want, got) {
		t.Fatalf("value changed (%v):\n%s\n%s", err, want, got)
	}
	// Adding an optional field is a compatible change; a required one is not.
	s2 := connect.NewStructSchema("test.Value", append(append([]connect.Field{}, s.Fields...),
		connect.F("added", connect.OptionalStringSchema))...)
	if _, err := c.FromConnect("topic", s2, connect.NewStruct(s2)); err == nil {
		t.Fatal("a struct with unset required fields was written")
	}
	v2 := connect.NewStruct(s2)
	for i := range s.Fields {
		v2.SetAt(i, v.GetAt(i))
	}
	if _, err := c.FromConnect("topic", s2, v2); err != nil {
		t.Fatalf("adding an optional field: %v", err)
	}
	s3 := connect.NewStructSchema("test.Value", append(append([]connect.Field{}, s.Fields...),
		connect.F("added_required", connect.StringSchema))...)
	v3 := connect.NewStruct(s3)
	for i := range s.Fields {
		v3.SetAt(i, v.GetAt(i))
	}
	v3.SetAt(len(s.Fields), "x")
	if _, err := c.FromConnect("topic", s3, v3); err == nil {
		t.Fatal("adding a required field was accepted under BACKWARD")
	}
}
