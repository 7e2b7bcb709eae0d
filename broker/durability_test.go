package broker_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/penstockhq/penstock/broker"
	"github.com/penstockhq/penstock/broker/storage"
	"github.com/penstockhq/penstock/internal/brokertest"
)

// onFaultFS runs the broker's topics on fsys (created durable at the data
// directory when nil), so that a test can fail or hold fsyncs and cut the
// power.
func onFaultFS(fsys **storage.FaultFS) brokertest.Option {
	return brokertest.WithConfig(func(c *broker.Config) {
		if *fsys == nil {
			*fsys = storage.NewFaultFS(c.DataDir)
		}
		c.FS = *fsys
	})
}

// holdSyncs makes every fsync of a file whose path contains match wait
// until the returned release is called, then fail with fail (nil: succeed).
// entered receives a value each time an fsync starts waiting.
func holdSyncs(t *testing.T, fsys *storage.FaultFS, match string, fail error) (entered <-chan struct{}, release func()) {
	ch := make(chan struct{}, 100)
	gate := make(chan struct{})
	var once sync.Once
	release = func() { once.Do(func() { close(gate) }) }
	fsys.SetSyncHook(func(name string) error {
		if !strings.Contains(name, match) {
			return nil
		}
		select {
		case ch <- struct{}{}:
		default:
		}
		<-gate
		return fail
	})
	t.Cleanup(release)
	return ch, release
}

// produceTo sends one produce request with the given acks (which must be
// the client's RequiredAcks: franz-go sets it) and timeout,
// batch i to partition i, and returns the partitions' answers.
func produceTo(ctx context.Context, cl *kgo.Client, topic string, acks int16, timeoutMs int32, batches ...[]byte) ([]kmsg.ProduceResponseTopicPartition, error) {
	req := kmsg.NewPtrProduceRequest()
	req.Acks, req.TimeoutMillis = acks, timeoutMs
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = topic
	for i, b := range batches {
		rp := kmsg.NewProduceRequestTopicPartition()
		rp.Partition = int32(i)
		rp.Records = append([]byte(nil), b...)
		rt.Partitions = append(rt.Partitions, rp)
	}
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		return nil, err
	}
	return resp.Topics[0].Partitions, nil
}

// TestRetriedBatchAckWaitsForFsync: an idempotent producer's retry of a
// batch whose first attempt is still waiting for its fsync must not be
// acknowledged before that fsync, and carries its failure (issue 14,
// item 1). On main the retry was answered at once with success.
func TestRetriedBatchAckWaitsForFsync(t *testing.T) {
	var fsys *storage.FaultFS
	b := startTxnBroker(t, onFaultFS(&fsys))
	const topic = "retried"
	createTopic(t, b.Addr, topic, 1, nil)
	// Two clients: the retry goes on another connection, as after a
	// producer's request timeout.
	cl := newClient(t, b.Addr, kgo.MaxVersions(kversion.V3_6_0()))
	cl2 := newClient(t, b.Addr, kgo.MaxVersions(kversion.V3_6_0()))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	init, err := kmsg.NewPtrInitProducerIDRequest().RequestWith(ctx, cl)
	if err != nil || init.ErrorCode != 0 {
		t.Fatalf("init producer id: %v %v", err, kerr.ErrorForCode(init.ErrorCode))
	}
	batch := idempotentBatch(init.ProducerID, init.ProducerEpoch, 0, 3)
	entered, release := holdSyncs(t, fsys, "/"+topic+"/", errors.New("input/output error (injected)"))
	first := make(chan []kmsg.ProduceResponseTopicPartition, 1)
	go func() {
		ps, err := produceTo(ctx, cl, topic, -1, 20000, batch)
		if err != nil {
			t.Errorf("produce: %v", err)
		}
		first <- ps
	}()
	<-entered // the first attempt's fsync is under way, and does not end
	ps, err := produceTo(ctx, cl2, topic, -1, 300, batch)
	if err != nil {
		t.Fatal(err)
	}
	if ps[0].ErrorCode != kerr.RequestTimedOut.Code {
		t.Fatalf("retry while the first attempt's fsync is pending answered %v, want REQUEST_TIMED_OUT",
			kerr.ErrorForCode(ps[0].ErrorCode))
	}
	release() // the fsync fails
	if ps := <-first; len(ps) != 1 || ps[0].ErrorCode != kerr.KafkaStorageError.Code {
		t.Fatalf("first attempt, whose fsync failed: %+v", ps)
	}
	ps, err = produceTo(ctx, cl2, topic, -1, 10000, batch)
	if err != nil || ps[0].ErrorCode != kerr.KafkaStorageError.Code {
		t.Fatalf("retry after the failed fsync: %v %+v", err, ps)
	}
}

