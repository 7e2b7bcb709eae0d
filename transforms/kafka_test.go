package transforms

import (
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/penstockhq/penstock/connect"
)

var personSchema = connect.NewStructSchema("shop.Person",
	connect.F("id", connect.Int32Schema),
	connect.F("name", connect.StringSchema),
	connect.F("ssn", connect.OptionalStringSchema),
	connect.F("age", connect.OptionalInt32Schema),
	connect.F("city", connect.OptionalStringSchema),
)

func person(t testing.TB) *connect.Struct {
	return mkStruct(t, personSchema, "id", int32(1), "name", "Ann", "ssn", "123-45-6789", "age", int32(42), "city", "Oslo")
}

func personMap() map[string]any {
	return map[string]any{"id": int32(1), "name": "Ann", "ssn": "123-45-6789", "age": int32(42), "city": "Oslo"}
}

func TestInsertField(t *testing.T) {
	// Kafka Connect's documentation example: a static field on a schemaless value.
	tr := newT(t, "org.apache.kafka.connect.transforms.InsertField$Value",
		map[string]string{"static.field": "data_source", "static.value": "test-file-source"})
	out := apply(t, tr, sinkRec(nil, nil, nil, map[string]any{"line": "x"}))
	wantValue(t, out.Value, map[string]any{"line": "x", "data_source": "test-file-source"})

	props := map[string]string{"topic.field": "topic!", "partition.field": "part", "offset.field": "off?", "timestamp.field": "ts"}
	tr = newT(t, "InsertField$Value", props)
	in := sinkRec(nil, nil, personSchema, person(t))
	out = apply(t, tr, in)
	if got := fieldNames(out.ValueSchema); !strings.HasSuffix(got, "topic:string,part:int32?,off:int64?,ts:int64(org.apache.kafka.connect.data.Timestamp)?") {
		t.Fatalf("schema %s", got)
	}
	st := out.Value.(*connect.Struct)
	if st.Get("topic") != "orders" || st.Get("part") != int32(2) || st.Get("off") != int64(42) ||
		!st.Get("ts").(time.Time).Equal(time.UnixMilli(1700000000123)) || st.Get("name") != "Ann" {
		t.Fatalf("inserted %s", st)
	}
	if err := st.Validate(); err != nil {
		t.Fatal(err)
	}
	if in.ValueSchema != personSchema || in.Value.(*connect.Struct).Schema() != personSchema {
		t.Fatal("input record changed")
	}
	// The schema is built once per input schema.
	out2 := apply(t, tr, sinkRec(nil, nil, personSchema, person(t)))
	if out2.ValueSchema != out.ValueSchema {
		t.Fatal("schema not cached")
	}
	// Schemaless: timestamp as epoch milliseconds.
	out = apply(t, tr, sinkRec(nil, nil, nil, personMap()))
	m := out.Value.(map[string]any)
	if m["topic"] != "orders" || m["part"] != int32(2) || m["off"] != int64(42) || m["ts"] != int64(1700000000123) {
		t.Fatalf("schemaless %v", m)
	}
	// Key variant, tombstone passes.
	kt := newT(t, "org.apache.kafka.connect.transforms.InsertField$Key", map[string]string{"topic.field": "t"})
	out = apply(t, kt, sinkRec(nil, map[string]any{"id": 1}, nil, nil))
	wantValue(t, out.Key, map[string]any{"id": 1, "t": "orders"})
	if out.Value != nil {
		t.Fatal("value touched")
	}
	tomb := sinkRec(nil, nil, nil, nil)
	if apply(t, tr, tomb) != tomb {
		t.Fatal("tombstone not passed through")
	}
	// Errors: offset on a source record, a non-map value.
	src := &connect.Record{Topic: "t", SourceOffset: map[string]any{"pos": 1}, Value: map[string]any{}}
	_, err := tr.Apply(src)
	wantRecordErr(t, err, "InsertField$Value", `"off"`)
	_, err = tr.Apply(sinkRec(nil, nil, nil, "text"))
	wantRecordErr(t, err, "InsertField$Value", "map", "string")
	// A required field without a value.
	rt := newT(t, "InsertField$Value", map[string]string{"timestamp.field": "ts!"})
	r := sinkRec(nil, nil, personSchema, person(t))
	r.Timestamp = time.Time{}
	_, err = rt.Apply(r)
	wantRecordErr(t, err, `"ts"`)
}

