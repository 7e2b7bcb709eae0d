package broker_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/penstockhq/penstock/internal/brokertest"
)

var txnProps = map[string]string{
	"group.initial.rebalance.delay.ms":                            "0",
	"group.min.session.timeout.ms":                                "500",
	"transaction.abort.timed.out.transaction.cleanup.interval.ms": "200",
}

func startTxnBroker(t *testing.T, opts ...brokertest.Option) *brokertest.Broker {
	t.Helper()
	return brokertest.Start(t, append([]brokertest.Option{brokertest.WithProps(txnProps)}, opts...)...)
}

// readAll reads a topic from the start until it has seen n records or
// nothing new arrived for quiet.
func readAll(t *testing.T, addr, topic string, committed bool, n int, quiet time.Duration) []*kgo.Record {
	t.Helper()
	opts := []kgo.Opt{kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart())}
	if committed {
		opts = append(opts, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	}
	cl := newClient(t, addr, opts...)
	defer cl.Close()
	var out []*kgo.Record
	deadline := time.Now().Add(30 * time.Second)
	for len(out) < n || n < 0 {
		ctx, cancel := context.WithTimeout(context.Background(), quiet)
		fs := cl.PollFetches(ctx)
		cancel()
		fs.EachError(func(tp string, p int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("fetch %s/%d: %v", tp, p, err)
			}
		})
		got := fs.Records()
		if len(got) == 0 && (n < 0 || time.Now().After(deadline)) {
			break
		}
		out = append(out, got...)
	}
	return out
}