// TestProduceTimeoutEveryPartition: when an acks=all produce times out
// waiting for fsyncs, every partition of the request is answered with
// REQUEST_TIMED_OUT (issue 14, item 7). On main only the first one was;
// the others waited for their fsync however long it took.
func TestProduceTimeoutEveryPartition(t *testing.T) {
	var fsys *storage.FaultFS
	b := brokertest.Start(t, onFaultFS(&fsys))
	const topic = "slowdisk"
	createTopic(t, b.Addr, topic, 3, nil)
	cl := newClient(t, b.Addr, kgo.MaxVersions(kversion.V3_6_0()))
	holdSyncs(t, fsys, "/"+topic+"/", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	ps, err := produceTo(ctx, cl, topic, -1, 100, idempotentBatch(-1, -1, -1, 1), idempotentBatch(-1, -1, -1, 1), idempotentBatch(-1, -1, -1, 1))
	if err != nil {
		t.Fatalf("produce with a held fsync: %v", err)
	}
	for _, p := range ps {
		if p.ErrorCode != kerr.RequestTimedOut.Code {
			t.Fatalf("partition %d answered %v, want REQUEST_TIMED_OUT", p.Partition, kerr.ErrorForCode(p.ErrorCode))
		}
	}
}

// TestFsyncErrorTakesPartitionOffline: after a failed fsync the partition
// answers KAFKA_STORAGE_ERROR to produce and fetch, a metric counts it,
// other partitions work, and a restart brings it back with what was
// acknowledged (issue 14, item 2). On main the next produce succeeded.
func TestFsyncErrorTakesPartitionOffline(t *testing.T) {
	var fsys *storage.FaultFS
	reg := prometheus.NewRegistry()
	dir := t.TempDir()
	opts := []brokertest.Option{brokertest.WithDir(dir), onFaultFS(&fsys),
		brokertest.WithConfig(func(c *broker.Config) { c.Metrics = reg })}
	b := brokertest.Start(t, opts...)
	createTopic(t, b.Addr, "bad", 1, nil)
	createTopic(t, b.Addr, "good", 1, nil)
	cl := newClient(t, b.Addr, kgo.MaxVersions(kversion.V3_6_0()))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	produce := func(topic string) int16 {
		t.Helper()
		ps, err := produceTo(ctx, cl, topic, -1, 10000, idempotentBatch(-1, -1, -1, 2))
		if err != nil {
			t.Fatal(err)
		}
		return ps[0].ErrorCode
	}
	if code := produce("bad"); code != 0 {
		t.Fatalf("first produce: %v", kerr.ErrorForCode(code))
	}
	fsys.SetSyncHook(func(name string) error {
		if strings.Contains(name, "/bad/") {
			return errors.New("input/output error (injected)")
		}
		return nil
	})
	for i := range 2 {
		if code := produce("bad"); code != kerr.KafkaStorageError.Code {
			t.Fatalf("produce %d after the failed fsync: %v", i, kerr.ErrorForCode(code))
		}
	}
	fsys.SetSyncHook(nil) // later fsyncs would succeed: the partition stays offline
	if code := produce("bad"); code != kerr.KafkaStorageError.Code {
		t.Fatalf("produce once fsyncs work again: %v", kerr.ErrorForCode(code))
	}
	if code := produce("good"); code != 0 {
		t.Fatalf("produce to another topic: %v", kerr.ErrorForCode(code))
	}
	md, err := kadm.NewClient(cl).ListTopics(ctx, "bad")
	if err != nil {
		t.Fatal(err)
	}
	fetch := kmsg.NewPtrFetchRequest()
	fetch.MaxBytes = 1 << 20
	ft := kmsg.NewFetchRequestTopic()
	ft.Topic, ft.TopicID = "bad", md["bad"].ID
	fp := kmsg.NewFetchRequestTopicPartition()
	fp.PartitionMaxBytes = 1 << 20
	ft.Partitions = append(ft.Partitions, fp)
	fetch.Topics = append(fetch.Topics, ft)
	fr, err := fetch.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if code := fr.Topics[0].Partitions[0].ErrorCode; code != kerr.KafkaStorageError.Code {
		t.Fatalf("fetch from the offline partition: %v", kerr.ErrorForCode(code))
	}
	if got := gauge(t, reg, "penstock_broker_offline_partitions"); got != 1 {
		t.Fatalf("penstock_broker_offline_partitions = %v", got)
	}
	if got := gauge(t, reg, "penstock_broker_storage_errors_total"); got != 1 {
		t.Fatalf("penstock_broker_storage_errors_total = %v", got)
	}

	// A restart recovers the partition with the acknowledged records.
	b.Stop()
	b2 := brokertest.Start(t, append(opts[:2:2], brokertest.WithConfig(func(c *broker.Config) { c.Metrics = prometheus.NewRegistry() }))...)
	recs := consumeN(t, b2.Addr, "bad", 2)
	if len(recs) != 2 {
		t.Fatalf("after restart read %d records", len(recs))
	}
	cl2 := newClient(t, b2.Addr, kgo.MaxVersions(kversion.V3_6_0()))
	ps, err := produceTo(ctx, cl2, "bad", -1, 10000, idempotentBatch(-1, -1, -1, 1))
	if err != nil || ps[0].ErrorCode != 0 {
		t.Fatalf("produce after restart: %v %v", err, ps)
	}
}

func gauge(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		m := mf.GetMetric()[0]
		if m.Gauge != nil {
			return m.Gauge.GetValue()
		}
		return m.Counter.GetValue()
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// TestTopicCreationAndDeletionSurvivePowerLoss: a created topic's directory
// entry and a deleted topic's move into deleted/ are fsynced, so that a
// power loss neither takes away a topic with acknowledged records nor
// brings back a deleted one (issue 14, item 7).
func TestTopicCreationAndDeletionSurvivePowerLoss(t *testing.T) {
	var fsys *storage.FaultFS
	dir := t.TempDir()
	opts := []brokertest.Option{brokertest.WithDir(dir), onFaultFS(&fsys)}
	b := brokertest.Start(t, opts...)
	createTopic(t, b.Addr, "kept", 1, nil)
	createTopic(t, b.Addr, "dropped", 1, nil)
	cl := newClient(t, b.Addr, kgo.MaxVersions(kversion.V3_6_0()))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, topic := range []string{"kept", "dropped"} {
		ps, err := produceTo(ctx, cl, topic, -1, 10000, idempotentBatch(-1, -1, -1, 1))
		if err != nil || ps[0].ErrorCode != 0 {
			t.Fatalf("produce to %s: %v %v", topic, err, ps)
		}
	}
	adm := kadm.NewClient(cl)
	if resp, err := adm.DeleteTopics(ctx, "dropped"); err != nil || resp["dropped"].Err != nil {
		t.Fatalf("delete topic: %v %v", err, resp)
	}
	fsys.PowerLoss()
	b.Stop()
	b2 := brokertest.Start(t, opts...)
	if recs := consumeN(t, b2.Addr, "kept", 1); len(recs) != 1 {
		t.Fatalf("topic kept lost its record: %d", len(recs))
	}
	adm2 := kadm.NewClient(newClient(t, b2.Addr))
	md, err := adm2.ListTopics(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if md.Has("dropped") {
		t.Fatal("deleted topic came back after a power loss")
	}
}

// TestVisibilitySetting: by default consumers see a record once it is
// fsynced; penstock.visibility=written shows it once written, as Kafka
// does (issue 14, item 3).
func TestVisibilitySetting(t *testing.T) {
	var fsys *storage.FaultFS
	b := brokertest.Start(t, onFaultFS(&fsys))
	written := "written"
	createTopic(t, b.Addr, "vis-synced", 1, nil)
	createTopic(t, b.Addr, "vis-written", 1, map[string]*string{"penstock.visibility": &written})
	cl := newClient(t, b.Addr, kgo.MaxVersions(kversion.V3_6_0()), kgo.RequiredAcks(kgo.LeaderAck()), kgo.DisableIdempotentWrite())
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, release := holdSyncs(t, fsys, "/vis-", nil)
	for _, topic := range []string{"vis-synced", "vis-written"} {
		ps, err := produceTo(ctx, cl, topic, 1, 10000, idempotentBatch(-1, -1, -1, 1))
		if err != nil || ps[0].ErrorCode != 0 {
			t.Fatalf("produce to %s: %v %v", topic, err, ps)
		}
	}
	ends, err := adm.ListEndOffsets(ctx, "vis-synced", "vis-written")
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := ends.Lookup("vis-synced", 0); o.Offset != 0 {
		t.Fatalf("synced visibility: end offset %d before the fsync", o.Offset)
	}
	if o, _ := ends.Lookup("vis-written", 0); o.Offset != 1 {
		t.Fatalf("written visibility: end offset %d", o.Offset)
	}
	release()
	if recs := consumeN(t, b.Addr, "vis-synced", 1); len(recs) != 1 {
		t.Fatalf("synced visibility: read %d records after the fsync", len(recs))
	}
	rc, err := adm.DescribeTopicConfigs(ctx, "vis-written")
	if err != nil {
		t.Fatal(err)
	}
	if v, err := rc.On("vis-written", nil); err != nil || !hasConfig(v.Configs, "penstock.visibility", "written") {
		t.Fatalf("describe configs: %v %+v", err, v)
	}
}

func hasConfig(cs []kadm.Config, key, value string) bool {
	for _, c := range cs {
		if c.Key == key && c.Value != nil && *c.Value == value {
			return true
		}
	}
	return false
}

// TestOffsetCommitUnaffectedByAnotherPartitionsFsyncError: an offset
// commit fsynced in the same group commit as a partition whose fsync
// failed is durable, and is answered so. The coordinators waited for the
// round's error (of any log) rather than for their own records, and the
// commit failed with the other partition's storage error.
func TestOffsetCommitUnaffectedByAnotherPartitionsFsyncError(t *testing.T) {
	var fsys *storage.FaultFS
	// Written visibility: the end offsets show appends before their
	// fsync, which is how the test knows what the next round holds.
	b := brokertest.Start(t, onFaultFS(&fsys), brokertest.WithProps(map[string]string{"penstock.visibility": "written"}))
	createTopic(t, b.Addr, "slow", 1, nil)
	createTopic(t, b.Addr, "bad", 1, nil)
	cl := newClient(t, b.Addr, kgo.MaxVersions(kversion.V3_6_0()))
	adm := kadm.NewClient(cl)
	commitCl := newClient(t, b.Addr, kgo.MaxVersions(kversion.V3_6_0()))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	injected := errors.New("input/output error (injected)")
	entered, gate := make(chan struct{}, 10), make(chan struct{})
	var once sync.Once
	release := func() { once.Do(func() { close(gate) }) }
	defer release()
	fsys.SetSyncHook(func(name string) error {
		switch {
		case strings.Contains(name, "/slow/"):
			select {
			case entered <- struct{}{}:
			default:
			}
			<-gate
		case strings.Contains(name, "/bad/"):
			return injected
		}
		return nil
	})
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() {
		if _, err := produceTo(ctx, cl, "slow", -1, 20000, idempotentBatch(-1, -1, -1, 1)); err != nil {
			t.Errorf("produce: %v", err)
		}
	})
	<-entered // a group commit is fsyncing "slow" and does not end
	wg.Go(func() {
		if _, err := produceTo(ctx, cl, "bad", -1, 20000, idempotentBatch(-1, -1, -1, 1)); err != nil {
			t.Errorf("produce: %v", err)
		}
	})
	commit := make(chan *kmsg.OffsetCommitResponse, 1)
	wg.Go(func() {
		req := kmsg.NewPtrOffsetCommitRequest()
		req.Group, req.Generation = "g", -1
		rt := kmsg.NewOffsetCommitRequestTopic()
		rt.Topic = "bad"
		rp := kmsg.NewOffsetCommitRequestTopicPartition()
		rp.Offset = 1
		rt.Partitions = append(rt.Partitions, rp)
		req.Topics = append(req.Topics, rt)
		// Straight to the broker: the client would retry a failed
		// commit on its own. Over a client of its own: the broker
		// answers a connection's requests in order, so a metadata
		// request of the loop below queued behind this commit on a
		// shared connection would wait for the release the loop gives.
		kresp, err := commitCl.SeedBrokers()[0].Request(ctx, req)
		if err != nil {
			t.Errorf("offset commit: %v", err)
			commit <- nil
			return
		}
		commit <- kresp.(*kmsg.OffsetCommitResponse)
	})
	// Both are written (and so wait for the next round) before the
	// held round ends.
	for {
		ends, err := adm.ListEndOffsets(ctx, "bad", broker.OffsetsTopic)
		if err != nil {
			t.Fatal(err)
		}
		o1, _ := ends.Lookup("bad", 0)
		o2, _ := ends.Lookup(broker.OffsetsTopic, 0)
		if o1.Offset > 0 && o2.Offset > 0 {
			break
		}
	}
	release()
	if resp := <-commit; resp != nil {
		if code := resp.Topics[0].Partitions[0].ErrorCode; code != 0 {
			t.Fatalf("offset commit synced with a failing partition answered %v", kerr.ErrorForCode(code))
		}
	}
}

// TestTransactionOutcomesSurvivePowerLoss: after a power loss (with
// producer state snapshots written meanwhile, on the same file system) a
// committed transaction is still committed, an aborted one still hidden,
// and the one left open is aborted by the restarted coordinator, so
// read_committed readers see exactly the committed records and the last
// stable offset reaches the high watermark.
func TestTransactionOutcomesSurvivePowerLoss(t *testing.T) {
	var fsys *storage.FaultFS
	opts := []brokertest.Option{brokertest.WithDir(t.TempDir()), onFaultFS(&fsys),
		brokertest.WithProps(map[string]string{"log.flush.offset.checkpoint.interval.ms": "20"})}
	b := startTxnBroker(t, opts...)
	const topic = "txn-power"
	createTopic(t, b.Addr, topic, 1, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p := newClient(t, b.Addr, kgo.TransactionalID("power"), kgo.DefaultProduceTopic(topic))
	// Committed, aborted, left open.
	for i, end := range []string{"commit", "abort", ""} {
		if err := p.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		for j := range 3 {
			if err := p.ProduceSync(ctx, &kgo.Record{Value: fmt.Appendf(nil, "txn%d-%d", i, j)}).FirstErr(); err != nil {
				t.Fatal(err)
			}
		}
		if end != "" {
			if err := p.EndTransaction(ctx, kgo.TransactionEndTry(end == "commit")); err != nil {
				t.Fatal(err)
			}
		}
	}
	p.Close()
	// The restart starts from a snapshot taken after the transactions.
	for snapshotted := false; !snapshotted; time.Sleep(5 * time.Millisecond) {
		es, err := fsys.ReadDir(filepath.Join(b.Dir, "topics", topic, "0"))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range es {
			snapshotted = snapshotted || e.Name() > "00000000000000000009" && strings.HasSuffix(e.Name(), ".producer-state")
		}
		if ctx.Err() != nil {
			t.Fatal("no producer state snapshot written")
		}
	}
	fsys.PowerLoss()
	b.Stop()
	b2 := startTxnBroker(t, opts...)
	got := readAll(t, b2.Addr, topic, true, 3, time.Second)
	if len(got) != 3 {
		t.Fatalf("read_committed after the power loss saw %d records, want 3", len(got))
	}
	for _, r := range got {
		if !strings.HasPrefix(string(r.Value), "txn0-") {
			t.Fatalf("read_committed after the power loss saw %q", r.Value)
		}
	}
	adm := kadm.NewClient(newClient(t, b2.Addr))
	for {
		hw, err := adm.ListEndOffsets(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		lso, err := adm.ListCommittedOffsets(ctx, topic)
		if err != nil {
			t.Fatal(err)
		}
		h, _ := hw.Lookup(topic, 0)
		l, _ := lso.Lookup(topic, 0)
		if l.Offset > h.Offset {
			t.Fatalf("last stable offset %d beyond the high watermark %d", l.Offset, h.Offset)
		}
		if h.Offset > 0 && l.Offset == h.Offset {
			break
		}
		if ctx.Err() != nil {
			t.Fatalf("the open transaction was not aborted after the restart: last stable offset %d, high watermark %d", l.Offset, h.Offset)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