func TestReplaceField(t *testing.T) {
	cases := []struct {
		name  string
		props map[string]string
		want  map[string]any
	}{
		{"exclude", map[string]string{"exclude": "ssn,age"}, map[string]any{"id": int32(1), "name": "Ann", "city": "Oslo"}},
		{"include", map[string]string{"include": "id,name"}, map[string]any{"id": int32(1), "name": "Ann"}},
		{"renames", map[string]string{"include": "id,name", "renames": "name:full_name, id:person_id"}, map[string]any{"person_id": int32(1), "full_name": "Ann"}},
		{"exclude wins", map[string]string{"include": "id,name", "exclude": "name"}, map[string]any{"id": int32(1)}},
		{"blacklist alias", map[string]string{"blacklist": "ssn,age,city"}, map[string]any{"id": int32(1), "name": "Ann"}},
		{"whitelist alias", map[string]string{"whitelist": "city"}, map[string]any{"city": "Oslo"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tr := newT(t, "org.apache.kafka.connect.transforms.ReplaceField$Value", c.props)
			out := apply(t, tr, sinkRec(nil, nil, personSchema, person(t)))
			wantValue(t, out.Value, c.want)
			if out.ValueSchema.Name != "shop.Person" {
				t.Fatal("schema name lost")
			}
			if err := out.Value.(*connect.Struct).Validate(); err != nil {
				t.Fatal(err)
			}
			out = apply(t, tr, sinkRec(nil, nil, nil, personMap()))
			wantValue(t, out.Value, c.want)
		})
	}
	wantErrContains(t, configErr(t, "ReplaceField$Value", map[string]string{"renames": "a:b,c"}), "ReplaceField$Value", "renames", "Invalid rename mapping: c")
	tr := newT(t, "ReplaceField$Key", map[string]string{"renames": "id:key_id"})
	out := apply(t, tr, sinkRec(keySchemaFor(), mkStruct(t, keySchemaFor(), "id", int32(3)), nil, nil))
	wantValue(t, out.Key, map[string]any{"key_id": int32(3)})
	// A rename onto an existing name is an error, not a panic.
	tr = newT(t, "ReplaceField$Value", map[string]string{"renames": "id:name"})
	_, err := tr.Apply(sinkRec(nil, nil, personSchema, person(t)))
	wantRecordErr(t, err, "duplication")
}

func keySchemaFor() *connect.Schema {
	return connect.NewStructSchema("k", connect.F("id", connect.Int32Schema))
}

func TestMaskField(t *testing.T) {
	tr := newT(t, "org.apache.kafka.connect.transforms.MaskField$Value", map[string]string{"fields": "ssn,age"})
	out := apply(t, tr, sinkRec(nil, nil, personSchema, person(t)))
	wantValue(t, out.Value, map[string]any{"id": int32(1), "name": "Ann", "ssn": "", "age": int32(0), "city": "Oslo"})
	out = apply(t, tr, sinkRec(nil, nil, nil, personMap()))
	wantValue(t, out.Value, map[string]any{"id": int32(1), "name": "Ann", "ssn": "", "age": int32(0), "city": "Oslo"})

	tr = newT(t, "MaskField$Value", map[string]string{"fields": "ssn", "replacement": "***-**-****"})
	out = apply(t, tr, sinkRec(nil, nil, personSchema, person(t)))
	if out.Value.(*connect.Struct).Get("ssn") != "***-**-****" {
		t.Fatal(out.Value)
	}
	tr = newT(t, "MaskField$Value", map[string]string{"fields": "age", "replacement": "99"})
	out = apply(t, tr, sinkRec(nil, nil, nil, personMap()))
	if out.Value.(map[string]any)["age"] != int32(99) {
		t.Fatal(out.Value)
	}
	tr = newT(t, "MaskField$Value", map[string]string{"fields": "age", "replacement": "n/a"})
	_, err := tr.Apply(sinkRec(nil, nil, personSchema, person(t)))
	wantRecordErr(t, err, `"age"`, "n/a")
	// Decimal, dates, bytes, arrays.
	s := connect.NewStructSchema("", connect.F("d", connect.DecimalSchema(2)), connect.F("t", connect.TimestampSchema()),
		connect.F("b", connect.BytesSchema), connect.F("a", connect.ArrayOf(connect.Int32Schema)))
	v := mkStruct(t, s, "d", connect.NewDecimal(1234, 2), "t", time.Now(), "b", []byte("x"), "a", []any{int32(1)})
	out = apply(t, newT(t, "MaskField$Value", map[string]string{"fields": "d,t,b,a"}), sinkRec(nil, nil, s, v))
	got := out.Value.(*connect.Struct)
	if got.Get("d").(connect.Decimal).String() != "0.00" || !got.Get("t").(time.Time).Equal(time.Unix(0, 0)) ||
		len(got.Get("b").([]byte)) != 0 || len(got.Get("a").([]any)) != 0 {
		t.Fatal(got)
	}
	if err := got.Validate(); err != nil {
		t.Fatal(err)
	}
	wantErrContains(t, configErr(t, "MaskField$Value", map[string]string{}), "MaskField$Value", "fields")
}

