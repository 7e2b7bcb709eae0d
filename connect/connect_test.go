package connect

import (
	"math/big"
	"strings"
	"testing"
	"time"
)

func TestStructSetValidatesAgainstFieldSchema(t *testing.T) {
	s := NewStructSchema("shop.Order",
		F("id", Int32Schema),
		F("note", OptionalStringSchema),
		F("tags", ArrayOf(StringSchema)),
		F("amount", DecimalSchema(2)),
	)
	st := NewStruct(s)
	if err := st.Set("id", int32(7)); err != nil {
		t.Fatal(err)
	}
	if err := st.Set("id", "seven"); err == nil || !strings.Contains(err.Error(), `field "id"`) {
		t.Fatalf("want error naming field id, got %v", err)
	}
	if err := st.Set("missing", 1); err == nil || !strings.Contains(err.Error(), `"missing"`) {
		t.Fatalf("want error naming the unknown field, got %v", err)
	}
	if err := st.Set("tags", []any{"a", 1}); err == nil || !strings.Contains(err.Error(), "element 1") {
		t.Fatalf("want error naming element 1, got %v", err)
	}
	// Required fields left unset fail whole-struct validation, by name.
	if err := st.Validate(); err == nil || !strings.Contains(err.Error(), `"tags"`) {
		t.Fatalf("want error for unset required field tags, got %v", err)
	}
	if err := st.Set("tags", []any{"a"}); err != nil {
		t.Fatal(err)
	}
	if err := st.Set("amount", NewDecimal(1234, 2)); err != nil {
		t.Fatal(err)
	}
	if err := st.Validate(); err != nil {
		t.Fatalf("complete struct: %v", err)
	}
	if got := st.String(); got != "Struct{id=7,tags=[a],amount=12.34}" {
		t.Fatalf("String() = %s", got)
	}
}

func TestDefaultsFillUnsetFields(t *testing.T) {
	s := NewStructSchema("", F("n", &Schema{Type: TypeInt64, Default: int64(5)}))
	st := NewStruct(s)
	if err := st.Validate(); err != nil {
		t.Fatal(err)
	}
	if got := st.Get("n"); got != int64(5) {
		t.Fatalf("Get = %v, want default 5", got)
	}
}

func TestMapValidation(t *testing.T) {
	sm := MapOf(StringSchema, Int32Schema)
	if err := sm.Validate(map[string]any{"a": int32(1)}); err != nil {
		t.Fatal(err)
	}
	if err := sm.Validate(map[string]any{"a": "x"}); err == nil || !strings.Contains(err.Error(), `"a"`) {
		t.Fatalf("got %v", err)
	}
	im := MapOf(Int32Schema, StringSchema)
	if err := im.Validate(map[any]any{int32(1): "x"}); err != nil {
		t.Fatal(err)
	}
	if err := im.Validate(map[string]any{"1": "x"}); err == nil {
		t.Fatal("string-keyed map accepted for int32 key schema")
	}
}

func TestDecimalParseStringRescale(t *testing.T) {
	cases := []struct{ in, out string }{
		{"12.340", "12.340"}, {"-0.05", "-0.05"}, {"1.5E+3", "1500"}, {"7", "7"}, {"-12345.6789", "-12345.6789"},
	}
	for _, c := range cases {
		d, err := ParseDecimal(c.in)
		if err != nil {
			t.Fatal(err)
		}
		if d.String() != c.out {
			t.Errorf("ParseDecimal(%q).String() = %q, want %q", c.in, d.String(), c.out)
		}
	}
	if got := NewDecimal(12345, 3).Rescale(1).String(); got != "12.3" {
		t.Errorf("rescale down: %s", got)
	}
	if got := NewDecimal(-125, 2).Rescale(1).String(); got != "-1.3" {
		t.Errorf("rescale rounds half away from zero: %s", got)
	}
	if got := NewDecimal(5, 0).Rescale(2).String(); got != "5.00" {
		t.Errorf("rescale up: %s", got)
	}
	if _, err := ParseDecimal("12a"); err == nil {
		t.Error("bad literal accepted")
	}
}

