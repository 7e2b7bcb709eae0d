package storage

import (
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Config is a partition log's tunables, the per-topic settings of the same
// Kafka names. A zero or negative RetentionMs/RetentionBytes means unlimited.
type Config struct {
	SegmentBytes       int64         // segment.bytes: roll when the active segment would grow past this
	SegmentMs          int64         // segment.ms: roll when the active segment is older than this
	RetentionMs        int64         // retention.ms: delete segments whose newest record is older; -1 keeps forever
	RetentionBytes     int64         // retention.bytes: delete oldest segments while the log is larger; -1 keeps all
	MaxMessageBytes    int32         // max.message.bytes: largest accepted batch
	LogAppendTime      bool          // message.timestamp.type=LogAppendTime
	IndexIntervalBytes int64         // index.interval.bytes: bytes between sparse index entries
	FileDeleteDelay    time.Duration // file.delete.delay.ms: how long deleted segments stay open for readers
	// ReadUnsynced (penstock.visibility=written) lets consumers read
	// records as soon as they are written, before they are fsynced, as
	// Kafka does. By default the high watermark is the end of the fsynced
	// log, so that no offset a consumer saw can be lost by a power loss
	// and reused by other records.
	ReadUnsynced bool
}

// DefaultConfig returns Kafka's defaults.
func DefaultConfig() Config {
	return Config{
		SegmentBytes:       1 << 30,
		SegmentMs:          7 * 24 * 3600 * 1000,
		RetentionMs:        7 * 24 * 3600 * 1000,
		RetentionBytes:     -1,
		MaxMessageBytes:    1048588,
		IndexIntervalBytes: 4096,
		FileDeleteDelay:    time.Minute,
	}
}

func (c *Config) sanitize() {
	d := DefaultConfig()
	if c.SegmentBytes <= 0 {
		c.SegmentBytes = d.SegmentBytes
	}
	if c.SegmentMs <= 0 {
		c.SegmentMs = d.SegmentMs
	}
	if c.MaxMessageBytes <= 0 {
		c.MaxMessageBytes = d.MaxMessageBytes
	}
	if c.IndexIntervalBytes <= 0 {
		c.IndexIntervalBytes = d.IndexIntervalBytes
	}
	if c.FileDeleteDelay < 0 {
		c.FileDeleteDelay = 0
	}
}

// AppendHook lets a higher layer check and track batches on the append path
// without the log knowing about producers or transactions: idempotent
// producer sequence validation and transaction state belong here. Both
// methods run with the partition's append lock held, in offset order.
type AppendHook interface {
	// CheckBatch may reject a batch (before it gets an offset) with an
	// error the protocol layer maps to a Kafka error code.
	CheckBatch(h *BatchHeader) error
	// BatchAppended reports a batch (header and bytes) written with its
	// assigned offsets, before readers can see them.
	BatchAppended(h *BatchHeader, batch []byte)
}

// Options configure Open.
type Options struct {
	Config Config
	Syncer *Syncer      // group-commit fsyncs; without one every Append fsyncs before returning
	Logger *slog.Logger // defaults to slog.Default()
	Hook   AppendHook   // optional batch checks (producer ids, sequences)
	Epoch  int32        // partition leader epoch stamped into batches
	Now    func() time.Time
	FS     FS // where the files are; defaults to OSFS
	// OnFailure is called once when a write or fsync error takes the log
	// offline (for metrics; the log itself logs the error).
	OnFailure func(err error)
}

// Log is one partition: an ordered list of segments, the active one last.
// Appends are serialized by appendMu; mu guards the in-memory view that
// readers snapshot, so reads never wait for a write syscall.
type Log struct {
	dir       string
	fs        FS
	log       *slog.Logger
	syncer    *Syncer
	hook      AppendHook
	epoch     int32
	now       func() time.Time
	onFailure func(error)

	appendMu sync.Mutex // serializes appends, rolls and deletions

	mu          sync.RWMutex
	cfg         Config
	segs        []*segment
	startOffset int64
	closed      bool
	// durable is the offset after the last fsynced record, at byte
	// durablePos of durableSeg; every segment before durableSeg is
	// fsynced whole.
	durable    int64
	durableSeg *segment
	durablePos int64
	// failed is set once a write or fsync failed: the log is offline
	// (neither read nor written) until a restart recovers it.
	failed error

	waitMu  sync.Mutex
	waiters map[*Waiter]struct{}
}

// AppendResult describes a successful append.
type AppendResult struct {
	BaseOffset     int64    // offset given to the first record
	LastOffset     int64    // offset of the last record
	LogAppendTime  int64    // broker timestamp for LogAppendTime topics, else -1
	LogStartOffset int64    // the log's start offset after the append
	Sync           *SyncGen // completes when the write is fsynced (nil without a Syncer)
	log            *Log
}

// Wait blocks until the appended records are durable and returns nil, or
// returns why they are not: the error that took the log offline, or
// ErrClosed.
func (r AppendResult) Wait() error {
	if r.Sync != nil {
		<-r.Sync.Done()
	}
	return r.log.Durable(r.LastOffset)
}

const startOffsetFile = "log-start-offset"

// Open opens (creating if needed) the partition log in dir, recovering every
// segment: the tail of each segment is validated and a torn or partial write
// is truncated, with a log line saying how many bytes were dropped.
func Open(dir string, opts Options) (*Log, error) {
	opts.Config.sanitize()
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.FS == nil {
		opts.FS = OSFS
	}
	if err := MkdirDurable(opts.FS, dir); err != nil {
		return nil, fmt.Errorf("create log dir: %w", err)
	}
	l := &Log{
		dir:       dir,
		fs:        opts.FS,
		onFailure: opts.OnFailure,
		log:       opts.Logger.With("log", dir),
		syncer:    opts.Syncer,
		hook:      opts.Hook,
		epoch:     opts.Epoch,
		now:       opts.Now,
		cfg:       opts.Config,
		waiters:   make(map[*Waiter]struct{}),
	}
	if err := l.load(); err != nil {
		l.closeFiles()
		return nil, err
	}
	return l, nil
}

func (l *Log) load() error {
	if err := l.loadSegments(); err != nil {
		return err
	}
	// What recovery kept may still be only in the page cache (after a
	// process crash): make it durable before anyone can read it.
	active := l.segs[len(l.segs)-1]
	if err := active.f.Sync(); err != nil {
		return fmt.Errorf("sync segment %s: %w", active.path, err)
	}
	l.durable, l.durableSeg, l.durablePos = active.nextOffset, active, active.size
	if l.startOffset > active.nextOffset {
		// The start offset was persisted beyond records a power loss
		// took away: keep the offsets that will be written again.
		l.log.Warn("log start offset beyond the recovered log end; clamping it",
			"log_start_offset", l.startOffset, "log_end_offset", active.nextOffset)
		l.startOffset = active.nextOffset
		if err := l.writeStartOffset(l.startOffset); err != nil {
			return err
		}
	}
	return nil
}

func (l *Log) loadSegments() error {
	entries, err := l.fs.ReadDir(l.dir)
	if err != nil {
		return fmt.Errorf("read log dir: %w", err)
	}
	var bases []int64
	for _, e := range entries {
		name := e.Name()
		if strings.HasSuffix(name, ".deleted") || strings.HasSuffix(name, ".tmp") {
			l.fs.Remove(filepath.Join(l.dir, name))
			continue
		}
		if b, ok := parseSegmentName(name); ok {
			bases = append(bases, b)
		}
	}
	slices.Sort(bases)
	if b, err := l.fs.ReadFile(filepath.Join(l.dir, startOffsetFile)); err == nil {
		if n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil {
			l.startOffset = n
		}
	}
	if len(bases) == 0 {
		seg, err := createSegment(l.fs, l.dir, l.startOffset, l.now())
		if err != nil {
			return err
		}
		l.segs = []*segment{seg}
		return nil
	}
	for i, base := range bases {
		seg, err := l.recoverSegment(base, i == len(bases)-1)
		if err != nil {
			return err
		}
		l.segs = append(l.segs, seg)
	}
	l.startOffset = max(l.startOffset, l.segs[0].base)
	return nil
}

// recoverSegment opens one segment and checks its tail. The active (last)
// segment is scanned in full, since its indexes are kept in memory only;
// older segments were fsynced with their indexes when they rolled, so only
// the part after their last index entry is scanned.
func (l *Log) recoverSegment(base int64, last bool) (*segment, error) {
	p := segmentPath(l.dir, base, logSuffix)
	f, err := l.fs.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("open segment: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("stat segment: %w", err)
	}
	size := st.Size()
	seg := &segment{base: base, path: p, f: f, nextOffset: base, created: l.now(), maxTS: -1, maxTSOffset: -1}
	from := int64(0)
	rebuilt := true
	if !last && seg.loadIndexes(l.fs, l.dir, size) && len(seg.idx) > 0 {
		lastEntry := seg.idx[len(seg.idx)-1]
		seg.idx = seg.idx[:len(seg.idx)-1]
		for len(seg.tidx) > 0 && seg.tidx[len(seg.tidx)-1].rel >= lastEntry.rel {
			seg.tidx = seg.tidx[:len(seg.tidx)-1]
		}
		seg.maxTS, seg.maxTSOffset = -1, -1
		if n := len(seg.tidx); n > 0 {
			seg.maxTS, seg.maxTSOffset = seg.tidx[n-1].ts, base+int64(seg.tidx[n-1].rel)
		}
		seg.bytesSinceIdx = l.cfg.IndexIntervalBytes
		seg.nextOffset = base + int64(lastEntry.rel)
		seg.size = int64(lastEntry.pos)
		from = int64(lastEntry.pos)
		rebuilt = false
	} else {
		seg.idx, seg.tidx = nil, nil
		seg.maxTS, seg.maxTSOffset = -1, -1
	}
	res, err := seg.scan(from, size, l.cfg.IndexIntervalBytes)
	if err != nil {
		f.Close()
		return nil, err
	}
	if res.validEnd < size {
		l.log.Warn("truncating torn segment tail",
			"segment", filepath.Base(p), "truncated_bytes", size-res.validEnd,
			"valid_bytes", res.validEnd, "reason", res.reason)
		if err := f.Truncate(res.validEnd); err != nil {
			f.Close()
			return nil, fmt.Errorf("truncate segment %s: %w", p, err)
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return nil, fmt.Errorf("sync segment %s: %w", p, err)
		}
		rebuilt = true
	}
	seg.size = res.validEnd
	if !last {
		if n := len(seg.tidx); seg.maxTS >= 0 && (n == 0 || seg.tidx[n-1].ts < seg.maxTS) {
			seg.tidx = append(seg.tidx, timeEntry{ts: seg.maxTS, rel: uint32(seg.maxTSOffset - base)})
		}
		if rebuilt {
			if err := seg.writeIndexes(l.fs, l.dir); err != nil {
				f.Close()
				return nil, err
			}
		}
	}
	return seg, nil
}

// SetConfig changes the log's tunables (after AlterConfigs).
func (l *Log) SetConfig(cfg Config) {
	cfg.sanitize()
	l.mu.Lock()
	l.cfg = cfg
	l.mu.Unlock()
}

// Dir is the log's directory.
func (l *Log) Dir() string { return l.dir }

// Append validates records (one or more v2 batches, as in a produce
// request), gives them consecutive offsets by rewriting each header's base
// offset in place, and writes them to the active segment. The bytes are
// otherwise stored exactly as received. If a Syncer is configured the result
// carries the sync generation that makes the write durable.
func (l *Log) Append(records []byte) (AppendResult, error) {
	return l.append(records, false)
}

// AppendControl is Append for the broker's own writes, which may include
// control batches (transaction markers); producers cannot write those.
func (l *Log) AppendControl(records []byte) (AppendResult, error) {
	return l.append(records, true)
}

func (l *Log) append(records []byte, allowControl bool) (AppendResult, error) {
	var hdrs [8]BatchHeader
	headers := hdrs[:0]
	l.mu.RLock()
	cfg := l.cfg
	l.mu.RUnlock()
	var count int64
	err := SplitBatches(records, func(b []byte, h BatchHeader) error {
		if len(b) > int(cfg.MaxMessageBytes) {
			return fmt.Errorf("%w: %d bytes, max.message.bytes is %d", ErrBatchTooLarge, len(b), cfg.MaxMessageBytes)
		}
		if h.IsControl() && !allowControl {
			return fmt.Errorf("%w: control batches cannot be produced", ErrInvalidRecord)
		}
		if h.RecordCount == 0 || int64(h.RecordCount) != int64(h.LastOffsetDelta)+1 {
			return fmt.Errorf("%w: record count %d with last offset delta %d", ErrInvalidRecord, h.RecordCount, h.LastOffsetDelta)
		}
		count += int64(h.LastOffsetDelta) + 1
		headers = append(headers, h)
		return nil
	})
	if err != nil {
		return AppendResult{}, err
	}

	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	l.mu.RLock()
	closed, failed := l.closed, l.failed
	active := l.segs[len(l.segs)-1]
	l.mu.RUnlock()
	if closed {
		return AppendResult{}, ErrClosed
	}
	if failed != nil {
		return AppendResult{}, failed
	}
	if l.hook != nil {
		for i := range headers {
			if err := l.hook.CheckBatch(&headers[i]); err != nil {
				return AppendResult{}, err
			}
		}
	}
	now := l.now()
	next := active.nextOffset
	if active.size > 0 && (active.size+int64(len(records)) > cfg.SegmentBytes ||
		now.Sub(active.created) > time.Duration(cfg.SegmentMs)*time.Millisecond ||
		next+count-active.base > math.MaxInt32 || active.size+int64(len(records)) > math.MaxUint32) {
		var err error
		if active, err = l.roll(); err != nil {
			return AppendResult{}, err
		}
	}
	res := AppendResult{BaseOffset: next, LogAppendTime: -1}
	var appendTime int64 = -1
	if cfg.LogAppendTime {
		appendTime = now.UnixMilli()
		res.LogAppendTime = appendTime
	}
	pos := 0
	off := next
	for i := range headers {
		h := &headers[i]
		b := records[pos : pos+h.Size()]
		setBaseOffset(b, off, l.epoch)
		h.BaseOffset = off
		h.PartitionLeaderEpoch = l.epoch
		if appendTime >= 0 {
			setLogAppendTime(b, appendTime)
			h.MaxTimestamp = appendTime
			h.Attributes |= attrTimestampType
		}
		off = h.LastOffset() + 1
		pos += h.Size()
	}
	writePos := active.size
	if _, err := active.f.WriteAt(records, writePos); err != nil {
		// What reached the file is unknown: take the log offline, as
		// Kafka does with a log dir after an I/O error.
		return AppendResult{}, l.fail(fmt.Errorf("append to %s: %w", active.path, err))
	}
	// The hook learns of the batches (open transactions above all)
	// before their offsets are published: a fetch that sees the new end
	// offset must also see the transaction that holds back the last
	// stable offset.
	if l.hook != nil {
		p := 0
		for i := range headers {
			l.hook.BatchAppended(&headers[i], records[p:p+headers[i].Size()])
			p += headers[i].Size()
		}
	}
	l.mu.Lock()
	p := writePos
	for i := range headers {
		active.noteBatch(&headers[i], p, cfg.IndexIntervalBytes)
		p += int64(headers[i].Size())
	}
	res.LogStartOffset = l.startOffset
	l.mu.Unlock()
	res.LastOffset = off - 1
	res.log = l
	if l.syncer != nil {
		res.Sync = l.syncer.mark(l)
	} else if err := l.syncActive(); err != nil {
		return AppendResult{}, err
	}
	if cfg.ReadUnsynced {
		l.notify()
	}
	return res, nil
}

// syncActive fsyncs the active segment and advances the durable offset to
// what the fsync covered. A failed fsync takes the log offline.
func (l *Log) syncActive() error {
	l.mu.RLock()
	if l.closed || l.failed != nil {
		err := l.failed
		l.mu.RUnlock()
		return err
	}
	seg := l.segs[len(l.segs)-1]
	end, pos, durable := seg.nextOffset, seg.size, l.durable
	l.mu.RUnlock()
	if end <= durable {
		return nil
	}
	if err := seg.f.Sync(); err != nil {
		if errors.Is(err, os.ErrClosed) {
			return nil // closed with its log; nothing left to make durable
		}
		return l.fail(fmt.Errorf("fsync %s: %w", seg.path, err))
	}
	l.advanceDurable(seg, end, pos)
	return nil
}

// advanceDurable records that seg is fsynced up to byte pos, offset end.
func (l *Log) advanceDurable(seg *segment, end, pos int64) {
	l.mu.Lock()
	adv := end > l.durable
	if adv {
		l.durable, l.durableSeg, l.durablePos = end, seg, pos
	}
	wake := adv && !l.cfg.ReadUnsynced
	l.mu.Unlock()
	if wake {
		l.notify()
	}
}

// fail takes the log offline after a write or fsync error: after a failed
// fsync the kernel may have dropped the dirty pages and a later fsync would
// succeed without them, so nothing written since the last good fsync can be
// trusted. The log then refuses reads and writes (KAFKA_STORAGE_ERROR)
// until a restart recovers it from what is on disk. It returns the error
// the log now answers with.
func (l *Log) fail(err error) error {
	l.mu.Lock()
	first := l.failed == nil
	if first {
		l.failed = fmt.Errorf("%w: %w", ErrLogOffline, err)
	}
	failed := l.failed
	active := l.segs[len(l.segs)-1]
	keep := int64(0)
	if active == l.durableSeg {
		keep = l.durablePos
	}
	l.mu.Unlock()
	if first {
		// Cut what was not fsynced from the file, so that a restart
		// does not recover bytes whose pages the kernel may have
		// dropped from the disk while keeping them in the page cache.
		if err := active.f.Truncate(keep); err != nil {
			l.log.Warn("cut the unsynced tail of the offline log", "segment", active.path, "err", err)
		}
		l.log.Error("partition log offline after a storage error: it is neither read nor written until a restart recovers it", "err", err)
		if l.onFailure != nil {
			l.onFailure(err)
		}
		l.notify()
	}
	return failed
}

// Failed returns the error that took the log offline, or nil.
func (l *Log) Failed() error {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.failed
}

// Durable returns nil when the record at offset last is fsynced, else why
// not: the error that took the log offline, ErrClosed, or ErrNotSynced.
func (l *Log) Durable(last int64) error {
	l.mu.RLock()
	defer l.mu.RUnlock()
	switch {
	case l.durable > last:
		return nil
	case l.failed != nil:
		return l.failed
	case l.closed:
		return ErrClosed
	}
	return ErrNotSynced
}

// SyncFor returns a sync generation whose completion makes the record at
// offset last durable (or the log offline), or nil when it already is
// durable. It is how an acks=all answer that appended nothing (an
// idempotent producer's retry) waits for the fsync of the first attempt.
func (l *Log) SyncFor(last int64) *SyncGen {
	if l.Durable(last) == nil {
		return nil
	}
	if l.syncer == nil {
		l.syncActive()
		return nil
	}
	return l.syncer.mark(l)
}

// roll makes a new active segment starting at the next offset; the old one
// is fsynced with its indexes. Called with appendMu held.
func (l *Log) roll() (*segment, error) {
	l.mu.RLock()
	old := l.segs[len(l.segs)-1]
	l.mu.RUnlock()
	if err := old.f.Sync(); err != nil {
		return nil, l.fail(fmt.Errorf("sync rolled segment %s: %w", old.path, err))
	}
	l.advanceDurable(old, old.nextOffset, old.size)
	if err := old.writeIndexes(l.fs, l.dir); err != nil {
		return nil, l.fail(err)
	}
	seg, err := createSegment(l.fs, l.dir, old.nextOffset, l.now())
	if err != nil {
		return nil, l.fail(err)
	}
	l.mu.Lock()
	l.segs = append(l.segs, seg)
	l.mu.Unlock()
	l.log.Debug("rolled segment", "base_offset", seg.base)
	return seg, nil
}

// HighWatermark is the end of what consumers may read: the offset after the
// last fsynced record, or with ReadUnsynced the log end offset (one broker,
// no replicas).
func (l *Log) HighWatermark() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.visibleEnd()
}

