package storage

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// File name suffixes of a segment.
const (
	logSuffix       = ".log"
	indexSuffix     = ".index"
	timeIndexSuffix = ".timeindex"

	offsetEntrySize = 8  // relative offset uint32, position uint32
	timeEntrySize   = 12 // timestamp int64, relative offset uint32
)

// indexEntry maps a relative offset to the file position of the batch that
// starts at or contains it (the sparse offset index).
type indexEntry struct {
	rel uint32
	pos uint32
}

// timeEntry records that the batch at relative offset rel is the first one
// whose max timestamp reaches ts (the sparse time index).
type timeEntry struct {
	ts  int64
	rel uint32
}

// segment is one log file plus its in-memory indexes. The index slices only
// grow while the segment is active, so a reader may keep a slice header it
// took under the log's read lock.
type segment struct {
	base int64
	path string // .log path
	f    File

	size       int64 // bytes of whole batches
	nextOffset int64 // offset after the segment's last batch
	created    time.Time

	maxTS       int64 // largest max timestamp of any batch, -1 when empty
	maxTSOffset int64 // last offset of the batch holding maxTS

	idx           []indexEntry
	tidx          []timeEntry
	bytesSinceIdx int64
}

func segmentPath(dir string, base int64, suffix string) string {
	return filepath.Join(dir, fmt.Sprintf("%020d%s", base, suffix))
}

