package elasticsearch

import (
	"context"
	"testing"
	"time"

	"github.com/penstockhq/penstock/connect"
)

// settle waits until the writer holds no op: none in flight, held, queued
// or waiting for a retry.
func settle(t *testing.T, task *Task) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		w := task.w
		w.mu.Lock()
		n := len(w.docs) + len(w.queue)
		w.mu.Unlock()
		if n == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d documents still have operations", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestFakeRevokedPartitionStopsWriting is issue 14 item 9: once Close took
// a partition from the task, nothing of it may reach Elasticsearch after
// its requests in flight end, since its new owner may already be writing.
// Before the fix the operation held behind the in-flight one was sent when
// that one completed.
func TestFakeRevokedPartitionStopsWriting(t *testing.T) {
	f := newFakeES(t)
	f.gate = make(chan struct{})
	task := startTask(t, f.srv.URL, &fakeTaskContext{}, nil)
	tp1 := connect.TopicPartition{Topic: "orders", Partition: 1}
	rec := func(p int32, off int64, key string, qty float64) *connect.Record {
		return &connect.Record{Topic: "orders", Partition: p, Offset: off, Key: key, Value: map[string]any{"qty": qty}}
	}
	// k@0 goes out and waits at the gate; k@1 is held behind it. j@5 of
	// the partition the task keeps goes out too, and j@6 waits behind it.
	if err := task.Put(context.Background(), []*connect.Record{rec(0, 0, "k", 1), rec(1, 5, "j", 1)}); err != nil {
		t.Fatal(err)
	}
	if err := task.Put(context.Background(), []*connect.Record{rec(0, 1, "k", 2), rec(1, 6, "j", 2)}); err != nil {
		t.Fatal(err)
	}
	if err := task.Close(context.Background(), []connect.TopicPartition{tp0}); err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	close(f.gate)
	f.gate = nil
	f.mu.Unlock()
	waitCommitted(t, task, tp1, 7)
	if err := task.Flush(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	settle(t, task)
	for _, it := range f.allItems() {
		if it.ID == "k" && it.Version != 0 {
			t.Errorf("revoked partition written after Close: %+v", it)
		}
	}
	if doc, _ := f.doc("orders", "j"); doc["qty"] != 2.0 {
		t.Errorf("the kept partition's document: %v", doc)
	}
	if doc, _ := f.doc("orders", "k"); doc["qty"] != 1.0 {
		t.Errorf("the revoked partition's document: %v, want the in-flight write's", doc)
	}
}

// A retry of a revoked partition's operation is dropped too.
func TestFakeRevokedPartitionRetryDropped(t *testing.T) {
	f := newFakeES(t)
	f.reply = func(_ int, it bulkItem, attempt int) itemReply {
		if attempt == 1 {
			return itemReply{429, errRejected}
		}
		return itemReply{}
	}
	// A backoff long enough for Close to come first: the first retry waits
	// between 1 and 2 seconds.
	task := startTask(t, f.srv.URL, &fakeTaskContext{}, map[string]string{RetryBackoffConfig: "2000"})
	if err := task.Put(context.Background(), []*connect.Record{flatRecord("orders", 0, "k", map[string]any{"qty": 1.0})}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		f.mu.Lock()
		n := f.attempts["orders/k"]
		f.mu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no first attempt")
		}
		time.Sleep(time.Millisecond)
	}
	if err := task.Close(context.Background(), []connect.TopicPartition{tp0}); err != nil {
		t.Fatal(err)
	}
	settle(t, task) // the retry's timer fires, and finds nothing to send
	f.mu.Lock()
	n := f.attempts["orders/k"]
	f.mu.Unlock()
	if n != 1 {
		t.Fatalf("the revoked partition's operation was sent %d times, want once (the refused attempt)", n)
	}
}
