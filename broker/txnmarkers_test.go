package broker_test

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

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