func TestValueToKey(t *testing.T) {
	tr := newT(t, "org.apache.kafka.connect.transforms.ValueToKey", map[string]string{"fields": "id,city"})
	out := apply(t, tr, sinkRec(nil, nil, personSchema, person(t)))
	wantValue(t, out.Key, map[string]any{"id": int32(1), "city": "Oslo"})
	if fieldNames(out.KeySchema) != "id:int32,city:string?" {
		t.Fatal(fieldNames(out.KeySchema))
	}
	out = apply(t, tr, sinkRec(nil, nil, nil, personMap()))
	wantValue(t, out.Key, map[string]any{"id": int32(1), "city": "Oslo"})
	tr = newT(t, "ValueToKey", map[string]string{"fields": "id,nope"})
	_, err := tr.Apply(sinkRec(nil, nil, personSchema, person(t)))
	wantRecordErr(t, err, "ValueToKey", `"nope"`)
}

func TestExtractField(t *testing.T) {
	// Kafka Connect's documentation example: {"id": 42, "name": "x"} with field=id gives 42.
	tr := newT(t, "org.apache.kafka.connect.transforms.ExtractField$Key", map[string]string{"field": "id"})
	out := apply(t, tr, sinkRec(nil, map[string]any{"id": 42, "name": "x"}, nil, nil))
	if out.Key != 42 {
		t.Fatal(out.Key)
	}
	out = apply(t, tr, sinkRec(keySchemaFor(), mkStruct(t, keySchemaFor(), "id", int32(42)), nil, nil))
	if out.Key != int32(42) || out.KeySchema != connect.Int32Schema {
		t.Fatal(out.Key, out.KeySchema)
	}
	// V2 nested paths, on an envelope and on maps.
	tr = newT(t, "ExtractField$Value", map[string]string{"field": "after.first_name", "field.syntax.version": "V2"})
	out = apply(t, tr, change(t, "c", nil, row(t, 1, "Ann")))
	if out.Value != "Ann" || out.ValueSchema != connect.OptionalStringSchema {
		t.Fatal(out.Value, out.ValueSchema)
	}
	out = apply(t, tr, changeMap("c", nil, rowMap(1, "Ann")))
	if out.Value != "Ann" {
		t.Fatal(out.Value)
	}
	out = apply(t, tr, changeMap("d", rowMap(1, "Ann"), nil))
	if out.Value != nil {
		t.Fatal(out.Value)
	}
	tr = newT(t, "ExtractField$Value", map[string]string{"field": "`a.b`.c", "field.syntax.version": "V2"})
	out = apply(t, tr, sinkRec(nil, nil, nil, map[string]any{"a.b": map[string]any{"c": "deep"}}))
	if out.Value != "deep" {
		t.Fatal(out.Value)
	}
	// V1 takes dots literally.
	tr = newT(t, "ExtractField$Value", map[string]string{"field": "a.b"})
	out = apply(t, tr, sinkRec(nil, nil, nil, map[string]any{"a.b": 1}))
	if out.Value != 1 {
		t.Fatal(out.Value)
	}
	tr = newT(t, "ExtractField$Value", map[string]string{"field": "after.nope", "field.syntax.version": "V2"})
	_, err := tr.Apply(change(t, "c", nil, row(t, 1, "Ann")))
	wantRecordErr(t, err, "ExtractField$Value", "after.nope")
	wantErrContains(t, configErr(t, "ExtractField$Value", map[string]string{"field": "a.", "field.syntax.version": "V2"}), "field")
	wantErrContains(t, configErr(t, "ExtractField$Value", map[string]string{"field": "a", "field.syntax.version": "V3"}), "field.syntax.version")
	for in, want := range map[string]string{"a.b.c": "a|b|c", "`a.b`.c": "a.b|c", "`a\\`b`": "a`b", "a": "a"} {
		p, err := parseFieldPath(in)
		if err != nil || strings.Join(p, "|") != want {
			t.Errorf("parseFieldPath(%q) = %q, %v; want %q", in, p, err, want)
		}
	}
}

