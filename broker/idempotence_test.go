package broker_test

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/penstockhq/penstock/broker/records"
	"github.com/penstockhq/penstock/internal/brokertest"
)

func produceRaw(t *testing.T, cl *kgo.Client, topic string, batch []byte) kmsg.ProduceResponseTopicPartition {
	t.Helper()
	req := kmsg.NewPtrProduceRequest()
	req.Acks, req.TimeoutMillis = -1, 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = append([]byte(nil), batch...)
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(context.Background(), cl)
	if err != nil {
		t.Fatal(err)
	}
	return resp.Topics[0].Partitions[0]
}

func idempotentBatch(pid int64, epoch int16, seq int32, n int) []byte {
	ts := time.Now().UnixMilli()
	var recs []records.Record
	for i := range n {
		recs = append(recs, records.Record{Offset: int64(i), Timestamp: ts, Value: []byte("v")})
	}
	return records.Build(records.Batch{ProducerID: pid, ProducerEpoch: epoch, BaseSequence: seq, BaseTimestamp: ts}, recs)
}

func TestIdempotentDuplicatesAndSequences(t *testing.T) {
	dir := t.TempDir()
	b := startTxnBroker(t, brokertest.WithDir(dir))
	topic := "idem"
	createTopic(t, b.Addr, topic, 1, nil)
	cl := newClient(t, b.Addr, kgo.MaxVersions(kversion.V3_6_0())) // produce by topic name
	init := func() (int64, int16) {
		resp, err := kmsg.NewPtrInitProducerIDRequest().RequestWith(context.Background(), cl)
		if err != nil || resp.ErrorCode != 0 {
			t.Fatalf("init producer id: %v %v", err, kerr.ErrorForCode(resp.ErrorCode))
		}
		return resp.ProducerID, resp.ProducerEpoch
	}
	pid, epoch := init()
	first := produceRaw(t, cl, topic, idempotentBatch(pid, epoch, 0, 3))
	second := produceRaw(t, cl, topic, idempotentBatch(pid, epoch, 3, 2))
	retry := produceRaw(t, cl, topic, idempotentBatch(pid, epoch, 0, 3))
	if first.ErrorCode != 0 || second.ErrorCode != 0 || retry.ErrorCode != 0 || retry.BaseOffset != first.BaseOffset {
		t.Fatalf("first %+v second %+v retry %+v", first, second, retry)
	}
	gap := produceRaw(t, cl, topic, idempotentBatch(pid, epoch, 9, 1))
	if gap.ErrorCode != kerr.OutOfOrderSequenceNumber.Code {
		t.Fatalf("out of order batch: %v", kerr.ErrorForCode(gap.ErrorCode))
	}
	if got := readAll(t, b.Addr, topic, false, 5, time.Second); len(got) != 5 {
		t.Fatalf("log holds %d records, want 5", len(got))
	}
	// After a restart producer state comes back from the log and ids do
	// not repeat.
	cl.Close()
	b.Stop()
	b = startTxnBroker(t, brokertest.WithDir(dir))
	cl = newClient(t, b.Addr, kgo.MaxVersions(kversion.V3_6_0()))
	if r := produceRaw(t, cl, topic, idempotentBatch(pid, epoch, 3, 2)); r.ErrorCode != 0 || r.BaseOffset != second.BaseOffset {
		t.Fatalf("retry after restart: %+v", r)
	}
	if pid2, _ := init(); pid2 == pid {
		t.Fatalf("producer id %d handed out twice", pid)
	}
}

func TestOpenTransactionAbortedOnRestart(t *testing.T) {
	dir := t.TempDir()
	b := startTxnBroker(t, brokertest.WithDir(dir))
	topic := "txn-restart"
	createTopic(t, b.Addr, topic, 1, nil)
	ctx := context.Background()
	p := newClient(t, b.Addr, kgo.TransactionalID("restart"), kgo.DefaultProduceTopic(topic))
	if err := p.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := p.ProduceSync(ctx, &kgo.Record{Value: []byte("committed")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if err := p.EndTransaction(ctx, kgo.TryCommit); err != nil {
		t.Fatal(err)
	}
	if err := p.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	if err := p.ProduceSync(ctx, &kgo.Record{Value: []byte("in flight")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	p.Close()
	b.Stop()
	b = startTxnBroker(t, brokertest.WithDir(dir))
	plain := newClient(t, b.Addr, kgo.DefaultProduceTopic(topic))
	if err := plain.ProduceSync(ctx, &kgo.Record{Value: []byte("after")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	got := readAll(t, b.Addr, topic, true, 2, time.Second)
	if len(got) != 2 || string(got[0].Value) != "committed" || string(got[1].Value) != "after" {
		var vs []string
		for _, r := range got {
			vs = append(vs, string(r.Value))
		}
		t.Fatalf("read_committed after restart: %q", vs)
	}
}
