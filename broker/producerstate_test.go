package broker_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/penstockhq/penstock/internal/brokertest"
)

// TestOpenTransactionManySegmentsBackAbortedOnRestart leaves a transaction
// open, writes several segments after it and restarts: the restart aborts
// it, and read_committed readers never see its record, whether producer
// state comes from the whole log (no snapshot, as after an upgrade) or
// from the snapshot written at shutdown.
func TestOpenTransactionManySegmentsBackAbortedOnRestart(t *testing.T) {
	for _, snapshots := range []bool{false, true} {
		name := "from-log"
		if snapshots {
			name = "from-snapshot"
		}
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			b := startTxnBroker(t, brokertest.WithDir(dir))
			topic := "txn-old-open"
			str := func(s string) *string { return &s }
			createTopic(t, b.Addr, topic, 1, map[string]*string{"segment.bytes": str("1024")})
			ctx := context.Background()
			p := newClient(t, b.Addr, kgo.TransactionalID("old-open"), kgo.DefaultProduceTopic(topic))
			if err := p.BeginTransaction(); err != nil {
				t.Fatal(err)
			}
			if err := p.ProduceSync(ctx, &kgo.Record{Value: []byte("in flight")}).FirstErr(); err != nil {
				t.Fatal(err)
			}
			plain := newClient(t, b.Addr, kgo.DefaultProduceTopic(topic))
			for range 40 {
				if err := plain.ProduceSync(ctx, &kgo.Record{Value: make([]byte, 200)}).FirstErr(); err != nil {
					t.Fatal(err)
				}
			}
			p.Close()
			plain.Close()
			b.Stop()
			partDir := filepath.Join(dir, "topics", topic, "0")
			logs, _ := filepath.Glob(filepath.Join(partDir, "*.log"))
			snaps, _ := filepath.Glob(filepath.Join(partDir, "*.producer-state"))
			if len(logs) < 4 || len(snaps) == 0 {
				t.Fatalf("%d segments and %d snapshots in %s, want several segments and a shutdown snapshot", len(logs), len(snaps), partDir)
			}
			if !snapshots {
				for _, s := range snaps {
					os.Remove(s)
				}
			}
			b = startTxnBroker(t, brokertest.WithDir(dir))
			got := readAll(t, b.Addr, topic, true, 40, time.Second)
			for _, r := range got {
				if string(r.Value) == "in flight" {
					t.Fatalf("read_committed saw the aborted transaction's record at %d", r.Offset)
				}
			}
			if len(got) != 40 {
				t.Fatalf("read_committed saw %d records, want 40", len(got))
			}
		})
	}
}