func TestHoistField(t *testing.T) {
	tr := newT(t, "org.apache.kafka.connect.transforms.HoistField$Value", map[string]string{"field": "line"})
	out := apply(t, tr, sinkRec(nil, nil, nil, "hello"))
	wantValue(t, out.Value, map[string]any{"line": "hello"})
	out = apply(t, tr, sinkRec(nil, nil, connect.StringSchema, "hello"))
	if fieldNames(out.ValueSchema) != "line:string" || out.Value.(*connect.Struct).Get("line") != "hello" {
		t.Fatal(out.Value)
	}
}

func TestCast(t *testing.T) {
	s := connect.NewStructSchema("m", connect.F("price", connect.StringSchema), connect.F("qty", connect.Float64Schema),
		connect.F("flag", connect.BooleanSchema), connect.F("d", connect.OptionalOf(connect.DecimalSchema(2))),
		connect.F("ts", connect.TimestampSchema()), connect.F("b", connect.BytesSchema))
	v := mkStruct(t, s, "price", "12.5", "qty", 3.99, "flag", true, "d", connect.NewDecimal(-1250, 2),
		"ts", time.UnixMilli(1700000000123), "b", []byte("hi"))
	tr := newT(t, "org.apache.kafka.connect.transforms.Cast$Value",
		map[string]string{"spec": "price:float64,qty:int32,flag:int8,d:string,ts:string,b:string"})
	out := apply(t, tr, sinkRec(nil, nil, s, v))
	wantValue(t, out.Value, map[string]any{"price": 12.5, "qty": int32(3), "flag": int8(1), "d": "-12.50",
		"ts": "2023-11-14T22:13:20.123Z", "b": "aGk="})
	if fieldNames(out.ValueSchema) != "price:double,qty:int32,flag:int8,d:string?,ts:string,b:string" {
		t.Fatal(fieldNames(out.ValueSchema))
	}
	if err := out.Value.(*connect.Struct).Validate(); err != nil {
		t.Fatal(err)
	}
	// Schemaless JSON numbers, Java's toString of doubles.
	tr = newT(t, "Cast$Value", map[string]string{"spec": "a:string,b:string,c:int64,d:boolean,e:float32"})
	out = apply(t, tr, sinkRec(nil, nil, nil, map[string]any{"a": 1.0, "b": 1e10, "c": "77", "d": "TRUE", "e": 2.5, "f": "x"}))
	wantValue(t, out.Value, map[string]any{"a": "1.0", "b": "1.0E10", "c": int64(77), "d": true, "e": float32(2.5), "f": "x"})
	// Whole value.
	tr = newT(t, "Cast$Key", map[string]string{"spec": "int64"})
	out = apply(t, tr, sinkRec(connect.Int32Schema, int32(5), nil, nil))
	if out.Key != int64(5) || out.KeySchema.Type != connect.TypeInt64 {
		t.Fatal(out.Key, out.KeySchema)
	}
	// Errors.
	_, err := newT(t, "Cast$Value", map[string]string{"spec": "price:int32"}).Apply(sinkRec(nil, nil, nil, map[string]any{"price": "12.5"}))
	wantRecordErr(t, err, "Cast$Value", `"price"`, "12.5")
	wantErrContains(t, configErr(t, "Cast$Value", map[string]string{"spec": "a:int128"}), "Cast$Value", "spec", "Invalid type found in casting spec: int128")
	wantErrContains(t, configErr(t, "Cast$Value", map[string]string{"spec": "a"}), "spec")
	ns := connect.NewStructSchema("", connect.F("n", connect.NewStructSchema("", connect.F("x", connect.Int32Schema))))
	_, err = newT(t, "Cast$Value", map[string]string{"spec": "n:string"}).Apply(sinkRec(nil, nil, ns, connect.NewStruct(ns)))
	wantRecordErr(t, err, `"n"`, "STRUCT")
	if got := javaFloatString(0.0001, 64); got != "1.0E-4" {
		t.Fatal(got)
	}
	if got := javaFloatString(123.25, 64); got != "123.25" {
		t.Fatal(got)
	}
	if _, err := castValue(nil, connect.TypeInt64, connect.Decimal{Unscaled: big.NewInt(1999), Scale: 2}); err != nil {
		t.Fatal(err)
	}
}