// visibleEnd is the high watermark; called with mu held.
func (l *Log) visibleEnd() int64 {
	if l.cfg.ReadUnsynced {
		return l.segs[len(l.segs)-1].nextOffset
	}
	return l.durable
}

// LogEndOffset is the offset the next appended record will get.
func (l *Log) LogEndOffset() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.segs[len(l.segs)-1].nextOffset
}

// LogStartOffset is the first offset still readable.
func (l *Log) LogStartOffset() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.startOffset
}

// Offsets returns the log start offset and the high watermark together.
func (l *Log) Offsets() (start, hw int64) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	return l.startOffset, l.visibleEnd()
}

// Size is the total bytes of all segments.
func (l *Log) Size() int64 {
	l.mu.RLock()
	defer l.mu.RUnlock()
	var n int64
	for _, s := range l.segs {
		n += s.size
	}
	return n
}

// segmentFor returns a snapshot of the segment holding offset (or, when
// compaction emptied that offset's segment, the first one after it), or
// nil. size is how much of it readers may see. Called with mu held.
func (l *Log) segmentFor(offset int64) (seg *segment, size int64, idx []indexEntry) {
	i, _ := slices.BinarySearchFunc(l.segs, offset, func(s *segment, off int64) int {
		return cmp.Compare(s.base, off)
	})
	// i is the first segment with base >= offset.
	if i == len(l.segs) || l.segs[i].base > offset {
		i--
	}
	for i = max(i, 0); i < len(l.segs); i++ {
		if s := l.segs[i]; offset < s.nextOffset {
			return s, l.visibleSize(s), s.idx
		}
	}
	return nil, 0, nil
}

