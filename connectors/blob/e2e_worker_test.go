package blob_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/penstockhq/penstock/connect/converters"
	"github.com/penstockhq/penstock/internal/brokertest"
	"github.com/penstockhq/penstock/internal/e2e"
	"github.com/penstockhq/penstock/internal/testservice"
)

const e2eTopic = "orders"

var e2eSchema = json.RawMessage(`{"type":"struct","name":"orders.Value","optional":false,"fields":[` +
	`{"field":"seq","type":"int64","optional":false},{"field":"name","type":"string","optional":false},` +
	`{"field":"amount","type":"double","optional":true},` +
	`{"field":"at","type":"int64","optional":false,"name":"org.apache.kafka.connect.data.Timestamp","version":1}]}`)

// produceSeq writes records seq from..to-1 to partition p, in
// JsonConverter's envelope with schemas.
func produceSeq(t *testing.T, cl *kgo.Client, p int32, from, to int) {
	t.Helper()
	var recs []*kgo.Record
	for i := from; i < to; i++ {
		v, _ := json.Marshal(map[string]any{"schema": e2eSchema, "payload": map[string]any{
			"seq": i, "name": fmt.Sprintf("order %d/%d", p, i), "amount": float64(i) / 8, "at": 1700000000000 + int64(i)*1000}})
		recs = append(recs, &kgo.Record{Topic: e2eTopic, Partition: p, Key: []byte(fmt.Sprint(i)), Value: v})
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// checkExactlyOnce reads the Parquet objects under root with DuckDB and
// fails unless partition p's objects hold seq 0..perPartition-1, each once.
func checkExactlyOnce(t *testing.T, root string, partitions int32, perPartition int) {
	t.Helper()
	for p := int32(0); p < partitions; p++ {
		rows := testservice.DuckDB(t, fmt.Sprintf(`SELECT seq, count(*) AS n FROM read_parquet('%s/topics/%s/partition=%d/*.parquet', hive_partitioning=false)
			GROUP BY seq ORDER BY seq`, root, e2eTopic, p))
		if len(rows) != perPartition {
			t.Fatalf("partition %d: %d distinct records in objects, want %d", p, len(rows), perPartition)
		}
		for i, r := range rows {
			if fmt.Sprint(r["seq"]) != fmt.Sprint(i) || fmt.Sprint(r["n"]) != "1" {
				t.Fatalf("partition %d: seq %v is in %v objects (row %d)", p, r["seq"], r["n"], i)
			}
		}
	}
}

func sinkConfig(store string) map[string]string {
	return map[string]string{
		"connector.class":                "io.confluent.connect.s3.S3SinkConnector",
		"topics":                         e2eTopic,
		"tasks.max":                      "1",
		"key.converter":                  "org.apache.kafka.connect.storage.StringConverter",
		"value.converter":                "org.apache.kafka.connect.json.JsonConverter",
		"value.converter.schemas.enable": "true",
		"format.class":                   "io.confluent.connect.s3.format.parquet.ParquetFormat",
		"flush.size":                     "100",
		"store.url":                      store,
	}
}

// TestE2EWorkerKill9ExactlyOnce is the issue's crash test: a `penstock
// worker` subprocess exporting a topic to Parquet objects is killed with
// SIGKILL at random moments, five times, while records keep coming; in the
// end every record of the topic is in exactly one object (read by DuckDB).
func TestE2EWorkerKill9ExactlyOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the penstock binary")
	}
	const partitions, perPartition = 2, 4000
	b := brokertest.Start(t, brokertest.WithProps(map[string]string{"num.partitions": fmt.Sprint(partitions)}))
	bin := e2e.BuildPenstock(t)
	dir := t.TempDir()
	store := filepath.Join(dir, "bucket")
	url := fmt.Sprintf("http://127.0.0.1:%d", e2e.FreePort(t))
	cfgFile := e2e.WriteProps(t, dir, e2e.WorkerProps(b.Addr, map[string]string{
		"listeners":                        url,
		"group.id":                         "blob-kill9",
		"offset.flush.interval.ms":         "300",
		"session.timeout.ms":               "6000",
		"heartbeat.interval.ms":            "1000",
		"scheduled.rebalance.max.delay.ms": "1000",
		"consumer.session.timeout.ms":      "6000",
	}))
	logFile := filepath.Join(dir, "worker.log")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("worker log:\n%s", e2e.LogTail(logFile))
		}
	})
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr), kgo.AllowAutoTopicCreation(), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	produceSeq(t, cl, 0, 0, 100)
	produceSeq(t, cl, 1, 0, 100)

	w := e2e.StartProc(t, bin, cfgFile, url, logFile)
	e2e.Expect(t, 201, "POST", url+"/connectors", map[string]any{"name": "export", "config": sinkConfig("file://" + store)})
	e2e.WaitState(t, url, "export", "RUNNING", "RUNNING", 1)

	// A long export: the rest of the records arrive over some seconds.
	done := make(chan struct{})
	go func() {
		defer close(done)
		for from := 100; from < perPartition; from += 20 {
			for p := int32(0); p < partitions; p++ {
				produceSeq(t, cl, p, from, from+20)
			}
			time.Sleep(120 * time.Millisecond)
		}
	}()
	rng := rand.New(rand.NewPCG(17, 5))
	for kill := 0; kill < 5; kill++ {
		time.Sleep(time.Duration(500+rng.IntN(2000)) * time.Millisecond)
		n, _ := e2e.SinkCommitted(url, "export")
		t.Logf("kill %d with %d records committed", kill+1, n)
		w.Kill()
		w = e2e.StartProc(t, bin, cfgFile, url, logFile)
	}
	<-done
	e2e.WaitState(t, url, "export", "RUNNING", "RUNNING", 1)
	e2e.Eventually(t, 90*time.Second, "every record exported and committed", func() error {
		n, err := e2e.SinkCommitted(url, "export")
		if err != nil {
			return err
		}
		if n < partitions*perPartition {
			return fmt.Errorf("%d of %d committed", n, partitions*perPartition)
		}
		return nil
	})
	checkExactlyOnce(t, store, partitions, perPartition)
}