func TestJavaDateFormat(t *testing.T) {
	ts := time.Date(2024, 1, 31, 7, 8, 9, 45e6, time.UTC)
	cases := []struct{ pattern, text string }{
		{"yyyyMMdd", "20240131"},
		{"yyyy-MM-dd'T'HH:mm:ss.SSSZ", "2024-01-31T07:08:09.045+0000"},
		{"yyyy-MM-dd'T'HH:mm:ss.SSSXXX", "2024-01-31T07:08:09.045Z"},
		{"yyyy-MM-dd HH:mm:ssSSS", "2024-01-31 07:08:09045"},
		{"dd MMM yyyy hh:mm a", "31 Jan 2024 07:08 AM"},
		{"EEEE, MMMM d, ''yy", "Wednesday, January 31, '24"},
		{"yyyy.DDD", "2024.031"},
	}
	for _, c := range cases {
		f, err := parseJavaDateFormat(c.pattern)
		if err != nil {
			t.Fatalf("%s: %v", c.pattern, err)
		}
		want := ts
		if !strings.Contains(c.pattern, "s") {
			want = ts.Truncate(time.Minute)
		}
		if !strings.Contains(c.pattern, "H") && !strings.Contains(c.pattern, "h") {
			want = ts.Truncate(24 * time.Hour)
		}
		if got := f.format(want); got != c.text {
			t.Errorf("format %q = %q, want %q", c.pattern, got, c.text)
		}
		back, err := f.parse(c.text)
		if err != nil || !back.Equal(want) {
			t.Errorf("parse %q with %q = %v, %v; want %v", c.text, c.pattern, back, err, want)
		}
	}
	f, _ := parseJavaDateFormat("yyyy-MM-dd'T'HH:mm:ssXXX")
	got, err := f.parse("2024-01-31T09:08:09+02:00")
	if err != nil || !got.Equal(time.Date(2024, 1, 31, 7, 8, 9, 0, time.UTC)) {
		t.Fatal(got, err)
	}
	for _, bad := range []string{"yyyy-MM-dd'T", "yyyy-bb", "ww"} {
		if _, err := parseJavaDateFormat(bad); err == nil {
			t.Errorf("pattern %q accepted", bad)
		}
	}
	if _, err := f.parse("2024-01-31"); err == nil {
		t.Fatal("short input accepted")
	}
}