func TestDecimalBytesTwosComplement(t *testing.T) {
	// Java's BigInteger.toByteArray for these values.
	cases := map[int64][]byte{
		0: {0}, 1: {1}, 127: {0x7f}, 128: {0, 0x80}, -1: {0xff}, -128: {0x80}, -129: {0xff, 0x7f}, 1234: {0x04, 0xd2},
	}
	for v, want := range cases {
		got := DecimalBytes(big.NewInt(v))
		if string(got) != string(want) {
			t.Errorf("DecimalBytes(%d) = %x, want %x", v, got, want)
		}
		if back := DecimalFromBytes(got); back.Int64() != v {
			t.Errorf("round trip of %d gave %d", v, back)
		}
	}
}

func TestDateAndTimeEncodings(t *testing.T) {
	d := time.Date(2024, 2, 29, 0, 0, 0, 0, time.UTC)
	if got := DateDays(d); got != 19782 {
		t.Fatalf("DateDays = %d", got)
	}
	if !DateFromDays(19782).Equal(d) {
		t.Fatal("DateFromDays")
	}
	if got := DateDays(time.Date(1969, 12, 31, 0, 0, 0, 0, time.UTC)); got != -1 {
		t.Fatalf("pre-epoch day = %d", got)
	}
	tm := time.Date(1970, 1, 1, 13, 14, 15, 16e6, time.UTC)
	if got := TimeMillis(tm); got != 47655016 {
		t.Fatalf("TimeMillis = %d", got)
	}
	if !TimeFromMillis(47655016).Equal(tm) {
		t.Fatal("TimeFromMillis")
	}
}

func TestLogicalTypeValues(t *testing.T) {
	if err := TimestampSchema().Validate(time.Now()); err != nil {
		t.Fatal(err)
	}
	if err := TimestampSchema().Validate(int64(1)); err == nil {
		t.Fatal("raw int64 accepted as Timestamp value")
	}
	if sc, err := DecimalSchema(4).Scale(); err != nil || sc != 4 {
		t.Fatalf("Scale = %d, %v", sc, err)
	}
}

func TestSchemaEqualAndString(t *testing.T) {
	a := NewStructSchema("x", F("id", Int32Schema), F("m", MapOf(StringSchema, OptionalInt64Schema)))
	b := NewStructSchema("x", F("id", Int32Schema), F("m", MapOf(StringSchema, OptionalInt64Schema)))
	if !Equal(a, b) {
		t.Fatal("equal schemas differ")
	}
	c := NewStructSchema("x", F("id", Int64Schema), F("m", MapOf(StringSchema, OptionalInt64Schema)))
	if Equal(a, c) {
		t.Fatal("different field types compare equal")
	}
	if got := a.String(); got != "struct<id:int32,m:map<string,int64?>>" {
		t.Fatalf("String = %s", got)
	}
}

func TestHeadersAndClone(t *testing.T) {
	r := &Record{Topic: "t"}
	r.Headers.Add("a", nil, "1")
	r.Headers.Add("b", nil, "2")
	r.Headers.Add("a", nil, "3")
	if h, ok := r.Headers.Last("a"); !ok || h.Value != "3" {
		t.Fatalf("Last = %v %v", h, ok)
	}
	c := r.Clone()
	c.Headers.Remove("a")
	if len(c.Headers) != 1 || len(r.Headers) != 3 {
		t.Fatalf("clone shares headers: clone %d, original %d", len(c.Headers), len(r.Headers))
	}
}

func TestNewStructsAreIndependent(t *testing.T) {
	s := NewStructSchema("", F("a", Int32Schema), F("b", OptionalStringSchema))
	batch := NewStructs(s, 3)
	for i := range batch {
		if err := batch[i].Set("a", int32(i)); err != nil {
			t.Fatal(err)
		}
	}
	for i := range batch {
		if got := batch[i].Get("a"); got != int32(i) {
			t.Fatalf("struct %d has a=%v", i, got)
		}
		if batch[i].Get("b") != nil || batch[i].Schema() != s {
			t.Fatalf("struct %d: %v", i, batch[i].String())
		}
	}
}
