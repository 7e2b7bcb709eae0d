package txn

import (
	"fmt"
	"log/slog"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/penstockhq/penstock/broker/records"
	"github.com/penstockhq/penstock/broker/storage"
)

// retainedBatches is how many recent batches per producer are remembered
// for duplicate detection (Kafka's max.in.flight limit for idempotence).
const retainedBatches = 5

type batchMeta struct {
	firstSeq, lastSeq      int32
	baseOffset, lastOffset int64
}

type producerEntry struct {
	epoch   int16
	lastTS  int64       // largest batch max timestamp, for expiration
	batches []batchMeta // oldest first, at most retainedBatches
}

// AbortedTxn is an aborted transaction's range in a partition: the
// producer, its first offset, and the offset of its ABORT marker.
type AbortedTxn struct {
	ProducerID  int64
	FirstOffset int64
	LastOffset  int64
}

// Verifier checks that a transactional batch belongs to the producer's
// current, ongoing transaction and that this partition was added to it.
type Verifier func(producerID int64, epoch int16, topic string, partition int32) error

// PartitionState is one partition's producer state: the last batches of
// each idempotent producer (sequence checks, duplicate detection), the
// first offset of each open transaction (the last stable offset) and the
// index of aborted transactions (read_committed fetches, the log
// cleaner). It is the partition's storage.AppendHook, and a function of the
// log alone (but for producers expired by Snapshot): every batch goes
// through BatchAppended in offset order, so the state can always be
// rebuilt from the log (Rebuild), starting from a snapshot.
type PartitionState struct {
	topic     string
	partition int32
	dir       string
	verify    Verifier

	mu        sync.Mutex
	producers map[int64]*producerEntry
	ongoing   map[int64]int64 // producer id -> first offset of its open transaction
	aborted   abortedIndex
	end       int64 // offset after the last producer batch tracked

	snapMu   sync.Mutex // one Snapshot at a time
	snapshot int64      // offset of the last snapshot written or loaded, -1 for none
}

// NewPartitionState makes the state of a partition whose log lives in dir.
func NewPartitionState(topic string, partition int32, dir string, verify Verifier) *PartitionState {
	return &PartitionState{topic: topic, partition: partition, dir: dir, verify: verify,
		producers: map[int64]*producerEntry{}, ongoing: map[int64]int64{}, aborted: newAbortedIndex(), snapshot: -1}
}

var _ storage.AppendHook = (*PartitionState)(nil)

func inSequence(last, first int32) bool {
	if last == math.MaxInt32 {
		return first == 0
	}
	return first == last+1
}

