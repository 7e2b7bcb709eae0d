package converters

import (
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/penstockhq/penstock/connect"
)

func TestStringConverter(t *testing.T) {
	c := NewString()
	if err := c.Configure(map[string]string{StringEncoding: "UTF8"}, true); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		v    any
		want string
	}{{"héllo", "héllo"}, {int32(42), "42"}, {true, "true"}, {1.0, "1.0"}, {float32(0.1), "0.1"}} {
		b, err := c.FromConnect("t", nil, tc.v)
		if err != nil || string(b) != tc.want {
			t.Errorf("%v: %q %v", tc.v, b, err)
		}
	}
	if b, err := c.FromConnect("t", connect.OptionalStringSchema, nil); b != nil || err != nil {
		t.Fatalf("nil: %q %v", b, err)
	}
	s, v, err := c.ToConnect("t", []byte("héllo"))
	if err != nil || s != connect.OptionalStringSchema || v != "héllo" {
		t.Fatalf("ToConnect: %v %v %v", s, v, err)
	}
	if s, v, _ := c.ToConnect("t", nil); s != connect.OptionalStringSchema || v != nil {
		t.Fatalf("ToConnect(nil): %v %v", s, v)
	}
	if err := c.Configure(map[string]string{StringEncoding: "ISO-8859-1"}, false); err != nil {
		t.Fatal(err)
	}
	b, _ := c.FromConnect("t", nil, "é€")
	if string(b) != "\xe9?" {
		t.Fatalf("latin1: %q", b)
	}
	if _, v, _ := c.ToConnect("t", []byte{0xe9}); v != "é" {
		t.Fatalf("latin1 read: %q", v)
	}
	if err := c.Configure(map[string]string{StringEncoding: "EBCDIC"}, false); err == nil {
		t.Fatal("unknown encoding accepted")
	}
}

func TestByteArrayConverter(t *testing.T) {
	c := NewByteArray()
	if err := c.Configure(nil, false); err != nil {
		t.Fatal(err)
	}
	in := []byte{0, 1, 2}
	b, err := c.FromConnect("t", connect.BytesSchema, in)
	if err != nil || !reflect.DeepEqual(b, in) {
		t.Fatalf("%v %v", b, err)
	}
	if b, err := c.FromConnect("t", nil, nil); b != nil || err != nil {
		t.Fatalf("nil: %v %v", b, err)
	}
	if _, err := c.FromConnect("t", nil, "text"); err == nil || !strings.Contains(err.Error(), "expected []byte, got string") {
		t.Fatalf("string accepted: %v", err)
	}
	if _, err := c.FromConnect("t", connect.StringSchema, []byte("x")); err == nil || !strings.Contains(err.Error(), "schema type string") {
		t.Fatalf("string schema accepted: %v", err)
	}
	s, v, err := c.ToConnect("t", in)
	if err != nil || s != connect.OptionalBytesSchema || !reflect.DeepEqual(v, in) {
		t.Fatalf("ToConnect: %v %v %v", s, v, err)
	}
}

