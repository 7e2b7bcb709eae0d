package txn

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/penstockhq/penstock/broker/records"
	"github.com/penstockhq/penstock/broker/storage"
)

// openLog opens the partition log in dir with small segments (a few
// batches each) and a fresh producer state as its hook, as the broker does
// at start, and rebuilds that state from the log.
func openLog(t *testing.T, dir string) (*storage.Log, *PartitionState) {
	t.Helper()
	ps := NewPartitionState("t", 0, dir, nil)
	cfg := storage.DefaultConfig()
	cfg.SegmentBytes = 200
	l, err := storage.Open(dir, storage.Options{Config: cfg, Hook: ps})
	if err != nil {
		t.Fatal(err)
	}
	if err := ps.Rebuild(l, slog.New(slog.NewTextHandler(testWriter{t}, nil))); err != nil {
		t.Fatal(err)
	}
	return l, ps
}

func mustAppend(t *testing.T, l *storage.Log, b []byte) storage.AppendResult {
	t.Helper()
	res, err := l.Append(b)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func mustMarker(t *testing.T, l *storage.Log, producerID int64, commit bool) int64 {
	t.Helper()
	res, err := l.AppendControl(records.ControlBatch(producerID, 0, commit, 1))
	if err != nil {
		t.Fatal(err)
	}
	return res.BaseOffset
}

// fill appends plain batches until the log has rolled past n segments.
func fill(t *testing.T, l *storage.Log, n int) {
	t.Helper()
	for start := len(l.Segments()); len(l.Segments()) < start+n; {
		mustAppend(t, l, txnBatch(-1, -1, -1, 1, false))
	}
}

// TestRebuildFindsOldOpenTransaction: a transaction opened many segments
// before a restart still holds back the last stable offset after it, and
// its abort then lands in the aborted index.
func TestRebuildFindsOldOpenTransaction(t *testing.T) {
	dir := t.TempDir()
	l, _ := openLog(t, dir)
	open := mustAppend(t, l, txnBatch(5, 0, 0, 2, true))
	fill(t, l, 4)
	l.Close()

	l, ps := openLog(t, dir)
	defer l.Close()
	if lso := ps.LSO(l.HighWatermark()); lso != open.BaseOffset {
		t.Fatalf("LSO after restart %d, want %d (the open transaction's first offset)", lso, open.BaseOffset)
	}
}

// TestRebuildRecordsAbortFromMarker: the abort marker is in the log but
// the broker stopped before recording the abort anywhere else (a crash
// before the aborted index was synced): the rebuild finds it from the log.
func TestRebuildRecordsAbortFromMarker(t *testing.T) {
	dir := t.TempDir()
	l, _ := openLog(t, dir)
	first := mustAppend(t, l, txnBatch(5, 0, 0, 2, true))
	fill(t, l, 3)
	marker := mustMarker(t, l, 5, false)
	l.Close()

	l, ps := openLog(t, dir)
	defer l.Close()
	got := ps.Aborted(first.BaseOffset, first.LastOffset)
	if len(got) != 1 || got[0] != (AbortedTxn{ProducerID: 5, FirstOffset: first.BaseOffset, LastOffset: marker}) {
		t.Fatalf("aborted transactions after restart %+v, want producer 5 from %d to %d", got, first.BaseOffset, marker)
	}
	if !ps.IsAborted(5, first.BaseOffset) {
		t.Fatal("the compactor would keep the aborted batch")
	}
}

// TestRebuildKeepsOldProducerSequences: a producer whose last batches are
// many segments back retries one of them after a restart; the retry is a
// duplicate, not a second copy.
func TestRebuildKeepsOldProducerSequences(t *testing.T) {
	dir := t.TempDir()
	l, _ := openLog(t, dir)
	first := mustAppend(t, l, txnBatch(9, 0, 0, 3, false))
	fill(t, l, 4)
	l.Close()

	l, _ = openLog(t, dir)
	defer l.Close()
	hw := l.HighWatermark()
	_, err := l.Append(txnBatch(9, 0, 0, 3, false))
	var dup *storage.DuplicateBatchError
	if !errors.As(err, &dup) || dup.BaseOffset != first.BaseOffset {
		t.Fatalf("retry after restart: %v (log end %d -> %d), want a duplicate of offset %d", err, hw, l.HighWatermark(), first.BaseOffset)
	}
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) { w.t.Log(string(p)); return len(p), nil }

// TestAbortedIndexInterleaved: transactions of three producers overlap
// and their markers come in another order than their first batches; the
// index finds each by offset range and by producer. (Before, aborts were
// recorded by EndTxn after the marker's append, in whatever order the
// coordinator got there: recorded A, C, B for markers C, A, B, a lookup
// at A's marker missed A.)
func TestAbortedIndexInterleaved(t *testing.T) {
	l, ps := openLog(t, t.TempDir())
	defer l.Close()
	c := mustAppend(t, l, txnBatch(3, 0, 0, 1, true))
	a := mustAppend(t, l, txnBatch(1, 0, 0, 1, true))
	b := mustAppend(t, l, txnBatch(2, 0, 0, 1, true))
	mc := mustMarker(t, l, 3, false)
	ma := mustMarker(t, l, 1, false)
	mb := mustMarker(t, l, 2, false)
	want := []AbortedTxn{{1, a.BaseOffset, ma}, {2, b.BaseOffset, mb}}
	if got := ps.Aborted(ma, ma); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("Aborted(%d) = %v, want %v", ma, got, want)
	}
	want = []AbortedTxn{{3, c.BaseOffset, mc}, {1, a.BaseOffset, ma}}
	if got := ps.Aborted(c.BaseOffset, a.BaseOffset); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("Aborted(%d, %d) = %v, want %v", c.BaseOffset, a.BaseOffset, got, want)
	}
	if got := ps.Aborted(mb+1, mb+5); len(got) != 0 {
		t.Fatalf("Aborted after the last marker = %v", got)
	}
	for _, tc := range []struct {
		pid, off int64
		want     bool
	}{{3, c.BaseOffset, true}, {1, a.BaseOffset, true}, {2, mb, true}, {1, c.BaseOffset, false}, {2, mb + 1, false}} {
		if got := ps.IsAborted(tc.pid, tc.off); got != tc.want {
			t.Errorf("IsAborted(%d, %d) = %v", tc.pid, tc.off, got)
		}
	}
}

