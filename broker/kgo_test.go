package broker_test

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/penstockhq/penstock/internal/brokertest"
)

var codecs = []struct {
	name  string
	codec kgo.CompressionCodec
}{
	{"none", kgo.NoCompression()},
	{"gzip", kgo.GzipCompression()},
	{"snappy", kgo.SnappyCompression()},
	{"lz4", kgo.Lz4Compression()},
	{"zstd", kgo.ZstdCompression()},
}

func newClient(t *testing.T, addr string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr), kgo.AllowAutoTopicCreation()}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func produceN(t *testing.T, cl *kgo.Client, topic string, n int, prefix string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var recs []*kgo.Record
	for i := range n {
		recs = append(recs, &kgo.Record{
			Topic:   topic,
			Key:     fmt.Appendf(nil, "%s-key-%d", prefix, i),
			Value:   fmt.Appendf(nil, "%s-value-%d", prefix, i),
			Headers: []kgo.RecordHeader{{Key: "h", Value: fmt.Appendf(nil, "%d", i)}},
		})
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

func consumeN(t *testing.T, addr, topic string, n int) []*kgo.Record {
	t.Helper()
	cl := newClient(t, addr, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out []*kgo.Record
	for len(out) < n {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			t.Fatalf("consume %s: got %d of %d records: %v", topic, len(out), n, err)
		}
		fs.EachError(func(tp string, p int32, err error) { t.Fatalf("fetch %s/%d: %v", tp, p, err) })
		out = append(out, fs.Records()...)
	}
	return out
}

func checkRecords(t *testing.T, recs []*kgo.Record, prefix string) {
	t.Helper()
	for i, r := range recs {
		if string(r.Key) != fmt.Sprintf("%s-key-%d", prefix, i) || string(r.Value) != fmt.Sprintf("%s-value-%d", prefix, i) {
			t.Fatalf("record %d: key %q value %q", i, r.Key, r.Value)
		}
		if len(r.Headers) != 1 || r.Headers[0].Key != "h" || string(r.Headers[0].Value) != fmt.Sprint(i) {
			t.Fatalf("record %d: headers %v", i, r.Headers)
		}
		if r.Offset != int64(i) {
			t.Fatalf("record %d: offset %d", i, r.Offset)
		}
	}
}

func TestKgoProduceConsumeCodecsAndRestart(t *testing.T) {
	b := brokertest.Start(t)
	for _, c := range codecs {
		t.Run(c.name, func(t *testing.T) {
			topic := "codec-" + c.name
			cl := newClient(t, b.Addr, kgo.ProducerBatchCompression(c.codec), kgo.DefaultProduceTopic(topic))
			produceN(t, cl, topic, 500, c.name)
			recs := consumeN(t, b.Addr, topic, 500)
			checkRecords(t, recs, c.name)
		})
	}
	// Restart on the same data: everything is still there.
	dir := b.Dir
	b.Stop()
	b2 := brokertest.Start(t, brokertest.WithDir(dir))
	for _, c := range codecs {
		recs := consumeN(t, b2.Addr, "codec-"+c.name, 500)
		checkRecords(t, recs, c.name)
	}
	// And appends continue after the recovered end.
	cl := newClient(t, b2.Addr)
	ctx := context.Background()
	r := cl.ProduceSync(ctx, &kgo.Record{Topic: "codec-none", Value: []byte("after")})
	if rec, err := r.First(); err != nil || rec.Offset != 500 {
		t.Fatalf("produce after restart: offset %v err %v", rec, err)
	}
}

func TestKadmAdmin(t *testing.T) {
	b := brokertest.Start(t)
	adm := kadm.NewClient(newClient(t, b.Addr))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	ret := "3600000"
	cr, err := adm.CreateTopic(ctx, 3, 1, map[string]*string{"retention.ms": &ret}, "admin-a")
	if err != nil || cr.Err != nil {
		t.Fatalf("create: %v %v", err, cr.Err)
	}
	if _, err := adm.CreateTopic(ctx, 3, 1, nil, "admin-a"); err == nil {
		t.Fatalf("second create succeeded")
	}
	if r, _ := adm.CreateTopic(ctx, 1, 3, nil, "admin-rf3"); r.Err == nil {
		t.Fatalf("replication factor 3 accepted on one broker")
	}
	td, err := adm.ListTopics(ctx, "admin-a")
	if err != nil || len(td["admin-a"].Partitions) != 3 {
		t.Fatalf("list: %v %v", err, td)
	}
	if _, err := adm.CreatePartitions(ctx, 2, "admin-a"); err != nil {
		t.Fatalf("create partitions: %v", err)
	}
	td, _ = adm.ListTopics(ctx, "admin-a")
	if n := len(td["admin-a"].Partitions); n != 5 {
		t.Fatalf("partitions after add: %d", n)
	}

	rc, err := adm.DescribeTopicConfigs(ctx, "admin-a")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := rc.On("admin-a", nil)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, c := range cfg.Configs {
		got[c.Key] = c.MaybeValue()
	}
	if got["retention.ms"] != "3600000" || got["cleanup.policy"] != "delete" {
		t.Fatalf("configs: %v", got)
	}
	seg := "1048576"
	if _, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "segment.bytes", Value: &seg}, {Op: kadm.DeleteConfig, Name: "retention.ms"}}, "admin-a"); err != nil {
		t.Fatal(err)
	}
	rs, err := adm.AlterTopicConfigs(ctx, []kadm.AlterConfig{{Op: kadm.SetConfig, Name: "no.such.config", Value: &seg}}, "admin-a")
	if err == nil && rs[0].Err == nil {
		t.Fatalf("unknown config accepted")
	}
	// Configs survive a restart.
	b.Stop()
	b2 := brokertest.Start(t, brokertest.WithDir(b.Dir))
	adm = kadm.NewClient(newClient(t, b2.Addr))
	rc, err = adm.DescribeTopicConfigs(ctx, "admin-a")
	if err != nil {
		t.Fatal(err)
	}
	cfg, _ = rc.On("admin-a", nil)
	got = map[string]string{}
	for _, c := range cfg.Configs {
		got[c.Key] = c.MaybeValue()
	}
	if got["segment.bytes"] != "1048576" || got["retention.ms"] != "604800000" {
		t.Fatalf("configs after restart: %v", got)
	}

	// Offsets, DeleteRecords.
	cl := newClient(t, b2.Addr, kgo.DefaultProduceTopic("admin-b"))
	produceN(t, cl, "admin-b", 100, "x")
	ends, err := adm.ListEndOffsets(ctx, "admin-b")
	if err != nil || ends["admin-b"][0].Offset != 100 {
		t.Fatalf("end offsets: %v %v", err, ends)
	}
	if _, err := adm.DeleteRecords(ctx, kadm.Offsets{"admin-b": {0: {Topic: "admin-b", Partition: 0, At: 40}}}); err != nil {
		t.Fatal(err)
	}
	starts, err := adm.ListStartOffsets(ctx, "admin-b")
	if err != nil || starts["admin-b"][0].Offset != 40 {
		t.Fatalf("start offsets: %v %v", err, starts)
	}
	meta, err := adm.BrokerMetadata(ctx)
	if err != nil || meta.Controller != 0 || meta.Cluster == "" {
		t.Fatalf("broker metadata: %v %+v", err, meta)
	}
	dcReq := kmsg.NewPtrDescribeClusterRequest()
	dcResp, err := dcReq.RequestWith(ctx, cl)
	if err != nil || dcResp.ErrorCode != 0 || dcResp.ClusterID != meta.Cluster || len(dcResp.Brokers) != 1 {
		t.Fatalf("describe cluster: %v %+v", err, dcResp)
	}
	bc, err := adm.DescribeBrokerConfigs(ctx)
	if err != nil || len(bc) == 0 {
		t.Fatalf("broker configs: %v", err)
	}

	dr, err := adm.DeleteTopics(ctx, "admin-a")
	if err != nil || dr["admin-a"].Err != nil {
		t.Fatalf("delete: %v %v", err, dr)
	}
	td, _ = adm.ListTopics(ctx)
	if td.Has("admin-a") {
		t.Fatalf("topic still listed after delete")
	}
}