func TestSimpleHeaderConverterRoundTrip(t *testing.T) {
	c := NewSimpleHeader()
	if err := c.Configure(nil); err != nil {
		t.Fatal(err)
	}
	ts := time.UnixMilli(1700000000123).UTC()
	st := connect.NewStructSchema("s", connect.F("a", connect.Int32Schema), connect.F("b", connect.StringSchema))
	stv := connect.NewStruct(st)
	stv.SetAt(0, int32(1))
	stv.SetAt(1, `q"x`)
	cases := []struct {
		s       *connect.Schema
		v       any
		text    string
		schema  *connect.Schema
		back    any
		noCheck bool
	}{
		{connect.StringSchema, "plain text", "plain text", connect.StringSchema, "plain text", false},
		{connect.StringSchema, "", "", connect.StringSchema, "", false},
		{connect.BooleanSchema, true, "true", connect.BooleanSchema, true, false},
		{connect.Int8Schema, int8(-5), "-5", connect.Int8Schema, int8(-5), false},
		{connect.Int32Schema, int32(70000), "70000", connect.Int32Schema, int32(70000), false},
		{connect.Int64Schema, int64(1) << 40, "1099511627776", connect.Int64Schema, int64(1) << 40, false},
		{connect.Float64Schema, 2.5, "2.5", connect.Float64Schema, 2.5, false},
		{connect.TimestampSchema(), ts, "2023-11-14T22:13:20.123Z", connect.TimestampSchema(), ts, false},
		{connect.DateSchema(), time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC), "2024-02-29", connect.DateSchema(), time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC), false},
		{connect.TimeSchema(), time.UnixMilli(3723004).UTC(), "01:02:03.004Z", connect.TimeSchema(), time.UnixMilli(3723004).UTC(), false},
		{connect.ArrayOf(connect.Int32Schema), []any{int32(1), int32(300)}, "[1,300]", connect.ArrayOf(connect.Int16Schema), []any{int16(1), int16(300)}, false},
		{connect.ArrayOf(connect.StringSchema), []any{"a", `b"c`}, `["a","b\"c"]`, connect.ArrayOf(connect.StringSchema), []any{"a", `b"c`}, false},
		{connect.MapOf(connect.StringSchema, connect.BooleanSchema), map[string]any{"y": false, "x": true}, `{"x":true,"y":false}`,
			connect.MapOf(connect.StringSchema, connect.BooleanSchema), map[string]any{"x": true, "y": false}, false},
		{nil, []any{"a", int64(1)}, `["a",1]`, nil, []any{"a", int8(1)}, false},
		{st, stv, `{"a":1,"b":"q\"x"}`, nil, nil, true},
		{connect.StringSchema, "[not, an array", "[not, an array", connect.StringSchema, "[not, an array", false},
		{connect.StringSchema, "12abc", "12abc", connect.StringSchema, "12abc", false},
	}
	for _, tc := range cases {
		b, err := c.FromConnectHeader("t", "h", tc.s, tc.v)
		if err != nil {
			t.Errorf("%v: %v", tc.v, err)
			continue
		}
		if string(b) != tc.text {
			t.Errorf("%v: wrote %q, want %q", tc.v, b, tc.text)
		}
		if tc.noCheck {
			continue
		}
		s, v, err := c.ToConnectHeader("t", "h", b)
		if err != nil {
			t.Errorf("%q: %v", b, err)
			continue
		}
		if !connect.Equal(s, tc.schema) || !valuesEqual(v, tc.back) {
			t.Errorf("%q: read %v %#v, want %v %#v", b, s, v, tc.schema, tc.back)
		}
	}
	if b, _ := c.FromConnectHeader("t", "h", nil, nil); b != nil {
		t.Fatalf("nil header: %q", b)
	}
	if s, v, _ := c.ToConnectHeader("t", "h", []byte("null")); s != nil || v != nil {
		t.Fatalf("null: %v %v", s, v)
	}
}

// TestStringConverterAliased checks that ToConnectAliased reads as ToConnect
// in every encoding, and shares the bytes only when they need no decoding.
func TestStringConverterAliased(t *testing.T) {
	inputs := [][]byte{nil, {}, []byte("plain"), []byte("héllo"), {0xe9, 'x'}, {0xff, 0xfe}}
	for _, enc := range []string{"UTF8", "ISO-8859-1", "US-ASCII"} {
		c := NewString()
		if err := c.Configure(map[string]string{StringEncoding: enc}, false); err != nil {
			t.Fatal(err)
		}
		for _, in := range inputs {
			data := append([]byte(nil), in...)
			if in == nil {
				data = nil
			}
			ws, wv, werr := c.ToConnect("t", data)
			gs, gv, gerr := c.ToConnectAliased("t", data)
			if gs != ws || gv != wv || (gerr == nil) != (werr == nil) {
				t.Fatalf("%s %q: aliased %v %q %v, ToConnect %v %q %v", enc, in, gs, gv, gerr, ws, wv, werr)
			}
			if len(data) > 0 {
				data[0] = '#' // shared bytes show the change; copies do not
				shared := gv.(string)[0] == '#'
				if want := isASCII(in) || enc == "UTF8" && utf8.Valid(in); shared != want {
					t.Errorf("%s %q: shared %v, want %v", enc, in, shared, want)
				}
			}
		}
	}
}
