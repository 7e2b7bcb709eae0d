package offsets

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/internal/brokertest"
)

// openStore opens a store on Penstock's broker (internal/brokertest), or on
// kfake when useKfake.
func openStore(t *testing.T, useKfake bool) (*Store, string) {
	t.Helper()
	var addr string
	if useKfake {
		c, err := kfake.NewCluster(kfake.NumBrokers(1))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(c.Close)
		addr = c.ListenAddrs()[0]
	} else {
		addr = brokertest.Start(t).Addr
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	s, err := Open(ctx, Config{Topic: "offs", Partitions: 5, ReplicationFactor: 1, ClientOpts: []kgo.Opt{kgo.SeedBrokers(addr)}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s, addr
}

func TestKeyFormatIsKafkaConnects(t *testing.T) {
	k, err := EncodeKey("pg", map[string]any{"server": "db1"})
	if err != nil || string(k) != `["pg",{"server":"db1"}]` {
		t.Fatalf("key %s %v", k, err)
	}
	c, p, err := DecodeKey([]byte(`["pg", {"server": "db1", "lsn": 123456789012345678}]`))
	if err != nil || c != "pg" || p["server"] != "db1" || p["lsn"] != int64(123456789012345678) {
		t.Fatalf("decoded %q %#v %v", c, p, err)
	}
	if _, _, err := DecodeKey([]byte(`{"not":"an array"}`)); err == nil {
		t.Fatal("object key accepted")
	}
}

func TestStoreWriteReadResetAndReopen(t *testing.T) {
	for _, kf := range []bool{false, true} {
		t.Run(fmt.Sprintf("kfake=%v", kf), func(t *testing.T) {
			s, addr := openStore(t, kf)
			ctx := context.Background()
			part := map[string]any{"task": int32(0)}
			if err := s.Write(ctx, "c", []connect.SourceOffset{{Partition: part, Offset: map[string]any{"seq": 41}}, {Partition: map[string]any{"task": 1}, Offset: map[string]any{"seq": 7}}}); err != nil {
				t.Fatal(err)
			}
			got, err := s.Reader("c").Offset(ctx, map[string]any{"task": int64(0)})
			if err != nil || got["seq"] != int64(41) {
				t.Fatalf("offset %v %v", got, err)
			}
			// A second store reads the same from the topic.
			s2, err := Open(ctx, Config{Topic: "offs", Partitions: 5, ClientOpts: []kgo.Opt{kgo.SeedBrokers(addr)}})
			if err != nil {
				t.Fatal(err)
			}
			defer s2.Close()
			if offs := s2.Offsets("c"); len(offs) != 2 || offs[0].Offset["seq"] != int64(41) {
				t.Fatalf("reopened offsets %+v", offs)
			}
			if err := s.Reset(ctx, "c"); err != nil {
				t.Fatal(err)
			}
			if err := s2.ReadToEnd(ctx); err != nil {
				t.Fatal(err)
			}
			if offs := s2.Offsets("c"); len(offs) != 0 {
				t.Fatalf("offsets after reset %+v", offs)
			}
		})
	}
}

type committer struct{ got [][]connect.SourceOffset }

func (c *committer) Commit(_ context.Context, flushed []connect.SourceOffset) error {
	c.got = append(c.got, flushed)
	return nil
}

func TestTaskWriterStagesOnlyInOrderAcknowledged(t *testing.T) {
	s, _ := openStore(t, false)
	ctx := context.Background()
	w := s.NewTaskWriter("c")
	pa, pb := map[string]any{"p": "a"}, map[string]any{"p": "b"}
	r1 := w.Submit(pa, map[string]any{"o": 1})
	r2 := w.Submit(pb, map[string]any{"o": 1})
	r3 := w.Submit(pa, map[string]any{"o": 2})
	task := &committer{}

	// r3 acknowledged first: nothing is safe yet.
	w.Ack(r3)
	if flushed, err := w.Flush(ctx, task); err != nil || len(flushed) != 0 || len(task.got) != 0 {
		t.Fatalf("flushed %v before earlier records were acked (err %v)", flushed, err)
	}
	w.Ack(r1)
	flushed, err := w.Flush(ctx, task)
	if err != nil || len(flushed) != 1 || flushed[0].Offset["o"] != 1 {
		t.Fatalf("after r1: %v %v", flushed, err)
	}
	w.Ack(r2) // now r2 and r3 are safe: a at 2, b at 1
	flushed, err = w.Flush(ctx, task)
	if err != nil || len(flushed) != 2 {
		t.Fatalf("after r2: %v %v", flushed, err)
	}
	if got := s.Offset("c", pa); got["o"] != int64(2) {
		t.Fatalf("stored offset of a: %v", got)
	}
	if len(task.got) != 2 || w.InFlight() != 0 {
		t.Fatalf("commit hook calls %v, in flight %d", task.got, w.InFlight())
	}
	if err := w.WaitDrained(ctx); err != nil {
		t.Fatal(err)
	}
}