// parseSegmentName returns the base offset of a segment log file name.
func parseSegmentName(name string) (int64, bool) {
	if !strings.HasSuffix(name, logSuffix) {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.TrimSuffix(name, logSuffix), 10, 64)
	if err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

// createSegment creates a new empty segment file and syncs the directory so
// that the file's existence is durable.
func createSegment(fsys FS, dir string, base int64, created time.Time) (*segment, error) {
	p := segmentPath(dir, base, logSuffix)
	f, err := fsys.OpenFile(p, os.O_CREATE|os.O_RDWR|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, fmt.Errorf("create segment: %w", err)
	}
	if err := fsys.SyncDir(dir); err != nil {
		f.Close()
		return nil, err
	}
	return &segment{base: base, path: p, f: f, nextOffset: base, created: created, maxTS: -1, maxTSOffset: -1}, nil
}

// largestTimestamp is what time retention compares: the segment's largest
// record timestamp or, when no batch carries one (all -1), the file's
// modification time, as Kafka does.
func (s *segment) largestTimestamp() int64 {
	if s.maxTS >= 0 {
		return s.maxTS
	}
	st, err := s.f.Stat()
	if err != nil {
		return math.MaxInt64 // unknown: keep the segment
	}
	return st.ModTime().UnixMilli()
}

// noteBatch updates the in-memory state after the batch with header h was
// written at position pos.
func (s *segment) noteBatch(h *BatchHeader, pos int64, indexInterval int64) {
	size := int64(h.Size())
	rel := uint32(h.BaseOffset - s.base)
	addIdx := len(s.idx) == 0 || s.bytesSinceIdx >= indexInterval
	if addIdx {
		s.idx = append(s.idx, indexEntry{rel: rel, pos: uint32(pos)})
		s.bytesSinceIdx = 0
	}
	s.bytesSinceIdx += size
	if h.MaxTimestamp > s.maxTS {
		s.maxTS = h.MaxTimestamp
		s.maxTSOffset = h.LastOffset()
		if addIdx || len(s.tidx) == 0 {
			s.tidx = append(s.tidx, timeEntry{ts: h.MaxTimestamp, rel: rel})
		}
	}
	s.size = pos + size
	s.nextOffset = h.LastOffset() + 1
}

// lookup returns the file position from which to scan for offset.
func lookupIndex(idx []indexEntry, base, offset int64) int64 {
	rel := offset - base
	lo, hi := 0, len(idx)
	for lo < hi { // first entry with rel > target
		m := (lo + hi) / 2
		if int64(idx[m].rel) <= rel {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo == 0 {
		return 0
	}
	return int64(idx[lo-1].pos)
}

// lookupTime returns the relative offset from which to scan for the first
// batch with max timestamp >= ts.
func lookupTime(tidx []timeEntry, ts int64) uint32 {
	lo, hi := 0, len(tidx)
	for lo < hi { // first entry with ts >= target
		m := (lo + hi) / 2
		if tidx[m].ts < ts {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo == 0 {
		return 0
	}
	// The batch reaching ts is after the previous entry's batch.
	return tidx[lo-1].rel
}

// writeIndexes writes the in-memory indexes to the segment's index files and
// syncs them. Called when a segment stops being active and on close; the
// active segment's indexes are rebuilt from the log on recovery.
func (s *segment) writeIndexes(fsys FS, dir string) error {
	buf := make([]byte, 0, len(s.idx)*offsetEntrySize)
	for _, e := range s.idx {
		buf = binary.BigEndian.AppendUint32(buf, e.rel)
		buf = binary.BigEndian.AppendUint32(buf, e.pos)
	}
	if err := WriteFileSync(fsys, segmentPath(dir, s.base, indexSuffix), buf); err != nil {
		return err
	}
	tidx := s.tidx
	if s.maxTS >= 0 && (len(tidx) == 0 || tidx[len(tidx)-1].ts < s.maxTS) {
		// A final entry so that the segment's max timestamp is known
		// after a restart without a scan.
		tidx = append(tidx[:len(tidx):len(tidx)], timeEntry{ts: s.maxTS, rel: uint32(s.maxTSOffset - s.base)})
	}
	buf = make([]byte, 0, len(tidx)*timeEntrySize)
	for _, e := range tidx {
		buf = binary.BigEndian.AppendUint64(buf, uint64(e.ts))
		buf = binary.BigEndian.AppendUint32(buf, e.rel)
	}
	return WriteFileSync(fsys, segmentPath(dir, s.base, timeIndexSuffix), buf)
}

// loadIndexes reads the segment's index files. It reports false when they
// are missing or inconsistent with the log, in which case the caller
// rebuilds them with a scan.
func (s *segment) loadIndexes(fsys FS, dir string, fileSize int64) bool {
	ib, err := fsys.ReadFile(segmentPath(dir, s.base, indexSuffix))
	if err != nil || len(ib)%offsetEntrySize != 0 || len(ib) == 0 && fileSize > 0 {
		return false
	}
	tb, err := fsys.ReadFile(segmentPath(dir, s.base, timeIndexSuffix))
	if err != nil || len(tb)%timeEntrySize != 0 {
		return false
	}
	idx := make([]indexEntry, 0, len(ib)/offsetEntrySize)
	for i := 0; i < len(ib); i += offsetEntrySize {
		e := indexEntry{rel: binary.BigEndian.Uint32(ib[i:]), pos: binary.BigEndian.Uint32(ib[i+4:])}
		if int64(e.pos) >= fileSize || len(idx) > 0 && (e.rel <= idx[len(idx)-1].rel || e.pos <= idx[len(idx)-1].pos) {
			return false
		}
		idx = append(idx, e)
	}
	tidx := make([]timeEntry, 0, len(tb)/timeEntrySize)
	for i := 0; i < len(tb); i += timeEntrySize {
		e := timeEntry{ts: int64(binary.BigEndian.Uint64(tb[i:])), rel: binary.BigEndian.Uint32(tb[i+8:])}
		if len(tidx) > 0 && e.ts < tidx[len(tidx)-1].ts {
			return false
		}
		tidx = append(tidx, e)
	}
	s.idx, s.tidx = idx, tidx
	if n := len(tidx); n > 0 {
		s.maxTS = tidx[n-1].ts
		s.maxTSOffset = s.base + int64(tidx[n-1].rel)
	}
	return true
}

// scanResult is what recovery learned from scanning a segment.
type scanResult struct {
	validEnd int64 // position after the last valid batch
	reason   string
}

// scan reads batches from pos to the end of the file, validating each one
// (length, magic, CRC, increasing offsets) and adding it to the in-memory
// indexes. It stops at the first invalid or partial batch.
func (s *segment) scan(pos, fileSize, indexInterval int64) (scanResult, error) {
	r := bufio.NewReaderSize(io.NewSectionReader(s.f, pos, fileSize-pos), int(min(1<<20, max(fileSize-pos, 4096))))
	hdr := make([]byte, BatchHeaderSize)
	var body []byte
	expect := s.nextOffset
	for pos < fileSize {
		if fileSize-pos < BatchHeaderSize {
			return scanResult{pos, fmt.Sprintf("partial batch header of %d bytes", fileSize-pos)}, nil
		}
		if _, err := io.ReadFull(r, hdr); err != nil {
			return scanResult{}, fmt.Errorf("scan %s: %w", s.path, err)
		}
		h, err := ParseBatchHeader(hdr)
		if err != nil {
			return scanResult{pos, err.Error()}, nil
		}
		if h.Magic != 2 {
			return scanResult{pos, fmt.Sprintf("magic %d", h.Magic)}, nil
		}
		if int64(h.Size()) > fileSize-pos {
			return scanResult{pos, fmt.Sprintf("partial batch: %d of %d bytes", fileSize-pos, h.Size())}, nil
		}
		if h.BaseOffset < expect || h.LastOffsetDelta < 0 || h.BaseOffset-s.base > 1<<31 {
			return scanResult{pos, fmt.Sprintf("batch offset %d where %d expected", h.BaseOffset, expect)}, nil
		}
		n := h.Size() - BatchHeaderSize
		if cap(body) < n {
			body = make([]byte, n)
		}
		body = body[:n]
		if _, err := io.ReadFull(r, body); err != nil {
			return scanResult{}, fmt.Errorf("scan %s: %w", s.path, err)
		}
		crc := crc32.Update(crc32.Checksum(hdr[offAttributes:], castagnoli), castagnoli, body)
		if crc != h.CRC {
			return scanResult{pos, fmt.Sprintf("crc mismatch at offset %d", h.BaseOffset)}, nil
		}
		s.noteBatch(&h, pos, indexInterval)
		expect = h.LastOffset() + 1
		pos += int64(h.Size())
	}
	return scanResult{validEnd: pos}, nil
}

// readAt reads into p at off, returning the number of bytes read.
func (s *segment) readAt(p []byte, off int64) (int, error) {
	n, err := s.f.ReadAt(p, off)
	if err == io.EOF && n == len(p) {
		err = nil
	}
	return n, err
}