func TestTimestampConverter(t *testing.T) {
	s := connect.NewStructSchema("e", connect.F("id", connect.Int32Schema), connect.F("event_date", connect.OptionalStringSchema))
	v := mkStruct(t, s, "id", int32(1), "event_date", "2024-01-31 07:08:09")
	tr := newT(t, "org.apache.kafka.connect.transforms.TimestampConverter$Value",
		map[string]string{"field": "event_date", "target.type": "Timestamp", "format": "yyyy-MM-dd HH:mm:ss"})
	out := apply(t, tr, sinkRec(nil, nil, s, v))
	if fieldNames(out.ValueSchema) != "id:int32,event_date:int64(org.apache.kafka.connect.data.Timestamp)?" {
		t.Fatal(fieldNames(out.ValueSchema))
	}
	want := time.Date(2024, 1, 31, 7, 8, 9, 0, time.UTC)
	if got := out.Value.(*connect.Struct).Get("event_date").(time.Time); !got.Equal(want) {
		t.Fatal(got)
	}
	cases := []struct {
		props map[string]string
		in    any
		want  any
	}{
		{map[string]string{"target.type": "string", "format": "yyyy-MM-dd"}, int64(1706684889000), "2024-01-31"},
		{map[string]string{"target.type": "unix"}, "x", nil}, // string input without format: error
		{map[string]string{"target.type": "unix", "format": "yyyyMMdd"}, "20240131", int64(1706659200000)},
		{map[string]string{"target.type": "unix", "unix.precision": "seconds"}, want, int64(1706684889)},
		{map[string]string{"target.type": "Date"}, float64(1706684889000), time.Date(2024, 1, 31, 0, 0, 0, 0, time.UTC)},
		{map[string]string{"target.type": "Time"}, int64(1706684889000), time.Date(1970, 1, 1, 7, 8, 9, 0, time.UTC)},
		{map[string]string{"target.type": "Timestamp", "unix.precision": "microseconds"}, int64(1706684889000000), want},
	}
	for i, c := range cases {
		tr := newT(t, "TimestampConverter$Value", c.props)
		out, err := tr.Apply(sinkRec(nil, nil, nil, c.in))
		if c.want == nil {
			wantRecordErr(t, err, "TimestampConverter$Value", "format")
			continue
		}
		if err != nil {
			t.Fatalf("case %d: %v", i, err)
		}
		if tm, ok := c.want.(time.Time); ok {
			if !out.Value.(time.Time).Equal(tm) {
				t.Errorf("case %d: %v, want %v", i, out.Value, tm)
			}
		} else if out.Value != c.want {
			t.Errorf("case %d: %#v, want %#v", i, out.Value, c.want)
		}
	}
	// Whole schema'd value: Timestamp to string.
	tr = newT(t, "TimestampConverter$Value", map[string]string{"target.type": "string", "format": "yyyy-MM-dd'T'HH:mm:ss'Z'"})
	out = apply(t, tr, sinkRec(nil, nil, connect.TimestampSchema(), want))
	if out.Value != "2024-01-31T07:08:09Z" || out.ValueSchema.Type != connect.TypeString {
		t.Fatal(out.Value)
	}
	wantErrContains(t, configErr(t, "TimestampConverter$Value", map[string]string{"target.type": "string"}), "format")
	wantErrContains(t, configErr(t, "TimestampConverter$Value", map[string]string{"target.type": "Instant"}), "target.type")
	wantErrContains(t, configErr(t, "TimestampConverter$Value", map[string]string{"target.type": "string", "format": "yyyy-qq"}), "format", "Illegal pattern character 'q'")
}

func TestRegexRouter(t *testing.T) {
	cases := []struct{ regex, repl, topic, want string }{
		// Kafka Connect's documentation example.
		{`([^.]+)\.([^.]+)\.([^.]+)`, "$3", "dbserver1.inventory.customers", "customers"},
		{"(.*)-(.*)", "$2_$1", "a-b", "b_a"},
		{"(.*)", "$10", "x", "x0"}, // Java: group 1 then "0"
		{"(?<name>.*)", "p.${name}", "t", "p.t"},
		{"(.*)", `\$1-$1`, "t", "$1-t"},
		{"orders", "sales", "orders-eu", "orders-eu"}, // whole topic only
	}
	for _, c := range cases {
		tr := newT(t, "org.apache.kafka.connect.transforms.RegexRouter", map[string]string{"regex": c.regex, "replacement": c.repl})
		for i := 0; i < 2; i++ { // second time from the cache
			out := apply(t, tr, &connect.Record{Topic: c.topic})
			if out.Topic != c.want {
				t.Errorf("%s -> %s on %s = %s, want %s", c.regex, c.repl, c.topic, out.Topic, c.want)
			}
		}
	}
	wantErrContains(t, configErr(t, "RegexRouter", map[string]string{"regex": "(", "replacement": "x"}), "RegexRouter", "regex")
	wantErrContains(t, configErr(t, "RegexRouter", map[string]string{"regex": "(.*)", "replacement": "$2"}), "RegexRouter", "replacement", "No group 2")
	wantErrContains(t, configErr(t, "RegexRouter", map[string]string{"regex": "(.*)", "replacement": "${x}"}), "replacement", "No group with name {x}")
}

