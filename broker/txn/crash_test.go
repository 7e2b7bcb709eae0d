package txn

import (
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/penstockhq/penstock/broker/records"
	"github.com/penstockhq/penstock/broker/storage"
)

// TestProducerStateCrashSimulation runs random schedules of transactional
// appends, commit and abort markers, group commits, producer state
// snapshots, clean restarts and power losses on a FaultFS (so snapshots are
// lost with their unsynced directory entries like the segments are), and
// checks after every restart that:
//   - the state rebuilt from the newest surviving snapshot is exactly that of
//     a replay of the whole recovered log;
//   - every transaction whose marker was acknowledged (fsynced) keeps its
//     outcome: aborted ones are in the aborted index, committed ones not;
//   - a transaction whose marker was lost is open again and holds the last
//     stable offset back (the coordinator then writes the marker again,
//     with the outcome it prepared), and the LSO never passes the high
//     watermark;
//   - each producer's last surviving batch, retried, is a duplicate.
func TestProducerStateCrashSimulation(t *testing.T) {
	for seed := range uint64(12) {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			s := &txnSim{t: t, rng: rand.New(rand.NewPCG(seed, 5)), fs: storage.NewFaultFS("/data")}
			for i := range 3 {
				s.producers = append(s.producers, &simProducer{id: int64(100 + i)})
			}
			s.open()
			s.run(400)
		})
	}
}

type txnSim struct {
	t         *testing.T
	rng       *rand.Rand
	fs        *storage.FaultFS
	syncer    *storage.Syncer
	l         *storage.Log
	ps        *PartitionState
	producers []*simProducer
	txns      []*simTxn   // every transaction with a marker written
	pending   []simAppend // appends waiting for a group commit
	history   []string
}

type simProducer struct {
	id      int64
	seq     int32
	batches []*simBatch // in offset order
	cur     *simTxn     // the open transaction, if any
}

type simBatch struct {
	base, last int64
	seq        int32
	n          int
	acked      bool
}

type simTxn struct {
	p           *simProducer
	first       int64
	marker      int64 // offset of the marker, -1 while none is written
	commit      bool
	markerAcked bool
}

type simAppend struct {
	res storage.AppendResult
	ack func()
}

const simPartitionDir = "/data/t-0"

func (s *txnSim) note(format string, args ...any) {
	s.history = append(s.history, fmt.Sprintf(format, args...))
	if len(s.history) > 60 {
		s.history = s.history[1:]
	}
}

func (s *txnSim) open() {
	s.t.Helper()
	s.syncer = storage.NewManualSyncer(nil)
	s.ps = NewPartitionState("t", 0, simPartitionDir, nil)
	cfg := storage.DefaultConfig()
	cfg.SegmentBytes = 400
	quiet := slog.New(slog.NewTextHandler(testWriter{s.t}, &slog.HandlerOptions{Level: slog.LevelError + 1}))
	l, err := storage.Open(simPartitionDir, storage.Options{Config: cfg, Syncer: s.syncer, FS: s.fs, Hook: s.ps, Logger: quiet})
	if err != nil {
		s.t.Fatal(err)
	}
	s.l = l
	if err := s.ps.Rebuild(l, quiet); err != nil {
		s.t.Fatal(err)
	}
	s.pending = nil
}

func (s *txnSim) run(steps int) {
	s.t.Cleanup(func() {
		if s.t.Failed() {
			s.t.Logf("last steps:\n%s", strings.Join(s.history, "\n"))
		}
	})
	for step := range steps {
		switch r := s.rng.IntN(100); {
		case r < 4:
			s.powerLoss()
		case r < 6:
			s.restart()
		case r < 50:
			s.append(s.producers[s.rng.IntN(len(s.producers))])
		case r < 65:
			s.endTxn(s.producers[s.rng.IntN(len(s.producers))], s.rng.IntN(2) == 0)
		case r < 90:
			s.syncRound()
		default:
			err := s.ps.Snapshot(s.l, 0)
			s.note("snapshot at %d: %v", s.l.LogEndOffset(), err)
			if err != nil {
				s.t.Fatal(err)
			}
		}
		if s.t.Failed() {
			s.t.Fatalf("failed at step %d", step)
		}
	}
	s.powerLoss()
}

func (s *txnSim) append(p *simProducer) {
	n := 1 + s.rng.IntN(3)
	res, err := s.l.Append(txnBatch(p.id, 0, p.seq, n, true))
	if err != nil {
		s.t.Fatalf("append of producer %d: %v", p.id, err)
	}
	b := &simBatch{base: res.BaseOffset, last: res.LastOffset, seq: p.seq, n: n}
	p.seq += int32(n)
	p.batches = append(p.batches, b)
	if p.cur == nil {
		p.cur = &simTxn{p: p, first: res.BaseOffset, marker: -1}
	}
	s.note("producer %d batch %d..%d", p.id, b.base, b.last)
	s.pending = append(s.pending, simAppend{res, func() { b.acked = true }})
}

// endTxn writes the marker of p's open transaction, as the coordinator
// does once the outcome is prepared.
func (s *txnSim) endTxn(p *simProducer, commit bool) {
	x := p.cur
	if x == nil {
		return
	}
	p.cur = nil
	x.commit = commit
	s.txns = append(s.txns, x)
	s.writeMarker(x)
}

