package transforms

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/penstockhq/penstock/connect"
)

// newT makes and configures the transformation called class (any name).
func newT(t testing.TB, class string, props map[string]string) connect.Transformation {
	t.Helper()
	tf, _ := Factories()
	tr, err := tf(class)
	if err != nil {
		t.Fatal(err)
	}
	if err := tr.Configure(props); err != nil {
		t.Fatalf("configure %s %v: %v", class, props, err)
	}
	return tr
}

// configErr configures class with props and returns the error.
func configErr(t testing.TB, class string, props map[string]string) error {
	t.Helper()
	tf, _ := Factories()
	tr, err := tf(class)
	if err != nil {
		t.Fatal(err)
	}
	return tr.Configure(props)
}

func apply(t testing.TB, tr connect.Transformation, rec *connect.Record) *connect.Record {
	t.Helper()
	out, err := tr.Apply(rec)
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	return out
}

// sinkRec is a sink record of topic "orders" partition 2 offset 42.
func sinkRec(ks *connect.Schema, k any, vs *connect.Schema, v any) *connect.Record {
	return &connect.Record{Topic: "orders", Partition: 2, Offset: 42, KeySchema: ks, Key: k, ValueSchema: vs, Value: v,
		Timestamp: time.UnixMilli(1700000000123).UTC()}
}

// mkStruct builds a struct of s from name/value pairs.
func mkStruct(t testing.TB, s *connect.Schema, kv ...any) *connect.Struct {
	t.Helper()
	st := connect.NewStruct(s)
	for i := 0; i < len(kv); i += 2 {
		if err := st.Set(kv[i].(string), kv[i+1]); err != nil {
			t.Fatal(err)
		}
	}
	return st
}

// plain renders a value for comparison: structs as maps of field values
// (unset fields as nil) with their schema's field list, recursively.
func plain(v any) any {
	switch x := v.(type) {
	case *connect.Struct:
		if x == nil {
			return nil
		}
		m := map[string]any{}
		for i, f := range x.Schema().Fields {
			m[f.Name] = plain(x.GetAt(i))
		}
		return m
	case map[string]any:
		m := map[string]any{}
		for k, e := range x {
			m[k] = plain(e)
		}
		return m
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = plain(e)
		}
		return out
	}
	return v
}

func wantValue(t testing.TB, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(plain(got), plain(want)) {
		t.Fatalf("value\n got  %#v\n want %#v", plain(got), plain(want))
	}
}

// fieldNames lists a struct schema's fields as "name:type[?]".
func fieldNames(s *connect.Schema) string {
	var out []string
	for _, f := range s.Fields {
		out = append(out, f.Name+":"+f.Schema.String())
	}
	return strings.Join(out, ",")
}

// wantRecordErr checks err is a RecordError mentioning every want.
func wantRecordErr(t testing.TB, err error, want ...string) {
	t.Helper()
	var re *RecordError
	if !errors.As(err, &re) {
		t.Fatalf("want a *RecordError, got %v", err)
	}
	for _, w := range append(want, "topic", "offset") {
		if !strings.Contains(err.Error(), w) {
			t.Fatalf("error %q does not mention %q", err, w)
		}
	}
}

func wantErrContains(t testing.TB, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("want an error mentioning %v, got none", want)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Fatalf("error %q does not mention %q", err, w)
		}
	}
}

// Debezium-shaped schemas for tests and benchmarks.
var (
	rowSchema = connect.NewStructSchema("db.public.customers.Value",
		connect.F("id", connect.Int32Schema),
		connect.F("first_name", connect.OptionalStringSchema),
		connect.F("email", connect.OptionalStringSchema),
		connect.F("score", connect.OptionalFloat64Schema),
		connect.F("qty", connect.OptionalStringSchema),
		connect.F("region", connect.OptionalStringSchema),
	)
	sourceSchema = connect.NewStructSchema("io.debezium.connector.postgresql.Source",
		connect.F("version", connect.StringSchema),
		connect.F("connector", connect.StringSchema),
		connect.F("name", connect.StringSchema),
		connect.F("ts_ms", connect.Int64Schema),
		connect.F("db", connect.StringSchema),
		connect.F("schema", connect.StringSchema),
		connect.F("table", connect.StringSchema),
		connect.F("lsn", connect.OptionalInt64Schema),
	)
	envelopeSchema = connect.NewStructSchema("db.public.customers.Envelope",
		connect.F("before", connect.OptionalOf(rowSchema)),
		connect.F("after", connect.OptionalOf(rowSchema)),
		connect.F("source", sourceSchema),
		connect.F("op", connect.StringSchema),
		connect.F("ts_ms", connect.OptionalInt64Schema),
	)
	keySchema = connect.NewStructSchema("db.public.customers.Key", connect.F("id", connect.Int32Schema))
)

func row(t testing.TB, id int32, name string) *connect.Struct {
	return mkStruct(t, rowSchema, "id", id, "first_name", name, "email", fmt.Sprintf("%s@example.com", strings.ToLower(name)),
		"score", 4.5, "qty", "7", "region", "eu")
}

func source(t testing.TB) *connect.Struct {
	return mkStruct(t, sourceSchema, "version", "2.7.0", "connector", "postgresql", "name", "db", "ts_ms", int64(1700000000000),
		"db", "shop", "schema", "public", "table", "customers", "lsn", int64(24023128))
}

// change builds a change event record; before or after may be nil.
func change(t testing.TB, op string, before, after *connect.Struct) *connect.Record {
	env := connect.NewStruct(envelopeSchema)
	if before != nil {
		env.SetAt(0, before)
	}
	if after != nil {
		env.SetAt(1, after)
	}
	env.SetAt(2, source(t))
	env.SetAt(3, op)
	env.SetAt(4, int64(1700000000456))
	id := int32(0)
	if after != nil {
		id = after.Get("id").(int32)
	} else if before != nil {
		id = before.Get("id").(int32)
	}
	return &connect.Record{Topic: "db.public.customers", Partition: 0, Offset: 7,
		KeySchema: keySchema, Key: mkStruct(t, keySchema, "id", id), ValueSchema: envelopeSchema, Value: env}
}

func rowMap(id int, name string) map[string]any {
	return map[string]any{"id": float64(id), "first_name": name, "email": strings.ToLower(name) + "@example.com",
		"score": 4.5, "qty": "7", "region": "eu"}
}

// changeMap is a schemaless change event, as JSON with schemas.enable=false decodes.
func changeMap(op string, before, after map[string]any) *connect.Record {
	env := map[string]any{"before": nil, "after": nil, "op": op, "ts_ms": float64(1700000000456),
		"source": map[string]any{"version": "2.7.0", "connector": "postgresql", "name": "db", "ts_ms": float64(1700000000000),
			"db": "shop", "schema": "public", "table": "customers", "lsn": float64(24023128)}}
	if before != nil {
		env["before"] = before
	}
	if after != nil {
		env["after"] = after
	}
	return &connect.Record{Topic: "db.public.customers", Partition: 0, Offset: 7, Key: map[string]any{"id": float64(1)}, Value: env}
}