func TestTimestampRouter(t *testing.T) {
	tr := newT(t, "org.apache.kafka.connect.transforms.TimestampRouter", map[string]string{})
	out := apply(t, tr, sinkRec(nil, nil, nil, "v"))
	if out.Topic != "orders-20231114" {
		t.Fatal(out.Topic)
	}
	tr = newT(t, "TimestampRouter", map[string]string{"topic.format": "${timestamp}_${topic}", "timestamp.format": "yyyy.MM"})
	if out := apply(t, tr, sinkRec(nil, nil, nil, "v")); out.Topic != "2023.11_orders" {
		t.Fatal(out.Topic)
	}
	r := sinkRec(nil, nil, nil, "v")
	r.Timestamp = time.Time{}
	_, err := tr.Apply(r)
	wantRecordErr(t, err, "TimestampRouter", "timestamp")
}

func TestFlatten(t *testing.T) {
	addr := connect.OptionalOf(connect.NewStructSchema("Address", connect.F("city", connect.StringSchema),
		connect.F("geo", connect.NewStructSchema("", connect.F("lat", connect.Float64Schema)))))
	s := connect.NewStructSchema("P", connect.F("id", connect.Int32Schema), connect.F("address", addr),
		connect.F("tags", connect.ArrayOf(connect.StringSchema)))
	geo := connect.NewStruct(addr.Fields[1].Schema)
	geo.SetAt(0, 59.9)
	a := connect.NewStruct(addr)
	a.SetAt(0, "Oslo")
	a.SetAt(1, geo)
	v := mkStruct(t, s, "id", int32(1), "address", a, "tags", []any{"x"})
	tr := newT(t, "org.apache.kafka.connect.transforms.Flatten$Value", map[string]string{"delimiter": "_"})
	out := apply(t, tr, sinkRec(nil, nil, s, v))
	if got := fieldNames(out.ValueSchema); got != "id:int32,address_city:string?,address_geo_lat:double?,tags:array<string>" {
		t.Fatal(got)
	}
	wantValue(t, out.Value, map[string]any{"id": int32(1), "address_city": "Oslo", "address_geo_lat": 59.9, "tags": []any{"x"}})
	// A null optional struct gives null fields.
	v2 := mkStruct(t, s, "id", int32(2), "tags", []any{})
	out = apply(t, tr, sinkRec(nil, nil, s, v2))
	if err := out.Value.(*connect.Struct).Validate(); err != nil || out.Value.(*connect.Struct).Get("address_city") != nil {
		t.Fatal(err, out.Value)
	}
	tr = newT(t, "Flatten$Value", map[string]string{})
	out = apply(t, tr, sinkRec(nil, nil, nil, map[string]any{"id": 1, "address": map[string]any{"city": "Oslo", "geo": map[string]any{"lat": 59.9}}, "tags": []any{"x"}}))
	wantValue(t, out.Value, map[string]any{"id": 1, "address.city": "Oslo", "address.geo.lat": 59.9, "tags": []any{"x"}})
}

func TestSetSchemaMetadata(t *testing.T) {
	tr := newT(t, "org.apache.kafka.connect.transforms.SetSchemaMetadata$Value", map[string]string{"schema.name": "com.example.Person", "schema.version": "3"})
	out := apply(t, tr, sinkRec(nil, nil, personSchema, person(t)))
	if out.ValueSchema.Name != "com.example.Person" || out.ValueSchema.Version != 3 || personSchema.Name != "shop.Person" {
		t.Fatal(out.ValueSchema)
	}
	st := out.Value.(*connect.Struct)
	if st.Schema() != out.ValueSchema || st.Get("name") != "Ann" {
		t.Fatal(st)
	}
	if err := out.ValueSchema.Validate(st); err != nil {
		t.Fatal(err)
	}
	_, err := tr.Apply(sinkRec(nil, nil, nil, personMap()))
	wantRecordErr(t, err, "SetSchemaMetadata$Value", "schema")
	wantErrContains(t, configErr(t, "SetSchemaMetadata$Key", map[string]string{}), "Neither schema name nor version")
}

