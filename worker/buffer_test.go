package worker

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"
)

// A source task's producer holds at most producer.buffer.memory bytes: a
// record larger than that fails (Kafka's RecordTooLargeException), a bad
// value fails the task naming the key, and each running task reports its
// buffered bytes on /metrics.
func TestSourceProducerBufferMemory(t *testing.T) {
	addr := startKafka(t)
	h := startHerder(t, testConfig(t, addr, nil), Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	put := func(name string, extra map[string]string) {
		t.Helper()
		cfg := map[string]string{"connector.class": "datagen", "topic": "buf-" + name, "count": "100", "value.size": "4000"}
		for k, v := range extra {
			cfg[k] = v
		}
		if _, _, err := h.PutConnectorConfig(ctx, name, cfg, "", false); err != nil {
			t.Fatal(err)
		}
	}
	put("small", map[string]string{"producer.override.buffer.memory": "2000"})
	put("bad", map[string]string{"producer.override.buffer.memory": "lots"})
	put("ok", map[string]string{"count": "-1", "rate": "100", "producer.override.linger.ms": "0"})
	put("badlinger", map[string]string{"producer.override.linger.ms": "-1"})

	trace := func(name string) string {
		waitState(t, h, name, "RUNNING", "FAILED", 1)
		st, err := h.ConnectorStatus(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		return st.Tasks[0].Trace
	}
	if tr := trace("small"); !strings.Contains(tr, "MESSAGE_TOO_LARGE") {
		t.Errorf("a record larger than producer.buffer.memory: task trace %q, want MESSAGE_TOO_LARGE", tr)
	}
	if tr := trace("bad"); !strings.Contains(tr, `producer buffer.memory "lots"`) {
		t.Errorf("bad producer.override.buffer.memory: task trace %q, want the key named", tr)
	}
	if tr := trace("badlinger"); !strings.Contains(tr, `producer linger.ms "-1"`) {
		t.Errorf("bad producer.override.linger.ms: task trace %q, want the key named", tr)
	}
	waitState(t, h, "ok", "RUNNING", "RUNNING", 1)
	eventually(t, 30*time.Second, "penstock_task_buffered_bytes of connector ok", func() error {
		mfs, err := h.Metrics().Gather()
		if err != nil {
			return err
		}
		for _, mf := range mfs {
			if mf.GetName() != "penstock_task_buffered_bytes" {
				continue
			}
			for _, m := range mf.GetMetric() {
				labels := map[string]string{}
				for _, l := range m.GetLabel() {
					labels[l.GetName()] = l.GetValue()
				}
				if labels["connector"] == "ok" && labels["task"] == "0" && labels["client"] == "producer" {
					return nil
				}
			}
		}
		return fmt.Errorf("not among the gathered metrics")
	})
}
