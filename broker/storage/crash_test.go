package storage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"hash/crc32"
	"log/slog"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

var crashSchedules = flag.Int("crash.schedules", 0,
	"schedules TestCrashSimulation runs (default 60, or PENSTOCK_CRASH_SCHEDULES)")

// TestCrashSimulation runs seeded random schedules of appends (data and
// transaction markers), sync rounds, rolls, compaction, retention,
// DeleteRecords, consumer reads, failing fsyncs and writes, clean restarts
// and power losses on a FaultFS. After every restart it checks that every
// acknowledged batch (its sync round completed without error) and every
// batch a consumer could see is there with its bytes, unless retention,
// DeleteRecords or compaction removed it, and that the log end is not
// below any high watermark a consumer saw: no consumer-visible offset is
// ever reused.
//
// A failing seed is reproduced with -run 'TestCrashSimulation/seed=N'; more
// schedules with -crash.schedules=N or PENSTOCK_CRASH_SCHEDULES=N.
func TestCrashSimulation(t *testing.T) {
	n := 60
	if v, err := strconv.Atoi(os.Getenv("PENSTOCK_CRASH_SCHEDULES")); err == nil {
		n = v
	}
	if *crashSchedules > 0 {
		n = *crashSchedules
	}
	if testing.Short() {
		n = min(n, 10)
	}
	for seed := range n {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			newCrashSim(t, uint64(seed)).run(400)
		})
	}
}

// simBatch is what the simulation wrote: a batch identified by its value.
type simBatch struct {
	base, last int64
	value      string
	acked      bool // durable: its sync round succeeded, or a consumer saw it
}

type pendingAppend struct {
	res     AppendResult
	batches []*simBatch
}

type crashSim struct {
	t      *testing.T
	rng    *rand.Rand
	fs     *FaultFS
	syncer *Syncer
	l      *Log
	cfg    Config
	clock  time.Time
	seq    int

	batches    map[int64]*simBatch // by base offset
	pending    []pendingAppend
	compacted  map[int64]bool // base offsets compaction removed
	maxStart   int64          // highest log start offset reported
	maxVisible int64          // highest high watermark a consumer saw
	offline    bool
	restarts   int
	history    []string // the last steps, printed when a check fails
}

func (s *crashSim) note(format string, args ...any) {
	if len(s.history) == 100 {
		s.history = s.history[1:]
	}
	s.history = append(s.history, fmt.Sprintf(format, args...))
}

const simDir = "/data/topic/0"

func newCrashSim(t *testing.T, seed uint64) *crashSim {
	s := &crashSim{t: t, rng: rand.New(rand.NewPCG(seed, 14)), fs: NewFaultFS("/data"),
		clock: time.UnixMilli(1_700_000_000_000), batches: map[int64]*simBatch{}, compacted: map[int64]bool{}}
	s.cfg = DefaultConfig()
	s.cfg.SegmentBytes = int64(600 + s.rng.IntN(1500))
	s.cfg.SegmentMs = 10_000
	s.cfg.IndexIntervalBytes = int64(100 + s.rng.IntN(400))
	s.cfg.FileDeleteDelay = 0
	s.cfg.RetentionMs, s.cfg.RetentionBytes = -1, -1
	s.open()
	return s
}

func (s *crashSim) open() {
	s.t.Helper()
	s.syncer = manualSyncer()
	l, err := Open(simDir, Options{Config: s.cfg, Syncer: s.syncer, FS: s.fs, Now: func() time.Time { return s.clock },
		Logger: slog.New(slog.NewTextHandler(testWriter{s.t}, &slog.HandlerOptions{Level: slog.LevelError + 1}))})
	if err != nil {
		s.t.Fatalf("open after %d restarts: %v", s.restarts, err)
	}
	s.l = l
	s.offline = false
	s.pending = nil
}