// segmentAfter returns a snapshot of the first segment whose base offset is
// above base, as segmentFor does, or nil. Called with mu held.
func (l *Log) segmentAfter(base int64) (seg *segment, size int64, idx []indexEntry) {
	i, _ := slices.BinarySearchFunc(l.segs, base+1, func(s *segment, off int64) int {
		return cmp.Compare(s.base, off)
	})
	if i == len(l.segs) {
		return nil, 0, nil
	}
	s := l.segs[i]
	return s, l.visibleSize(s), s.idx
}

// visibleSize is how many bytes of s consumers may read: up to the fsynced
// position unless ReadUnsynced. Called with mu held.
func (l *Log) visibleSize(s *segment) int64 {
	switch {
	case l.cfg.ReadUnsynced:
		return s.size
	case s == l.durableSeg:
		return min(s.size, l.durablePos)
	case s.base >= l.durable:
		return 0 // after the durable segment
	}
	return s.size
}

// ReadResult is the outcome of a Read.
type ReadResult struct {
	Data           []byte // whole batches, possibly with a partial batch last; nil when nothing to read
	HighWatermark  int64
	LogStartOffset int64
}

// Read returns stored batches starting with the one that holds offset, up to
// maxBytes (but always the whole first batch, so that a consumer can make
// progress past a batch larger than its limit). The returned Data may be
// handed back with PutBuffer once it is no longer used.
func (l *Log) Read(offset int64, maxBytes int) (ReadResult, error) {
	res, fr, err := l.ReadRange(offset, maxBytes)
	if err != nil || fr.Len == 0 {
		return res, err
	}
	buf := GetBuffer(int(fr.Len))
	n, err := readFull(fr.File, buf, fr.Pos)
	if err != nil {
		PutBuffer(buf)
		return res, fmt.Errorf("read %s: %w", fr.File.Name(), err)
	}
	res.Data = buf[:n]
	return res, nil
}

