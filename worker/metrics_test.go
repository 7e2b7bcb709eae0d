package worker

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connect/config"
	"github.com/penstockhq/penstock/internal/metricnames"
	"github.com/penstockhq/penstock/plugins"
	"github.com/penstockhq/penstock/worker/rest"
)

// metricValue is metricnames.Value, failing t on a gathering error.
func metricValue(t *testing.T, g prometheus.Gatherer, name string, labels map[string]string) float64 {
	t.Helper()
	v, err := metricnames.Value(g, name, labels)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// want is a metric expectation: the series' value is exactly eq, or at
// least min when eq is negative.
type want struct {
	name   string
	labels map[string]string
	eq     float64
	min    float64
}

// checkMetrics waits until every expectation holds.
func checkMetrics(t *testing.T, g prometheus.Gatherer, wants []want) {
	t.Helper()
	for _, w := range wants {
		eventually(t, 20*time.Second, w.name, func() error {
			v := metricValue(t, g, w.name, w.labels)
			if (w.eq >= 0 && v != w.eq) || (w.eq < 0 && v < w.min) {
				return fmt.Errorf("%s%v = %v, want %v (at least %v)", w.name, w.labels, v, w.eq, w.min)
			}
			return nil
		})
	}
}

// TestSourceTaskMetricsMove: a source task polls 10 records, one of which
// its value converter rejects (tolerated, logged, sent to the dead letter
// queue): the poll, write, batch, commit, error and DLQ metrics show each.
func TestSourceTaskMetricsMove(t *testing.T) {
	addr := startKafka(t)
	reg := registryWith(t, plugins.Plugin{Kind: plugins.Source, Class: "test.PoisonSource", New: func() connect.Configurable { return &poisonSource{} }})
	h := startHerder(t, testConfig(t, addr, nil), Options{Registry: reg})
	ctx := context.Background()
	src := map[string]string{"connector.class": "test.PoisonSource", "topic": "msrc-out",
		"errors.tolerance": "all", "errors.log.enable": "true", "errors.deadletterqueue.topic.name": "msrc-dlq"}
	if _, _, err := h.PutConnectorConfig(ctx, "msrc", src, "", false); err != nil {
		t.Fatal(err)
	}
	task := map[string]string{"connector": "msrc", "task": "0"}
	n := func(name string, eq float64) want { return want{name: name, labels: task, eq: eq} }
	atLeast := func(name string, min float64) want { return want{name: name, labels: task, eq: -1, min: min} }
	checkMetrics(t, h.Metrics(), []want{
		n("kafka_connect_source_task_source_record_poll_total", 10),
		n("kafka_connect_source_task_source_record_write_total", 9),
		n("kafka_connect_source_task_source_record_active_count", 0),
		atLeast("kafka_connect_source_task_poll_batch_time_seconds", 1),
		n("kafka_connect_connector_task_batch_size", 1), // one poll returned records
		atLeast("kafka_connect_connector_task_offset_commit_success_total", 1),
		atLeast("kafka_connect_connector_task_offset_commit_time_seconds", 1),
		n("kafka_connect_task_error_total_record_errors", 1),
		n("kafka_connect_task_error_total_record_failures", 1),
		n("kafka_connect_task_error_total_records_skipped", 1),
		n("kafka_connect_task_error_total_errors_logged", 1),
		n("kafka_connect_task_error_deadletterqueue_produce_requests", 1),
		n("kafka_connect_task_error_deadletterqueue_produce_failures", 0),
		{name: "penstock_task_stage_errors_total", labels: map[string]string{"connector": "msrc", "stage": StageValueConverter, "class": JSONConverterClass}, eq: 1},
		{name: "kafka_connect_connector_task_status", labels: map[string]string{"connector": "msrc", "task": "0", "status": "running"}, eq: 1},
		{name: "kafka_connect_worker_connector_task_count", labels: map[string]string{"connector": "msrc", "status": "running"}, eq: 1},
	})
	// The bytes written are those of the 9 records the topic holds.
	written := 0
	for _, r := range readAll(t, addr, "msrc-out", 9) {
		written += recordBytes(r)
	}
	checkMetrics(t, h.Metrics(), []want{n("penstock_source_task_record_write_bytes_total", float64(written))})
	if written == 0 {
		t.Fatal("the source wrote records of no bytes")
	}
	if v := metricValue(t, h.Metrics(), "kafka_connect_sink_task_sink_record_read_total", task); v != -1 {
		t.Errorf("a source task has a sink series: %v", v)
	}
	if v := metricValue(t, h.Metrics(), "kafka_connect_task_error_total_retries", task); v != 0 {
		t.Errorf("retries = %v, want 0 (the converter's error is not retriable)", v)
	}

	// Deleting the connector stops its task cleanly: its series go.
	if err := h.DeleteConnector(ctx, "msrc"); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "the stopped task's series removed", func() error {
		for _, name := range []string{"kafka_connect_source_task_source_record_poll_total",
			"kafka_connect_connector_task_offset_commit_success_total", "kafka_connect_task_error_total_record_errors",
			"penstock_task_stage_errors_total", "kafka_connect_connector_task_status"} {
			if v := metricValue(t, h.Metrics(), name, task); v != -1 {
				return fmt.Errorf("%s still %v", name, v)
			}
		}
		return nil
	})
	checkMetrics(t, h.Metrics(), []want{{name: "kafka_connect_worker_connector_task_count", labels: map[string]string{"connector": "msrc", "status": "running"}, eq: 0}})
}