func (s *txnSim) writeMarker(x *simTxn) {
	res, err := s.l.AppendControl(records.ControlBatch(x.p.id, 0, x.commit, 1))
	if err != nil {
		s.t.Fatalf("marker of producer %d: %v", x.p.id, err)
	}
	x.marker, x.markerAcked = res.BaseOffset, false
	s.note("producer %d marker (commit %v) at %d for %d", x.p.id, x.commit, x.marker, x.first)
	s.pending = append(s.pending, simAppend{res, func() { x.markerAcked = true }})
}

func (s *txnSim) syncRound() {
	s.syncer.Round()
	s.note("sync round: hw %d", s.l.HighWatermark())
	keep := s.pending[:0]
	for _, a := range s.pending {
		select {
		case <-a.res.Sync.Done():
			if err := a.res.Wait(); err != nil {
				s.t.Fatalf("sync of %d..%d: %v", a.res.BaseOffset, a.res.LastOffset, err)
			}
			a.ack()
		default:
			keep = append(keep, a)
		}
	}
	s.pending = keep
}

// restart closes the log cleanly, which fsyncs it: everything is acked.
func (s *txnSim) restart() {
	if err := s.ps.Snapshot(s.l, 0); err != nil {
		s.t.Fatal(err)
	}
	if err := s.l.Close(); err != nil {
		s.t.Fatal(err)
	}
	s.note("restart")
	for _, a := range s.pending {
		a.ack()
	}
	s.open()
	s.verify()
}

func (s *txnSim) powerLoss() {
	s.note("power loss")
	s.fs.PowerLoss()
	s.l.Close() // its files belong to the machine that lost power
	s.open()
	s.verify()
}

// verify checks the recovered state, then makes the recovered log the
// model and finishes the transactions whose marker was lost.
func (s *txnSim) verify() {
	t := s.t
	end, hw := s.l.LogEndOffset(), s.l.HighWatermark()
	s.note("recovered: end %d hw %d", end, hw)
	replay := NewPartitionState("t", 0, simPartitionDir, nil)
	err := s.l.ScanBatches(s.l.LogStartOffset(), -1, func(b []byte, h storage.BatchHeader) error {
		if h.ProducerID >= 0 {
			replay.noteLocked(&h, b)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	s.ps.mu.Lock()
	got := string(s.ps.encodeLocked())
	s.ps.mu.Unlock()
	if want := string(replay.encodeLocked()); got != want {
		t.Fatalf("state rebuilt from snapshot %d:\n%s\nreplay of the log:\n%s", s.ps.snapshot, got, want)
	}
	if lso := s.ps.LSO(hw); lso > hw {
		t.Fatalf("LSO %d beyond the high watermark %d", lso, hw)
	}
	var redo []*simTxn
	kept := s.txns[:0]
	for _, x := range s.txns {
		switch {
		case x.marker < end:
			if aborted := s.ps.IsAborted(x.p.id, x.first); aborted == x.commit {
				t.Fatalf("transaction of producer %d at %d (marker %d, commit %v): IsAborted %v after restart", x.p.id, x.first, x.marker, x.commit, aborted)
			}
			listed := false
			for _, a := range s.ps.Aborted(x.first, x.first) {
				listed = listed || a == AbortedTxn{x.p.id, x.first, x.marker}
			}
			if listed == x.commit {
				t.Fatalf("transaction of producer %d at %d (commit %v): listed as aborted %v", x.p.id, x.first, x.commit, listed)
			}
			x.markerAcked = true
			kept = append(kept, x)
		case x.markerAcked:
			t.Fatalf("acknowledged marker of producer %d at %d lost (log ends at %d)", x.p.id, x.marker, end)
		case x.first < end:
			if lso := s.ps.LSO(hw); lso > x.first {
				t.Fatalf("transaction of producer %d at %d lost its marker but LSO is %d", x.p.id, x.first, lso)
			}
			redo = append(redo, x)
		}
	}
	s.txns = kept
	for _, p := range s.producers {
		i := len(p.batches)
		for i > 0 && p.batches[i-1].base >= end {
			i--
			if p.batches[i].acked {
				t.Fatalf("acknowledged batch %d..%d of producer %d lost", p.batches[i].base, p.batches[i].last, p.id)
			}
		}
		p.batches = p.batches[:i]
		p.seq = 0
		if p.cur != nil && p.cur.first >= end {
			p.cur = nil
		}
		if i == 0 {
			continue
		}
		b := p.batches[i-1]
		b.acked = true
		p.seq = b.seq + int32(b.n)
		_, err := s.l.Append(txnBatch(p.id, 0, b.seq, b.n, true))
		var dup *storage.DuplicateBatchError
		if !errors.As(err, &dup) || dup.BaseOffset != b.base {
			t.Fatalf("retry of producer %d's batch %d..%d after restart: %v, want a duplicate", p.id, b.base, b.last, err)
		}
	}
	for _, x := range redo {
		s.txns = append(s.txns, x)
		s.writeMarker(x)
	}
}
