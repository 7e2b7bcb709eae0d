package group

import (
	"errors"
	"testing"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// syncStore is a Store whose fsyncs the test completes: each Append's
// wait blocks until the test sends that write's outcome on syncs. It
// stands in for the offsets topic's log, whose fsync failures no real
// file system here produces on demand.
type syncStore struct{ syncs chan error }

func (s *syncStore) Append([]byte) (func() error, error) {
	return func() error { return <-s.syncs }, nil
}

func commitReq(offset int64) *kmsg.OffsetCommitRequest {
	r := kmsg.NewPtrOffsetCommitRequest()
	r.Group, r.Generation = "g", -1
	rt := kmsg.NewOffsetCommitRequestTopic()
	rt.Topic = "t"
	rp := kmsg.NewOffsetCommitRequestTopicPartition()
	rp.Partition, rp.Offset = 0, offset
	rt.Partitions = append(rt.Partitions, rp)
	r.Topics = append(r.Topics, rt)
	return r
}

func txnCommitReq(producerID, offset int64) *kmsg.TxnOffsetCommitRequest {
	r := kmsg.NewPtrTxnOffsetCommitRequest()
	r.Group, r.ProducerID, r.ProducerEpoch, r.Generation = "g", producerID, 0, -1
	rt := kmsg.NewTxnOffsetCommitRequestTopic()
	rt.Topic = "t"
	rp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
	rp.Partition, rp.Offset = 0, offset
	rt.Partitions = append(rt.Partitions, rp)
	r.Topics = append(r.Topics, rt)
	return r
}

func fetchOffset(t *testing.T, c *Coordinator) int64 {
	t.Helper()
	r := kmsg.NewPtrOffsetFetchRequest()
	r.SetVersion(7)
	r.Group = "g"
	rt := kmsg.NewOffsetFetchRequestTopic()
	rt.Topic, rt.Partitions = "t", []int32{0}
	r.Topics = append(r.Topics, rt)
	return c.OffsetFetch(r).Topics[0].Partitions[0].Offset
}

// TestOffsetCommitVisibleOnlyWhenDurable: a committed offset is served by
// OffsetFetch only after its write is fsynced, never if the fsync fails,
// and overlapping commits land in the order they were written.
func TestOffsetCommitVisibleOnlyWhenDurable(t *testing.T) {
	st := &syncStore{syncs: make(chan error)}
	c := New(DefaultConfig(), st)
	defer c.Close()

	resp, wait := c.OffsetCommit(commitReq(5))
	if got := fetchOffset(t, c); got != -1 {
		t.Fatalf("offset %d served before its fsync", got)
	}
	go func() { st.syncs <- errors.New("fsync failed") }()
	wait()
	if code := resp.Topics[0].Partitions[0].ErrorCode; code != kerr.UnknownServerError.Code {
		t.Fatalf("commit with a failed fsync answered %v", kerr.ErrorForCode(code))
	}
	if got := fetchOffset(t, c); got != -1 {
		t.Fatalf("offset %d served although its fsync failed", got)
	}

	_, wait7 := c.OffsetCommit(commitReq(7))
	_, wait9 := c.OffsetCommit(commitReq(9))
	go func() { st.syncs <- nil; st.syncs <- nil }()
	wait9()
	wait7()
	if got := fetchOffset(t, c); got != 9 {
		t.Fatalf("offset %d after commits of 7 then 9, want 9", got)
	}
}

// TestTxnOffsetCommitReportsFsyncError: a transactional offset commit whose
// fsync fails is answered with an error and not completed by the commit.
func TestTxnOffsetCommitReportsFsyncError(t *testing.T) {
	st := &syncStore{syncs: make(chan error, 1)}
	c := New(DefaultConfig(), st)
	defer c.Close()
	resp, wait := c.TxnOffsetCommit(txnCommitReq(7, 11))
	st.syncs <- errors.New("fsync failed")
	wait()
	if code := resp.Topics[0].Partitions[0].ErrorCode; code != kerr.UnknownServerError.Code {
		t.Fatalf("transactional offset commit with a failed fsync answered %v", kerr.ErrorForCode(code))
	}
	completeTxn(t, c, st, 7, nil)
	if got := fetchOffset(t, c); got != -1 {
		t.Fatalf("offset %d of a failed transactional commit became visible", got)
	}
}

// completeTxn commits producerID's transaction in group g with a marker
// whose fsync ends with syncErr.
func completeTxn(t *testing.T, c *Coordinator, st *syncStore, producerID int64, syncErr error) error {
	t.Helper()
	wait, err := c.CompleteTxn([]string{"g"}, producerID, true, func() (func() error, error) {
		return st.Append(MarkerBatch(producerID, 0, true))
	})
	if err != nil {
		t.Fatal(err)
	}
	go func() { st.syncs <- syncErr }()
	return wait()
}

// TestTxnCommitVisibleOnlyWhenMarkerDurable: a transaction's offsets become
// visible once its commit marker is fsynced; if that fsync fails they stay
// staged, for the coordinator's retry to complete.
func TestTxnCommitVisibleOnlyWhenMarkerDurable(t *testing.T) {
	st := &syncStore{syncs: make(chan error)}
	c := New(DefaultConfig(), st)
	defer c.Close()
	_, wait := c.TxnOffsetCommit(txnCommitReq(7, 11))
	go func() { st.syncs <- nil }()
	wait()
	if err := completeTxn(t, c, st, 7, errors.New("fsync failed")); err == nil {
		t.Fatal("marker fsync failure not reported")
	}
	if got := fetchOffset(t, c); got != -1 {
		t.Fatalf("offset %d visible although the commit marker is not durable", got)
	}
	if err := completeTxn(t, c, st, 7, nil); err != nil {
		t.Fatal(err)
	}
	if got := fetchOffset(t, c); got != 11 {
		t.Fatalf("offset %d after the retried marker, want 11", got)
	}
}