// TestE2EWorkerS3 exports through an in-process worker to versitygw, with
// Confluent's S3 keys (s3.bucket.name, store.url as the endpoint, static
// credentials), and reads the objects back with DuckDB from the server's
// backend directory.
func TestE2EWorkerS3(t *testing.T) {
	s3 := testservice.S3(t)
	bucket := s3.CreateBucket(t, "exports")
	b := brokertest.Start(t, brokertest.WithProps(map[string]string{"num.partitions": "2"}))
	w := e2e.StartWorker(t, b.Addr, nil)
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr), kgo.AllowAutoTopicCreation(), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	produceSeq(t, cl, 0, 0, 500)
	produceSeq(t, cl, 1, 0, 500)
	cfg := sinkConfig(s3.Endpoint)
	delete(cfg, "store.url")
	for k, v := range map[string]string{
		"store.url": s3.Endpoint, "s3.bucket.name": bucket, "s3.region": s3.Region,
		"s3.path.style.access.enabled": "true", "aws.access.key.id": s3.AccessKey, "aws.secret.access.key": s3.SecretKey,
		"storage.class": "io.confluent.connect.s3.storage.S3Storage",
	} {
		cfg[k] = v
	}
	e2e.Expect(t, 201, "POST", w.URL+"/connectors", map[string]any{"name": "s3-export", "config": cfg})
	e2e.WaitState(t, w.URL, "s3-export", "RUNNING", "RUNNING", 1)
	r := e2e.Expect(t, 200, "GET", w.URL+"/connectors/s3-export", nil)
	if strings.Contains(string(r.Body), s3.SecretKey) {
		t.Fatalf("the secret key is not masked: %s", r.Body)
	}
	e2e.Eventually(t, 60*time.Second, "every record exported", func() error {
		n, err := e2e.SinkCommitted(w.URL, "s3-export")
		if err != nil {
			return err
		}
		if n < 1000 {
			return fmt.Errorf("%d of 1000 committed", n)
		}
		return nil
	})
	checkExactlyOnce(t, filepath.Join(s3.Root, bucket), 2, 500)
}

// TestE2ERestore exports a topic as JSON lines, Parquet and Avro, with
// store.kafka.keys and store.kafka.headers, then restores the export with the source (under
// Confluent's S3 Source class name) into a new topic through RegexRouter:
// the new topic's records equal the original's (partition, order, key,
// value, headers, timestamp).
func TestE2ERestore(t *testing.T) {
	for _, format := range []string{"json", "parquet", "avro"} {
		t.Run(format, func(t *testing.T) { testE2ERestore(t, format) })
	}
}