func (s *crashSim) run(steps int) {
	for step := range steps {
		s.clock = s.clock.Add(time.Duration(s.rng.IntN(50)) * time.Millisecond)
		switch r := s.rng.IntN(100); {
		case s.offline && r < 50 || r < 3:
			s.powerLoss()
		case s.offline || r < 5:
			s.restart() // a process restart, which keeps the page cache
		case r < 45:
			s.append(false)
		case r < 50:
			s.append(true)
		case r < 70:
			s.syncRound()
		case r < 75:
			s.clock = s.clock.Add(time.Duration(s.cfg.SegmentMs+1) * time.Millisecond) // the next append rolls
		case r < 80:
			s.compact()
		case r < 85:
			s.retention()
		case r < 87:
			s.deleteRecords()
		case r < 89:
			s.failNextSync()
		case r < 90:
			s.failNextWrite()
		default:
			s.consume()
		}
		if s.t.Failed() {
			s.t.Fatalf("failed at step %d", step)
		}
		if step == 0 {
			s.t.Cleanup(func() {
				if s.t.Failed() {
					s.t.Logf("last steps:\n%s", strings.Join(s.history, "\n"))
				}
			})
		}
	}
	s.powerLoss()
}

// simBatchBytes builds a v2 batch of n records, each with value v; control
// makes it a transaction marker (control and transactional attributes).
func simBatchBytes(n int, ts int64, v string, control bool) []byte {
	var recs []byte
	for i := range n {
		r := kmsg.NewRecord()
		r.OffsetDelta = int32(i)
		r.Value = []byte(v)
		recs = r.AppendTo(recs)
	}
	b := kmsg.RecordBatch{PartitionLeaderEpoch: -1, Magic: 2, LastOffsetDelta: int32(n - 1), FirstTimestamp: ts, MaxTimestamp: ts,
		ProducerID: -1, ProducerEpoch: -1, FirstSequence: -1, NumRecords: int32(n), Records: recs}
	if control {
		b.Attributes = attrControl | attrTransactional
		b.ProducerID, b.ProducerEpoch = 7, 0
	}
	b.Length = int32(BatchHeaderSize - batchLengthOverhead + len(recs))
	out := b.AppendTo(nil)
	binary.BigEndian.PutUint32(out[offCRC:], crc32.Checksum(out[offAttributes:], castagnoli))
	return out
}

// valueOf returns the value of a batch's first record.
func valueOf(b []byte) string {
	var rb kmsg.RecordBatch
	if err := rb.ReadFrom(b); err != nil {
		return "?" + err.Error()
	}
	var r kmsg.Record
	if err := r.ReadFrom(rb.Records); err != nil {
		return "?" + err.Error()
	}
	return string(r.Value)
}

func (s *crashSim) append(control bool) {
	k := 1
	if !control {
		k = 1 + s.rng.IntN(3)
	}
	var data []byte
	var bs []*simBatch
	var counts []int
	for range k {
		s.seq++
		n := 1
		if !control {
			n = 1 + s.rng.IntN(5)
		}
		v := fmt.Sprintf("b%d-%s", s.seq, bytes.Repeat([]byte{'x'}, s.rng.IntN(80)))
		data = append(data, simBatchBytes(n, s.clock.UnixMilli(), v, control)...)
		bs = append(bs, &simBatch{value: v})
		counts = append(counts, n)
	}
	var res AppendResult
	var err error
	if control {
		res, err = s.l.AppendControl(data)
	} else {
		res, err = s.l.Append(data)
	}
	if errors.Is(err, ErrLogOffline) {
		s.offline = true
		return
	}
	if err != nil {
		s.t.Fatalf("append: %v", err)
	}
	off := res.BaseOffset
	for i, b := range bs {
		b.base, b.last = off, off+int64(counts[i])-1
		off = b.last + 1
		if old, ok := s.batches[b.base]; ok && old.acked {
			s.t.Fatalf("offset %d of acknowledged batch %q given to %q", b.base, old.value, b.value)
		}
		s.batches[b.base] = b
	}
	s.note("append control=%v %d..%d", control, res.BaseOffset, res.LastOffset)
	if off-1 != res.LastOffset {
		s.t.Fatalf("append result last offset %d, batches end at %d", res.LastOffset, off-1)
	}
	s.pending = append(s.pending, pendingAppend{res, bs})
}

func (s *crashSim) syncRound() {
	s.syncer.round()
	s.note("sync round: durable %d", s.l.durable)
	keep := s.pending[:0]
	for _, p := range s.pending {
		select {
		case <-p.res.Sync.Done():
		default:
			keep = append(keep, p)
			continue
		}
		err := p.res.Wait()
		switch {
		case err == nil:
			for _, b := range p.batches {
				b.acked = true
			}
		case errors.Is(err, ErrLogOffline):
			s.note("sync of %d..%d failed: %v", p.res.BaseOffset, p.res.LastOffset, err)
			s.offline = true
		default:
			s.t.Fatalf("sync of %d..%d: %v", p.res.BaseOffset, p.res.LastOffset, err)
		}
	}
	s.pending = keep
}

