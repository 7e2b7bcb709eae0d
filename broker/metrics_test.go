package broker_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/penstockhq/penstock/broker"
	"github.com/penstockhq/penstock/internal/brokertest"
	"github.com/penstockhq/penstock/internal/metricnames"
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

// TestBrokerMetricsMove: a produce moves bytes and messages in, the log
// size and the Produce latency histogram; a fetch moves bytes out and the
// Fetch histogram; a group's commit below the high watermark shows as lag.
func TestBrokerMetricsMove(t *testing.T) {
	reg := prometheus.NewRegistry()
	b := brokertest.Start(t, brokertest.WithConfig(func(c *broker.Config) { c.Metrics = reg }))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl := newClient(t, b.Addr)
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, "m"); err != nil {
		t.Fatal(err)
	}
	topic := map[string]string{"topic": "m"}
	for _, name := range []string{"kafka_server_brokertopicmetrics_bytesin_total", "kafka_server_brokertopicmetrics_messagesin_total",
		"kafka_server_brokertopicmetrics_bytesout_total"} {
		if v := metricValue(t, reg, name, topic); v > 0 {
			t.Fatalf("%s = %v before any produce or fetch", name, v)
		}
	}
	var recs []*kgo.Record
	for i := range 5 {
		recs = append(recs, &kgo.Record{Topic: "m", Value: fmt.Appendf(nil, "record %d", i)})
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if v := metricValue(t, reg, "kafka_server_brokertopicmetrics_messagesin_total", topic); v != 5 {
		t.Errorf("messages in = %v, want 5", v)
	}
	if v := metricValue(t, reg, "kafka_server_brokertopicmetrics_bytesin_total", topic); v < 5*8 {
		t.Errorf("bytes in = %v, want at least the values' 40 bytes", v)
	}
	if v := metricValue(t, reg, "kafka_log_log_size", map[string]string{"topic": "m", "partition": "0"}); v <= 0 {
		t.Errorf("log size = %v", v)
	}
	// Observed once the response is written: the client may see it first.
	waitMetric(t, reg, "penstock_broker_request_duration_seconds", map[string]string{"request": "Produce"}, 1)

	got := consumeN(t, b.Addr, "m", 5)
	if len(got) != 5 {
		t.Fatalf("consumed %d", len(got))
	}
	if v := metricValue(t, reg, "kafka_server_brokertopicmetrics_bytesout_total", topic); v < 5*8 {
		t.Errorf("bytes out = %v", v)
	}
	// Observed once the response is written: the client may see it first.
	waitMetric(t, reg, "penstock_broker_request_duration_seconds", map[string]string{"request": "Fetch"}, 1)

	// A group that committed offset 2 of 5 lags by 3.
	lag := map[string]string{"consumergroup": "g", "topic": "m", "partition": "0"}
	if v := metricValue(t, reg, "kafka_consumergroup_lag", lag); v != -1 {
		t.Fatalf("lag of a group with no commits = %v", v)
	}
	offs := kadm.Offsets{}
	offs.Add(kadm.Offset{Topic: "m", Partition: 0, At: 2, LeaderEpoch: -1})
	if err := adm.CommitAllOffsets(ctx, "g", offs); err != nil {
		t.Fatal(err)
	}
	if v := metricValue(t, reg, "kafka_consumergroup_lag", lag); v != 3 {
		t.Errorf("group lag = %v, want 3", v)
	}
	if v := metricValue(t, reg, "kafka_consumergroup_lag_sum", map[string]string{"consumergroup": "g", "topic": "m"}); v != 3 {
		t.Errorf("group lag sum = %v, want 3", v)
	}
}

// waitMetric waits for metricValue to reach at least min.
func waitMetric(t *testing.T, g prometheus.Gatherer, name string, labels map[string]string, min float64) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		v := metricValue(t, g, name, labels)
		if v >= min {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s%v = %v, want at least %v", name, labels, v, min)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestBrokerMetricsDeletedTopic: a deleted topic's series go with it, as
// Kafka removes a topic's BrokerTopicMetrics when it deletes the topic, so
// the series do not pile up with every topic ever created.
func TestBrokerMetricsDeletedTopic(t *testing.T) {
	reg := prometheus.NewRegistry()
	b := brokertest.Start(t, brokertest.WithConfig(func(c *broker.Config) { c.Metrics = reg }))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cl := newClient(t, b.Addr)
	adm := kadm.NewClient(cl)
	if _, err := adm.CreateTopic(ctx, 1, 1, nil, "gone"); err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "gone", Value: []byte("v")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if got := consumeN(t, b.Addr, "gone", 1); len(got) != 1 {
		t.Fatalf("consumed %d", len(got))
	}
	topic := map[string]string{"topic": "gone"}
	names := []string{"kafka_server_brokertopicmetrics_bytesin_total", "kafka_server_brokertopicmetrics_messagesin_total",
		"kafka_server_brokertopicmetrics_bytesout_total", "kafka_log_log_size"}
	for _, name := range names {
		if v := metricValue(t, reg, name, topic); v <= 0 {
			t.Fatalf("%s = %v before the delete", name, v)
		}
	}
	if _, err := adm.DeleteTopic(ctx, "gone"); err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		if v := metricValue(t, reg, name, topic); v != -1 {
			t.Errorf("%s = %v after the delete, want no series", name, v)
		}
	}
}
