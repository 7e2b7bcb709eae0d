package broker_test

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/penstockhq/penstock/internal/brokertest"
)

// txnOffsets drives a transactional producer's offset commits with raw
// requests, so that a test can leave the transaction open.
type txnOffsets struct {
	t          *testing.T
	cl         *kgo.Client
	id         string
	producerID int64
	epoch      int16
}

func newTxnOffsets(t *testing.T, cl *kgo.Client, id string) *txnOffsets {
	t.Helper()
	req := kmsg.NewPtrInitProducerIDRequest()
	req.TransactionalID, req.TransactionTimeoutMillis = kmsg.StringPtr(id), 60000
	resp, err := req.RequestWith(context.Background(), cl)
	if err == nil {
		err = kerr.ErrorForCode(resp.ErrorCode)
	}
	if err != nil {
		t.Fatalf("init producer id: %v", err)
	}
	return &txnOffsets{t: t, cl: cl, id: id, producerID: resp.ProducerID, epoch: resp.ProducerEpoch}
}

// commit adds group to the transaction and stages offset for topic-0.
func (x *txnOffsets) commit(group, topic string, offset int64) {
	x.t.Helper()
	ctx := context.Background()
	add := kmsg.NewPtrAddOffsetsToTxnRequest()
	add.TransactionalID, add.ProducerID, add.ProducerEpoch, add.Group = x.id, x.producerID, x.epoch, group
	ar, err := add.RequestWith(ctx, x.cl)
	if err == nil {
		err = kerr.ErrorForCode(ar.ErrorCode)
	}
	if err != nil {
		x.t.Fatalf("add offsets to txn: %v", err)
	}
	req := kmsg.NewPtrTxnOffsetCommitRequest()
	req.TransactionalID, req.Group, req.ProducerID, req.ProducerEpoch, req.Generation = x.id, group, x.producerID, x.epoch, -1
	rt := kmsg.NewTxnOffsetCommitRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
	rp.Partition, rp.Offset = 0, offset
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, x.cl)
	if err == nil {
		err = kerr.ErrorForCode(resp.Topics[0].Partitions[0].ErrorCode)
	}
	if err != nil {
		x.t.Fatalf("txn offset commit: %v", err)
	}
}

func (x *txnOffsets) end(commit bool) {
	x.t.Helper()
	req := kmsg.NewPtrEndTxnRequest()
	req.TransactionalID, req.ProducerID, req.ProducerEpoch, req.Commit = x.id, x.producerID, x.epoch, commit
	resp, err := req.RequestWith(context.Background(), x.cl)
	if err == nil {
		err = kerr.ErrorForCode(resp.ErrorCode)
	}
	if err != nil {
		x.t.Fatalf("end txn: %v", err)
	}
}

// TestConsumerOffsetsCompactionRespectsTransactions compacts
// __consumer_offsets while one transaction's offset commit is open and
// after another's was aborted: the open one must not replace the group's
// committed offset (which would be gone once the transaction aborts at
// the restart), and the aborted one must not survive.
func TestConsumerOffsetsCompactionRespectsTransactions(t *testing.T) {
	dir := t.TempDir()
	b := startTxnBroker(t, brokertest.WithDir(dir))
	const topic = "src"
	createTopic(t, b.Addr, topic, 1, nil)
	ctx := context.Background()
	cl := newClient(t, b.Addr)
	adm := kadm.NewClient(cl)
	alter := []kadm.AlterConfig{
		{Name: "segment.ms", Value: kmsg.StringPtr("100")},
		{Name: "min.cleanable.dirty.ratio", Value: kmsg.StringPtr("0.01")},
	}
	if rs, err := adm.AlterTopicConfigs(ctx, alter, "__consumer_offsets"); err != nil || rs[0].Err != nil {
		t.Fatalf("alter __consumer_offsets: %v %v", err, rs)
	}
	commit := func(group string, offset int64) {
		t.Helper()
		var os kadm.Offsets
		os.Add(kadm.Offset{Topic: topic, Partition: 0, At: offset, LeaderEpoch: -1})
		if rs, err := adm.CommitOffsets(ctx, group, os); err != nil || rs.Error() != nil {
			t.Fatalf("commit %s: %v %v", group, err, rs.Error())
		}
	}
	roll := func() {
		t.Helper()
		time.Sleep(150 * time.Millisecond) // past segment.ms: the next write rolls
		commit("filler", 1)
	}

	commit("open", 5)
	commit("aborted", 5)
	aborted := newTxnOffsets(t, cl, "aborts")
	aborted.commit("aborted", topic, 9)
	aborted.end(false)
	roll()
	open := newTxnOffsets(t, cl, "stays-open")
	open.commit("open", topic, 9)
	roll()
	b.Server.Compact(true)

	for _, r := range readAll(t, b.Addr, "__consumer_offsets", false, -1, time.Second) {
		var k kmsg.OffsetCommitKey
		var v kmsg.OffsetCommitValue
		if k.ReadFrom(r.Key) == nil && k.Group == "aborted" && r.Value != nil && v.ReadFrom(r.Value) == nil && v.Offset == 9 {
			t.Fatalf("the aborted transaction's offset commit survived compaction at %d", r.Offset)
		}
	}
	// The restart aborts the open transaction.
	cl.Close()
	b.Stop()
	b = startTxnBroker(t, brokertest.WithDir(dir))
	adm = kadm.NewClient(newClient(t, b.Addr))
	for _, group := range []string{"open", "aborted"} {
		os, err := adm.FetchOffsets(ctx, group)
		if err != nil {
			t.Fatal(err)
		}
		if o, ok := os.Lookup(topic, 0); !ok || o.At != 5 {
			t.Fatalf("group %s: committed offset %+v after compaction and restart, want 5", group, o)
		}
	}
}
