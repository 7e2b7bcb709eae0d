package storage

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"
)

// makeBatch builds an uncompressed v2 batch of n records with timestamps
// ts, ts+1, ...
func makeBatch(n int, ts int64, valueSize int) []byte {
	var recs []byte
	for i := range n {
		r := kmsg.NewRecord()
		r.TimestampDelta64 = int64(i)
		r.OffsetDelta = int32(i)
		r.Key = fmt.Appendf(nil, "k%d", i)
		r.Value = bytes.Repeat([]byte{'v'}, valueSize)
		recs = r.AppendTo(recs)
	}
	b := kmsg.RecordBatch{
		PartitionLeaderEpoch: -1, Magic: 2, LastOffsetDelta: int32(n - 1),
		FirstTimestamp: ts, MaxTimestamp: ts + int64(n-1), ProducerID: -1, ProducerEpoch: -1, FirstSequence: -1,
		NumRecords: int32(n), Records: recs,
	}
	b.Length = int32(BatchHeaderSize - batchLengthOverhead + len(recs))
	out := b.AppendTo(nil)
	binary.BigEndian.PutUint32(out[offCRC:], crc32.Checksum(out[offAttributes:], castagnoli))
	return out
}

func openTest(t *testing.T, dir string, cfg Config, logs *bytes.Buffer) *Log {
	t.Helper()
	var lg *slog.Logger
	if logs != nil {
		lg = slog.New(slog.NewTextHandler(logs, nil))
	} else {
		lg = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	l, err := Open(dir, Options{Config: cfg, Logger: lg})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }

func TestValidateBatch(t *testing.T) {
	b := makeBatch(3, 1000, 10)
	h, err := ValidateBatch(b)
	if err != nil || h.RecordCount != 3 || h.LastOffsetDelta != 2 {
		t.Fatalf("%+v %v", h, err)
	}
	bad := bytes.Clone(b)
	bad[len(bad)-1] ^= 1
	if _, err := ValidateBatch(bad); err == nil {
		t.Fatal("corrupt batch accepted")
	}
	if _, err := ValidateBatch(b[:len(b)-1]); err == nil {
		t.Fatal("short batch accepted")
	}
}

func TestAppendReadRollRestart(t *testing.T) {
	dir := t.TempDir()
	cfg := DefaultConfig()
	cfg.SegmentBytes = 4096
	cfg.IndexIntervalBytes = 512
	l := openTest(t, dir, cfg, nil)
	var next int64
	for i := range 200 {
		res, err := l.Append(makeBatch(1+i%5, int64(i*10), 40))
		if err != nil {
			t.Fatal(err)
		}
		if res.BaseOffset != next {
			t.Fatalf("batch %d base %d want %d", i, res.BaseOffset, next)
		}
		next = res.LastOffset + 1
	}
	if len(l.segs) < 5 {
		t.Fatalf("expected rolls, have %d segments", len(l.segs))
	}
	check := func(l *Log) {
		t.Helper()
		for off := int64(0); off < next; off += 7 {
			res, err := l.Read(off, 1)
			if err != nil {
				t.Fatal(err)
			}
			h, err := ParseBatchHeader(res.Data)
			if err != nil || h.BaseOffset > off || h.LastOffset() < off {
				t.Fatalf("read %d got batch %d..%d (%v)", off, h.BaseOffset, h.LastOffset(), err)
			}
			if _, err := ValidateBatch(res.Data[:h.Size()]); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := l.Read(next+1, 100); err != ErrOffsetOutOfRange {
			t.Fatalf("read past end: %v", err)
		}
	}
	check(l)
	l.Close()
	l2 := openTest(t, dir, cfg, nil)
	if hw := l2.HighWatermark(); hw != next {
		t.Fatalf("high watermark after restart %d want %d", hw, next)
	}
	check(l2)
	// Timestamps: record i of batch j has ts j*10+i.
	b, err := l2.OffsetForTimestamp(1005)
	if err != nil || b == nil {
		t.Fatal(err)
	}
	off, ts := FirstRecordAtOrAfter(b, 1005)
	if ts < 1005 || off < 0 {
		t.Fatalf("offset for timestamp: %d %d", off, ts)
	}
	if b, _ := l2.OffsetForTimestamp(1 << 40); b != nil {
		t.Fatal("found a batch newer than everything")
	}
}

func TestRecoveryTruncatesTornTail(t *testing.T) {
	dir := t.TempDir()
	cfg := DefaultConfig()
	l := openTest(t, dir, cfg, nil)
	for range 10 {
		if _, err := l.Append(makeBatch(3, 1, 10)); err != nil {
			t.Fatal(err)
		}
	}
	size := l.Size()
	l.Close()
	p := segmentPath(dir, 0, logSuffix)
	// A torn write: the next batch only half written.
	nb := makeBatch(3, 1, 10)
	binary.BigEndian.PutUint64(nb, 30)
	f, _ := os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
	f.Write(nb[:len(nb)/2])
	f.Close()
	var logs bytes.Buffer
	l2 := openTest(t, dir, cfg, &logs)
	if l2.Size() != size || l2.HighWatermark() != 30 {
		t.Fatalf("after recovery size %d hw %d", l2.Size(), l2.HighWatermark())
	}
	if !strings.Contains(logs.String(), fmt.Sprintf("truncated_bytes=%d", len(nb)/2)) {
		t.Fatalf("truncation not logged: %s", logs.String())
	}
	l2.Close()
	// A corrupted byte in the last batch: that batch goes.
	data, _ := os.ReadFile(p)
	data[len(data)-3] ^= 0xff
	os.WriteFile(p, data, 0o644)
	l3 := openTest(t, dir, cfg, nil)
	if l3.HighWatermark() != 27 {
		t.Fatalf("after corrupt batch hw %d", l3.HighWatermark())
	}
	if _, err := l3.Append(makeBatch(1, 1, 1)); err != nil || l3.HighWatermark() != 28 {
		t.Fatalf("append after recovery: %v hw %d", err, l3.HighWatermark())
	}
}

func TestRetentionAndDeleteRecords(t *testing.T) {
	dir := t.TempDir()
	cfg := DefaultConfig()
	cfg.SegmentBytes = 2048
	cfg.RetentionBytes = 4096
	cfg.FileDeleteDelay = 0
	now := time.UnixMilli(1_000_000)
	l, err := Open(dir, Options{Config: cfg, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	for i := range 100 {
		if _, err := l.Append(makeBatch(2, int64(i), 50)); err != nil {
			t.Fatal(err)
		}
	}
	n, err := l.ApplyRetention()
	if err != nil || n == 0 {
		t.Fatalf("size retention deleted %d: %v", n, err)
	}
	if l.Size() > 4096+2048 {
		t.Fatalf("size after retention %d", l.Size())
	}
	start := l.LogStartOffset()
	if _, err := l.Read(start-1, 100); err != ErrOffsetOutOfRange {
		t.Fatalf("read before start: %v", err)
	}
	// Time retention: everything is older than retention.ms.
	cfg.RetentionBytes = -1
	cfg.RetentionMs = 1000
	l.SetConfig(cfg)
	if _, err := l.ApplyRetention(); err != nil {
		t.Fatal(err)
	}
	if l.Size() != 0 || l.LogStartOffset() != 200 || l.HighWatermark() != 200 {
		t.Fatalf("after time retention size %d start %d hw %d", l.Size(), l.LogStartOffset(), l.HighWatermark())
	}
	// DeleteRecords persists the start offset.
	for range 10 {
		l.Append(makeBatch(1, now.UnixMilli(), 10))
	}
	if lw, err := l.DeleteRecordsBefore(205); err != nil || lw != 205 {
		t.Fatalf("delete records: %d %v", lw, err)
	}
	l.Close()
	l2, err := Open(dir, Options{Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	if l2.LogStartOffset() != 205 || l2.HighWatermark() != 210 {
		t.Fatalf("after restart start %d hw %d", l2.LogStartOffset(), l2.HighWatermark())
	}
	_ = filepath.Join
}

func TestSyncerGroupsCommits(t *testing.T) {
	s := NewSyncer(nil)
	defer s.Close()
	dir := t.TempDir()
	l, err := Open(dir, Options{Syncer: s})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	var gens []*SyncGen
	for range 50 {
		res, err := l.Append(makeBatch(1, 1, 100))
		if err != nil {
			t.Fatal(err)
		}
		gens = append(gens, res.Sync)
	}
	for _, g := range gens {
		if err := g.Wait(); err != nil {
			t.Fatal(err)
		}
	}
}
