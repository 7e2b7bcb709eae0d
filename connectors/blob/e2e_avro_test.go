package blob_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connect/converters/avro"
	"github.com/penstockhq/penstock/internal/brokertest"
	"github.com/penstockhq/penstock/internal/e2e"
	"github.com/penstockhq/penstock/internal/registrytest"
	"github.com/penstockhq/penstock/internal/testservice"
)

// TestE2EAvroTopicExport (issue #21): datagen writes an Avro topic through
// io.confluent.connect.avro.AvroConverter and Penstock's schema registry;
// the blob sink, reading it with the AvroConverter, exports it as Parquet
// and as JSON lines, and DuckDB reads back rows equal to the topic's
// records as the AvroConverter decodes them.
func TestE2EAvroTopicExport(t *testing.T) {
	b := brokertest.Start(t, brokertest.WithProps(map[string]string{"num.partitions": "2"}))
	registry := registrytest.On(t, b.Addr)
	w := e2e.StartWorker(t, b.Addr, nil)
	avroConv := map[string]string{
		"key.converter": "io.confluent.connect.avro.AvroConverter", "key.converter.schema.registry.url": registry,
		"value.converter": "io.confluent.connect.avro.AvroConverter", "value.converter.schema.registry.url": registry,
	}
	const count = 400
	gen := map[string]string{"connector.class": "datagen", "tasks.max": "1", "topic": "orders-avro", "rate": "0",
		"count": fmt.Sprint(count), "keys": "50", "seed": "42"}
	for k, v := range avroConv {
		gen[k] = v
	}
	e2e.Expect(t, 201, "POST", w.URL+"/connectors", map[string]any{"name": "gen", "config": gen})
	e2e.Eventually(t, 60*time.Second, "the Avro topic complete", func() error {
		if n := len(e2e.ReadTopic(t, b.Addr, "orders-avro")); n < count {
			return fmt.Errorf("%d of %d records", n, count)
		}
		return nil
	})
	dec := avro.New()
	if err := dec.Configure(map[string]string{"schema.registry.url": registry}, false); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{} // by seq: the row as DuckDB prints it below
	for _, r := range e2e.ReadTopic(t, b.Addr, "orders-avro") {
		_, v, err := dec.ToConnect(r.Topic, r.Value)
		if err != nil {
			t.Fatal(err)
		}
		st := v.(*connect.Struct)
		get := st.Get
		want[fmt.Sprint(get("seq"))] = fmt.Sprintf("%v|%v|%d|%v|%v", get("seq"), get("task"), get("ts").(time.Time).UnixMilli(), get("name"), get("payload"))
	}
	if len(want) != count {
		t.Fatalf("%d distinct records in the topic, want %d", len(want), count)
	}
	for _, format := range []string{"parquet", "json"} {
		t.Run(format, func(t *testing.T) {
			dir := t.TempDir()
			cfg := map[string]string{"connector.class": "io.confluent.connect.s3.S3SinkConnector", "topics": "orders-avro",
				"store.url": "file://" + dir, "flush.size": "100",
				"format.class": map[string]string{"parquet": "ParquetFormat", "json": "JsonFormat"}[format]}
			for k, v := range avroConv {
				cfg[k] = v
			}
			name := "export-" + format
			e2e.Expect(t, 201, "POST", w.URL+"/connectors", map[string]any{"name": name, "config": cfg})
			e2e.Eventually(t, 60*time.Second, "the export committed", func() error {
				if n, err := e2e.SinkCommitted(w.URL, name); err != nil || n < count {
					return fmt.Errorf("%d committed (%v)", n, err)
				}
				return nil
			})
			query := fmt.Sprintf(`SELECT seq::VARCHAR || '|' || task::VARCHAR || '|' || epoch_ms(ts)::VARCHAR || '|' || name || '|' || coalesce(payload, '<nil>') AS row
				FROM read_parquet('%s/topics/orders-avro/*/*.parquet', hive_partitioning=false)`, dir)
			if format == "json" {
				query = fmt.Sprintf(`SELECT seq::VARCHAR || '|' || task::VARCHAR || '|' || ts::VARCHAR || '|' || name || '|' || coalesce(payload, '<nil>') AS row
					FROM read_json('%s/topics/orders-avro/*/*.json', columns={seq: 'BIGINT', task: 'INTEGER', ts: 'BIGINT', name: 'VARCHAR', payload: 'VARCHAR'})`, dir)
			}
			rows := testservice.DuckDB(t, query)
			if len(rows) != count {
				t.Fatalf("DuckDB reads %d rows, want %d", len(rows), count)
			}
			seen := map[string]bool{}
			for _, r := range rows {
				row := fmt.Sprint(r["row"])
				seq, _, _ := strings.Cut(row, "|")
				if want[seq] != row || seen[seq] {
					t.Fatalf("DuckDB row %q, the topic's record %q (seen before: %v)", row, want[seq], seen[seq])
				}
				seen[seq] = true
			}
		})
	}
}
