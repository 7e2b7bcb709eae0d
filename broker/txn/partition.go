package txn

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"

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
// index of aborted transactions (for read_committed fetches, persisted in
// the partition directory as aborted-txns). It is the partition's
// storage.AppendHook.
type PartitionState struct {
	topic     string
	partition int32
	dir       string
	verify    Verifier

	mu        sync.Mutex
	producers map[int64]*producerEntry
	ongoing   map[int64]int64 // producer id -> first offset of its open transaction
	aborted   []AbortedTxn    // by LastOffset
}

// abortedFile is the aborted transaction index in the partition directory:
// one line "producerID firstOffset lastOffset" per aborted transaction.
const abortedFile = "aborted-txns"

// NewPartitionState makes the state of a partition whose log lives in dir.
func NewPartitionState(topic string, partition int32, dir string, verify Verifier) *PartitionState {
	return &PartitionState{topic: topic, partition: partition, dir: dir, verify: verify,
		producers: map[int64]*producerEntry{}, ongoing: map[int64]int64{}}
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

// BatchAppended implements storage.AppendHook.
func (p *PartitionState) BatchAppended(h *storage.BatchHeader) {
	if h.ProducerID < 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.noteLocked(h, false)
}

// noteLocked tracks a batch. A marker appended live leaves the open
// transaction for EndTxn to close (it records aborts); while rebuilding
// from the log the marker closes it.
func (p *PartitionState) noteLocked(h *storage.BatchHeader, rebuild bool) {
	e := p.producers[h.ProducerID]
	if e == nil {
		e = &producerEntry{epoch: h.ProducerEpoch}
		p.producers[h.ProducerID] = e
	}
	if h.ProducerEpoch > e.epoch {
		e.epoch = h.ProducerEpoch
		e.batches = e.batches[:0]
	}
	if h.IsControl() {
		if rebuild {
			delete(p.ongoing, h.ProducerID)
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

// EndTxn records that producerID's transaction ended with a marker at
// markerOffset; an abort goes to the aborted index (fsynced).
func (p *PartitionState) EndTxn(producerID int64, markerOffset int64, commit bool) error {
	p.mu.Lock()
	first, ok := p.ongoing[producerID]
	delete(p.ongoing, producerID)
	if commit || !ok {
		p.mu.Unlock()
		return nil
	}
	a := AbortedTxn{ProducerID: producerID, FirstOffset: first, LastOffset: markerOffset}
	p.aborted = append(p.aborted, a)
	p.mu.Unlock()
	f, err := os.OpenFile(filepath.Join(p.dir, abortedFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("aborted index of %s-%d: %w", p.topic, p.partition, err)
	}
	defer f.Close()
	if _, err := fmt.Fprintf(f, "%d %d %d\n", a.ProducerID, a.FirstOffset, a.LastOffset); err != nil {
		return fmt.Errorf("aborted index of %s-%d: %w", p.topic, p.partition, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("aborted index of %s-%d: %w", p.topic, p.partition, err)
	}
	return nil
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

// HasOpenTxn reports whether producerID has an open transaction here.
func (p *PartitionState) HasOpenTxn(producerID int64) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	_, ok := p.ongoing[producerID]
	return ok
}

// Aborted returns the aborted transactions overlapping [from, to].
func (p *PartitionState) Aborted(from, to int64) []AbortedTxn {
	p.mu.Lock()
	defer p.mu.Unlock()
	i, _ := slices.BinarySearchFunc(p.aborted, from, func(a AbortedTxn, off int64) int {
		switch {
		case a.LastOffset < off:
			return -1
		case a.LastOffset > off:
			return 1
		}
		return 0
	})
	var out []AbortedTxn
	for ; i < len(p.aborted); i++ {
		if a := p.aborted[i]; a.FirstOffset <= to && a.LastOffset >= from {
			out = append(out, a)
		}
	}
	return out
}

// IsAborted reports whether the transactional batch of producerID at
// offset belongs to an aborted transaction (for the log cleaner).
func (p *PartitionState) IsAborted(producerID, offset int64) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, a := range p.aborted {
		if a.ProducerID == producerID && a.FirstOffset <= offset && offset <= a.LastOffset {
			return true
		}
	}
	return false
}

// Rebuild restores the state after a restart: the aborted index from its
// file, and producers and open transactions from the batch headers of the
// log's tail (the last tailSegments segments).
func (p *PartitionState) Rebuild(l *storage.Log, tailSegments int) error {
	if f, err := os.Open(filepath.Join(p.dir, abortedFile)); err == nil {
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			fs := strings.Fields(sc.Text())
			if len(fs) != 3 {
				continue
			}
			var a AbortedTxn
			var e1, e2, e3 error
			a.ProducerID, e1 = strconv.ParseInt(fs[0], 10, 64)
			a.FirstOffset, e2 = strconv.ParseInt(fs[1], 10, 64)
			a.LastOffset, e3 = strconv.ParseInt(fs[2], 10, 64)
			if e1 == nil && e2 == nil && e3 == nil {
				p.aborted = append(p.aborted, a)
			}
		}
		f.Close()
		slices.SortFunc(p.aborted, func(a, b AbortedTxn) int { return int(a.LastOffset - b.LastOffset) })
	}
	segs := l.Segments()
	from := segs[max(0, len(segs)-tailSegments)].Base
	p.mu.Lock()
	defer p.mu.Unlock()
	err := l.ScanBatches(from, -1, func(_ []byte, h storage.BatchHeader) error {
		if h.ProducerID >= 0 {
			p.noteLocked(&h, true)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("rebuild producer state of %s-%d: %w", p.topic, p.partition, err)
	}
	return nil
}

// OpenTxns returns the producers with open transactions here.
func (p *PartitionState) OpenTxns() []int64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []int64
	for id := range p.ongoing {
		out = append(out, id)
	}
	return out
}