// FileRange is a byte range of a segment file: what a Read would return,
// left in the file so that it can be sent without copying (sendfile). The
// bytes in the range never change; the file stays open at least until
// file.delete.delay.ms after its segment is deleted or replaced, or until
// the log is closed, after which reading it fails.
type FileRange struct {
	File File // an *os.File in production, which sendfile can use
	Pos  int64
	Len  int64
}

// ReadRange is Read without the read: it returns where in which segment
// file the batches Read would return are. Len is 0 when there is nothing to
// read; res.Data is always nil.
func (l *Log) ReadRange(offset int64, maxBytes int) (ReadResult, FileRange, error) {
	l.mu.RLock()
	if l.closed || l.failed != nil {
		err := l.failed
		l.mu.RUnlock()
		if err == nil {
			err = ErrClosed
		}
		return ReadResult{}, FileRange{}, err
	}
	res := ReadResult{HighWatermark: l.visibleEnd(), LogStartOffset: l.startOffset}
	if offset < l.startOffset || offset > res.HighWatermark {
		l.mu.RUnlock()
		return res, FileRange{}, ErrOffsetOutOfRange
	}
	if offset == res.HighWatermark {
		l.mu.RUnlock()
		return res, FileRange{}, nil
	}
	seg, size, idx := l.segmentFor(offset)
	l.mu.RUnlock()
	match := func(h *BatchHeader) bool { return h.LastOffset() >= offset }
	for seg != nil {
		// A segment may hold no batch at or after offset when
		// compaction removed its tail; the next one then does.
		if size > 0 {
			start, first, err := findBatch(seg, size, lookupIndex(idx, seg.base, offset), match)
			if err != nil {
				return res, FileRange{}, err
			}
			if start >= 0 {
				end := min(size, start+int64(max(maxBytes, 0)))
				end = max(end, start+int64(first.Size()))
				return res, FileRange{File: seg.f, Pos: start, Len: end - start}, nil
			}
		}
		l.mu.RLock()
		seg, size, idx = l.segmentAfter(seg.base)
		l.mu.RUnlock()
	}
	return res, FileRange{}, nil
}

