package debezium

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/penstockhq/penstock/connect"
)

// A push that finds no room waits, so with a context already cancelled it
// returns the context's error exactly when the queue is full.
func TestQueueBoundedByBytes(t *testing.T) {
	rec := func(n int) *connect.Record {
		return &connect.Record{Value: strings.Repeat("x", n)}
	}
	ctx := context.Background()
	stopped, cancel := context.WithCancel(ctx)
	cancel()
	q := NewQueue(100, 1000)

	big := rec(5000) // larger than the byte bound: still passes an empty queue
	if err := q.Push(ctx, []*connect.Record{big}, 0, nil); err != nil {
		t.Fatalf("push into an empty queue: %v", err)
	}
	if err := q.Push(stopped, []*connect.Record{rec(10)}, 0, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("push past the byte bound: got %v, want it to wait", err)
	}
	if got, _ := q.Take(ctx, 10, 0); len(got) != 1 || got[0] != big {
		t.Fatalf("take: %v", got)
	}
	if q.bytes != 0 {
		t.Fatalf("bytes after draining: %d", q.bytes)
	}
	small := RecordSize(rec(50)) // about 320 bytes: three fit in 1000
	if err := q.Push(stopped, []*connect.Record{rec(50), rec(50), rec(50), rec(50)}, 0, nil); !errors.Is(err, context.Canceled) {
		t.Fatalf("push of four small records: got %v, want the fourth to wait", err)
	}
	if len(q.recs) != 3 || q.bytes != 3*small {
		t.Fatalf("queue holds %d records of %d bytes, want 3 of %d", len(q.recs), q.bytes, 3*small)
	}
}

func TestQueueBoundedByRecords(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	q := NewQueue(2, 0)
	recs := []*connect.Record{{}, {}, {}}
	if err := q.Push(ctx, recs, 0, nil); !errors.Is(err, context.Canceled) || len(q.recs) != 2 {
		t.Fatalf("push of 3 into a queue of 2: err %v, %d queued", err, len(q.recs))
	}
}

func TestRecordSizeCountsNestedValues(t *testing.T) {
	s := connect.NewStructSchema("v", connect.F("a", connect.StringSchema), connect.F("b", connect.OptionalBytesSchema))
	v := connect.NewStruct(s)
	v.SetAt(0, strings.Repeat("x", 1000))
	v.SetAt(1, make([]byte, 2000))
	if n := RecordSize(&connect.Record{Value: v}); n < 3000 {
		t.Fatalf("RecordSize of a struct holding 3000 bytes: %d", n)
	}
}

// Sizes a reader knows are taken as they are; those it leaves 0 are
// estimated by walking the record.
func TestQueuePushSized(t *testing.T) {
	ctx := context.Background()
	q := NewQueue(10, 1<<20)
	a, b := &connect.Record{Value: "a"}, &connect.Record{Value: strings.Repeat("b", 100)}
	if err := q.PushSized(ctx, []*connect.Record{a, b}, []int{1000}, 0, nil); err != nil {
		t.Fatal(err)
	}
	if n, bytes := q.Size(); n != 2 || bytes != 1000+RecordSize(b) {
		t.Fatalf("size %d records, %d bytes; want 2, %d", n, bytes, 1000+RecordSize(b))
	}
}
