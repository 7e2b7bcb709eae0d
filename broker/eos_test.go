package broker_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// runTransactSession runs a consume-transform-produce loop with a
// GroupTransactSession: each input record is copied to out inside a
// transaction that also commits the input offsets. It returns after
// stopAfter records were processed in committed transactions (never when
// negative) or when ctx ends. With kill set it cuts the client's
// connections in the middle of a transaction once killAt records were
// committed, leaving that transaction open on the broker.
func runTransactSession(ctx context.Context, t *testing.T, addr, in, out string, killAt int, d *cutDialer) (int, error) {
	opts := []kgo.Opt{
		kgo.SeedBrokers(addr), kgo.TransactionalID("eos-tx"), kgo.ConsumerGroup("eos-g"),
		kgo.ConsumeTopics(in), kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.RequireStableFetchOffsets(), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.SessionTimeout(2 * time.Second), kgo.HeartbeatInterval(300 * time.Millisecond), kgo.TransactionTimeout(3 * time.Second),
		kgo.DefaultProduceTopic(out), kgo.FetchMaxPartitionBytes(600),
	}
	if d != nil {
		opts = append(opts, kgo.Dialer(d.dial))
	}
	sess, err := kgo.NewGroupTransactSession(opts...)
	if err != nil {
		return 0, err
	}
	defer sess.Close()
	done := 0
	for ctx.Err() == nil {
		fs := sess.PollFetches(ctx)
		recs := fs.Records()
		if len(recs) == 0 {
			continue
		}
		if err := sess.Begin(); err != nil {
			return done, fmt.Errorf("begin: %w", err)
		}
		for _, r := range recs {
			sess.Produce(ctx, &kgo.Record{Key: r.Key, Value: r.Value}, nil)
		}
		if killAt >= 0 && done >= killAt {
			if err := sess.Client().Flush(ctx); err != nil {
				return done, err
			}
			d.cut() // vanish mid-transaction
			return done, nil
		}
		committed, err := sess.End(ctx, kgo.TryCommit)
		if err != nil {
			return done, fmt.Errorf("end: %w", err)
		}
		if committed {
			done += len(recs)
		}
	}
	return done, nil
}

func TestTransactSessionExactlyOnceWithKilledProducer(t *testing.T) {
	b := startTxnBroker(t)
	in, out := "eos-in", "eos-out"
	createTopic(t, b.Addr, in, 3, nil)
	createTopic(t, b.Addr, out, 3, nil)
	const n = 600
	prod := newClient(t, b.Addr)
	for i := 0; i < n; i += 10 {
		var recs []*kgo.Record
		for j := i; j < i+10; j++ {
			recs = append(recs, &kgo.Record{Topic: in, Value: fmt.Appendf(nil, "in-%d", j)})
		}
		if err := prod.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}

	// The first worker dies with a transaction open.
	d := &cutDialer{}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	first, err := runTransactSession(ctx, t, b.Addr, in, out, n/3, d)
	if err != nil {
		t.Fatalf("first worker: %v", err)
	}
	t.Logf("first worker committed %d", first)
	if first == 0 {
		t.Fatalf("first worker committed nothing before dying")
	}
	// The second takes over: its InitProducerId fences the first and
	// aborts the open transaction; it resumes from committed offsets.
	ctx2, cancel2 := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() {
		k, err := runTransactSession(ctx2, t, b.Addr, in, out, -1, nil)
		t.Logf("second worker committed %d: %v", k, err)
		errc <- err
	}()
	seen := map[string]int{}
	rc := newClient(t, b.Addr, kgo.ConsumeTopics(out), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	total := 0
	for total < n {
		fs := rc.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read_committed reader saw %d of %d records", total, n)
		}
		fs.EachRecord(func(r *kgo.Record) {
			seen[string(r.Value)]++
			total++
		})
	}
	// Nothing more arrives.
	quiet, qc := context.WithTimeout(context.Background(), time.Second)
	fs := rc.PollFetches(quiet)
	qc()
	fs.EachRecord(func(r *kgo.Record) { seen[string(r.Value)]++; total++ })
	cancel2()
	if err := <-errc; err != nil && !errors.Is(err, context.Canceled) {
		t.Logf("second worker: %v", err)
	}
	if total != n || len(seen) != n {
		t.Fatalf("read_committed saw %d records, %d distinct, want %d each exactly once", total, len(seen), n)
	}
	for v, c := range seen {
		if c != 1 {
			t.Fatalf("%s seen %d times", v, c)
		}
	}
}