func newAdmin(t *testing.T, cl *kgo.Client) *kadm.Client {
	t.Helper()
	return kadm.NewClient(cl)
}

// TestBadInputClosesOnlyThatConnection sends malformed, oversized and
// unknown requests on raw connections; each is closed (or answered with an
// error) while a normal client keeps working.
func TestBadInputClosesOnlyThatConnection(t *testing.T) {
	b := brokertest.Start(t)
	cl := newClient(t, b.Addr, kgo.DefaultProduceTopic("steady"))
	produceN(t, cl, "steady", 10, "a")
	frames := [][]byte{
		{0x7f, 0xff, 0xff, 0xff},                                // oversized frame
		{0xff, 0xff, 0xff, 0xf0},                                // negative size
		{0, 0, 0, 10, 0x7f, 0x00, 0, 0, 0, 0, 0, 1, 0, 0},       // unknown api key
		{0, 0, 0, 10, 0, 0, 0x7f, 0, 0, 0, 0, 1, 0, 0},          // produce at an unknown version
		{0, 0, 0, 12, 0, 3, 0, 5, 0, 0, 0, 1, 0, 0, 0xff, 0xff}, // truncated metadata body
	}
	// A produce with a corrupt batch gets CORRUPT_MESSAGE, not a close.
	for _, fr := range frames {
		c, err := net.Dial("tcp", b.Addr)
		if err != nil {
			t.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(10 * time.Second))
		c.Write(fr)
		if n, err := c.Read(make([]byte, 64)); err == nil {
			t.Fatalf("frame %x: got %d bytes, want the connection closed", fr, n)
		}
		c.Close()
	}
	ctx := context.Background()
	req := kmsg.NewPtrProduceRequest()
	req.Acks = -1
	req.TimeoutMillis = 5000
	rt := kmsg.NewProduceRequestTopic()
	rt.Topic = "steady"
	td, err := kadm.NewClient(cl).ListTopics(ctx, "steady")
	if err != nil {
		t.Fatal(err)
	}
	rt.TopicID = td["steady"].ID
	rp := kmsg.NewProduceRequestTopicPartition()
	rp.Records = make([]byte, 70)
	rp.Records[11] = 58 // batch length: 70 - 12
	rp.Records[16] = 2  // magic
	rt.Partitions = append(rt.Partitions, rp)
	req.Topics = append(req.Topics, rt)
	resp, err := req.RequestWith(ctx, cl)
	if err != nil {
		t.Fatal(err)
	}
	if code := resp.Topics[0].Partitions[0].ErrorCode; code != kerr.CorruptMessage.Code {
		t.Fatalf("corrupt batch: error code %d", code)
	}
	produceN(t, cl, "steady", 10, "b")
	recs := consumeN(t, b.Addr, "steady", 20)
	if len(recs) != 20 {
		t.Fatalf("%d records", len(recs))
	}
}
