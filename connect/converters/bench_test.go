package converters

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/penstockhq/penstock/connect"
)

// benchRecord is a typical change-event-sized value: a dozen fields with a
// nested struct, an array and logical types.
func benchRecord(b *testing.B) (*connect.Schema, *connect.Struct, map[string]any) {
	addr := connect.NewStructSchema("shop.Address",
		connect.F("street", connect.StringSchema), connect.F("city", connect.StringSchema),
		connect.F("zip", connect.OptionalInt32Schema))
	s := connect.NewStructSchema("shop.Order",
		connect.F("id", connect.Int64Schema),
		connect.F("customer", connect.StringSchema),
		connect.F("email", connect.OptionalStringSchema),
		connect.F("amount", connect.DecimalSchema(2)),
		connect.F("quantity", connect.Int32Schema),
		connect.F("price", connect.Float64Schema),
		connect.F("paid", connect.BooleanSchema),
		connect.F("created", connect.TimestampSchema()),
		connect.F("tags", connect.ArrayOf(connect.StringSchema)),
		connect.F("address", addr),
		connect.F("note", connect.OptionalStringSchema),
	)
	a := mustStruct(b, addr, "street", "221B Baker Street", "city", "London", "zip", int32(12345))
	created := time.UnixMilli(1700000000123).UTC()
	v := mustStruct(b, s, "id", int64(123456789), "customer", "Ada Lovelace", "email", "ada@example.com",
		"amount", connect.NewDecimal(1234599, 2), "quantity", int32(3), "price", 41.15, "paid", true,
		"created", created, "tags", []any{"priority", "gift", "eu"}, "address", a)
	m := map[string]any{"id": int64(123456789), "customer": "Ada Lovelace", "email": "ada@example.com",
		"amount": 12345.99, "quantity": int32(3), "price": 41.15, "paid": true, "created": created.UnixMilli(),
		"tags": []any{"priority", "gift", "eu"}, "note": nil,
		"address": map[string]any{"street": "221B Baker Street", "city": "London", "zip": int32(12345)}}
	return s, v, m
}

// BenchmarkJSON compares the JSON converter's FromConnect with
// encoding/json marshalling the same record as a Go map, in one run. Each
// sub-benchmark reports records/s and MB/s of output.
func BenchmarkJSON(b *testing.B) {
	s, v, m := benchRecord(b)
	schemad := newJSON(b, nil)
	schemaless := newJSON(b, map[string]string{JSONSchemasEnable: "false"})
	run := func(b *testing.B, f func() ([]byte, error)) {
		out, err := f()
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(int64(len(out)))
		b.ReportAllocs()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if _, err := f(); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
	}
	b.Run("penstock-schemad", func(b *testing.B) {
		run(b, func() ([]byte, error) { return schemad.FromConnect("orders", s, v) })
	})
	b.Run("penstock-schemaless", func(b *testing.B) {
		run(b, func() ([]byte, error) { return schemaless.FromConnect("orders", nil, m) })
	})
	b.Run("penstock-schemaless-struct", func(b *testing.B) {
		run(b, func() ([]byte, error) { return schemaless.FromConnect("orders", s, v) })
	})
	b.Run("encoding-json", func(b *testing.B) {
		run(b, func() ([]byte, error) { return json.Marshal(m) })
	})
	env, _ := schemad.FromConnect("orders", s, v)
	plain, _ := json.Marshal(m)
	b.Run("penstock-toconnect-schemad", func(b *testing.B) {
		run(b, func() ([]byte, error) { _, _, err := schemad.ToConnect("orders", env); return env, err })
	})
	b.Run("penstock-toconnect-schemaless", func(b *testing.B) {
		run(b, func() ([]byte, error) { _, _, err := schemaless.ToConnect("orders", plain); return plain, err })
	})
	b.Run("encoding-json-unmarshal", func(b *testing.B) {
		run(b, func() ([]byte, error) { var x map[string]any; return plain, json.Unmarshal(plain, &x) })
	})
}