func readFull(f File, p []byte, off int64) (int, error) {
	n, err := f.ReadAt(p, off)
	if err == io.EOF && n == len(p) {
		err = nil
	}
	return n, err
}

// findBatch scans batch headers from pos (a batch boundary) up to size and
// returns the position and header of the first batch for which match is
// true, or -1.
func findBatch(seg *segment, size, pos int64, match func(*BatchHeader) bool) (int64, BatchHeader, error) {
	chunk := GetBuffer(16 << 10)
	defer PutBuffer(chunk)
	for pos < size {
		n, err := seg.readAt(chunk[:min(int64(len(chunk)), size-pos)], pos)
		if err != nil {
			return -1, BatchHeader{}, fmt.Errorf("read %s: %w", seg.path, err)
		}
		c := chunk[:n]
		advanced := false
		for len(c) >= BatchHeaderSize {
			h, err := ParseBatchHeader(c)
			if err != nil {
				return -1, BatchHeader{}, fmt.Errorf("%s at %d: %w", seg.path, pos, err)
			}
			if match(&h) {
				return pos, h, nil
			}
			pos += int64(h.Size())
			advanced = true
			if h.Size() > len(c) {
				break
			}
			c = c[h.Size():]
		}
		if !advanced {
			return -1, BatchHeader{}, fmt.Errorf("%s at %d: truncated batch header", seg.path, pos)
		}
	}
	return -1, BatchHeader{}, nil
}