func TestTransactionCommitAbortReadCommitted(t *testing.T) {
	b := startTxnBroker(t)
	topic := "txn-basic"
	createTopic(t, b.Addr, topic, 2, nil)
	p := newClient(t, b.Addr, kgo.TransactionalID("basic"), kgo.DefaultProduceTopic(topic))
	ctx := context.Background()
	for i, commit := range []bool{true, false, true} {
		if err := p.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for j := range 10 {
			r := &kgo.Record{Key: fmt.Appendf(nil, "k%d", j), Value: fmt.Appendf(nil, "txn%d-%d", i, j)}
			if err := p.ProduceSync(ctx, r).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		if err := p.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
			t.Fatalf("end %d: %v", i, err)
		}
	}
	// An open transaction holds back read_committed readers (LSO).
	if err := p.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := p.ProduceSync(ctx, &kgo.Record{Key: []byte("k0"), Value: []byte("open")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	// Read until the 20 committed records arrived: stopping at the first quiet
	// poll lost partition 0 when its first fetch came late on a loaded
	// machine. Aborted or open records would show among them (offset order).
	got := readAll(t, b.Addr, topic, true, 20, time.Second)
	if len(got) != 20 {
		t.Fatalf("read_committed saw %d records, want 20", len(got))
	}
	for _, r := range got {
		if string(r.Value[:4]) == "txn1" || string(r.Value) == "open" {
			t.Fatalf("read_committed saw %q", r.Value)
		}
	}
	if all := readAll(t, b.Addr, topic, false, 31, time.Second); len(all) != 31 {
		t.Fatalf("read_uncommitted saw %d records, want 31", len(all))
	}
	if err := p.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, b.Addr, topic, true, 21, time.Second); len(got) != 21 {
		t.Fatalf("read_committed saw %d records after commit, want 21", len(got))
	}
}

func TestTransactionFencing(t *testing.T) {
	b := startTxnBroker(t)
	topic := "txn-fence"
	createTopic(t, b.Addr, topic, 1, nil)
	ctx := context.Background()
	p1 := newClient(t, b.Addr, kgo.TransactionalID("fence"), kgo.DefaultProduceTopic(topic), kgo.RecordRetries(2))
	if err := p1.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := p1.ProduceSync(ctx, &kgo.Record{Value: []byte("from p1")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	p2 := newClient(t, b.Addr, kgo.TransactionalID("fence"), kgo.DefaultProduceTopic(topic))
	if err := p2.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := p2.ProduceSync(ctx, &kgo.Record{Value: []byte("from p2")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	// p1 is fenced: its next produce and its commit fail.
	perr := p1.ProduceSync(ctx, &kgo.Record{Value: []byte("from p1 again")}).FirstErr()
	cerr := p1.EndTransaction(ctx, kgo.TryCommit)
	fenced := func(err error) bool {
		return errors.Is(err, kerr.ProducerFenced) || errors.Is(err, kerr.InvalidProducerEpoch)
	}
	if !fenced(perr) && !fenced(cerr) {
		t.Fatalf("fenced producer: produce error %v, commit error %v", perr, cerr)
	}
	if cerr == nil {
		t.Fatalf("fenced producer committed")
	}
	if err := p2.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	got := readAll(t, b.Addr, topic, true, -1, time.Second)
	if len(got) != 1 || string(got[0].Value) != "from p2" {
		var vs []string
		for _, r := range got {
			vs = append(vs, string(r.Value))
		}
		t.Fatalf("read_committed saw %q, want only p2's record", vs)
	}
}

func TestTransactionTimeoutAborts(t *testing.T) {
	b := startTxnBroker(t)
	topic := "txn-timeout"
	createTopic(t, b.Addr, topic, 1, nil)
	ctx := context.Background()
	p := newClient(t, b.Addr, kgo.TransactionalID("slow"), kgo.DefaultProduceTopic(topic),
		kgo.TransactionTimeout(time.Second))
	if err := p.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := p.ProduceSync(ctx, &kgo.Record{Value: []byte("late")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	if err := p.EndTransaction(ctx, kgo.TryCommit); err == nil {
		t.Fatal("committing a timed-out transaction succeeded")
	}
	plain := newClient(t, b.Addr, kgo.DefaultProduceTopic(topic))
	if err := plain.ProduceSync(ctx, &kgo.Record{Value: []byte("after")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	got := readAll(t, b.Addr, topic, true, 1, time.Second)
	if len(got) != 1 || string(got[0].Value) != "after" {
		t.Fatalf("read_committed saw %d records (%v)", len(got), got)
	}
}

// TestReadCommittedLSOOfSkippedPartition: a read_committed fetch whose
// byte budget ran out before a partition still reports that partition's
// last stable offset, held back by its open transaction, not its high
// watermark (it did: a reader took the open transaction's records as
// stable).
func TestReadCommittedLSOOfSkippedPartition(t *testing.T) {
	b := startTxnBroker(t)
	const topic = "txn-skipped"
	createTopic(t, b.Addr, topic, 2, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p := newClient(t, b.Addr, kgo.TransactionalID("skipped"), kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	// Fetch v12 names topics (v13 uses their ids).
	plain := newClient(t, b.Addr, kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()), kgo.MaxVersions(kversion.V3_0_0()))
	if err := plain.ProduceSync(ctx, &kgo.Record{Partition: 0, Value: make([]byte, 1000)}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := p.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := p.ProduceSync(ctx, &kgo.Record{Partition: 1, Value: []byte("open")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	req := kmsg.NewPtrFetchRequest()
	req.ReplicaID, req.MaxBytes, req.MinBytes, req.IsolationLevel = -1, 1, 1, 1
	rt := kmsg.NewFetchRequestTopic()
	rt.Topic = topic
	for i := range int32(2) {
		rp := kmsg.NewFetchRequestTopicPartition()
		rp.Partition, rp.PartitionMaxBytes = i, 1<<20
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	kresp, err := plain.SeedBrokers()[0].Request(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	parts := kresp.(*kmsg.FetchResponse).Topics[0].Partitions
	if len(parts[0].RecordBatches) == 0 || len(parts[1].RecordBatches) != 0 {
		t.Fatalf("want partition 0's batch only (the budget is one byte): %d and %d bytes", len(parts[0].RecordBatches), len(parts[1].RecordBatches))
	}
	if p1 := parts[1]; p1.HighWatermark != 1 || p1.LastStableOffset != 0 {
		t.Fatalf("skipped partition: high watermark %d, last stable offset %d; want 1 and 0 (the open transaction)", p1.HighWatermark, p1.LastStableOffset)
	}
}
