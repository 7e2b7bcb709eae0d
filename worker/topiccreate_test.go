package worker

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/plugins"
	"github.com/penstockhq/penstock/worker/rest"
)

// countSource is poisonSource without the poison: it emits records 0..9,
// all good, in a single poll.
type countSource struct{ poisonSource }

func (c *countSource) NewTask() connect.SourceTask { return &poisonSourceTask{clean: true} }

// TestTopicCreationFailureIsRetriedNotTolerated is issue 14 item 11: with
// errors.tolerance=all, a failed creation of the topic a source record goes
// to dropped that record as a tolerated record error. The creation is now
// retried with backoff, so every record reaches the topic.
//
// It runs on franz-go's kfake cluster, not Penstock's broker: a transient
// CreateTopics failure is injected with kfake's request control, which the
// real broker offers no way to cause.
func TestTopicCreationFailureIsRetriedNotTolerated(t *testing.T) {
	addr, cluster := startKfakeCluster(t)
	const topic = "auto-created"
	var mu sync.Mutex
	refused := 0
	cluster.ControlKey(int16(kmsg.CreateTopics), func(req kmsg.Request) (kmsg.Response, error, bool) {
		cluster.KeepControl()
		r := req.(*kmsg.CreateTopicsRequest)
		if len(r.Topics) != 1 || r.Topics[0].Topic != topic {
			return nil, nil, false
		}
		mu.Lock()
		defer mu.Unlock()
		if refused >= 2 {
			return nil, nil, false
		}
		refused++
		resp := r.ResponseKind().(*kmsg.CreateTopicsResponse)
		rt := kmsg.NewCreateTopicsResponseTopic()
		rt.Topic = topic
		rt.ErrorCode = kerr.RequestTimedOut.Code
		msg := "injected transient failure"
		rt.ErrorMessage = &msg
		resp.Topics = append(resp.Topics, rt)
		return resp, nil, true
	})

	reg := registryWith(t, plugins.Plugin{Kind: plugins.Source, Class: "test.CountSource", New: func() connect.Configurable { return &countSource{} }})
	h := startHerder(t, testConfig(t, addr, nil), Options{Registry: reg})
	ctx := context.Background()
	src := map[string]string{"connector.class": "test.CountSource", "topic": topic,
		"errors.tolerance": "all", "errors.retry.delay.max.ms": "200",
		"topic.creation.default.replication.factor": "1", "topic.creation.default.partitions": "1"}
	if _, _, err := h.PutConnectorConfig(ctx, "src", src, "", false); err != nil {
		t.Fatal(err)
	}
	got := readAll(t, addr, topic, 10)
	seen := map[string]bool{}
	for _, r := range got {
		seen[string(r.Value)] = true
	}
	if len(seen) != 10 {
		var vals []string
		for v := range seen {
			vals = append(vals, v)
		}
		t.Fatalf("%d distinct records in %s, want 10: %s", len(seen), topic, strings.Join(vals, " "))
	}
	mu.Lock()
	n := refused
	mu.Unlock()
	if n != 2 {
		t.Fatalf("creation refused %d times, want 2", n)
	}
	waitState(t, h, "src", rest.StateRunning, rest.StateRunning, 1)
}

// startKfakeCluster starts a kfake cluster as startKfake does and returns
// it too, for tests that inject failures.
func startKfakeCluster(t *testing.T) (string, *kfake.Cluster) {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(3))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()[0], c
}

// A topic the broker refuses for good (an error Kafka marks not retriable)
// fails the task, errors.tolerance=all notwithstanding: before, the record
// was skipped as a tolerated record error and the task kept running.
func TestTopicCreationRefusedFailsTask(t *testing.T) {
	addr, cluster := startKfakeCluster(t)
	const topic = "refused"
	cluster.ControlKey(int16(kmsg.CreateTopics), func(req kmsg.Request) (kmsg.Response, error, bool) {
		cluster.KeepControl()
		r := req.(*kmsg.CreateTopicsRequest)
		if len(r.Topics) != 1 || r.Topics[0].Topic != topic {
			return nil, nil, false
		}
		resp := r.ResponseKind().(*kmsg.CreateTopicsResponse)
		rt := kmsg.NewCreateTopicsResponseTopic()
		rt.Topic = topic
		rt.ErrorCode = kerr.PolicyViolation.Code
		resp.Topics = append(resp.Topics, rt)
		return resp, nil, true
	})
	reg := registryWith(t, plugins.Plugin{Kind: plugins.Source, Class: "test.CountSource", New: func() connect.Configurable { return &countSource{} }})
	h := startHerder(t, testConfig(t, addr, nil), Options{Registry: reg})
	src := map[string]string{"connector.class": "test.CountSource", "topic": topic, "errors.tolerance": "all",
		"topic.creation.default.replication.factor": "1", "topic.creation.default.partitions": "1"}
	if _, _, err := h.PutConnectorConfig(context.Background(), "src", src, "", false); err != nil {
		t.Fatal(err)
	}
	waitState(t, h, "src", rest.StateRunning, rest.StateFailed, 1)
	st, err := h.TaskStatus(context.Background(), "src", 0)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(st.Trace, "creating topic refused") || !strings.Contains(st.Trace, "POLICY_VIOLATION") {
		t.Fatalf("trace %q does not name the topic and the broker's error", st.Trace)
	}
}
