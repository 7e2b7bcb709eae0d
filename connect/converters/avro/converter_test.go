package avro_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"strings"
	"testing"
	"time"

	havro "github.com/hamba/avro/v2"
	"github.com/twmb/franz-go/pkg/sr"

	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connect/converters"
	"github.com/penstockhq/penstock/connect/converters/avro"
	"github.com/penstockhq/penstock/internal/registrytest"
)

// allTypes is a struct with a field of every Connect type, optional ones,
// defaults, logical types and Debezium's semantic types.
func allTypes() (*connect.Schema, *connect.Struct) {
	zoned := &connect.Schema{Type: connect.TypeString, Name: "io.debezium.time.ZonedTimestamp", Version: 1}
	enum := &connect.Schema{Type: connect.TypeString, Name: "io.debezium.data.Enum", Version: 1,
		Parameters: map[string]string{"allowed": "a,b"}}
	inner := connect.NewStructSchema("test.Inner", connect.F("x", connect.Int32Schema))
	optInner := connect.OptionalOf(inner)
	dec := connect.DecimalSchema(2)
	withDefault := &connect.Schema{Type: connect.TypeInt32, Optional: true, Default: int32(7)}
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
		connect.F("with_default", withDefault),
		connect.F("dec", dec),
		connect.F("opt_dec", connect.OptionalOf(dec)),
		connect.F("date", connect.DateSchema()),
		connect.F("time", connect.TimeSchema()),
		connect.F("ts", connect.TimestampSchema()),
		connect.F("zoned", zoned),
		connect.F("enum", enum),
		connect.F("arr", connect.ArrayOf(connect.StringSchema)),
		connect.F("smap", connect.MapOf(connect.StringSchema, connect.Int32Schema)),
		connect.F("imap", connect.MapOf(connect.Int32Schema, connect.StringSchema)),
		connect.F("inner", inner),
		connect.F("opt_inner", optInner),
		connect.F("arr_inner", connect.ArrayOf(inner)),
	)
	in := connect.NewStruct(inner)
	in.SetAt(0, int32(5))
	oin := connect.NewStruct(optInner)
	oin.SetAt(0, int32(6))
	v := connect.NewStruct(s)
	vals := map[string]any{"b": true, "i8": int8(-8), "i16": int16(1600), "i32": int32(-32), "i64": int64(1) << 40,
		"f32": float32(1.5), "f64": 2.25, "s": "héllo", "bytes": []byte{0, 1, 255}, "opt_set": "x",
		"with_default": int32(9), "dec": connect.NewDecimal(-12345, 2), "opt_dec": connect.NewDecimal(1, 2),
		"date": connect.DateFromDays(19000), "time": time.UnixMilli(3_600_123).UTC(), "ts": time.UnixMilli(1_700_000_000_123).UTC(),
		"zoned": "2024-01-02T03:04:05Z", "enum": "a", "arr": []any{"p", "q"}, "smap": map[string]any{"k": int32(1)},
		"imap": map[any]any{int32(1): "one", int32(2): "two"}, "inner": in, "opt_inner": oin, "arr_inner": []any{in, in}}
	for k, x := range vals {
		if err := v.Set(k, x); err != nil {
			panic(k + ": " + err.Error())
		}
	}
	return s, v
}

