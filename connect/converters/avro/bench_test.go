package avro_test

import (
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connect/converters"
	"github.com/penstockhq/penstock/connect/converters/avro"
	"github.com/penstockhq/penstock/connect/converters/jsonschema"
	"github.com/penstockhq/penstock/internal/registrytest"
)

// benchOrder is a change-event-sized value: a dozen fields with a nested
// struct, an array and logical types (as connect/converters' benchmark).
func benchOrder(b *testing.B) (*connect.Schema, *connect.Struct) {
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
	a := connect.NewStruct(addr)
	for k, x := range map[string]any{"street": "221B Baker Street", "city": "London", "zip": int32(12345)} {
		if err := a.Set(k, x); err != nil {
			b.Fatal(err)
		}
	}
	v := connect.NewStruct(s)
	for k, x := range map[string]any{"id": int64(123456789), "customer": "Ada Lovelace", "email": "ada@example.com",
		"amount": connect.NewDecimal(1234599, 2), "quantity": int32(3), "price": 41.15, "paid": true,
		"created": time.UnixMilli(1700000000123).UTC(), "tags": []any{"priority", "gift", "eu"}, "address": a} {
		if err := v.Set(k, x); err != nil {
			b.Fatal(err)
		}
	}
	return s, v
}

// BenchmarkConverters writes (the source path, FromConnect) and reads (the
// sink path, ToConnect) one record with AvroConverter and
// JsonSchemaConverter through the registry, beside JsonConverter with
// schemas in the same run. Each reports records/s, bytes/record, and the
// process's peak RSS.
func BenchmarkConverters(b *testing.B) {
	url, _ := registrytest.Start(b)
	s, v := benchOrder(b)
	props := map[string]string{"schema.registry.url": url}
	av, js := avro.New(), jsonschema.New()
	if err := av.Configure(props, false); err != nil {
		b.Fatal(err)
	}
	if err := js.Configure(props, false); err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		conv connect.Converter
	}{{"JsonConverter", converters.NewJSON()}, {"AvroConverter", av}, {"JsonSchemaConverter", js}} {
		topic := "orders-" + c.name
		data, err := c.conv.FromConnect(topic, s, v)
		if err != nil {
			b.Fatal(err)
		}
		report := func(b *testing.B) {
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
			b.ReportMetric(float64(len(data)), "bytes/record")
			b.ReportMetric(peakRSSMB(), "peak-RSS-MB")
		}
		b.Run(c.name+"/source", func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, err := c.conv.FromConnect(topic, s, v); err != nil {
					b.Fatal(err)
				}
			}
			report(b)
		})
		b.Run(c.name+"/sink", func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, _, err := c.conv.ToConnect(topic, data); err != nil {
					b.Fatal(err)
				}
			}
			report(b)
		})
	}
}

// peakRSSMB is the process's peak resident set size (VmHWM) in MB, 0 where
// /proc is missing.
func peakRSSMB() float64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 64)
			return kb / 1024
		}
	}
	return 0
}
