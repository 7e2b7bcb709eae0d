// Command broker2 benchmarks the broker's group coordinator and
// transactions in one run (well under a minute):
//
//	go run ./bench/broker2 [-members 10] [-mb 256] [-txn-records 1000] [-dir DIR]
//
// It prints how long a group of -members franz-go consumers takes to
// become stable when they all join at once (group.initial.rebalance.delay.ms
// is 0, as for every number here; Kafka's default of 3 s would add that
// delay to the first rebalance), how long the group takes to rebalance when
// one more member joins and when one leaves, and acks=all produce
// throughput of an idempotent producer beside a transactional one writing
// the same bytes in transactions of -txn-records records.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/penstockhq/penstock/broker"
	"github.com/penstockhq/penstock/internal/gctune"
)

var (
	members    = flag.Int("members", 10, "consumers joining the group")
	totalMB    = flag.Int("mb", 256, "megabytes produced by each producer run")
	recordSize = flag.Int("record", 1024, "record value size in bytes")
	partitions = flag.Int("partitions", 6, "partitions of the produce topic")
	txnRecords = flag.Int("txn-records", 1000, "records per transaction")
	dataDir    = flag.String("dir", "", "data directory (default: a temp dir, removed after)")
)

func main() {
	fmt.Printf("GOGC=%d, as the penstock binary runs\n", gctune.Apply())
	flag.Parse()
	dir := *dataDir
	if dir == "" {
		d, err := os.MkdirTemp("", "penstock-bench2-")
		if err != nil {
			fail(err)
		}
		defer os.RemoveAll(d)
		dir = d
	}
	cfg := broker.DefaultConfig()
	cfg.DataDir = filepath.Join(dir, "broker")
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := cfg.Apply(map[string]string{"group.initial.rebalance.delay.ms": "0", "group.min.session.timeout.ms": "1000"}); err != nil {
		fail(err)
	}
	srv, err := broker.New(cfg)
	if err != nil {
		fail(err)
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fail(err)
	}
	go srv.Serve(ln)
	addr := ln.Addr().String()

	join, grow, shrink := rebalance(srv, addr)
	fmt.Printf("group of %d consumers, all joining at once: stable after %v\n", *members, join.Round(time.Millisecond))
	fmt.Printf("member %d joins the stable group: rebalanced in %v\n", *members+1, grow.Round(time.Millisecond))
	fmt.Printf("one member leaves: rebalanced in %v\n", shrink.Round(time.Millisecond))

	n := *totalMB << 20 / *recordSize
	if err := srv.CreateTopic("plain", int32(*partitions), nil); err != nil {
		fail(err)
	}
	if err := srv.CreateTopic("txn", int32(*partitions), nil); err != nil {
		fail(err)
	}
	plain := produce(addr, "plain", n, false)
	txn := produce(addr, "txn", n, true)
	mb := float64(n**recordSize) / (1 << 20)
	fmt.Printf("acks=all idempotent produce:  %7.1f MB/s  %8.0f records/s (%d x %d B)\n", mb/plain.Seconds(), float64(n)/plain.Seconds(), n, *recordSize)
	fmt.Printf("transactional produce:        %7.1f MB/s  %8.0f records/s (%d records per transaction, %.1f transactions/s)\n",
		mb/txn.Seconds(), float64(n)/txn.Seconds(), *txnRecords, float64(n / *txnRecords)/txn.Seconds())
}

type member struct {
	cl       *kgo.Client
	assigned atomic.Int64 // partitions owned
	gen      atomic.Int64 // assignments received
}

func newMember(addr, topic string) *member {
	m := &member{}
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumerGroup("bench-group"), kgo.ConsumeTopics(topic),
		kgo.Balancers(kgo.CooperativeStickyBalancer()), kgo.SessionTimeout(6*time.Second),
		kgo.HeartbeatInterval(100*time.Millisecond),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, a map[string][]int32) {
			m.assigned.Add(int64(len(a[topic])))
			m.gen.Add(1)
		}),
		kgo.OnPartitionsRevoked(func(_ context.Context, _ *kgo.Client, r map[string][]int32) {
			m.assigned.Add(-int64(len(r[topic])))
			m.gen.Add(1)
		}),
	)
	if err != nil {
		fail(err)
	}
	m.cl = cl
	go func() {
		for !cl.PollFetches(context.Background()).IsClientClosed() {
		}
	}()
	return m
}

// settled waits until every partition is owned by exactly the members and
// each member owns at least one, returning when that happened.
func settled(ms []*member, parts int) time.Time {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		total, ok := int64(0), true
		for _, m := range ms {
			a := m.assigned.Load()
			total += a
			if a == 0 {
				ok = false
			}
		}
		if ok && total == int64(parts) {
			return time.Now()
		}
		time.Sleep(2 * time.Millisecond)
	}
	fail(fmt.Errorf("group did not settle"))
	return time.Time{}
}

func rebalance(srv *broker.Server, addr string) (join, grow, shrink time.Duration) {
	const topic = "group-bench"
	parts := 2 * (*members + 1)
	if err := srv.CreateTopic(topic, int32(parts), nil); err != nil {
		fail(err)
	}
	start := time.Now()
	ms := make([]*member, *members)
	var wg sync.WaitGroup
	for i := range ms {
		wg.Go(func() { ms[i] = newMember(addr, topic) })
	}
	wg.Wait()
	join = settled(ms, parts).Sub(start)
	time.Sleep(300 * time.Millisecond)

	start = time.Now()
	ms = append(ms, newMember(addr, topic))
	grow = settled(ms, parts).Sub(start)
	time.Sleep(300 * time.Millisecond)

	start = time.Now()
	ms[0].cl.Close()
	rest := ms[1:]
	// The survivors own everything again once the leaver's partitions
	// are reassigned.
	shrink = settled(rest, parts).Sub(start)
	for _, m := range rest {
		m.cl.Close()
	}
	return join, grow, shrink
}

func produce(addr, topic string, n int, transactional bool) time.Duration {
	opts := []kgo.Opt{kgo.SeedBrokers(addr), kgo.DefaultProduceTopic(topic), kgo.ProducerLinger(0),
		kgo.MaxBufferedRecords(1 << 16), kgo.ProducerBatchMaxBytes(1 << 20)}
	if transactional {
		opts = append(opts, kgo.TransactionalID("bench-txn"))
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		fail(err)
	}
	defer cl.Close()
	ctx := context.Background()
	value := make([]byte, *recordSize)
	var firstErr atomic.Pointer[error]
	cb := func(_ *kgo.Record, err error) {
		if err != nil {
			firstErr.CompareAndSwap(nil, &err)
		}
	}
	start := time.Now()
	if !transactional {
		for range n {
			cl.Produce(ctx, &kgo.Record{Value: value}, cb)
		}
		if err := cl.Flush(ctx); err != nil {
			fail(err)
		}
	} else {
		for done := 0; done < n; {
			if err := cl.BeginTransaction(); err != nil {
				fail(err)
			}
			k := min(*txnRecords, n-done)
			for range k {
				cl.Produce(ctx, &kgo.Record{Value: value}, cb)
			}
			if err := cl.Flush(ctx); err != nil {
				fail(err)
			}
			if err := cl.EndTransaction(ctx, kgo.TryCommit); err != nil {
				fail(err)
			}
			done += k
		}
	}
	el := time.Since(start)
	if p := firstErr.Load(); p != nil {
		fail(*p)
	}
	return el
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "broker2:", err)
	os.Exit(1)
}
