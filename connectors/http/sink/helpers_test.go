package sink

import (
	"context"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/penstockhq/penstock/connect"
)

// fakeTaskContext is the runtime as a sink task sees it, recording what is
// reported. With tolerate false, Report fails the task as
// errors.tolerance=none does.
type fakeTaskContext struct {
	mu       sync.Mutex
	tolerate bool
	reported []reported
}

type reported struct {
	rec *connect.Record
	err error
}

func (f *fakeTaskContext) ConnectorName() string                   { return "http-test" }
func (f *fakeTaskContext) TaskID() int                             { return 0 }
func (f *fakeTaskContext) Assignment() []connect.TopicPartition    { return nil }
func (f *fakeTaskContext) Pause(...connect.TopicPartition)         {}
func (f *fakeTaskContext) Resume(...connect.TopicPartition)        {}
func (f *fakeTaskContext) Rewind(map[connect.TopicPartition]int64) {}
func (f *fakeTaskContext) RequestCommit()                          {}
func (f *fakeTaskContext) Report(_ context.Context, rec *connect.Record, err error) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reported = append(f.reported, reported{rec, err})
	if !f.tolerate {
		return err
	}
	return nil
}

func (f *fakeTaskContext) reports() []reported {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]reported(nil), f.reported...)
}

// seen is one request a test server received.
type seen struct {
	method, path, query string
	header              http.Header
	body                []byte
	at                  time.Time
}

// recorder keeps the requests a test server received.
type recorder struct {
	mu   sync.Mutex
	reqs []seen
}

func (r *recorder) add(req *http.Request) seen {
	b, _ := io.ReadAll(req.Body)
	s := seen{method: req.Method, path: req.URL.EscapedPath(), query: req.URL.RawQuery, header: req.Header.Clone(), body: b, at: time.Now()}
	r.mu.Lock()
	r.reqs = append(r.reqs, s)
	r.mu.Unlock()
	return s
}

func (r *recorder) all() []seen {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]seen(nil), r.reqs...)
}

// startTask starts a sink task with props.
func startTask(t *testing.T, tctx *fakeTaskContext, props map[string]string) *Task {
	t.Helper()
	task := &Task{}
	if err := task.Start(context.Background(), tctx, props); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { task.Stop() })
	return task
}

// rec makes a record with a map value (nil: a tombstone).
func rec(topic string, partition int32, offset int64, key any, value map[string]any) *connect.Record {
	r := &connect.Record{Topic: topic, Partition: partition, Offset: offset, Key: key}
	if value != nil {
		r.Value = value
	}
	return r
}

// flushed flushes the task with a deadline and returns PreCommit's offsets
// for given.
func flushed(t *testing.T, task *Task, given map[connect.TopicPartition]int64) map[connect.TopicPartition]int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := task.Flush(ctx, given); err != nil {
		t.Fatal(err)
	}
	out, err := task.PreCommit(ctx, given)
	if err != nil {
		t.Fatal(err)
	}
	return out
}