// CheckBatch implements storage.AppendHook: the epoch, sequence and
// transaction checks of an idempotent or transactional batch.
func (p *PartitionState) CheckBatch(h *storage.BatchHeader) error {
	if h.ProducerID < 0 {
		if h.IsTransactional() {
			return fmt.Errorf("%w: transactional batch without a producer id", kerr.InvalidRecord)
		}
		return nil
	}
	if h.IsTransactional() && !h.IsControl() && p.verify != nil {
		if err := p.verify(h.ProducerID, h.ProducerEpoch, p.topic, p.partition); err != nil {
			return err
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	e := p.producers[h.ProducerID]
	if e != nil && h.ProducerEpoch < e.epoch {
		return fmt.Errorf("%w: producer %d epoch %d is older than %d", kerr.InvalidProducerEpoch, h.ProducerID, h.ProducerEpoch, e.epoch)
	}
	if h.IsControl() {
		return nil
	}
	last := h.BaseSequence + h.LastOffsetDelta
	if h.BaseSequence > math.MaxInt32-h.LastOffsetDelta {
		last = h.LastOffsetDelta - (math.MaxInt32 - h.BaseSequence) - 1
	}
	if e == nil {
		// Unknown producer (new, or its state is gone with old
		// segments): any sequence is accepted, as Kafka does.
		return nil
	}
	if h.ProducerEpoch > e.epoch {
		if h.BaseSequence != 0 {
			return fmt.Errorf("%w: producer %d new epoch %d starts at sequence %d", kerr.OutOfOrderSequenceNumber, h.ProducerID, h.ProducerEpoch, h.BaseSequence)
		}
		return nil
	}
	for _, b := range e.batches {
		if b.firstSeq == h.BaseSequence && b.lastSeq == last {
			return &storage.DuplicateBatchError{BaseOffset: b.baseOffset, LastOffset: b.lastOffset}
		}
	}
	if len(e.batches) == 0 {
		return nil
	}
	if prev := e.batches[len(e.batches)-1].lastSeq; !inSequence(prev, h.BaseSequence) {
		return fmt.Errorf("%w: producer %d sequence %d after %d", kerr.OutOfOrderSequenceNumber, h.ProducerID, h.BaseSequence, prev)
	}
	return nil
}

// BatchAppended implements storage.AppendHook. It runs before the batch
// is readable, so a fetch never sees an offset the state does not cover.
func (p *PartitionState) BatchAppended(h *storage.BatchHeader, batch []byte) {
	if h.ProducerID < 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.noteLocked(h, batch)
}

// noteLocked tracks a batch of a producer: its sequences, the transaction
// it opens, or for a marker the transaction it ends (an ABORT goes to the
// aborted index).
func (p *PartitionState) noteLocked(h *storage.BatchHeader, batch []byte) {
	p.end = max(p.end, h.LastOffset()+1)
	e := p.producers[h.ProducerID]
	if e == nil {
		e = &producerEntry{epoch: h.ProducerEpoch}
		p.producers[h.ProducerID] = e
	}
	if h.ProducerEpoch > e.epoch {
		e.epoch = h.ProducerEpoch
		e.batches = e.batches[:0]
	}
	e.lastTS = max(e.lastTS, h.MaxTimestamp)
	if h.IsControl() {
		first, open := p.ongoing[h.ProducerID]
		delete(p.ongoing, h.ProducerID)
		// An unreadable marker counts as an abort: hiding records is
		// the safe mistake for read_committed readers.
		if open && records.ControlType(batch) != records.ControlCommit {
			p.aborted.add(AbortedTxn{ProducerID: h.ProducerID, FirstOffset: first, LastOffset: h.BaseOffset})
		}
		return
	}
	last := int32(int64(h.BaseSequence)+int64(h.LastOffsetDelta)) & math.MaxInt32
	if h.BaseSequence >= 0 {
		if len(e.batches) == retainedBatches {
			e.batches = slices.Delete(e.batches, 0, 1)
		}
		e.batches = append(e.batches, batchMeta{h.BaseSequence, last, h.BaseOffset, h.LastOffset()})
	}
	if h.IsTransactional() {
		if _, ok := p.ongoing[h.ProducerID]; !ok {
			p.ongoing[h.ProducerID] = h.BaseOffset
		}
	}
}

// LSO is the last stable offset given the high watermark: the first offset
// of the oldest open transaction, or hw.
func (p *PartitionState) LSO(hw int64) int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	lso := hw
	for _, off := range p.ongoing {
		lso = min(lso, off)
	}
	return lso
}

// Aborted returns the aborted transactions overlapping [from, to].
func (p *PartitionState) Aborted(from, to int64) []AbortedTxn {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.aborted.overlapping(from, to)
}

// IsAborted reports whether the transactional batch of producerID at
// offset belongs to an aborted transaction (for the log cleaner).
func (p *PartitionState) IsAborted(producerID, offset int64) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.aborted.contains(producerID, offset)
}

// Rebuild restores the state after a restart, as Kafka does: from the
// newest snapshot the log still covers (or from the start of the log if
// there is none) it replays the batch headers of the rest of the log, and
// markers from their records. Snapshots beyond the log's end (the log lost
// unsynced data in a machine crash) are deleted, unreadable ones skipped.
func (p *PartitionState) Rebuild(l *storage.Log, log *slog.Logger) error {
	start, end := l.LogStartOffset(), logEnd(l)
	from := start
	fsys := l.FS()
	snaps, err := listSnapshots(fsys, p.dir)
	if err != nil {
		return fmt.Errorf("rebuild producer state of %s-%d: %w", p.topic, p.partition, err)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	removed := false
	for _, off := range slices.Backward(snaps) {
		path := snapshotPath(p.dir, off)
		if off > end {
			log.Warn("deleting producer state snapshot beyond the log end", "partition", p.name(), "snapshot", off, "log_end", end)
			if err := fsys.Remove(path); err != nil {
				return fmt.Errorf("rebuild producer state of %s: %w", p.name(), err)
			}
			removed = true
			continue
		}
		if err := p.loadSnapshotLocked(fsys, path); err != nil {
			log.Warn("ignoring unreadable producer state snapshot", "partition", p.name(), "snapshot", off, "err", err)
			continue
		}
		p.snapshot = off
		from = max(off, start)
		break
	}
	// The removal must be durable before the log grows past the deleted
	// snapshot's offset again: after another power loss the snapshot
	// would come back and describe other batches than the log's.
	if removed {
		if err := fsys.SyncDir(p.dir); err != nil {
			return fmt.Errorf("rebuild producer state of %s: %w", p.name(), err)
		}
	}
	err = l.ScanBatches(from, -1, func(b []byte, h storage.BatchHeader) error {
		if h.ProducerID >= 0 {
			p.noteLocked(&h, b)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("rebuild producer state of %s-%d: %w", p.topic, p.partition, err)
	}
	// The aborted index of older versions; the replay above finds
	// every abort it held.
	fsys.Remove(filepath.Join(p.dir, "aborted-txns"))
	return nil
}

func (p *PartitionState) name() string { return p.topic + "-" + strconv.Itoa(int(p.partition)) }
