package storage

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"time"
)

// ErrSegmentGone means a segment was deleted (by retention or with its
// topic) before a ReplaceSegment could swap it.
var ErrSegmentGone = errors.New("segment no longer in the log")

// SegmentInfo describes one segment of a log.
type SegmentInfo struct {
	Base         int64 // base offset, the segment's name
	Next         int64 // offset after its last batch
	Size         int64 // bytes
	MaxTimestamp int64 // largest batch max timestamp, -1 when empty
	Created      time.Time
	Active       bool // the segment appends go to
}

// Segments describes the log's segments, oldest first, the active one last.
func (l *Log) Segments() []SegmentInfo {
	l.mu.RLock()
	defer l.mu.RUnlock()
	out := make([]SegmentInfo, len(l.segs))
	for i, s := range l.segs {
		out[i] = SegmentInfo{Base: s.base, Next: s.nextOffset, Size: s.size, MaxTimestamp: s.maxTS,
			Created: s.created, Active: i == len(l.segs)-1}
	}
	return out
}

type segSnap struct {
	seg  *segment
	size int64
	next int64
}

func (l *Log) snapshot(from, to int64) ([]segSnap, error) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	if l.failed != nil {
		return nil, l.failed
	}
	if l.closed {
		return nil, ErrClosed
	}
	var out []segSnap
	for _, s := range l.segs {
		if s.nextOffset <= from || s.base >= to || s.size == 0 {
			continue
		}
		out = append(out, segSnap{s, s.size, s.nextOffset})
	}
	return out, nil
}

// ScanBatches calls fn with every stored batch whose last offset is at least
// from and whose base offset is below to (to < 0: up to the current end),
// in offset order. The batch bytes are only valid during the call. A
// non-nil error from fn stops the scan and is returned.
func (l *Log) ScanBatches(from, to int64, fn func(batch []byte, h BatchHeader) error) error {
	if to < 0 {
		to = 1<<63 - 1
	}
	snaps, err := l.snapshot(from, to)
	if err != nil {
		return err
	}
	for _, sn := range snaps {
		pos := int64(0)
		if from > sn.seg.base {
			l.mu.RLock()
			idx := sn.seg.idx
			l.mu.RUnlock()
			pos = lookupIndex(idx, sn.seg.base, from)
		}
		if err := scanSegment(sn.seg, pos, sn.size, func(b []byte, h BatchHeader) error {
			if h.LastOffset() < from {
				return nil
			}
			if h.BaseOffset >= to {
				return errStopScan
			}
			return fn(b, h)
		}); err != nil {
			if errors.Is(err, errStopScan) {
				return nil
			}
			return err
		}
	}
	return nil
}

var errStopScan = errors.New("stop scan")

func scanSegment(s *segment, pos, size int64, fn func(b []byte, h BatchHeader) error) error {
	r := bufio.NewReaderSize(io.NewSectionReader(s.f, pos, size-pos), int(min(256<<10, max(size-pos, 4096))))
	var buf []byte
	for pos < size {
		if size-pos < BatchHeaderSize {
			return nil
		}
		if cap(buf) < BatchHeaderSize {
			buf = make([]byte, BatchHeaderSize, 64<<10)
		}
		buf = buf[:BatchHeaderSize]
		if _, err := io.ReadFull(r, buf); err != nil {
			return fmt.Errorf("scan %s: %w", s.path, err)
		}
		h, err := ParseBatchHeader(buf)
		if err != nil {
			return fmt.Errorf("scan %s at %d: %w", s.path, pos, err)
		}
		n := h.Size()
		if int64(n) > size-pos {
			return nil
		}
		buf = slices.Grow(buf, n-BatchHeaderSize)[:n]
		if _, err := io.ReadFull(r, buf[BatchHeaderSize:]); err != nil {
			return fmt.Errorf("scan %s: %w", s.path, err)
		}
		if err := fn(buf, h); err != nil {
			return err
		}
		pos += int64(n)
	}
	return nil
}