var restoreSchema = json.RawMessage(`{"type":"struct","name":"items.Value","optional":false,"fields":[` +
	`{"field":"id","type":"int32","optional":false},{"field":"name","type":"string","optional":true},` +
	`{"field":"tags","type":"array","items":{"type":"string","optional":false},"optional":false}]}`)

// testE2ERestore exports and restores with one format: JsonFormat from
// schemaless JSON values, ParquetFormat and AvroFormat from JSON values
// with schemas (compared as the JsonConverter reads them).
func testE2ERestore(t *testing.T, format string) {
	b := brokertest.Start(t, brokertest.WithProps(map[string]string{"num.partitions": "2"}))
	w := e2e.StartWorker(t, b.Addr, nil)
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr), kgo.AllowAutoTopicCreation(), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	schemas := format != "json"
	const n = 300
	var recs []*kgo.Record
	for i := 0; i < n; i++ {
		var v []byte
		payload := map[string]any{"id": i, "name": fmt.Sprintf("item %d", i), "tags": []string{"a", fmt.Sprint(i % 7)}}
		if i%5 == 0 {
			payload["name"] = nil
		}
		if schemas {
			v, _ = json.Marshal(map[string]any{"schema": restoreSchema, "payload": payload})
		} else {
			v, _ = json.Marshal(payload)
		}
		r := &kgo.Record{Topic: "items", Partition: int32(i % 2), Key: []byte(fmt.Sprintf("k%d", i)), Value: v,
			Timestamp: time.UnixMilli(1700000000000 + int64(i)*1000)}
		if i%3 == 0 {
			r.Headers = []kgo.RecordHeader{{Key: "source", Value: []byte("test")}, {Key: "n", Value: []byte(fmt.Sprint(i))}}
		}
		recs = append(recs, r)
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	store := "file://" + t.TempDir()
	conv := map[string]string{
		"key.converter":                  "org.apache.kafka.connect.storage.StringConverter",
		"value.converter":                "org.apache.kafka.connect.json.JsonConverter",
		"value.converter.schemas.enable": fmt.Sprint(schemas),
	}
	class := map[string]string{"json": "io.confluent.connect.s3.format.json.JsonFormat",
		"parquet": "io.confluent.connect.s3.format.parquet.ParquetFormat", "avro": "io.confluent.connect.s3.format.avro.AvroFormat"}[format]
	sink := map[string]string{"connector.class": "io.confluent.connect.s3.S3SinkConnector", "topics": "items", "store.url": store,
		"format.class": class, "flush.size": "50", "store.kafka.keys": "true", "store.kafka.headers": "true"}
	source := map[string]string{"connector.class": "io.confluent.connect.s3.source.S3SourceConnector", "store.url": store,
		"format.class": class, "poll.interval.ms": "500",
		"transforms": "rename", "transforms.rename.type": "org.apache.kafka.connect.transforms.RegexRouter",
		"transforms.rename.regex": "items", "transforms.rename.replacement": "items-restored"}
	for k, v := range conv {
		sink[k], source[k] = v, v
	}
	e2e.Expect(t, 201, "POST", w.URL+"/connectors", map[string]any{"name": "backup", "config": sink})
	e2e.Eventually(t, 60*time.Second, "the export committed", func() error {
		c, err := e2e.SinkCommitted(w.URL, "backup")
		if err != nil || c < n {
			return fmt.Errorf("%d committed (%v)", c, err)
		}
		return nil
	})
	e2e.Expect(t, 201, "POST", w.URL+"/connectors", map[string]any{"name": "restore", "config": source})
	var got []*kgo.Record
	e2e.Eventually(t, 60*time.Second, "the restored topic complete", func() error {
		if err := e2e.TopicsExist(b.Addr, "items-restored"); err != nil {
			return err
		}
		got = e2e.ReadTopic(t, b.Addr, "items-restored")
		if len(got) < n {
			return fmt.Errorf("%d of %d records restored", len(got), n)
		}
		return nil
	})
	want := e2e.ReadTopic(t, b.Addr, "items")
	if len(got) != len(want) {
		t.Fatalf("%d records restored, %d in the original", len(got), len(want))
	}
	byPos := func(rs []*kgo.Record) map[string]*kgo.Record {
		m := map[string]*kgo.Record{}
		for _, r := range rs {
			m[fmt.Sprintf("%d/%d", r.Partition, r.Offset)] = r
		}
		return m
	}
	g := byPos(got)
	for pos, o := range byPos(want) {
		r := g[pos]
		if r == nil {
			t.Fatalf("no restored record at partition/offset %s", pos)
		}
		if string(r.Key) != string(o.Key) || !sameJSONValue(t, schemas, r.Value, o.Value) || !r.Timestamp.Equal(o.Timestamp) ||
			fmt.Sprint(headerPairs(r)) != fmt.Sprint(headerPairs(o)) {
			t.Fatalf("at %s restored %s=%s %v %v, original %s=%s %v %v", pos, r.Key, r.Value, r.Timestamp, headerPairs(r),
				o.Key, o.Value, o.Timestamp, headerPairs(o))
		}
	}
}