// TestSinkTaskMetricsMove: a sink task reads 10 records; one fails the
// value converter and one a transform (both tolerated into the dead letter
// queue); 8 are put and committed. A connector that tolerates nothing
// fails, and its status shows it.
func TestSinkTaskMetricsMove(t *testing.T) {
	addr := startKafka(t)
	h := startHerder(t, testConfig(t, addr, nil), Options{})
	ctx := context.Background()
	prod, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.AllowAutoTopicCreation(), kgo.DefaultProduceTopic("msink-in"))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	var recs []*kgo.Record
	for i := range 10 {
		r := &kgo.Record{Partition: 0, Value: fmt.Appendf(nil, `{"schema":{"type":"int32","optional":false},"payload":%d}`, i)}
		switch i {
		case 3:
			r.Value = []byte(`{"schema": not json`)
		case 7:
			r.Headers = []kgo.RecordHeader{{Key: "bad", Value: []byte("x")}} // ExtractField on an int32 fails
		}
		recs = append(recs, r)
	}
	if err := prod.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	readBytes := 0 // all 10 are read, the two that fail too
	for _, r := range recs {
		readBytes += recordBytes(r)
	}
	sink := fileSinkConfig("msink-in", filepath.Join(t.TempDir(), "out.txt"))
	for k, v := range map[string]string{
		"errors.tolerance": "all", "errors.deadletterqueue.topic.name": "msink-dlq",
		"transforms": "extract", "transforms.extract.type": "org.apache.kafka.connect.transforms.ExtractField$Value",
		"transforms.extract.field": "x", "transforms.extract.predicate": "hasBad",
		"predicates": "hasBad", "predicates.hasBad.type": "org.apache.kafka.connect.transforms.predicates.HasHeaderKey",
		"predicates.hasBad.name": "bad",
	} {
		sink[k] = v
	}
	if _, _, err := h.PutConnectorConfig(ctx, "msink", sink, "", false); err != nil {
		t.Fatal(err)
	}
	if _, _, err := h.PutConnectorConfig(ctx, "mstrict", fileSinkConfig("msink-in", filepath.Join(t.TempDir(), "strict.txt")), "", false); err != nil {
		t.Fatal(err)
	}
	task := map[string]string{"connector": "msink", "task": "0"}
	n := func(name string, eq float64) want { return want{name: name, labels: task, eq: eq} }
	atLeast := func(name string, min float64) want { return want{name: name, labels: task, eq: -1, min: min} }
	stage := func(s string) map[string]string {
		return map[string]string{"connector": "msink", "task": "0", "stage": s}
	}
	checkMetrics(t, h.Metrics(), []want{
		n("kafka_connect_sink_task_sink_record_read_total", 10),
		n("penstock_sink_task_record_read_bytes_total", float64(readBytes)),
		n("kafka_connect_sink_task_sink_record_send_total", 8),
		atLeast("kafka_connect_sink_task_put_batch_time_seconds", 1),
		atLeast("kafka_connect_connector_task_batch_size", 1),
		atLeast("kafka_connect_sink_task_offset_commit_completion_total", 1),
		atLeast("kafka_connect_connector_task_offset_commit_success_total", 1),
		atLeast("kafka_connect_sink_task_offset_commit_skip_total", 1), // later commits with nothing new
		n("kafka_connect_task_error_total_record_errors", 2),
		n("kafka_connect_task_error_total_records_skipped", 2),
		n("kafka_connect_task_error_deadletterqueue_produce_requests", 2),
		{name: "penstock_task_stage_errors_total", labels: stage(StageValueConverter), eq: 1},
		{name: "penstock_task_stage_errors_total", labels: stage(StageTransformation), eq: 1},
		{name: "penstock_deadletterqueue_records_total", labels: map[string]string{"connector": "msink"}, eq: 2},
		{name: "kafka_connect_connector_task_status", labels: map[string]string{"connector": "mstrict", "task": "0", "status": "failed"}, eq: 1},
		{name: "kafka_connect_worker_connector_task_count", labels: map[string]string{"connector": "mstrict", "status": "failed"}, eq: 1},
		{name: "kafka_connect_worker_connector_task_count", labels: map[string]string{"connector": "mstrict", "status": "running"}, eq: 0},
	})
	// The failed task keeps its error count.
	if v := metricValue(t, h.Metrics(), "kafka_connect_task_error_total_record_errors", map[string]string{"connector": "mstrict"}); v != 1 {
		t.Errorf("the failed task's record errors = %v, want 1", v)
	}
	waitState(t, h, "msink", rest.StateRunning, rest.StateRunning, 1)
}