// ReplaceSegment atomically replaces the closed segment with base offset
// base by data, a rewrite of its batches (the log cleaner's output: a subset
// of its records, offsets unchanged, in order). The new file is written and
// fsynced beside the old one, then renamed over it; readers holding the old
// file keep reading it until file.delete.delay.ms passes. Appends and reads
// are not blocked except for the rename itself.
func (l *Log) ReplaceSegment(base int64, data []byte) error {
	l.mu.RLock()
	var old *segment
	for i, s := range l.segs {
		if s.base == base && i < len(l.segs)-1 {
			old = s
		}
	}
	cfg, failed := l.cfg, l.failed
	l.mu.RUnlock()
	if failed != nil {
		return failed
	}
	if old == nil {
		return fmt.Errorf("replace segment %d: %w", base, ErrSegmentGone)
	}
	logPath := segmentPath(l.dir, base, logSuffix)
	tmp := logPath + ".tmp"
	if err := WriteFileSync(l.fs, tmp, data); err != nil {
		l.fs.Remove(tmp)
		return fmt.Errorf("replace segment %d: %w", base, err)
	}
	// Keep the modification time, which time retention goes by when
	// the batches carry no timestamps (as Kafka's cleaner does).
	if st, err := old.f.Stat(); err == nil {
		l.fs.Chtimes(tmp, st.ModTime(), st.ModTime())
	}
	f, err := l.fs.OpenFile(tmp, os.O_RDWR, 0)
	if err != nil {
		l.fs.Remove(tmp)
		return fmt.Errorf("replace segment %d: %w", base, err)
	}
	seg := &segment{base: base, path: logPath, f: f, nextOffset: base, created: old.created, maxTS: -1, maxTSOffset: -1}
	res, err := seg.scan(0, int64(len(data)), cfg.IndexIntervalBytes)
	if err == nil && res.validEnd != int64(len(data)) {
		err = fmt.Errorf("%w: rewritten segment invalid at %d: %s", ErrCorruptBatch, res.validEnd, res.reason)
	}
	if err == nil && seg.nextOffset > old.nextOffset {
		err = fmt.Errorf("%w: rewritten segment ends at %d after %d", ErrCorruptBatch, seg.nextOffset, old.nextOffset)
	}
	if err != nil {
		f.Close()
		l.fs.Remove(tmp)
		return fmt.Errorf("replace segment %d: %w", base, err)
	}
	seg.nextOffset = old.nextOffset
	if n := len(seg.tidx); seg.maxTS >= 0 && (n == 0 || seg.tidx[n-1].ts < seg.maxTS) {
		seg.tidx = append(seg.tidx, timeEntry{ts: seg.maxTS, rel: uint32(seg.maxTSOffset - base)})
	}
	seg.size = int64(len(data))

	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	l.mu.RLock()
	i := slices.Index(l.segs, old)
	closed := l.closed
	delay := l.cfg.FileDeleteDelay
	l.mu.RUnlock()
	if i < 0 || closed {
		f.Close()
		l.fs.Remove(tmp)
		return fmt.Errorf("replace segment %d: %w", base, ErrSegmentGone)
	}
	// Without index files recovery rebuilds them by scanning, so a
	// crash anywhere below leaves a consistent segment (old or new).
	l.fs.Remove(segmentPath(l.dir, base, indexSuffix))
	l.fs.Remove(segmentPath(l.dir, base, timeIndexSuffix))
	if err := l.fs.Rename(tmp, logPath); err != nil {
		f.Close()
		l.fs.Remove(tmp)
		return fmt.Errorf("replace segment %d: %w", base, err)
	}
	if err := l.fs.SyncDir(l.dir); err != nil {
		l.log.Warn("sync dir after segment swap", "err", err)
	}
	if err := seg.writeIndexes(l.fs, l.dir); err != nil {
		l.log.Warn("write indexes of rewritten segment; recovery will rebuild them", "base_offset", base, "err", err)
	}
	l.mu.Lock()
	l.segs[i] = seg
	l.mu.Unlock()
	of := old.f
	time.AfterFunc(delay, func() { of.Close() })
	return nil
}