// OffsetForTimestamp finds the first batch whose max timestamp is at least
// ts and returns its bytes (for the caller to find the exact record), or
// nil data when no record is that new.
func (l *Log) OffsetForTimestamp(ts int64) ([]byte, error) {
	l.mu.RLock()
	segs := slices.Clone(l.segs)
	type snap struct {
		size int64
		idx  []indexEntry
		tidx []timeEntry
		max  int64
	}
	snaps := make([]snap, len(segs))
	for i, s := range segs {
		snaps[i] = snap{s.size, s.idx, s.tidx, s.maxTS}
	}
	start, end, failed := l.startOffset, l.visibleEnd(), l.failed
	l.mu.RUnlock()
	if failed != nil {
		return nil, failed
	}
	for i, s := range segs {
		sn := snaps[i]
		if sn.max < ts || sn.size == 0 {
			continue
		}
		rel := lookupTime(sn.tidx, ts)
		from := max(s.base+int64(rel), start)
		pos, h, err := findBatch(s, sn.size, lookupIndex(sn.idx, s.base, from), func(h *BatchHeader) bool {
			return h.LastOffset() >= start && h.MaxTimestamp >= ts
		})
		if err != nil {
			return nil, err
		}
		if pos < 0 {
			continue
		}
		if h.BaseOffset >= end {
			return nil, nil
		}
		buf := make([]byte, h.Size())
		if _, err := s.readAt(buf, pos); err != nil {
			return nil, fmt.Errorf("read %s: %w", s.path, err)
		}
		return buf, nil
	}
	return nil, nil
}

