package worker

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/plugins"
)

// keepSinkTask keeps every record and every slice it is put. With release
// it declares that it releases them (connect.SinkRecordReleaser), and then
// checks each record within Put only.
type keepSinkTask struct {
	release bool
	mu      sync.Mutex
	puts    [][]*connect.Record // the slices put, as given
	bad     []string            // records wrong within their Put
	first   []*connect.Record   // the first record of each Put
}

func (t *keepSinkTask) ReleasesRecords() bool { return t.release }

func (t *keepSinkTask) Start(context.Context, connect.SinkTaskContext, map[string]string) error {
	return nil
}

func (t *keepSinkTask) Put(_ context.Context, recs []*connect.Record) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, r := range recs {
		if err := checkKept(r); err != nil {
			t.bad = append(t.bad, err.Error())
		}
	}
	t.first = append(t.first, recs[0])
	if !t.release {
		t.puts = append(t.puts, recs)
	}
	return nil
}

func (t *keepSinkTask) Flush(context.Context, map[connect.TopicPartition]int64) error { return nil }
func (t *keepSinkTask) Stop() error                                                   { return nil }

func (t *keepSinkTask) count() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.first)
}

// checkKept checks a record of the test topic: value and header are its
// offset (the header as SimpleHeaderConverter infers it: a number).
func checkKept(r *connect.Record) error {
	want := strconv.FormatInt(r.Offset, 10)
	h, ok := r.Headers.Last("n")
	if r.Value != want || !ok || fmt.Sprint(h.Value) != want || len(r.Headers) != 1 {
		return fmt.Errorf("offset %d: value %v, headers %v", r.Offset, r.Value, r.Headers)
	}
	return nil
}

// TestSinkRecordsKeptOrReleased checks that the records of a sink that may
// keep them stay as they were put across later Puts, while a sink that
// releases them (connect.SinkRecordReleaser) gets the same records' memory
// back Put after Put, each record right within its Put.
func TestSinkRecordsKeptOrReleased(t *testing.T) {
	addr := startKafka(t)
	keeper, releaser := &keepSinkTask{}, &keepSinkTask{release: true}
	reg := registryWith(t,
		plugins.Plugin{Kind: plugins.Sink, Class: "test.KeepSink", New: func() connect.Configurable { return &oneTaskSink{task: keeper} }},
		plugins.Plugin{Kind: plugins.Sink, Class: "test.ReleaseSink", New: func() connect.Configurable { return &oneTaskSink{task: releaser} }})
	h := startHerder(t, testConfig(t, addr, nil), Options{Registry: reg})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	const n, chunk = 3000, 100
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic("kept"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 1, nil, "kept"); err != nil {
		t.Fatal(err)
	}
	recs := make([]*kgo.Record, n)
	for i := range recs {
		v := []byte(strconv.Itoa(i))
		recs[i] = &kgo.Record{Value: v, Headers: []kgo.RecordHeader{{Key: "n", Value: v}}}
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	for _, class := range []string{"test.KeepSink", "test.ReleaseSink"} {
		if _, _, err := h.PutConnectorConfig(ctx, class, map[string]string{"connector.class": class, "topics": "kept",
			"value.converter":                    "org.apache.kafka.connect.storage.StringConverter",
			"consumer.override.max.poll.records": strconv.Itoa(chunk)}, "", false); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, 30*time.Second, "every record put to both sinks", func() error {
		if k, r := keeper.count(), releaser.count(); k < n/chunk || r < n/chunk {
			return fmt.Errorf("puts: keeper %d, releaser %d", k, r)
		}
		return nil
	})
	keeper.mu.Lock()
	defer keeper.mu.Unlock()
	releaser.mu.Lock()
	defer releaser.mu.Unlock()
	for _, tk := range []*keepSinkTask{keeper, releaser} {
		if len(tk.bad) > 0 {
			t.Fatalf("release=%v: wrong records within Put: %v", tk.release, tk.bad[:min(5, len(tk.bad))])
		}
	}
	next := int64(0)
	for _, put := range keeper.puts {
		for _, r := range put {
			if r.Offset != next {
				t.Fatalf("kept records: offset %d, want %d", r.Offset, next)
			}
			if err := checkKept(r); err != nil {
				t.Fatalf("a kept record changed after its Put: %v", err)
			}
			next++
		}
	}
	if next < n {
		t.Fatalf("kept %d records, want %d", next, n)
	}
	reused := 0
	for _, r := range releaser.first[1:] {
		if r == releaser.first[0] {
			reused++
		}
	}
	if reused == 0 {
		t.Fatalf("a releasing sink got new records every Put (%d Puts)", len(releaser.first))
	}
}