func jsonOf(t *testing.T, s *connect.Schema, v any) []byte {
	t.Helper()
	b, err := converters.NewJSON().FromConnect("t", s, v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestRoundTrip writes a struct with every Connect type through the
// registry and reads it back: the same schema and value (compared through
// JsonConverter's output, which renders both).
func TestRoundTrip(t *testing.T) {
	url, _ := registrytest.Start(t)
	c := avro.New()
	if err := c.Configure(map[string]string{"schema.registry.url": url}, false); err != nil {
		t.Fatal(err)
	}
	s, v := allTypes()
	b, err := c.FromConnect("topic", s, v)
	if err != nil {
		t.Fatal(err)
	}
	if b[0] != 0 || len(b) < 6 {
		t.Fatalf("not the wire format: % x", b[:min(len(b), 8)])
	}
	// A second converter reads it knowing only the registry.
	r := avro.New()
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
	if want, got := jsonOf(t, s, v), jsonOf(t, gs, gv); !bytes.Equal(want, got) {
		t.Fatalf("value changed:\n%s\n%s", want, got)
	}
	// Tombstones and the cache.
	if b, err := c.FromConnect("topic", s, nil); err != nil || b != nil {
		t.Fatalf("tombstone: %v %v", b, err)
	}
	// The second write reuses the cached id. Its bytes may differ from the
	// first's: maps are written in Go's map order, which Avro leaves open.
	b2, err := c.FromConnect("topic", s, v)
	if err != nil || !bytes.Equal(b[:5], b2[:5]) {
		t.Fatalf("second write: %v, header % x, want % x", err, b2[:min(len(b2), 5)], b[:5])
	}
	if _, gv2, err := r.ToConnect("topic", b2); err != nil || !bytes.Equal(jsonOf(t, s, v), jsonOf(t, s, gv2)) {
		t.Fatalf("second write reads back differently: %v", err)
	}
}

// TestPrimitiveKey writes a string key under <topic>-key.
func TestPrimitiveKey(t *testing.T) {
	url, _ := registrytest.Start(t)
	c := avro.New()
	if err := c.Configure(map[string]string{"schema.registry.url": url}, true); err != nil {
		t.Fatal(err)
	}
	b, err := c.FromConnect("orders", connect.StringSchema, "k1")
	if err != nil {
		t.Fatal(err)
	}
	s, v, err := c.ToConnect("orders", b)
	if err != nil || v != "k1" || s.Type != connect.TypeString {
		t.Fatalf("got %v %v %v", s, v, err)
	}
}

// TestEvolvedRecordNameReused writes a Debezium-like envelope whose before
// and after share one record, then the same envelope with a column added:
// the second record must carry the new column. (hamba/avro caches encoders
// of a union holding a named reference by the name alone; with one shared
// codec cache the second write reused the first schema's encoder and
// dropped the column, found by TestE2EPostgresAvro.)
func TestEvolvedRecordNameReused(t *testing.T) {
	url, _ := registrytest.Start(t)
	c := avro.New()
	if err := c.Configure(map[string]string{"schema.registry.url": url}, false); err != nil {
		t.Fatal(err)
	}
	r := avro.New()
	if err := r.Configure(map[string]string{"schema.registry.url": url}, false); err != nil {
		t.Fatal(err)
	}
	envelope := func(fields ...connect.Field) (*connect.Schema, *connect.Struct) {
		row := connect.OptionalOf(connect.NewStructSchema("db.t.Value", fields...))
		env := connect.NewStructSchema("db.t.Envelope", connect.F("before", row), connect.F("after", row), connect.F("op", connect.StringSchema))
		after := connect.NewStruct(row)
		for i := range fields {
			after.SetAt(i, "x")
		}
		v := connect.NewStruct(env)
		v.SetAt(1, after)
		v.SetAt(2, "c")
		return env, v
	}
	for _, fields := range [][]connect.Field{
		{connect.F("a", connect.OptionalStringSchema)},
		{connect.F("a", connect.OptionalStringSchema), connect.F("b", connect.OptionalStringSchema)},
	} {
		s, v := envelope(fields...)
		b, err := c.FromConnect("t", s, v)
		if err != nil {
			t.Fatal(err)
		}
		gs, gv, err := r.ToConnect("t", b)
		if err != nil {
			t.Fatal(err)
		}
		if want, got := jsonOf(t, s, v), jsonOf(t, gs, gv); !bytes.Equal(want, got) {
			t.Fatalf("value changed:\n%s\n%s", want, got)
		}
	}
}

// TestUseLatestVersion writes with the subject's latest schema, which has a
// field the record lacks (with a default): the record is encoded with that
// schema and its id, and reads back with the default.
func TestUseLatestVersion(t *testing.T) {
	url, _ := registrytest.Start(t)
	cl, err := sr.NewClient(sr.URLs(url))
	if err != nil {
		t.Fatal(err)
	}
	latest := `{"type":"record","name":"R","namespace":"test","fields":[{"name":"a","type":"int"},{"name":"extra","type":"string","default":"d"}]}`
	reg, err := cl.CreateSchema(context.Background(), "topic-value", sr.Schema{Schema: latest})
	if err != nil {
		t.Fatal(err)
	}
	c := avro.New()
	if err := c.Configure(map[string]string{"schema.registry.url": url, "auto.register.schemas": "false",
		"use.latest.version": "true", "latest.compatibility.strict": "false"}, false); err != nil {
		t.Fatal(err)
	}
	s := connect.NewStructSchema("test.R", connect.F("a", connect.Int32Schema))
	v := connect.NewStruct(s)
	v.SetAt(0, int32(4))
	b, err := c.FromConnect("topic", s, v)
	if err != nil {
		t.Fatal(err)
	}
	if id := int(binary.BigEndian.Uint32(b[1:5])); id != reg.ID {
		t.Fatalf("written with id %d, want the latest version's %d", id, reg.ID)
	}
	_, gv, err := c.ToConnect("topic", b)
	if err != nil {
		t.Fatal(err)
	}
	st := gv.(*connect.Struct)
	if st.Get("a") != int32(4) || st.Get("extra") != "d" {
		t.Fatalf("read back %v", st)
	}
}

// TestSecuredRegistry: the converter reaches a registry that serves HTTPS
// and requires credentials, with Confluent's keys: basic.auth.* from
// USER_INFO or from the URL, bearer.auth.token, and
// schema.registry.ssl.truststore.location. A read-only user can read what
// an admin wrote but not register; a wrong password is refused.
func TestSecuredRegistry(t *testing.T) {
	reg := registrytest.StartSecure(t)
	conv := func(props map[string]string) *avro.Converter {
		t.Helper()
		if props["schema.registry.url"] == "" {
			props["schema.registry.url"] = reg.URL
		}
		props["schema.registry.ssl.truststore.location"] = reg.CAFile
		c := avro.New()
		if err := c.Configure(props, false); err != nil {
			t.Fatal(err)
		}
		return c
	}
	s, v := allTypes()
	writer := conv(map[string]string{"basic.auth.credentials.source": "USER_INFO",
		"basic.auth.user.info": registrytest.AdminUser + ":" + registrytest.AdminPassword})
	b, err := writer.FromConnect("secured", s, v)
	if err != nil {
		t.Fatalf("write as admin: %v", err)
	}
	readers := map[string]*avro.Converter{
		"viewer in the URL": conv(map[string]string{"basic.auth.credentials.source": "URL",
			"schema.registry.url": strings.Replace(reg.URL, "https://", "https://"+registrytest.ViewerUser+":"+registrytest.ViewerPassword+"@", 1)}),
		"bearer token": conv(map[string]string{"bearer.auth.credentials.source": "STATIC_TOKEN", "bearer.auth.token": registrytest.Token}),
	}
	for name, r := range readers {
		gs, gv, err := r.ToConnect("secured", b)
		if err != nil {
			t.Fatalf("%s: read: %v", name, err)
		}
		if want, got := jsonOf(t, s, v), jsonOf(t, gs, gv); !bytes.Equal(want, got) {
			t.Fatalf("%s: value changed:\n%s\n%s", name, want, got)
		}
	}
	viewer := conv(map[string]string{"basic.auth.credentials.source": "USER_INFO",
		"basic.auth.user.info": registrytest.ViewerUser + ":" + registrytest.ViewerPassword})
	other := connect.NewStructSchema("test.Other", connect.F("y", connect.StringSchema))
	ov := connect.NewStruct(other)
	if err := ov.Set("y", "z"); err != nil {
		t.Fatal(err)
	}
	if _, err := viewer.FromConnect("secured-other", other, ov); err == nil ||
		!strings.Contains(err.Error(), "is denied") {
		t.Fatalf("read-only user registering: %v, want a 403", err)
	}
	wrong := conv(map[string]string{"basic.auth.credentials.source": "USER_INFO",
		"basic.auth.user.info": registrytest.AdminUser + ":wrong"})
	if _, _, err := wrong.ToConnect("secured", b); err == nil || !strings.Contains(err.Error(), "Unauthorized") {
		t.Fatalf("wrong password: %v, want a 401", err)
	}
}

// TestEnhancedEnum: an Avro enum written by an outside producer reads as a
// Connect string named after the enum with Confluent's
// io.confluent.connect.avro.Enum parameters; written back with
// enhanced.avro.schema.support=true it is an Avro enum again (same name and
// symbols), without it a string. A value that is not a symbol is refused.
func TestEnhancedEnum(t *testing.T) {
	url, _ := registrytest.Start(t)
	cl, err := sr.NewClient(sr.URLs(url))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	src := `{"type":"record","name":"Order","namespace":"shop","fields":[` +
		`{"name":"status","type":{"type":"enum","name":"Status","namespace":"shop","symbols":["NEW","PAID","SHIPPED"]}}]}`
	reg, err := cl.CreateSchema(ctx, "orders-value", sr.Schema{Schema: src})
	if err != nil {
		t.Fatal(err)
	}
	datum, err := havro.Marshal(havro.MustParse(src), map[string]any{"status": "PAID"})
	if err != nil {
		t.Fatal(err)
	}
	in := append([]byte{0, 0, 0, 0, 0}, datum...)
	binary.BigEndian.PutUint32(in[1:5], uint32(reg.ID))

	conv := func(enhanced string) *avro.Converter {
		c := avro.New()
		if err := c.Configure(map[string]string{"schema.registry.url": url, "enhanced.avro.schema.support": enhanced}, false); err != nil {
			t.Fatal(err)
		}
		return c
	}
	s, v, err := conv("false").ToConnect("orders", in)
	if err != nil {
		t.Fatal(err)
	}
	fs := s.Fields[0].Schema
	if fs.Type != connect.TypeString || fs.Name != "shop.Status" || fs.Parameters["io.confluent.connect.avro.Enum"] != "shop.Status" ||
		fs.Parameters["io.confluent.connect.avro.Enum.SHIPPED"] != "SHIPPED" || v.(*connect.Struct).Get("status") != "PAID" {
		t.Fatalf("read enum as %+v = %v", fs, v)
	}
	fieldType := func(b []byte) (string, any) {
		t.Helper()
		got, err := cl.SchemaByID(ctx, int(binary.BigEndian.Uint32(b[1:5])))
		if err != nil {
			t.Fatal(err)
		}
		as := havro.MustParse(got.Schema)
		var out map[string]any
		if err := havro.Unmarshal(as, b[5:], &out); err != nil {
			t.Fatal(err)
		}
		ft := as.(*havro.RecordSchema).Fields()[0].Type()
		if e, ok := ft.(*havro.EnumSchema); ok {
			return "enum " + e.FullName() + " " + strings.Join(e.Symbols(), ","), out["status"]
		}
		return string(ft.Type()), out["status"]
	}
	b, err := conv("true").FromConnect("orders-copy", s, v)
	if err != nil {
		t.Fatal(err)
	}
	if ft, val := fieldType(b); ft != "enum shop.Status NEW,PAID,SHIPPED" || val != "PAID" {
		t.Fatalf("enhanced: written as %s = %v", ft, val)
	}
	b, err = conv("false").FromConnect("orders-plain", s, v)
	if err != nil {
		t.Fatal(err)
	}
	if ft, val := fieldType(b); ft != "string" || val != "PAID" {
		t.Fatalf("not enhanced: written as %s = %v", ft, val)
	}
	bad := connect.NewStruct(s)
	if err := bad.Set("status", "LOST"); err != nil {
		t.Fatal(err)
	}
	if _, err := conv("true").FromConnect("orders-copy", s, bad); err == nil || !strings.Contains(err.Error(), "LOST") {
		t.Fatalf("a value outside the symbols: %v", err)
	}
}
