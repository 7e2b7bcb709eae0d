package storage

import (
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// manualSyncer is a Syncer whose rounds run only when the test calls
// round, so a test decides exactly which writes are fsynced.
func manualSyncer() *Syncer {
	return &Syncer{log: slog.Default(), dirty: map[*Log]struct{}{}, cur: &SyncGen{done: make(chan struct{})},
		wake: make(chan struct{}, 1), done: make(chan struct{}), workers: 1}
}

func openFS(t *testing.T, fsys FS, dir string, cfg Config, s *Syncer) *Log {
	t.Helper()
	l, err := Open(dir, Options{Config: cfg, Syncer: s, FS: fsys,
		Logger: slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestHighWatermarkEndsAtFsync: consumers see only fsynced records by
// default, so a power loss never takes away an offset a consumer read
// (issue 14, item 3); penstock.visibility=written shows written records at
// once, as Kafka does.
func TestHighWatermarkEndsAtFsync(t *testing.T) {
	fsys := NewFaultFS("/data")
	s := manualSyncer()
	l := openFS(t, fsys, "/data/p", DefaultConfig(), s)
	res, err := l.Append(makeBatch(3, 1000, 10))
	if err != nil {
		t.Fatal(err)
	}
	if hw := l.HighWatermark(); hw != 0 {
		t.Fatalf("high watermark %d before the fsync, want 0", hw)
	}
	if r, err := l.Read(0, 1<<20); err != nil || r.Data != nil || r.HighWatermark != 0 {
		t.Fatalf("read before the fsync: %d bytes, hw %d, %v", len(r.Data), r.HighWatermark, err)
	}
	s.round()
	if err := res.Wait(); err != nil {
		t.Fatal(err)
	}
	if hw := l.HighWatermark(); hw != 3 {
		t.Fatalf("high watermark %d after the fsync, want 3", hw)
	}
	// Written but not fsynced: invisible, and gone after a power loss
	// without any consumer having seen offsets 3-4.
	if _, err := l.Append(makeBatch(2, 1000, 10)); err != nil {
		t.Fatal(err)
	}
	if r, err := l.Read(3, 1<<20); err != nil || r.Data != nil {
		t.Fatalf("read of unsynced offset: %d bytes, %v", len(r.Data), err)
	}
	fsys.PowerLoss()
	l2 := openFS(t, fsys, "/data/p", DefaultConfig(), manualSyncer())
	defer l2.Close()
	if hw := l2.HighWatermark(); hw != 3 {
		t.Fatalf("high watermark %d after power loss, want 3", hw)
	}

	// Kafka's behaviour, per topic.
	cfg := DefaultConfig()
	cfg.ReadUnsynced = true
	l2.SetConfig(cfg)
	if _, err := l2.Append(makeBatch(2, 1000, 10)); err != nil {
		t.Fatal(err)
	}
	if hw := l2.HighWatermark(); hw != 5 {
		t.Fatalf("written visibility: high watermark %d, want 5", hw)
	}
}

// TestFsyncErrorTakesLogOffline: after a failed fsync the kernel may drop
// the dirty pages and a later fsync succeed without them; the log must not
// take or acknowledge another write, nor serve reads, until a restart
// recovers it (issue 14, item 2).
func TestFsyncErrorTakesLogOffline(t *testing.T) {
	fsys := NewFaultFS("/data")
	s := manualSyncer()
	var failures []error
	l, err := Open("/data/p", Options{FS: fsys, Syncer: s, OnFailure: func(err error) { failures = append(failures, err) },
		Logger: slog.New(slog.NewTextHandler(testWriter{t}, nil))})
	if err != nil {
		t.Fatal(err)
	}
	first, err := l.Append(makeBatch(2, 1000, 10))
	if err != nil {
		t.Fatal(err)
	}
	s.round()
	if err := first.Wait(); err != nil {
		t.Fatal(err)
	}
	eio := errors.New("input/output error")
	fsys.SetSyncHook(func(string) error { return eio })
	second, err := l.Append(makeBatch(2, 1000, 10))
	if err != nil {
		t.Fatal(err)
	}
	s.round()
	if err := second.Wait(); !errors.Is(err, ErrLogOffline) || !errors.Is(err, eio) {
		t.Fatalf("wait after failed fsync: %v", err)
	}
	fsys.SetSyncHook(nil) // later fsyncs would succeed, without the dropped pages
	if _, err := l.Append(makeBatch(2, 1000, 10)); !errors.Is(err, ErrLogOffline) {
		t.Fatalf("append after failed fsync: %v", err)
	}
	if _, err := l.Read(0, 1<<20); !errors.Is(err, ErrLogOffline) {
		t.Fatalf("read after failed fsync: %v", err)
	}
	if _, err := l.DeleteRecordsBefore(1); !errors.Is(err, ErrLogOffline) {
		t.Fatalf("delete records after failed fsync: %v", err)
	}
	if len(failures) != 1 {
		t.Fatalf("OnFailure called %d times", len(failures))
	}
	l.Close()
	// A restart recovers what is on disk: the acknowledged batch.
	fsys.PowerLoss()
	l2 := openFS(t, fsys, "/data/p", DefaultConfig(), manualSyncer())
	defer l2.Close()
	if hw := l2.HighWatermark(); hw != 2 {
		t.Fatalf("after restart high watermark %d, want 2", hw)
	}
	if _, err := l2.Append(makeBatch(1, 1000, 10)); err != nil {
		t.Fatal(err)
	}
}

// TestWriteErrorTakesLogOffline: a failed write leaves unknown bytes in
// the segment, so the log goes offline as after a failed fsync.
func TestWriteErrorTakesLogOffline(t *testing.T) {
	fsys := NewFaultFS("/data")
	l := openFS(t, fsys, "/data/p", DefaultConfig(), nil)
	defer l.Close()
	fsys.SetWriteHook(func(string) error { return errors.New("no space left on device") })
	if _, err := l.Append(makeBatch(1, 1000, 10)); !errors.Is(err, ErrLogOffline) {
		t.Fatalf("append with failing write: %v", err)
	}
	fsys.SetWriteHook(nil)
	if _, err := l.Append(makeBatch(1, 1000, 10)); !errors.Is(err, ErrLogOffline) {
		t.Fatalf("append after failed write: %v", err)
	}
}

// TestTimeRetentionWithoutTimestamps: batches whose max timestamp is -1
// (clients that send none) are judged by the segment file's modification
// time, as Kafka does, not deleted at once (issue 14, item 7).
func TestTimeRetentionWithoutTimestamps(t *testing.T) {
	dir := t.TempDir()
	cfg := DefaultConfig()
	cfg.SegmentBytes = 1024
	cfg.RetentionMs = time.Hour.Milliseconds()
	cfg.FileDeleteDelay = 0
	l := openTest(t, dir, cfg, nil)
	for range 40 {
		if _, err := l.Append(makeBatch(1, -1, 50)); err != nil {
			t.Fatal(err)
		}
	}
	segs := len(l.Segments())
	if segs < 3 {
		t.Fatalf("want rolled segments, have %d", segs)
	}
	if n, err := l.ApplyRetention(); err != nil || n != 0 {
		t.Fatalf("retention deleted %d fresh segments without timestamps (%v)", n, err)
	}
	// Age every segment file but the last two beyond retention.ms.
	old := time.Now().Add(-2 * time.Hour)
	infos := l.Segments()
	for _, si := range infos[:len(infos)-2] {
		if err := os.Chtimes(segmentPath(dir, si.Base, logSuffix), old, old); err != nil {
			t.Fatal(err)
		}
	}
	// Compaction rewrites a segment but keeps its age.
	var same []byte
	l.ScanBatches(infos[0].Base, infos[0].Next, func(b []byte, _ BatchHeader) error {
		same = append(same, b...)
		return nil
	})
	if err := l.ReplaceSegment(infos[0].Base, same); err != nil {
		t.Fatal(err)
	}
	if n, err := l.ApplyRetention(); err != nil || n != len(infos)-2 {
		t.Fatalf("retention deleted %d segments, want %d (%v)", n, len(infos)-2, err)
	}
	if start := l.LogStartOffset(); start != infos[len(infos)-2].Base {
		t.Fatalf("log start offset %d, want %d", start, infos[len(infos)-2].Base)
	}
}

// TestStartOffsetClampedOnLoad: a persisted log start offset beyond the
// recovered log (written before the records were fsynced, then a power
// loss) is clamped to the log end and rewritten, so that the records
// written again at those offsets are readable (issue 14, item 7).
func TestStartOffsetClampedOnLoad(t *testing.T) {
	dir := t.TempDir()
	l := openTest(t, dir, DefaultConfig(), nil)
	for range 4 {
		if _, err := l.Append(makeBatch(5, 1000, 10)); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	if err := os.WriteFile(filepath.Join(dir, startOffsetFile), []byte("25\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	l2 := openTest(t, dir, DefaultConfig(), nil)
	if start, hw := l2.Offsets(); start != 20 || hw != 20 {
		t.Fatalf("after load start %d hw %d, want 20 20", start, hw)
	}
	for range 2 {
		if _, err := l2.Append(makeBatch(5, 1000, 10)); err != nil {
			t.Fatal(err)
		}
	}
	l2.Close()
	l3 := openTest(t, dir, DefaultConfig(), nil)
	if start, hw := l3.Offsets(); start != 20 || hw != 30 {
		t.Fatalf("after restart start %d hw %d, want 20 30", start, hw)
	}
	if r, err := l3.Read(20, 1<<20); err != nil || r.Data == nil {
		t.Fatalf("records written after the clamp are not readable: %v", err)
	}
}

// TestDeleteRecordsSyncsFirst: with written visibility a consumer may see,
// and DeleteRecords name, an offset not yet fsynced; the log syncs before
// persisting the new start offset (issue 14, item 7).
func TestDeleteRecordsSyncsFirst(t *testing.T) {
	fsys := NewFaultFS("/data")
	cfg := DefaultConfig()
	cfg.ReadUnsynced = true
	l := openFS(t, fsys, "/data/p", cfg, manualSyncer()) // no round ever runs
	for range 3 {
		if _, err := l.Append(makeBatch(4, 1000, 10)); err != nil {
			t.Fatal(err)
		}
	}
	if start, err := l.DeleteRecordsBefore(10); err != nil || start != 10 {
		t.Fatalf("delete records: %d %v", start, err)
	}
	fsys.PowerLoss()
	l2 := openFS(t, fsys, "/data/p", cfg, manualSyncer())
	defer l2.Close()
	if start, hw := l2.Offsets(); start != 10 || hw != 12 {
		t.Fatalf("after power loss start %d hw %d, want 10 12", start, hw)
	}
}

// TestFaultFSPowerLoss checks the test file system itself: only fsynced
// bytes and dir-synced entries survive.
func TestFaultFSPowerLoss(t *testing.T) {
	fsys := NewFaultFS("/d")
	f, _ := fsys.OpenFile("/d/a", os.O_CREATE|os.O_RDWR, 0o644)
	f.WriteAt([]byte("hello"), 0)
	f.Sync()
	fsys.SyncDir("/d")
	f.WriteAt([]byte(" world"), 5)
	g, _ := fsys.OpenFile("/d/b", os.O_CREATE|os.O_RDWR, 0o644)
	g.WriteAt([]byte("x"), 0)
	g.Sync()
	fsys.PowerLoss()
	if b, err := fsys.ReadFile("/d/a"); err != nil || string(b) != "hello" {
		t.Fatalf("a after power loss: %q %v", b, err)
	}
	if _, err := fsys.ReadFile("/d/b"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("b (dir not synced) after power loss: %v", err)
	}
	if _, err := f.WriteAt([]byte("!"), 0); err == nil {
		t.Fatal("a file opened before the power loss still writes")
	}
	// A failed fsync drops the dirty bytes; a later one succeeds without
	// them.
	h, _ := fsys.OpenFile("/d/a", os.O_RDWR, 0)
	h.WriteAt([]byte(" world"), 5)
	fsys.SetSyncHook(func(string) error { return errors.New("EIO") })
	if h.Sync() == nil {
		t.Fatal("sync hook ignored")
	}
	fsys.SetSyncHook(nil)
	h.WriteAt([]byte("!"), 11)
	if err := h.Sync(); err != nil {
		t.Fatal(err)
	}
	fsys.PowerLoss()
	if b, _ := fsys.ReadFile("/d/a"); string(b) != "hello\x00\x00\x00\x00\x00\x00!" {
		t.Fatalf("after failed then good fsync: %q", b)
	}
}

// TestReadPastCompactedTail: when compaction removed the last batches of a
// segment, a consumer at one of their offsets reads on from the next
// segment instead of getting nothing forever. Found by
// TestCrashSimulation.
func TestReadPastCompactedTail(t *testing.T) {
	cfg := DefaultConfig()
	cfg.SegmentBytes = 600
	l := openTest(t, t.TempDir(), cfg, nil)
	for range 12 {
		if _, err := l.Append(makeBatch(2, 1000, 40)); err != nil {
			t.Fatal(err)
		}
	}
	segs := l.Segments()
	if len(segs) < 3 {
		t.Fatalf("want 3 segments, have %d", len(segs))
	}
	first := segs[0]
	// Keep only the first batch of the first segment; then empty the
	// second one.
	var keep []byte
	l.ScanBatches(first.Base, first.Next, func(b []byte, h BatchHeader) error {
		if h.BaseOffset == first.Base {
			keep = append(keep, b...)
		}
		return nil
	})
	if err := l.ReplaceSegment(first.Base, keep); err != nil {
		t.Fatal(err)
	}
	if err := l.ReplaceSegment(segs[1].Base, nil); err != nil {
		t.Fatal(err)
	}
	r, err := l.Read(first.Base+2, 1)
	if err != nil || r.Data == nil {
		t.Fatalf("read in the compacted tail: %v, %d bytes", err, len(r.Data))
	}
	if h, _ := ParseBatchHeader(r.Data); h.BaseOffset != segs[2].Base {
		t.Fatalf("read in the compacted tail returned batch %d, want %d", h.BaseOffset, segs[2].Base)
	}
}
