package elasticsearch

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"testing"
	"time"

	es "github.com/elastic/go-elasticsearch/v8"
	"github.com/elastic/go-elasticsearch/v8/esutil"

	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/internal/testservice"
)

// BenchmarkZincThroughput indexes the same documents into ZincSearch twice
// per iteration: directly with go-elasticsearch's bulk indexer (same
// workers and request size as the task's defaults), and through the sink
// task (conversion, id and version handling, offset accounting), and
// reports both rates and their ratio. Run it with
//
//	go test -run '^$' -bench ZincThroughput -benchtime 3x ./connectors/elasticsearch/
func BenchmarkZincThroughput(b *testing.B) {
	const docs = 20000
	srv := testservice.Elasticsearch(b)
	values := make([]map[string]any, docs)
	bodies := make([][]byte, docs)
	for i := range docs {
		values[i] = map[string]any{"id": float64(i), "name": "name-" + strconv.Itoa(i),
			"note": fmt.Sprintf("some longer text for document %d, so that it looks like a row", i), "qty": float64(i % 97)}
		bodies[i], _ = json.Marshal(values[i])
	}
	defaults, _ := parseSettings(map[string]string{ConnectionURLConfig: srv.URL})

	client, err := es.NewClient(es.Config{Addresses: []string{srv.URL}, Username: srv.Username, Password: srv.Password})
	if err != nil {
		b.Fatal(err)
	}
	if res, err := client.Info(); err != nil {
		b.Fatal(err)
	} else {
		res.Body.Close()
	}

	var directTime, taskTime time.Duration
	b.ResetTimer()
	for n := range b.N {
		// Direct: the client's bulk indexer alone.
		index := fmt.Sprintf("direct-%d", n)
		start := time.Now()
		bi, _ := esutil.NewBulkIndexer(esutil.BulkIndexerConfig{Client: client, NumWorkers: defaults.maxInFlight, FlushBytes: defaults.bulkBytes})
		for i := range docs {
			if err := bi.Add(context.Background(), esutil.BulkIndexerItem{Index: index, Action: "index",
				DocumentID: strconv.Itoa(i), Body: bytes.NewReader(bodies[i])}); err != nil {
				b.Fatal(err)
			}
		}
		if err := bi.Close(context.Background()); err != nil {
			b.Fatal(err)
		}
		if st := bi.Stats(); st.NumFailed > 0 {
			b.Fatalf("direct: %d failed", st.NumFailed)
		}
		directTime += time.Since(start)

		// The connector's task, fed as the runtime does, in batches.
		topic := fmt.Sprintf("task-%d", n)
		task := &Task{}
		if err := task.Start(context.Background(), &fakeTaskContext{}, map[string]string{
			ConnectionURLConfig: srv.URL, ConnectionUsernameConfig: srv.Username, ConnectionPasswordConfig: srv.Password,
			SchemaIgnoreConfig: "true", ReadTimeoutConfig: "60000",
		}); err != nil {
			b.Fatal(err)
		}
		recs := make([]*connect.Record, docs)
		for i := range docs {
			recs[i] = &connect.Record{Topic: topic, Offset: int64(i), Key: strconv.Itoa(i), Value: values[i]}
		}
		start = time.Now()
		for i := 0; i < docs; i += 500 {
			if err := task.Put(context.Background(), recs[i:i+500]); err != nil {
				b.Fatal(err)
			}
		}
		if err := task.Flush(context.Background(), nil); err != nil {
			b.Fatal(err)
		}
		taskTime += time.Since(start)
		if err := task.Stop(); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	direct := float64(docs*b.N) / directTime.Seconds()
	viaTask := float64(docs*b.N) / taskTime.Seconds()
	b.ReportMetric(direct, "direct-docs/s")
	b.ReportMetric(viaTask, "task-docs/s")
	b.ReportMetric(viaTask/direct, "task/direct")
	b.Logf("direct bulk indexer: %.0f docs/s; through the sink task: %.0f docs/s (%.0f%%)", direct, viaTask, 100*viaTask/direct)
}
