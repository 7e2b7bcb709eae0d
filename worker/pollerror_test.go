package worker

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connect/config"
	"github.com/penstockhq/penstock/plugins"
	"github.com/penstockhq/penstock/worker/rest"
)

// errorPollSource's task returns records together with an error from its
// first Poll: records 0-4 with a retriable error, then 5-9 from the next
// Poll (props "fatal": records 0-2 with an error that fails the task).
type errorPollSource struct{ poisonSource }

func (c *errorPollSource) Config() *config.Def {
	return config.NewDef(config.Key{Name: "topic", Type: config.String, Required: true}, config.Key{Name: "fatal", Type: config.String})
}

func (c *errorPollSource) NewTask() connect.SourceTask { return &errorPollTask{} }

type errorPollTask struct {
	topic string
	fatal bool
	polls int
}

func (t *errorPollTask) Start(_ context.Context, _ connect.SourceTaskContext, p map[string]string) error {
	t.topic, t.fatal = p["topic"], p["fatal"] == "true"
	return nil
}

func (t *errorPollTask) records(from, to int) []*connect.Record {
	var out []*connect.Record
	for i := from; i < to; i++ {
		out = append(out, &connect.Record{Topic: t.topic, Partition: 0, ValueSchema: connect.Int32Schema, Value: int32(i),
			SourcePartition: map[string]any{"p": "x"}, SourceOffset: map[string]any{"i": i}})
	}
	return out
}

func (t *errorPollTask) Poll(ctx context.Context) ([]*connect.Record, error) {
	t.polls++
	switch {
	case t.polls == 1 && t.fatal:
		return t.records(0, 3), errors.New("the store broke (test)")
	case t.polls == 1:
		return t.records(0, 5), connect.Retriable(errors.New("the next object cannot be opened yet (test)"))
	case t.polls == 2 && !t.fatal:
		return t.records(5, 10), nil
	}
	select {
	case <-ctx.Done():
	case <-time.After(100 * time.Millisecond):
	}
	return nil, nil
}

func (t *errorPollTask) Stop() error { return nil }

// TestPollRecordsWithErrorDelivered: records a task's Poll returned
// together with an error are delivered (the task has moved past them)
// before the error is handled: retried in place when retriable, failing
// the task otherwise.
func TestPollRecordsWithErrorDelivered(t *testing.T) {
	addr := startKafka(t)
	reg := registryWith(t, plugins.Plugin{Kind: plugins.Source, Class: "test.ErrorPollSource", New: func() connect.Configurable { return &errorPollSource{} }})
	h := startHerder(t, testConfig(t, addr, nil), Options{Registry: reg})
	ctx := context.Background()
	for name, want := range map[string]int{"retriable": 10, "fatal": 3} {
		topic := "pollerr-" + name
		if _, _, err := h.PutConnectorConfig(ctx, name, map[string]string{"connector.class": "test.ErrorPollSource",
			"topic": topic, "fatal": fmt.Sprint(name == "fatal")}, "", false); err != nil {
			t.Fatal(err)
		}
		if name == "fatal" {
			waitState(t, h, name, rest.StateRunning, rest.StateFailed, 1)
		}
		got := readAll(t, addr, topic, want)
		for i, r := range got {
			if want := fmt.Sprintf(`{"schema":{"type":"int32","optional":false},"payload":%d}`, i); string(r.Value) != want {
				t.Errorf("%s: record %d is %s, want %s", name, i, r.Value, want)
			}
		}
		if len(got) != want {
			t.Errorf("%s: %d records, want %d", name, len(got), want)
		}
	}
}
