// Package compaction is the broker's log cleaner: for topics with
// cleanup.policy=compact it keeps only the latest record of each key in a
// partition's closed segments, drops tombstones once they are older than
// delete.retention.ms, and drops records of aborted transactions.
//
// The cleaner never touches the active segment and never renumbers
// anything: a batch that loses records is re-encoded (uncompressed) with its
// original base and last offset and each kept record's own offset; a batch
// that keeps all its records is copied byte for byte. Each rewritten segment
// is swapped in atomically with storage.Log.ReplaceSegment, so appends and
// fetches continue while it runs.
package compaction

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/penstockhq/penstock/broker/records"
	"github.com/penstockhq/penstock/broker/storage"
)

// Options are one partition's cleaning settings (its topic configs).
type Options struct {
	// Now is the cleaning time; default time.Now().
	Now time.Time
	// DeleteRetention is delete.retention.ms: how long a tombstone is kept.
	DeleteRetention time.Duration
	// MinCompactionLag is min.compaction.lag.ms: segments holding records
	// newer than this are not cleaned yet.
	MinCompactionLag time.Duration
	// MinCleanableRatio is min.cleanable.dirty.ratio: the share of bytes
	// written since the last cleaning needed before cleaning again.
	MinCleanableRatio float64
	// Force cleans regardless of MinCleanableRatio.
	Force bool
	// FirstUncleanable is the first offset that must not be cleaned: the
	// last stable offset, so that records of transactions still open are
	// never compared with committed ones (the log end offset when no
	// transaction is open; 0 cleans nothing).
	FirstUncleanable int64
	// Aborted reports whether the transactional batch of producerID at
	// offset belongs to an aborted transaction; nil means none did.
	Aborted func(producerID, offset int64) bool
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Stats is what one cleaning did.
type Stats struct {
	Segments        int   // segments rewritten
	RecordsRemoved  int64 // records dropped
	BytesBefore     int64 // bytes of the cleaned segments before
	BytesAfter      int64 // and after
	CleanableEnd    int64 // offset up to which the log is now clean
	SkippedTooClean bool  // nothing done: dirty ratio below the minimum
}

// checkpointFile holds the offset up to which a partition was last cleaned
// (the start of its dirty section), in the partition directory.
const checkpointFile = "cleaner-checkpoint"

func readCheckpoint(fsys storage.FS, dir string) int64 {
	b, err := fsys.ReadFile(filepath.Join(dir, checkpointFile))
	if err != nil {
		return 0
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil {
		return 0
	}
	return n
}

func writeCheckpoint(fsys storage.FS, dir string, off int64) error {
	p := filepath.Join(dir, checkpointFile)
	if err := storage.WriteFileAtomic(fsys, p, []byte(strconv.FormatInt(off, 10)+"\n")); err != nil {
		return fmt.Errorf("write cleaner checkpoint: %w", err)
	}
	return nil
}

// Compact cleans the closed segments of l that are older than the
// compaction lag.
func Compact(l *storage.Log, opts Options) (Stats, error) {
	var st Stats
	if opts.Now.IsZero() {
		opts.Now = time.Now()
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	nowMs := opts.Now.UnixMilli()
	var cleanable []storage.SegmentInfo
	for _, s := range l.Segments() {
		if s.Active || s.MaxTimestamp > nowMs-opts.MinCompactionLag.Milliseconds() || s.Next > opts.FirstUncleanable {
			break
		}
		cleanable = append(cleanable, s)
	}
	if len(cleanable) == 0 {
		return st, nil
	}
	end := cleanable[len(cleanable)-1].Next
	st.CleanableEnd = end
	checkpoint := readCheckpoint(l.FS(), l.Dir())
	var total, dirty int64
	for _, s := range cleanable {
		total += s.Size
		if s.Base >= checkpoint {
			dirty += s.Size
		} else if s.Next > checkpoint && s.Next > s.Base {
			dirty += s.Size * (s.Next - checkpoint) / (s.Next - s.Base)
		}
	}
	if !opts.Force && (dirty == 0 || total == 0 || float64(dirty)/float64(total) < opts.MinCleanableRatio) {
		st.SkippedTooClean = true
		return st, nil
	}

	// Pass 1: the latest offset of every key.
	latest := map[string]int64{}
	start := cleanable[0].Base
	err := l.ScanBatches(start, end, func(b []byte, h storage.BatchHeader) error {
		if h.IsControl() {
			return nil
		}
		if h.IsTransactional() && opts.Aborted != nil && opts.Aborted(h.ProducerID, h.BaseOffset) {
			return nil
		}
		_, recs, err := records.Decode(b)
		if err != nil {
			return fmt.Errorf("decode batch at %d: %w", h.BaseOffset, err)
		}
		for _, r := range recs {
			if r.Key != nil {
				latest[string(r.Key)] = r.Offset
			}
		}
		return nil
	})
	if err != nil {
		return st, fmt.Errorf("compact %s: %w", l.Dir(), err)
	}

	// Pass 2: rewrite each segment that loses records.
	tombstoneHorizon := nowMs - opts.DeleteRetention.Milliseconds()
	for _, seg := range cleanable {
		var out []byte
		changed := false
		var removed int64
		err := l.ScanBatches(seg.Base, seg.Next, func(b []byte, h storage.BatchHeader) error {
			if h.BaseOffset < seg.Base {
				return nil
			}
			if h.IsControl() {
				out = append(out, b...)
				return nil
			}
			aborted := h.IsTransactional() && opts.Aborted != nil && opts.Aborted(h.ProducerID, h.BaseOffset)
			batch, recs, err := records.Decode(b)
			if err != nil {
				return fmt.Errorf("decode batch at %d: %w", h.BaseOffset, err)
			}
			kept := recs[:0:0]
			for _, r := range recs {
				switch {
				case aborted:
				case r.Key == nil:
					kept = append(kept, r)
				case latest[string(r.Key)] != r.Offset:
				case r.Value == nil && r.Timestamp < tombstoneHorizon:
				default:
					kept = append(kept, r)
				}
			}
			if len(kept) == len(recs) {
				out = append(out, b...)
				return nil
			}
			changed = true
			removed += int64(len(recs) - len(kept))
			if len(kept) == 0 {
				return nil
			}
			out = append(out, records.Build(batch, kept)...)
			return nil
		})
		if err != nil {
			return st, fmt.Errorf("compact %s segment %d: %w", l.Dir(), seg.Base, err)
		}
		if !changed {
			continue
		}
		if err := l.ReplaceSegment(seg.Base, out); err != nil {
			if errors.Is(err, storage.ErrSegmentGone) {
				continue
			}
			return st, fmt.Errorf("compact %s: %w", l.Dir(), err)
		}
		st.Segments++
		st.RecordsRemoved += removed
		st.BytesBefore += seg.Size
		st.BytesAfter += int64(len(out))
	}
	if err := writeCheckpoint(l.FS(), l.Dir(), end); err != nil {
		return st, err
	}
	if st.Segments > 0 {
		opts.Logger.Info("compacted log", "log", l.Dir(), "segments", st.Segments, "records_removed", st.RecordsRemoved,
			"bytes_before", st.BytesBefore, "bytes_after", st.BytesAfter)
	}
	return st, nil
}