// flakyTransform fails its first call with a retriable error, then passes
// records through: the retry metrics' cause.
type flakyTransform struct{ failed atomic.Bool }

func (f *flakyTransform) Config() *config.Def               { return config.NewDef() }
func (f *flakyTransform) Configure(map[string]string) error { return nil }
func (f *flakyTransform) Close() error                      { return nil }
func (f *flakyTransform) Apply(r *connect.Record) (*connect.Record, error) {
	if !f.failed.Swap(true) {
		return nil, &connect.RetriableError{Err: errors.New("not yet")}
	}
	return r, nil
}

// noFlushSink accepts records but never flushes them: every offset commit
// fails.
type noFlushSink struct{}

func (noFlushSink) Config() *config.Def { return config.NewDef() }
func (noFlushSink) Start(context.Context, connect.ConnectorContext, map[string]string) error {
	return nil
}
func (noFlushSink) TaskConfigs(int) ([]map[string]string, error) { return []map[string]string{{}}, nil }
func (noFlushSink) Stop() error                                  { return nil }
func (noFlushSink) NewTask() connect.SinkTask                    { return noFlushTask{} }

type noFlushTask struct{}

func (noFlushTask) Start(context.Context, connect.SinkTaskContext, map[string]string) error {
	return nil
}
func (noFlushTask) Put(context.Context, []*connect.Record) error { return nil }
func (noFlushTask) Flush(context.Context, map[connect.TopicPartition]int64) error {
	return errors.New("flush refused (test)")
}
func (noFlushTask) Stop() error { return nil }

// TestRetryCommitFailureAndDLQFailureMetrics: a transform's retriable
// error retried, a flush that fails the commit, and a dead letter queue
// that cannot be written each move their metric.
func TestRetryCommitFailureAndDLQFailureMetrics(t *testing.T) {
	addr := startKafka(t)
	flaky := &flakyTransform{}
	reg := registryWith(t,
		plugins.Plugin{Kind: plugins.Transformation, Class: "test.Flaky", New: func() connect.Configurable { return flaky }},
		plugins.Plugin{Kind: plugins.Sink, Class: "test.NoFlushSink", New: func() connect.Configurable { return noFlushSink{} }})
	h := startHerder(t, testConfig(t, addr, nil), Options{Registry: reg})
	ctx := context.Background()
	prod, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	good := `{"schema":{"type":"int32","optional":false},"payload":1}`
	if err := prod.ProduceSync(ctx, &kgo.Record{Topic: "mretry-in", Value: []byte(good)},
		&kgo.Record{Topic: "mdlqfail-in", Value: []byte(`{"schema": not json`)}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	retry := fileSinkConfig("mretry-in", filepath.Join(t.TempDir(), "retry.txt"))
	retry["transforms"], retry["transforms.f.type"] = "f", "test.Flaky"
	retry[KeyErrorsRetryTimeout], retry[KeyErrorsRetryDelayMax] = "30000", "10"
	dlqFail := fileSinkConfig("mdlqfail-in", filepath.Join(t.TempDir(), "dlqfail.txt"))
	dlqFail["errors.tolerance"], dlqFail["errors.deadletterqueue.topic.name"] = "all", "not a valid topic name!"
	for name, cfg := range map[string]map[string]string{
		"mretry": retry, "mdlqfail": dlqFail,
		"mnoflush": {"connector.class": "test.NoFlushSink", "topics": "mretry-in"},
	} {
		if _, _, err := h.PutConnectorConfig(ctx, name, cfg, "", false); err != nil {
			t.Fatal(err)
		}
	}
	task := func(c string) map[string]string { return map[string]string{"connector": c, "task": "0"} }
	checkMetrics(t, h.Metrics(), []want{
		{name: "kafka_connect_task_error_total_retries", labels: task("mretry"), eq: 1},
		{name: "kafka_connect_task_error_total_record_failures", labels: task("mretry"), eq: 1},
		{name: "kafka_connect_task_error_total_record_errors", labels: task("mretry"), eq: 0},
		{name: "kafka_connect_sink_task_sink_record_send_total", labels: task("mretry"), eq: 1},
		{name: "kafka_connect_connector_task_offset_commit_failure_total", labels: task("mnoflush"), eq: -1, min: 1},
		{name: "penstock_offset_commit_failures_total", labels: map[string]string{"connector": "mnoflush"}, eq: -1, min: 1},
		{name: "kafka_connect_task_error_deadletterqueue_produce_requests", labels: task("mdlqfail"), eq: 1},
		{name: "kafka_connect_task_error_deadletterqueue_produce_failures", labels: task("mdlqfail"), eq: 1},
		{name: "kafka_connect_connector_task_status", labels: map[string]string{"connector": "mdlqfail", "task": "0", "status": "failed"}, eq: 1},
	})
}