func TestHeaders(t *testing.T) {
	ins := newT(t, "org.apache.kafka.connect.transforms.InsertHeader", map[string]string{"header": "source", "value.literal": "penstock"})
	in := sinkRec(nil, nil, nil, "v")
	out := apply(t, ins, in)
	if h, ok := out.Headers.Last("source"); !ok || h.Value != "penstock" || h.Schema != connect.StringSchema || len(in.Headers) != 0 {
		t.Fatal(out.Headers)
	}
	out = apply(t, newT(t, "InsertHeader", map[string]string{"header": "n", "value.literal": "42"}), in)
	if h, _ := out.Headers.Last("n"); h.Value != int8(42) {
		t.Fatal(h)
	}
	in.Headers = connect.Headers{{Key: "a", Value: 1}, {Key: "b", Value: 2}, {Key: "a", Value: 3}}
	out = apply(t, newT(t, "org.apache.kafka.connect.transforms.DropHeaders", map[string]string{"headers": "a,c"}), in)
	if len(out.Headers) != 1 || out.Headers[0].Key != "b" || len(in.Headers) != 3 {
		t.Fatal(out.Headers, in.Headers)
	}
	// HeaderFrom: copy and move, schema'd and schemaless.
	hf := newT(t, "org.apache.kafka.connect.transforms.HeaderFrom$Value", map[string]string{"fields": "id,city", "headers": "pid,town", "operation": "move"})
	out = apply(t, hf, sinkRec(nil, nil, personSchema, person(t)))
	if fieldNames(out.ValueSchema) != "name:string,ssn:string?,age:int32?" {
		t.Fatal(fieldNames(out.ValueSchema))
	}
	if h, _ := out.Headers.Last("town"); h.Value != "Oslo" || h.Schema != connect.OptionalStringSchema {
		t.Fatal(out.Headers)
	}
	out = apply(t, hf, sinkRec(nil, nil, nil, personMap()))
	if _, has := out.Value.(map[string]any)["id"]; has {
		t.Fatal(out.Value)
	}
	if h, _ := out.Headers.Last("pid"); h.Value != int32(1) {
		t.Fatal(out.Headers)
	}
	hf = newT(t, "HeaderFrom$Value", map[string]string{"fields": "id", "headers": "pid", "operation": "copy"})
	out = apply(t, hf, sinkRec(nil, nil, personSchema, person(t)))
	if out.ValueSchema != personSchema {
		t.Fatal("copy changed the schema")
	}
	wantErrContains(t, configErr(t, "HeaderFrom$Value", map[string]string{"fields": "a,b", "headers": "x", "operation": "copy"}), "headers", "same number")
	wantErrContains(t, configErr(t, "HeaderFrom$Value", map[string]string{"fields": "a", "headers": "x", "operation": "steal"}), "operation")
}

func TestPredicates(t *testing.T) {
	_, pf := Factories()
	p, _ := pf("org.apache.kafka.connect.transforms.predicates.TopicNameMatches")
	if err := p.Configure(map[string]string{"pattern": "orders.*"}); err != nil {
		t.Fatal(err)
	}
	for topic, want := range map[string]bool{"orders": true, "orders-eu": true, "eu-orders": false} {
		for i := 0; i < 2; i++ {
			if p.Test(&connect.Record{Topic: topic}) != want {
				t.Errorf("TopicNameMatches(%s) != %v", topic, want)
			}
		}
	}
	if err := p.Configure(map[string]string{"pattern": "(["}); err == nil || !strings.Contains(err.Error(), "pattern") {
		t.Fatal(err)
	}
	h, _ := pf("HasHeaderKey")
	if err := h.Configure(map[string]string{"name": "trace"}); err != nil {
		t.Fatal(err)
	}
	if h.Test(&connect.Record{}) || !h.Test(&connect.Record{Headers: connect.Headers{{Key: "trace"}}}) {
		t.Fatal("HasHeaderKey")
	}
	tb, _ := pf("RecordIsTombstone")
	if !tb.Test(&connect.Record{}) || tb.Test(&connect.Record{Value: 1}) {
		t.Fatal("RecordIsTombstone")
	}
}