// consume reads like a consumer: what it sees must be what was written,
// and is from now on required to survive.
func (s *crashSim) consume() {
	start, hw := s.l.Offsets()
	s.maxStart = max(s.maxStart, start)
	s.maxVisible = max(s.maxVisible, hw)
	s.note("consume: start %d hw %d", start, hw)
	for _, b := range s.batches {
		if b.last < hw {
			b.acked = true
		}
	}
	if hw == start {
		return
	}
	off := start + s.rng.Int64N(hw-start)
	r, err := s.l.Read(off, 1<<20)
	if errors.Is(err, ErrLogOffline) {
		s.offline = true
		return
	}
	if err != nil {
		s.t.Fatalf("read %d (start %d, hw %d): %v", off, start, hw, err)
	}
	defer PutBuffer(r.Data)
	if r.Data == nil {
		for _, b := range s.batches {
			if b.last >= off && b.base < hw && !s.compacted[b.base] {
				s.t.Fatalf("read %d (hw %d) returned nothing; batch %d..%d is there", off, hw, b.base, b.last)
			}
		}
		return
	}
	h, err := ParseBatchHeader(r.Data)
	if err != nil {
		s.t.Fatal(err)
	}
	if h.BaseOffset >= hw {
		s.t.Fatalf("read %d returned batch %d at or after the high watermark %d", off, h.BaseOffset, hw)
	}
	if b := s.batches[h.BaseOffset]; b == nil || b.value != valueOf(r.Data[:h.Size()]) {
		s.t.Fatalf("read %d: batch %d holds %q, not what was written", off, h.BaseOffset, valueOf(r.Data[:h.Size()]))
	}
}

func (s *crashSim) compact() {
	segs := s.l.Segments()
	var closed []SegmentInfo
	for _, si := range segs {
		if !si.Active && si.Size > 0 {
			closed = append(closed, si)
		}
	}
	if len(closed) == 0 {
		return
	}
	si := closed[s.rng.IntN(len(closed))]
	var kept []byte
	var dropped []int64
	err := s.l.ScanBatches(si.Base, si.Next, func(b []byte, h BatchHeader) error {
		if s.rng.IntN(2) == 0 {
			kept = append(kept, b...)
		} else {
			dropped = append(dropped, h.BaseOffset)
		}
		return nil
	})
	if errors.Is(err, ErrLogOffline) {
		s.offline = true
		return
	}
	if err != nil {
		s.t.Fatalf("scan for compaction: %v", err)
	}
	err = s.l.ReplaceSegment(si.Base, kept)
	if errors.Is(err, ErrLogOffline) {
		s.offline = true
		return
	}
	if injected(err) {
		return
	}
	if err != nil {
		s.t.Fatalf("replace segment %d: %v", si.Base, err)
	}
	for _, o := range dropped {
		s.compacted[o] = true
	}
	s.note("compacted segment %d..%d, dropped %v", si.Base, si.Next, dropped)
}

func (s *crashSim) retention() {
	cfg := s.cfg
	if s.rng.IntN(2) == 0 {
		cfg.RetentionBytes = int64(1000 + s.rng.IntN(4000))
	} else {
		cfg.RetentionMs = int64(5_000 + s.rng.IntN(30_000))
	}
	s.l.SetConfig(cfg)
	if _, err := s.l.ApplyRetention(); err != nil {
		if errors.Is(err, ErrLogOffline) {
			s.offline = true
		} else if !injected(err) {
			s.t.Fatalf("retention: %v", err)
		}
	}
	s.l.SetConfig(s.cfg)
	s.maxStart = max(s.maxStart, s.l.LogStartOffset())
	s.note("retention: start %d", s.l.LogStartOffset())
}

func (s *crashSim) deleteRecords() {
	start, hw := s.l.Offsets()
	if hw == start {
		return
	}
	to := start + s.rng.Int64N(hw-start+1)
	got, err := s.l.DeleteRecordsBefore(to)
	if errors.Is(err, ErrLogOffline) {
		s.offline = true
		return
	}
	if injected(err) {
		return
	}
	if err != nil || got != to {
		s.t.Fatalf("delete records before %d: %d %v", to, got, err)
	}
	s.maxStart = max(s.maxStart, s.l.LogStartOffset())
	s.note("delete records before %d", to)
}