// MaxTimestamp returns the largest timestamp in the log and the last offset
// of the batch that holds it, or -1, -1 for an empty log.
func (l *Log) MaxTimestamp() (ts, offset int64) {
	l.mu.RLock()
	defer l.mu.RUnlock()
	ts, offset = -1, -1
	end := l.visibleEnd()
	for _, s := range l.segs {
		if s.maxTS > ts && s.maxTSOffset >= l.startOffset && s.maxTSOffset < end {
			ts, offset = s.maxTS, s.maxTSOffset
		}
	}
	return ts, offset
}

// DeleteRecordsBefore advances the log start offset to offset (as Kafka's
// DeleteRecords does), persists it and deletes the segments wholly before
// it. It returns the new log start offset.
func (l *Log) DeleteRecordsBefore(offset int64) (int64, error) {
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	if err := l.Failed(); err != nil {
		return 0, err
	}
	start, hw := l.Offsets()
	if offset < 0 || offset > hw {
		return start, ErrOffsetOutOfRange
	}
	if offset <= start {
		return start, nil
	}
	// Never persist a start offset beyond fsynced records: after a power
	// loss it would hide records written again at those offsets.
	if l.Durable(offset-1) != nil {
		if err := l.syncActive(); err != nil {
			return start, err
		}
		if err := l.Durable(offset - 1); err != nil {
			return start, err
		}
	}
	if err := l.writeStartOffset(offset); err != nil {
		return start, err
	}
	l.mu.Lock()
	l.startOffset = offset
	l.mu.Unlock()
	l.deleteSegments(func(s *segment, _, _ int64) bool { return s.nextOffset <= offset })
	return offset, nil
}

func (l *Log) writeStartOffset(offset int64) error {
	p := filepath.Join(l.dir, startOffsetFile)
	if err := WriteFileAtomic(l.fs, p, []byte(strconv.FormatInt(offset, 10)+"\n")); err != nil {
		return fmt.Errorf("persist log start offset: %w", err)
	}
	return nil
}

// ApplyRetention deletes the oldest segments that retention.ms or
// retention.bytes no longer allow, rolling the active segment first when
// all of it has expired. It returns how many segments it deleted.
func (l *Log) ApplyRetention() (int, error) {
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	l.mu.RLock()
	cfg := l.cfg
	active := l.segs[len(l.segs)-1]
	closed := l.closed || l.failed != nil
	l.mu.RUnlock()
	if closed {
		return 0, nil
	}
	now := l.now().UnixMilli()
	if cfg.RetentionMs > 0 && active.size > 0 && active.largestTimestamp() < now-cfg.RetentionMs {
		if _, err := l.roll(); err != nil {
			return 0, err
		}
	}
	return l.deleteSegments(func(s *segment, total, _ int64) bool {
		if cfg.RetentionMs > 0 && s.largestTimestamp() < now-cfg.RetentionMs {
			return true
		}
		return cfg.RetentionBytes > 0 && total-s.size >= cfg.RetentionBytes
	}), nil
}

