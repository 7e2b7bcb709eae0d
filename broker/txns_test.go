package broker_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

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
	got := readAll(t, b.Addr, topic, true, -1, time.Second)
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
