package broker_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/penstockhq/penstock/internal/brokertest"
)

func TestCompactionKeepsLatestAndDropsTombstones(t *testing.T) {
	dir := t.TempDir()
	b := startGroupBroker(t, brokertest.WithDir(dir))
	topic := "compacted"
	str := func(s string) *string { return &s }
	createTopic(t, b.Addr, topic, 1, map[string]*string{
		"cleanup.policy": str("compact,delete"), "segment.ms": str("100"),
		"delete.retention.ms": str("1500"), "min.cleanable.dirty.ratio": str("0.01"),
		"retention.ms": str("-1"),
	})
	p := newClient(t, b.Addr, kgo.DefaultProduceTopic(topic))
	ctx := context.Background()
	round := func(recs ...*kgo.Record) {
		t.Helper()
		if err := p.ProduceSync(ctx, recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(150 * time.Millisecond) // the next produce rolls the segment
	}
	for v := 1; v <= 3; v++ {
		var recs []*kgo.Record
		for k := range 10 {
			recs = append(recs, &kgo.Record{Key: fmt.Appendf(nil, "k%d", k), Value: fmt.Appendf(nil, "v%d", v)})
		}
		round(recs...)
	}
	var tombs []*kgo.Record
	for k := range 3 {
		tombs = append(tombs, &kgo.Record{Key: fmt.Appendf(nil, "k%d", k)})
	}
	round(tombs...)
	round(&kgo.Record{Key: []byte("end"), Value: []byte("x")}) // closes the tombstones' segment
	round(&kgo.Record{Key: []byte("end"), Value: []byte("y")})

	if n := b.Server.Compact(true); n == 0 {
		t.Fatal("compaction rewrote no segment")
	}
	check := func(wantTombstones bool, wantLast int64) {
		t.Helper()
		got := readAll(t, b.Addr, topic, false, -1, time.Second)
		latest := map[string]string{}
		var last int64 = -1
		tombstones := 0
		for _, r := range got {
			if r.Offset <= last {
				t.Fatalf("offsets not increasing: %d after %d", r.Offset, last)
			}
			last = r.Offset
			if _, dup := latest[string(r.Key)]; dup && string(r.Key) != "end" {
				t.Fatalf("key %s appears twice after compaction", r.Key)
			}
			if r.Value == nil {
				tombstones++
			}
			latest[string(r.Key)] = string(r.Value)
		}
		for k := 3; k < 10; k++ {
			if v := latest[fmt.Sprintf("k%d", k)]; v != "v3" {
				t.Fatalf("k%d = %q, want v3", k, v)
			}
		}
		if wantTombstones && tombstones != 3 || !wantTombstones && tombstones != 0 {
			t.Fatalf("%d tombstones left (want tombstones: %v); records %d", tombstones, wantTombstones, len(got))
		}
		if last != wantLast {
			t.Fatalf("last offset %d, want %d (offsets must not be renumbered)", last, wantLast)
		}
	}
	check(true, 34)
	time.Sleep(1600 * time.Millisecond)
	round(&kgo.Record{Key: []byte("end"), Value: []byte("z")})
	b.Server.Compact(true)
	check(false, 35)
	// The rewritten segments survive a restart.
	p.Close()
	b.Stop()
	b = startGroupBroker(t, brokertest.WithDir(dir))
	check(false, 35)
}

func TestCompactionDropsAbortedTransactions(t *testing.T) {
	b := startTxnBroker(t)
	topic := "compacted-txn"
	str := func(s string) *string { return &s }
	createTopic(t, b.Addr, topic, 1, map[string]*string{"cleanup.policy": str("compact"), "segment.ms": str("100")})
	ctx := context.Background()
	plain := newClient(t, b.Addr, kgo.DefaultProduceTopic(topic))
	if err := plain.ProduceSync(ctx, &kgo.Record{Key: []byte("k"), Value: []byte("committed")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	tx := newClient(t, b.Addr, kgo.TransactionalID("compact-tx"), kgo.DefaultProduceTopic(topic))
	if err := tx.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := tx.ProduceSync(ctx, &kgo.Record{Key: []byte("k"), Value: []byte("aborted")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := tx.EndTransaction(ctx, kgo.TryAbort); err != nil {
		t.Fatal(err)
	}
	time.Sleep(150 * time.Millisecond)
	if err := plain.ProduceSync(ctx, &kgo.Record{Key: []byte("other"), Value: []byte("x")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	b.Server.Compact(true)
	got := readAll(t, b.Addr, topic, false, -1, time.Second)
	var vals []string
	for _, r := range got {
		vals = append(vals, string(r.Value))
	}
	if len(got) != 2 || vals[0] != "committed" || vals[1] != "x" {
		t.Fatalf("after compaction read_uncommitted sees %q, want [committed x]", vals)
	}
}

// TestCompactionKeepsOpenTransactionAtOffsetZero: a transaction open at
// the very first offset holds the cleaner back like any other (a last
// stable offset of 0 once meant "no limit"), so its record is not
// compacted away by a later value of its key before it commits.
func TestCompactionKeepsOpenTransactionAtOffsetZero(t *testing.T) {
	b := startTxnBroker(t)
	topic := "compacted-open-txn"
	str := func(s string) *string { return &s }
	createTopic(t, b.Addr, topic, 1, map[string]*string{"cleanup.policy": str("compact"), "segment.ms": str("100")})
	ctx := context.Background()
	tx := newClient(t, b.Addr, kgo.TransactionalID("compact-open"), kgo.DefaultProduceTopic(topic))
	if err := tx.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := tx.ProduceSync(ctx, &kgo.Record{Key: []byte("k"), Value: []byte("open")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	plain := newClient(t, b.Addr, kgo.DefaultProduceTopic(topic))
	for _, k := range []string{"k", "x"} {
		time.Sleep(150 * time.Millisecond) // past segment.ms: each write rolls
		if err := plain.ProduceSync(ctx, &kgo.Record{Key: []byte(k), Value: []byte("later")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	b.Server.Compact(true)
	if err := tx.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	got := readAll(t, b.Addr, topic, true, 3, time.Second)
	if len(got) == 0 || string(got[0].Value) != "open" {
		var vs []string
		for _, r := range got {
			vs = append(vs, string(r.Value))
		}
		t.Fatalf("read_committed after compaction and commit sees %q, want the committed transaction's record first", vs)
	}
}
