package broker_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// TestTxnMarkersRetriedAfterFailure fails the first marker write of a
// commit part-way (partition 0 gets its marker, partition 1 does not): the
// coordinator must keep retrying until every partition has it, so the
// commit completes, read_committed readers see the whole transaction and
// the producer can go on with its next transaction.
func TestTxnMarkersRetriedAfterFailure(t *testing.T) {
	b := startTxnBroker(t)
	topic := "txn-marker-retry"
	createTopic(t, b.Addr, topic, 2, nil)
	var failures atomic.Int32
	b.Server.SetMarkerFault(func(tp string, p int32) error {
		if tp == topic && p == 1 && failures.Add(1) == 1 {
			return errors.New("disk on fire")
		}
		return nil
	})
	p := newClient(t, b.Addr, kgo.TransactionalID("marker-retry"), kgo.DefaultProduceTopic(topic),
		kgo.RecordPartitioner(kgo.ManualPartitioner()))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for round := range 2 {
		if err := p.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for part := range int32(2) {
			r := &kgo.Record{Partition: part, Value: fmt.Appendf(nil, "r%d-p%d", round, part)}
			if err := p.ProduceSync(ctx, r).FirstErr(); err != nil {
				t.Fatalf("round %d: %v", round, err)
			}
		}
		if err := p.EndTransaction(ctx, kgo.TryCommit); err != nil {
			t.Fatalf("round %d: commit: %v", round, err)
		}
	}
	if n := failures.Load(); n < 2 {
		t.Fatalf("partition 1 saw %d marker writes, want the failed one and its retries", n)
	}
	got := readAll(t, b.Addr, topic, true, 4, time.Second)
	if len(got) != 4 {
		var vs []string
		for _, r := range got {
			vs = append(vs, string(r.Value))
		}
		t.Fatalf("read_committed sees %q, want both rounds on both partitions", vs)
	}
}

// TestTxnGroupMarkerRetried fails the first write of a transaction's
// marker to __consumer_offsets: the commit still completes and the
// group's offset becomes visible.
func TestTxnGroupMarkerRetried(t *testing.T) {
	b := startTxnBroker(t)
	createTopic(t, b.Addr, "src", 1, nil)
	var failures atomic.Int32
	b.Server.SetMarkerFault(func(tp string, p int32) error {
		if tp == "__consumer_offsets" && failures.Add(1) == 1 {
			return errors.New("disk on fire")
		}
		return nil
	})
	cl := newClient(t, b.Addr)
	x := newTxnOffsets(t, cl, "group-marker")
	x.commit("g", "src", 42)
	x.end(true)
	adm := kadm.NewClient(cl)
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		os, err := adm.FetchOffsets(context.Background(), "g")
		if err != nil {
			t.Fatal(err)
		}
		if o, ok := os.Lookup("src", 0); ok && o.At == 42 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("committed offset never became visible (%d marker writes)", failures.Load())
		}
	}
	if failures.Load() < 2 {
		t.Fatalf("%d marker writes, want the failed one and a retry", failures.Load())
	}
}
