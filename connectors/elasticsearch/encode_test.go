package elasticsearch

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/penstockhq/penstock/connect"
	names "github.com/penstockhq/penstock/internal/debeziumnames"
)

func testSettings(t *testing.T, extra map[string]string) *settings {
	t.Helper()
	props := map[string]string{ConnectionURLConfig: "http://127.0.0.1:1"}
	for k, v := range extra {
		props[k] = v
	}
	s, err := parseSettings(props)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestIDString(t *testing.T) {
	one := connect.NewStructSchema("k", connect.F("id", connect.Int64Schema))
	k1 := connect.NewStruct(one)
	_ = k1.Set("id", int64(42))
	two := connect.NewStructSchema("k", connect.F("b", connect.StringSchema), connect.F("a", connect.Int32Schema))
	k2 := connect.NewStruct(two)
	_ = k2.Set("b", "x\"y")
	_ = k2.Set("a", int32(7))
	cases := []struct {
		name string
		s    *connect.Schema
		v    any
		want string
	}{
		{"string", connect.StringSchema, "abc", "abc"},
		{"int", connect.Int32Schema, int32(-5), "-5"},
		{"float", nil, 1.5, "1.5"},
		{"bytes", connect.BytesSchema, []byte{1, 2}, "AQI="},
		{"single-field struct", one, k1, "42"},
		{"struct sorted", two, k2, `{"a":7,"b":"x\"y"}`},
		{"single-entry map", nil, map[string]any{"id": 9.0}, "9"},
		{"map sorted", nil, map[string]any{"z": 1.0, "a": "q"}, `{"a":"q","z":1}`},
		{"decimal", connect.DecimalSchema(2), connect.NewDecimal(12345, 2), "123.45"},
		{"date", connect.DateSchema(), time.Date(2024, 2, 3, 0, 0, 0, 0, time.UTC), "2024-02-03"},
	}
	for _, c := range cases {
		got, err := idString(c.s, c.v)
		if err != nil || got != c.want {
			t.Errorf("%s: idString = %q, %v; want %q", c.name, got, err, c.want)
		}
	}
	if _, err := idString(nil, nil); err == nil {
		t.Error("null key: want error")
	}
}

func TestValueEncoding(t *testing.T) {
	inner := connect.NewStructSchema("in", connect.F("x", connect.OptionalInt32Schema))
	s := connect.NewStructSchema("v",
		connect.F("s", connect.StringSchema),
		connect.F("dec", connect.DecimalSchema(3)),
		connect.F("ts", connect.TimestampSchema()),
		connect.F("d", connect.DateSchema()),
		connect.F("t", connect.TimeSchema()),
		connect.F("b", connect.BytesSchema),
		connect.F("arr", connect.ArrayOf(connect.Int16Schema)),
		connect.F("m", connect.MapOf(connect.StringSchema, connect.Float64Schema)),
		connect.F("in", inner),
		connect.F("opt", connect.OptionalStringSchema),
		connect.F("dbzts", &connect.Schema{Type: connect.TypeInt64, Name: names.MicroTimestamp}),
	)
	in := connect.NewStruct(inner)
	_ = in.Set("x", int32(1))
	v := connect.NewStruct(s)
	ts := time.Date(2024, 5, 6, 7, 8, 9, 10_000_000, time.UTC)
	for k, x := range map[string]any{
		"s": "é\n\x01<", "dec": connect.NewDecimal(-1005, 3), "ts": ts, "d": ts, "t": ts,
		"b": []byte("hi"), "arr": []any{int16(1), int16(2)}, "m": map[string]any{"b": 2.5, "a": 1.0},
		"in": in, "dbzts": int64(1_700_000_000_123_456),
	} {
		if err := v.Set(k, x); err != nil {
			t.Fatal(k, err)
		}
	}
	got, err := appendValue(nil, s, v)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"s":"é\n\u0001<","dec":-1.005,"ts":1714979289010,"d":"2024-05-06","t":"07:08:09.010","b":"aGk=","arr":[1,2],"m":{"a":1,"b":2.5},"in":{"x":1},"opt":null,"dbzts":"2023-11-14T22:13:20.123456Z"}`
	if string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if !json.Valid(got) {
		t.Error("not valid JSON")
	}
	// Schemaless maps come out as they are, keys sorted.
	got, err = appendValue(nil, nil, map[string]any{"b": []any{true, nil}, "a": json.Number("1.50")})
	if err != nil || string(got) != `{"a":1.50,"b":[true,null]}` {
		t.Errorf("schemaless: %s, %v", got, err)
	}
	if _, err := appendValue(nil, nil, map[string]any{"nan": func() float64 { z := 0.0; return z / z }()}); err == nil {
		t.Error("NaN: want error")
	}
}

func envelopeSchema() (key, row, env *connect.Schema) {
	key = connect.NewStructSchema("srv.public.t.Key", connect.F("id", connect.Int32Schema))
	row = connect.NewStructSchema("srv.public.t.Value",
		connect.F("id", connect.Int32Schema), connect.F("name", connect.OptionalStringSchema), connect.F("note", connect.OptionalStringSchema))
	env = connect.NewStructSchema("srv.public.t.Envelope",
		connect.F("before", connect.OptionalOf(row)), connect.F("after", connect.OptionalOf(row)),
		connect.F("source", connect.OptionalStringSchema), connect.F("op", connect.StringSchema))
	return
}

func envelopeRecord(offset int64, op string, id int32, name, note string) *connect.Record {
	ks, _, es := envelopeSchema()
	af, _ := es.Field("after")
	rs := af.Schema
	k := connect.NewStruct(ks)
	_ = k.Set("id", id)
	e := connect.NewStruct(es)
	_ = e.Set("op", op)
	if op != "d" {
		r := connect.NewStruct(rs)
		_ = r.Set("id", id)
		_ = r.Set("name", name)
		_ = r.Set("note", note)
		if err := e.Set("after", r); err != nil {
			panic(err)
		}
	}
	return &connect.Record{Topic: "srv.public.t", Partition: 0, Offset: offset, KeySchema: ks, Key: k, ValueSchema: es, Value: e}
}

func TestConvertEnvelopeAndToast(t *testing.T) {
	s := testSettings(t, nil)
	c, err := s.convert(envelopeRecord(10, "c", 1, "a", "long text"))
	if err != nil || c.op.act != actIndex || c.op.id != "1" || !c.op.versioned || c.op.version != 10 || c.op.index != "srv.public.t" {
		t.Fatalf("create: %+v, %v", c.op, err)
	}
	if got := string(c.op.body()); got != `{"id":1,"name":"a","note":"long text"}` {
		t.Errorf("create body %s", got)
	}
	// Unchanged TOAST column: placeholder value.
	c, err = s.convert(envelopeRecord(11, "u", 1, "b", UnavailableValuePlaceholder))
	if err != nil || c.op.act != actIndex || !c.op.partial || !c.op.versioned || c.op.version != 11 {
		t.Fatalf("toast update: %+v, %v", c.op, err)
	}
	if got := string(c.op.body()); got != `{"id":1,"name":"b"}` {
		t.Errorf("toast body %s", got)
	}
	// Unchanged TOAST column named by the header only.
	rec := envelopeRecord(12, "u", 1, "c", "")
	rec.Headers.Add(UnavailableColumnsHeader, connect.StringSchema, "note, other")
	c, _ = s.convert(rec)
	if got := string(c.op.body()); !c.op.partial || got != `{"id":1,"name":"c"}` {
		t.Errorf("header toast body %s", got)
	}
	c, err = s.convert(envelopeRecord(13, "d", 1, "", ""))
	if err != nil || c.op.act != actDelete || c.op.id != "1" || c.op.version != 13 || c.op.body() != nil {
		t.Fatalf("delete: %+v, %v", c.op, err)
	}
	// An index followed by a partial update collapses to an index of the merged document.
	a, _ := s.convert(envelopeRecord(20, "c", 2, "x", "keep"))
	b, _ := s.convert(envelopeRecord(21, "u", 2, "y", UnavailableValuePlaceholder))
	m := collapse(a.op, b.op)
	if m.act != actIndex || m.partial || m.version != 21 || string(m.body()) != `{"id":2,"name":"y","note":"keep"}` || len(m.recs) != 2 {
		t.Errorf("collapse: %s %d %s", m.act, m.version, m.body())
	}
	// A partial update after a delete is the whole document: nothing to merge into.
	del, _ := s.convert(envelopeRecord(23, "d", 3, "", ""))
	p, _ := s.convert(envelopeRecord(24, "u", 3, "z", UnavailableValuePlaceholder))
	if m := collapse(del.op, p.op); m.act != actIndex || m.partial || m.version != 24 || string(m.body()) != `{"id":3,"name":"z"}` {
		t.Errorf("collapse delete then partial: %s partial=%v %d %s", m.act, m.partial, m.version, m.body())
	}
	// A delete after anything wins.
	d, _ := s.convert(envelopeRecord(22, "d", 2, "", ""))
	if m2 := collapse(m, d.op); m2.act != actDelete || m2.version != 22 || len(m2.recs) != 3 {
		t.Errorf("collapse delete: %+v", m2)
	}
}

func TestConvertNullsKeysAndIndexNames(t *testing.T) {
	tomb := &connect.Record{Topic: "Orders", Partition: 3, Offset: 7, Key: "k1"}
	if _, err := testSettings(t, nil).convert(tomb); err == nil || !strings.Contains(err.Error(), "Orders/3@7") {
		t.Errorf("FAIL tombstone: %v", err)
	}
	c, err := testSettings(t, map[string]string{NullValuesConfig: "ignore"}).convert(tomb)
	if err != nil || c.op != nil {
		t.Errorf("IGNORE tombstone: %+v %v", c.op, err)
	}
	c, err = testSettings(t, map[string]string{NullValuesConfig: "DELETE"}).convert(tomb)
	if err != nil || c.op.act != actDelete || c.op.id != "k1" || c.op.index != "orders" {
		t.Errorf("DELETE tombstone: %+v %v", c.op, err)
	}
	flat := &connect.Record{Topic: "Orders", Partition: 3, Offset: 8, Value: map[string]any{"a": 1.0}}
	c, err = testSettings(t, map[string]string{KeyIgnoreConfig: "true", IndexNameFormatConfig: "cdc-${topic}"}).convert(flat)
	if err != nil || c.op.id != "Orders+3+8" || c.op.versioned || c.op.index != "cdc-orders" {
		t.Errorf("key.ignore: %+v %v", c.op, err)
	}
	c, _ = testSettings(t, map[string]string{TopicIndexMapConfig: "Orders:o1,x:y", WriteMethodConfig: "upsert"}).convert(&connect.Record{Topic: "Orders", Key: "k", Value: map[string]any{"a": 1.0}})
	if c.op.index != "o1" || c.op.act != actIndex || !c.op.partial || !c.op.versioned || string(c.op.body()) != `{"a":1}` {
		t.Errorf("topic.index.map + UPSERT: %+v %s", c.op, c.op.body())
	}
	if _, err := testSettings(t, nil).convert(flat); err == nil || !strings.Contains(err.Error(), "key") {
		t.Errorf("null key: %v", err)
	}
	if _, err := testSettings(t, nil).convert(&connect.Record{Topic: "t", Key: "k", Value: "scalar"}); err == nil {
		t.Error("scalar value: want error")
	}
}

func TestValidation(t *testing.T) {
	for _, props := range []map[string]string{
		{ConnectionURLConfig: "localhost:9200"},
		{ConnectionURLConfig: "http://h", DataStreamTypeConfig: "LOGS"},
		{ConnectionURLConfig: "http://h", SecurityProtocolConfig: "SSL", SSLTruststoreLocationConfig: "/x.jks", SSLTruststoreTypeConfig: "JKS"},
		{ConnectionURLConfig: "http://h", TopicIndexMapConfig: "nocolon"},
		{ConnectionURLConfig: "http://h", NullValuesConfig: "drop"},
	} {
		if _, err := parseSettings(props); err == nil {
			t.Errorf("%v: want error", props)
		}
	}
}

func TestTracker(t *testing.T) {
	var tr tracker
	for _, o := range []int64{5, 6, 9, 12} {
		tr.add(o)
	}
	tr.done(6)
	tr.done(9)
	if f, _ := tr.firstOutstanding(); f != 5 {
		t.Fatalf("first %d", f)
	}
	tr.done(5)
	if f, _ := tr.firstOutstanding(); f != 12 {
		t.Fatalf("first %d", f)
	}
	tr.add(7) // rewind
	if f, _ := tr.firstOutstanding(); f != 7 {
		t.Fatalf("first after rewind %d", f)
	}
	if tr.done(8) {
		t.Error("done of untracked offset")
	}
	tr.done(7)
	tr.done(12)
	if _, ok := tr.firstOutstanding(); ok || tr.pending != 0 {
		t.Errorf("not empty: %+v", tr)
	}
}