// deleteSegments removes segments from the front while del says so, never
// the active one. Called with appendMu held.
func (l *Log) deleteSegments(del func(s *segment, total, start int64) bool) int {
	l.mu.Lock()
	var total int64
	for _, s := range l.segs {
		total += s.size
	}
	var gone []*segment
	for len(l.segs) > 1 && del(l.segs[0], total, l.startOffset) {
		total -= l.segs[0].size
		gone = append(gone, l.segs[0])
		l.segs = l.segs[1:]
	}
	if len(gone) > 0 {
		l.startOffset = max(l.startOffset, l.segs[0].base)
	}
	delay := l.cfg.FileDeleteDelay
	l.mu.Unlock()
	for _, s := range gone {
		l.log.Info("deleting segment", "base_offset", s.base, "bytes", s.size)
		for _, suf := range []string{logSuffix, indexSuffix, timeIndexSuffix} {
			l.fs.Remove(segmentPath(l.dir, s.base, suf))
		}
		// Readers may still hold the file; close it later, as Kafka
		// does with file.delete.delay.ms.
		f := s.f
		time.AfterFunc(delay, func() { f.Close() })
	}
	return len(gone)
}

// Close closes the log's files; the active segment's indexes are written so
// a clean restart could use them. Pending fsyncs should be awaited first.
func (l *Log) Close() error {
	l.appendMu.Lock()
	defer l.appendMu.Unlock()
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	failed := l.failed
	l.mu.Unlock()
	l.notify()
	var errs []error
	for _, s := range l.segs {
		if failed != nil {
			break // an offline log is not flushed
		}
		if err := s.f.Sync(); err != nil {
			errs = append(errs, fmt.Errorf("sync %s: %w", s.path, err))
		}
	}
	l.closeFiles()
	return errors.Join(errs...)
}

// Delete closes the log and removes its directory.
func (l *Log) Delete() error {
	l.appendMu.Lock()
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
	l.appendMu.Unlock()
	l.notify()
	l.closeFiles()
	if err := l.fs.RemoveAll(l.dir); err != nil {
		return fmt.Errorf("delete log: %w", err)
	}
	return nil
}

func (l *Log) closeFiles() {
	for _, s := range l.segs {
		s.f.Close()
	}
}

// Waiter is a long-polling fetch's wake-up channel: register it with Watch on
// every partition the fetch reads and C receives a signal after an append to
// any of them.
type Waiter struct {
	C chan struct{}
}

// NewWaiter makes a Waiter.
func NewWaiter() *Waiter { return &Waiter{C: make(chan struct{}, 1)} }

// Watch registers w to be signalled on appends.
func (l *Log) Watch(w *Waiter) {
	l.waitMu.Lock()
	l.waiters[w] = struct{}{}
	l.waitMu.Unlock()
}

// Unwatch removes w.
func (l *Log) Unwatch(w *Waiter) {
	l.waitMu.Lock()
	delete(l.waiters, w)
	l.waitMu.Unlock()
}

func (l *Log) notify() {
	l.waitMu.Lock()
	for w := range l.waiters {
		select {
		case w.C <- struct{}{}:
		default:
		}
	}
	l.waitMu.Unlock()
}

var bufPool sync.Pool

// GetBuffer returns a byte slice of length n, from a pool when possible.
func GetBuffer(n int) []byte {
	if v := bufPool.Get(); v != nil {
		b := *(v.(*[]byte))
		if cap(b) >= n {
			return b[:n]
		}
		bufPool.Put(v)
	}
	return make([]byte, n, max(n, 64<<10))
}

// PutBuffer returns a slice from GetBuffer or Read to the pool.
func PutBuffer(b []byte) {
	if cap(b) == 0 || cap(b) > 16<<20 {
		return
	}
	b = b[:0]
	bufPool.Put(&b)
}

// lastOffsetOf returns the offset of the last record of the batch at the
// start of b (used by tests and tools).
func lastOffsetOf(b []byte) int64 {
	return int64(binary.BigEndian.Uint64(b)) + int64(int32(binary.BigEndian.Uint32(b[offLastOffsetDelta:])))
}