var (
	errInjectedSync  = errors.New("input/output error (injected)")
	errInjectedWrite = errors.New("no space left on device (injected)")
)

// injected reports whether err comes from a fault the simulation injected
// into a file other than a segment's (an index, the start offset file, a
// compacted segment being written): the operation fails, the log stays.
func injected(err error) bool {
	return errors.Is(err, errInjectedSync) || errors.Is(err, errInjectedWrite)
}

func (s *crashSim) failNextSync() {
	s.note("fail next fsync")
	once := false
	s.fs.SetSyncHook(func(name string) error {
		if once {
			return nil
		}
		once = true
		s.note("injected fsync failure: %s", name)
		return errInjectedSync
	})
}

func (s *crashSim) failNextWrite() {
	s.note("fail next write")
	once := false
	s.fs.SetWriteHook(func(name string) error {
		if once {
			return nil
		}
		once = true
		s.note("injected write failure: %s", name)
		return errInjectedWrite
	})
}

// restart closes the log cleanly (which fsyncs it unless it is offline)
// and opens it again.
func (s *crashSim) restart() {
	s.restarts++
	s.fs.SetSyncHook(nil)
	s.fs.SetWriteHook(nil)
	err := s.l.Close()
	s.note("restart (close: %v)", err)
	if err == nil && !s.offline {
		for _, b := range s.batches {
			b.acked = true // a clean close fsyncs everything
		}
	}
	s.open()
	s.verify("restart")
}

func (s *crashSim) powerLoss() {
	s.restarts++
	s.note("power loss")
	s.fs.PowerLoss()
	s.fs.SetSyncHook(nil)
	s.fs.SetWriteHook(nil)
	s.open()
	s.verify("power loss")
}

// verify checks the recovered log against what was acknowledged and seen,
// then makes the recovered log the model.
func (s *crashSim) verify(what string) {
	t := s.t
	start, hw := s.l.Offsets()
	leo := s.l.LogEndOffset()
	if hw != leo {
		t.Fatalf("after %s: high watermark %d below log end %d on open", what, hw, leo)
	}
	if leo < s.maxVisible {
		t.Fatalf("after %s: log ends at %d, but consumers saw offsets up to %d: they will be reused", what, leo, s.maxVisible-1)
	}
	if start > max(s.maxStart, 0) {
		t.Fatalf("after %s: log start offset %d beyond any reported (%d)", what, start, s.maxStart)
	}
	found := map[int64]*simBatch{}
	err := s.l.ScanBatches(start, -1, func(b []byte, h BatchHeader) error {
		if _, err := ValidateBatch(b); err != nil {
			return fmt.Errorf("batch %d: %w", h.BaseOffset, err)
		}
		v := valueOf(b)
		if m := s.batches[h.BaseOffset]; m != nil && m.value != v {
			return fmt.Errorf("batch %d holds %q, %q was written there", h.BaseOffset, v, m.value)
		}
		found[h.BaseOffset] = &simBatch{base: h.BaseOffset, last: h.LastOffset(), value: v, acked: true}
		return nil
	})
	if err != nil {
		t.Fatalf("after %s: %v", what, err)
	}
	for _, b := range s.batches {
		if !b.acked || found[b.base] != nil || b.last < s.maxStart || s.compacted[b.base] {
			continue
		}
		t.Fatalf("after %s: acknowledged batch %d..%d (%q) lost; log %d..%d", what, b.base, b.last, b.value, start, leo)
	}
	s.batches = found
	s.maxVisible = max(s.maxVisible, hw)
	s.note("recovered %d..%d, segments %v", start, leo, s.l.Segments())
}

// TestCrashSimulationConcurrent is the simulation with real concurrency:
// producers append and wait for their acknowledgement while the
// group-commit goroutine fsyncs, a consumer follows the high watermark,
// retention deletes segments and an fsync fails now and then; the power
// goes at a random moment. Every append acknowledged before, and every
// offset the consumer saw, must survive.
func TestCrashSimulationConcurrent(t *testing.T) {
	n := 8
	if v, err := strconv.Atoi(os.Getenv("PENSTOCK_CRASH_SCHEDULES")); err == nil {
		n = max(v/8, 1)
	}
	if *crashSchedules > 0 {
		n = max(*crashSchedules/8, 1)
	}
	for seed := range n {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) { runConcurrentCrash(t, uint64(seed)) })
	}
}