// TestAbortedIndexConcurrentAborts aborts many transactions at once on
// one partition; every one is found afterwards, live and after a restart.
func TestAbortedIndexConcurrentAborts(t *testing.T) {
	dir := t.TempDir()
	l, ps := openLog(t, dir)
	const n = 40
	firsts := make([]int64, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			pid := int64(100 + i)
			res, err := l.Append(txnBatch(pid, 0, 0, 1, true))
			if err != nil {
				t.Error(err)
				return
			}
			firsts[i] = res.BaseOffset
			if _, err := l.AppendControl(records.ControlBatch(pid, 0, i%3 != 0, 1)); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	check := func(ps *PartitionState) {
		t.Helper()
		for i := range n {
			pid, aborted := int64(100+i), i%3 != 0
			aborted = !aborted
			found := false
			for _, a := range ps.Aborted(firsts[i], firsts[i]) {
				found = found || a.ProducerID == pid
			}
			if found != aborted || ps.IsAborted(pid, firsts[i]) != aborted {
				t.Fatalf("producer %d (aborted %v): listed %v, IsAborted %v", pid, aborted, found, ps.IsAborted(pid, firsts[i]))
			}
		}
		if lso, hw := ps.LSO(l.HighWatermark()), l.HighWatermark(); lso != hw {
			t.Fatalf("LSO %d with every transaction ended, want %d", lso, hw)
		}
	}
	check(ps)
	l.Close()
	l, ps = openLog(t, dir)
	defer l.Close()
	check(ps)
}

// TestRebuildFromSnapshot: the state before a snapshot comes from it,
// even once the log no longer holds the batches it was made from; a
// transaction open at the snapshot and aborted after it is indexed from
// its first offset.
func TestRebuildFromSnapshot(t *testing.T) {
	dir := t.TempDir()
	l, ps := openLog(t, dir)
	first := mustAppend(t, l, txnBatch(9, 0, 0, 3, false))
	open := mustAppend(t, l, txnBatch(5, 0, 0, 2, true))
	fill(t, l, 3)
	if err := ps.Snapshot(l, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := l.DeleteRecordsBefore(l.HighWatermark()); err != nil {
		t.Fatal(err)
	}
	fill(t, l, 1)
	marker := mustMarker(t, l, 5, false)
	l.Close()

	l, ps = openLog(t, dir)
	defer l.Close()
	var dup *storage.DuplicateBatchError
	if _, err := l.Append(txnBatch(9, 0, 0, 3, false)); !errors.As(err, &dup) || dup.BaseOffset != first.BaseOffset {
		t.Fatalf("retry of a batch known only from the snapshot: %v", err)
	}
	if !ps.IsAborted(5, open.BaseOffset) || !ps.IsAborted(5, marker) {
		t.Fatalf("transaction of producer 5 (%d..%d) not indexed as aborted: %v", open.BaseOffset, marker, ps.Aborted(0, marker))
	}
}

// TestRebuildSkipsBadSnapshots: a snapshot past the log's end (the log lost
// unsynced data in a crash) is deleted, a corrupt one ignored, and the
// state comes from the log.
func TestRebuildSkipsBadSnapshots(t *testing.T) {
	dir := t.TempDir()
	l, _ := openLog(t, dir)
	open := mustAppend(t, l, txnBatch(5, 0, 0, 2, true))
	fill(t, l, 3)
	hw := l.HighWatermark()
	l.Close()
	empty := NewPartitionState("t", 0, dir, nil).encodeLocked()
	if err := os.WriteFile(snapshotPath(dir, hw+100), empty, 0o644); err != nil {
		t.Fatal(err)
	}
	corrupt := append([]byte(nil), empty...)
	corrupt[0] ^= 1
	if err := os.WriteFile(snapshotPath(dir, hw-1), corrupt, 0o644); err != nil {
		t.Fatal(err)
	}
	l, ps := openLog(t, dir)
	defer l.Close()
	if lso := ps.LSO(l.HighWatermark()); lso != open.BaseOffset {
		t.Fatalf("LSO %d, want %d: the transaction is open in the log", lso, open.BaseOffset)
	}
	if _, err := os.Stat(snapshotPath(dir, hw+100)); !os.IsNotExist(err) {
		t.Fatalf("snapshot beyond the log end kept: %v", err)
	}
}

// TestSnapshotExpiresIdleProducers: a snapshot forgets producers idle past
// the expiration time unless their transaction is still open.
func TestSnapshotExpiresIdleProducers(t *testing.T) {
	dir := t.TempDir()
	l, ps := openLog(t, dir)
	defer l.Close()
	mustAppend(t, l, txnBatch(9, 0, 0, 1, false))
	open := mustAppend(t, l, txnBatch(5, 0, 0, 1, true))
	if err := ps.Snapshot(l, time.Now().Add(time.Hour).UnixMilli()); err != nil {
		t.Fatal(err)
	}
	ps.mu.Lock()
	_, idle := ps.producers[9]
	_, txn := ps.producers[5]
	ps.mu.Unlock()
	if idle || !txn {
		t.Fatalf("after expiry: idle producer kept %v, producer with an open transaction kept %v", idle, txn)
	}
	if lso := ps.LSO(l.HighWatermark()); lso != open.BaseOffset {
		t.Fatalf("LSO %d, want %d", lso, open.BaseOffset)
	}
}
