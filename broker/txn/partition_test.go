package txn

import (
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/penstockhq/penstock/broker/storage"
)

func TestSequenceChecksAndDuplicates(t *testing.T) {
	p := NewPartitionState("t", 0, t.TempDir(), nil)
	next := int64(0)
	appendBatch := func(pid int64, epoch int16, seq, n int32) (int64, error) {
		h := storage.BatchHeader{ProducerID: pid, ProducerEpoch: epoch, BaseSequence: seq, LastOffsetDelta: n - 1, RecordCount: n}
		if err := p.CheckBatch(&h); err != nil {
			return -1, err
		}
		h.BaseOffset = next
		next += int64(n)
		p.BatchAppended(&h, nil)
		return h.BaseOffset, nil
	}
	for i := range int32(7) {
		if _, err := appendBatch(1, 0, i*3, 3); err != nil {
			t.Fatalf("batch %d: %v", i, err)
		}
	}
	// The last 5 batches are recognized as duplicates, with their offsets.
	for i := int32(2); i < 7; i++ {
		_, err := appendBatch(1, 0, i*3, 3)
		var dup *storage.DuplicateBatchError
		if !errors.As(err, &dup) || dup.BaseOffset != int64(i*3) {
			t.Fatalf("retry of batch %d: %v", i, err)
		}
	}
	if _, err := appendBatch(1, 0, 30, 1); !errors.Is(err, kerr.OutOfOrderSequenceNumber) {
		t.Fatalf("gap: %v", err)
	}
	if _, err := appendBatch(1, 0, 3, 3); !errors.Is(err, kerr.OutOfOrderSequenceNumber) {
		t.Fatalf("old batch beyond the retained five: %v", err)
	}
	if _, err := appendBatch(1, 1, 5, 1); !errors.Is(err, kerr.OutOfOrderSequenceNumber) {
		t.Fatalf("new epoch not at 0: %v", err)
	}
	if _, err := appendBatch(1, 1, 0, 1); err != nil {
		t.Fatalf("new epoch: %v", err)
	}
	if _, err := appendBatch(1, 0, 21, 1); !errors.Is(err, kerr.InvalidProducerEpoch) {
		t.Fatalf("old epoch: %v", err)
	}
	// An unknown producer may start anywhere (its state may be gone).
	if _, err := appendBatch(2, 0, 42, 1); err != nil {
		t.Fatalf("unknown producer: %v", err)
	}
}

func TestIDAllocatorNeverRepeats(t *testing.T) {
	path := t.TempDir() + "/ids"
	a, err := NewIDAllocator(storage.OSFS, path)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int64]bool{}
	for range 1500 {
		id, _ := a.Next()
		seen[id] = true
	}
	b, err := NewIDAllocator(storage.OSFS, path)
	if err != nil {
		t.Fatal(err)
	}
	for range 10 {
		id, _ := b.Next()
		if seen[id] {
			t.Fatalf("id %d repeated after reopening", id)
		}
	}
}