func runConcurrentCrash(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 15))
	fsys := NewFaultFS("/data")
	cfg := DefaultConfig()
	cfg.SegmentBytes = int64(1000 + rng.IntN(3000))
	cfg.IndexIntervalBytes = 256
	cfg.RetentionBytes = int64(8000 + rng.IntN(8000))
	cfg.FileDeleteDelay = 0
	syncer := NewSyncer(slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelError + 1})))
	quiet := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelError + 1}))
	l, err := Open(simDir, Options{Config: cfg, Syncer: syncer, FS: fsys, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu      sync.Mutex
		acked   = map[int64]string{} // base offset → value
		maxSeen int64
		acks    atomic.Int64
		wg      sync.WaitGroup
		stop    = make(chan struct{})
		kill    = make(chan struct{})
		once    sync.Once
	)
	powerAt := int64(20 + rng.IntN(400))
	failAt := int64(-1)
	if rng.IntN(3) == 0 {
		failAt = int64(rng.IntN(400))
	}
	var producers sync.WaitGroup
	for p := range 3 {
		producers.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				v := fmt.Sprintf("p%d-%d", p, i)
				var res AppendResult
				var err error
				if i%17 == 5 { // a transaction marker
					res, err = l.AppendControl(simBatchBytes(1, int64(i), v, true))
				} else {
					res, err = l.Append(simBatchBytes(1+i%4, int64(i), v, false))
				}
				if err != nil {
					return // offline or, after the power loss, gone
				}
				if res.Wait() != nil {
					return
				}
				mu.Lock()
				acked[res.BaseOffset] = v
				mu.Unlock()
				switch acks.Add(1) {
				case powerAt:
					once.Do(func() { close(kill) })
				case failAt:
					fsys.SetSyncHook(func(string) error {
						fsys.SetSyncHook(nil)
						return errInjectedSync
					})
				}
			}
		})
	}
	wg.Go(func() { // a consumer following the high watermark
		for {
			select {
			case <-stop:
				return
			default:
			}
			hw := l.HighWatermark()
			mu.Lock()
			maxSeen = max(maxSeen, hw)
			mu.Unlock()
			if r, err := l.Read(max(hw-3, l.LogStartOffset()), 4096); err == nil {
				PutBuffer(r.Data)
			}
			runtime.Gosched()
		}
	})
	wg.Go(func() { // retention
		for {
			select {
			case <-stop:
				return
			default:
			}
			l.ApplyRetention()
			runtime.Gosched()
		}
	})
	go func() {
		// Producers stop on their own once the log is offline.
		producers.Wait()
		once.Do(func() { close(kill) })
	}()
	<-kill
	fsys.PowerLoss()
	close(stop)
	producers.Wait()
	wg.Wait()
	fsys.SetSyncHook(nil) // a failure injected too late would hit the restart
	syncer.Close()
	start := l.LogStartOffset() // the highest it ever was
	l.Close()

	l2, err := Open(simDir, Options{Config: cfg, Syncer: NewSyncer(quiet), FS: fsys, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	rstart, hw := l2.Offsets()
	if rstart > start {
		t.Fatalf("recovered log start offset %d beyond %d", rstart, start)
	}
	if hw < maxSeen {
		t.Fatalf("recovered log ends at %d, the consumer saw up to %d", hw, maxSeen)
	}
	found := map[int64]string{}
	if err := l2.ScanBatches(rstart, -1, func(b []byte, h BatchHeader) error {
		found[h.BaseOffset] = valueOf(b)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d acknowledged appends (power lost after %d, fsync failure after %d), recovered log %d..%d", len(acked), powerAt, failAt, rstart, hw)
	for base, v := range acked {
		if base < start {
			continue // retention may have deleted it
		}
		if found[base] != v {
			t.Fatalf("acknowledged batch %d (%q) recovered as %q; log %d..%d, %d acks, power lost after %d",
				base, v, found[base], rstart, hw, len(acked), powerAt)
		}
	}
}
