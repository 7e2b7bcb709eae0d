package worker

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/plugins"
)

// committingSource is poisonSource whose task hears of each record
// (connect.SourceRecordCommitter) and notes what it heard.
type committingSource struct {
	poisonSource
	heard *heardRecords
}

func (c *committingSource) NewTask() connect.SourceTask {
	return &committingTask{poisonSourceTask: poisonSourceTask{clean: c.props["clean"] == "true"}, heard: c.heard}
}

type heardRecords struct {
	mu  sync.Mutex
	ok  map[int]int   // source offset i -> times heard without error
	bad map[int]error // source offset i -> the error heard
}

type committingTask struct {
	poisonSourceTask
	heard *heardRecords
}

var _ connect.SourceRecordCommitter = (*committingTask)(nil)

func (t *committingTask) CommitRecord(rec *connect.Record, err error) {
	i := rec.SourceOffset["i"].(int)
	t.heard.mu.Lock()
	defer t.heard.mu.Unlock()
	if err != nil {
		t.heard.bad[i] = err
		return
	}
	t.heard.ok[i]++
}

// TestSourceRecordCommitter: a task implementing SourceRecordCommitter hears
// of each record once: without error when the broker acknowledged it or a
// transform dropped it, with the error when it went to the dead letter
// queue instead of its topic.
func TestSourceRecordCommitter(t *testing.T) {
	addr := startKafka(t)
	heard := map[string]*heardRecords{}
	configs := map[string]map[string]string{
		"poisoned": {"errors.tolerance": "all", "errors.deadletterqueue.topic.name": "dlq-committed"},
		"filtered": {"clean": "true", "transforms": "drop", "transforms.drop.type": "org.apache.kafka.connect.transforms.Filter"},
	}
	var extra []plugins.Plugin
	for name := range configs {
		rec := &heardRecords{ok: map[int]int{}, bad: map[int]error{}}
		heard[name] = rec
		extra = append(extra, plugins.Plugin{Kind: plugins.Source, Class: "test.CommittingSource." + name,
			New: func() connect.Configurable { return &committingSource{heard: rec} }})
	}
	h := startHerder(t, testConfig(t, addr, nil), Options{Registry: registryWith(t, extra...)})
	ctx := context.Background()
	for name, props := range configs {
		cfg := map[string]string{"connector.class": "test.CommittingSource." + name, "topic": "committed-" + name}
		for k, v := range props {
			cfg[k] = v
		}
		if _, _, err := h.PutConnectorConfig(ctx, name, cfg, "", false); err != nil {
			t.Fatal(err)
		}
	}
	for name, wantBad := range map[string]int{"poisoned": 1, "filtered": 0} {
		r := heard[name]
		eventually(t, 30*time.Second, name+": every record heard of", func() error {
			r.mu.Lock()
			defer r.mu.Unlock()
			if len(r.ok)+len(r.bad) != 10 {
				return fmt.Errorf("%d heard without error, %d with", len(r.ok), len(r.bad))
			}
			return nil
		})
		r.mu.Lock()
		for i, n := range r.ok {
			if n != 1 {
				t.Errorf("%s: record %d heard %d times", name, i, n)
			}
		}
		if len(r.bad) != wantBad || (wantBad == 1 && r.bad[5] == nil) {
			t.Errorf("%s: errors heard %v", name, r.bad)
		}
		r.mu.Unlock()
	}
}
