package txn

import (
	"testing"
	"time"

	"github.com/penstockhq/penstock/broker/records"
	"github.com/penstockhq/penstock/broker/storage"
)

// txnBatch builds a batch of n records of producerID (transactional when
// txn is set), starting at sequence seq.
func txnBatch(producerID int64, epoch int16, seq int32, n int, txn bool) []byte {
	ts := time.Now().UnixMilli()
	recs := make([]records.Record, n)
	for i := range recs {
		recs[i] = records.Record{Offset: int64(i), Timestamp: ts, Key: []byte("k"), Value: []byte("v")}
	}
	b := records.Batch{ProducerID: producerID, ProducerEpoch: epoch, BaseSequence: seq, BaseTimestamp: ts}
	if txn {
		b.Attributes = records.AttrTransactional
	}
	return records.Build(b, recs)
}

// fetchAtAppend is an append hook that runs a read_committed fetch's
// last-stable-offset computation at the moment the partition's state
// learns of a batch, as a concurrent fetch could.
type fetchAtAppend struct {
	*PartitionState
	log     *storage.Log
	visible []int64 // base offsets of transactional batches readable before they were tracked
}

func (f *fetchAtAppend) BatchAppended(h *storage.BatchHeader, batch []byte) {
	if hw := f.log.HighWatermark(); h.IsTransactional() && !h.IsControl() && f.PartitionState.LSO(hw) > h.BaseOffset {
		f.visible = append(f.visible, h.BaseOffset)
	}
	f.PartitionState.BatchAppended(h, batch)
}

// TestOpenTxnFirstBatchNeverStable checks that the log publishes a batch's
// offsets only after the producer state has registered its transaction, so
// that no read_committed fetch computes a last stable offset past an open
// transaction's first batch.
func TestOpenTxnFirstBatchNeverStable(t *testing.T) {
	dir := t.TempDir()
	ps := NewPartitionState("t", 0, dir, nil)
	hook := &fetchAtAppend{PartitionState: ps}
	l, err := storage.Open(dir, storage.Options{Hook: hook})
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	hook.log = l
	if _, err := l.Append(txnBatch(-1, -1, -1, 2, false)); err != nil {
		t.Fatal(err)
	}
	res, err := l.Append(txnBatch(7, 0, 0, 3, true))
	if err != nil {
		t.Fatal(err)
	}
	if len(hook.visible) > 0 {
		t.Fatalf("open transaction's first batch at %v was readable as stable before its transaction was registered", hook.visible)
	}
	if lso := ps.LSO(l.HighWatermark()); lso != res.BaseOffset {
		t.Fatalf("LSO %d, want the open transaction's first offset %d", lso, res.BaseOffset)
	}
}