// sameJSONValue compares two JSON values: as bytes, or with schemas as the
// JsonConverter reads them (the restored envelope is the converter's
// writing of the restored schema and value).
func sameJSONValue(t *testing.T, schemas bool, a, b []byte) bool {
	if !schemas {
		return string(a) == string(b)
	}
	c := converters.NewJSON()
	canon := func(raw []byte) string {
		s, v, err := c.ToConnect("items", raw)
		if err != nil {
			t.Fatal(err)
		}
		out, err := c.FromConnect("items", s, v)
		if err != nil {
			t.Fatal(err)
		}
		return string(out)
	}
	return canon(a) == canon(b)
}

func headerPairs(r *kgo.Record) []string {
	var out []string
	for _, h := range r.Headers {
		out = append(out, h.Key+"="+string(h.Value))
	}
	return out
}

// TestE2EWorkerStoreFailureInStatus: the bucket disappears during an
// export to versitygw; once s3.part.retries retries have failed, the task
// is FAILED with the store's error as its trace in GET .../status. With the
// bucket back, a task restart finishes the export, each record once.
func TestE2EWorkerStoreFailureInStatus(t *testing.T) {
	s3 := testservice.S3(t)
	bucket := s3.CreateBucket(t, "exports")
	b := brokertest.Start(t, brokertest.WithProps(map[string]string{"num.partitions": "1"}))
	w := e2e.StartWorker(t, b.Addr, nil)
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr), kgo.AllowAutoTopicCreation(), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	produceSeq(t, cl, 0, 0, 200)
	cfg := sinkConfig(s3.BucketURL(bucket))
	cfg["aws.access.key.id"], cfg["aws.secret.access.key"] = s3.AccessKey, s3.SecretKey
	cfg["s3.part.retries"], cfg["retry.backoff.ms"] = "2", "20"
	e2e.Expect(t, 201, "POST", w.URL+"/connectors", map[string]any{"name": "export", "config": cfg})
	committed := func(want int64) func() error {
		return func() error {
			n, err := e2e.SinkCommitted(w.URL, "export")
			if err != nil {
				return err
			}
			if n < want {
				return fmt.Errorf("%d of %d committed", n, want)
			}
			return nil
		}
	}
	e2e.Eventually(t, 60*time.Second, "the first records exported", committed(200))
	dir := filepath.Join(s3.Root, bucket)
	if err := os.Rename(dir, dir+".away"); err != nil {
		t.Fatal(err)
	}
	produceSeq(t, cl, 0, 200, 500)
	st := e2e.WaitState(t, w.URL, "export", "RUNNING", "FAILED", 1)
	if tr := st.Tasks[0].Trace; !strings.Contains(tr, "s3.part.retries=2") || !strings.Contains(tr, "NoSuchBucket") {
		t.Fatalf("the task's trace does not show the store's failure: %q", tr)
	}
	if err := os.Rename(dir+".away", dir); err != nil {
		t.Fatal(err)
	}
	e2e.Expect(t, 204, "POST", w.URL+"/connectors/export/tasks/0/restart", nil)
	e2e.WaitState(t, w.URL, "export", "RUNNING", "RUNNING", 1)
	e2e.Eventually(t, 60*time.Second, "every record exported", committed(500))
	checkExactlyOnce(t, dir, 1, 500)
}
