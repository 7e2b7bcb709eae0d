package broker_test

import (
	"context"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"

	"github.com/penstockhq/penstock/internal/brokertest"
)

// TestACLMixedTopics sends requests naming a topic alice may use beside
// one she may not, as Kafka's clients do when a consumer or producer spans
// both: Kafka serves the allowed topic and answers each partition of the
// denied one with TOPIC_AUTHORIZATION_FAILED in the same response (its
// KafkaApis puts them among the "erroneous" partitions), for Fetch (by
// name, v12, and by topic id, v13+), Produce, ListOffsets, OffsetCommit and
// OffsetFetch (grouped, v8+, and not, v7).
func TestACLMixedTopics(t *testing.T) {
	b := brokertest.Start(t, brokertest.WithProps(aclBrokerProps()))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	adm := kadm.NewClient(plainUser(t, b.Addr, "admin", "admin-secret"))
	created, err := adm.CreateTopics(ctx, 1, 1, nil, "mixed-allowed", "mixed-denied")
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string][16]byte{}
	for _, c := range created {
		if c.Err != nil {
			t.Fatal(c.Err)
		}
		ids[c.Topic] = c.ID
	}
	for _, bl := range []*kadm.ACLBuilder{
		kadm.NewACLs().Allow("User:alice").Topics("mixed-allowed").Operations(kadm.OpWrite, kadm.OpRead).
			ResourcePatternType(kadm.ACLPatternLiteral),
		kadm.NewACLs().Allow("User:alice").Groups("mixed-g").Operations(kadm.OpRead).ResourcePatternType(kadm.ACLPatternLiteral),
	} {
		res, err := adm.CreateACLs(ctx, bl)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			if r.Err != nil {
				t.Fatalf("create ACL: %v", r.Err)
			}
		}
	}
	admin := plainUser(t, b.Addr, "admin", "admin-secret")
	for _, topic := range []string{"mixed-allowed", "mixed-denied"} {
		if err := admin.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte("x")}).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	alice := plainUser(t, b.Addr, "alice", "alice-secret")
	pinned := func(key kmsg.Key, max int16) *kgo.Client {
		v := kversion.Stable()
		v.SetMaxKeyVersion(int16(key), max)
		return plainUser(t, b.Addr, "alice", "alice-secret", kgo.MaxVersions(v))
	}
	topics := []string{"mixed-allowed", "mixed-denied"}
	// Requests go straight to the broker: franz-go's own sharding of
	// ListOffsets and friends would refuse the denied topic client-side,
	// after its metadata said TOPIC_AUTHORIZATION_FAILED.
	// want checks one response partition: allowed topics without error,
	// denied ones with TOPIC_AUTHORIZATION_FAILED; each topic answered once.
	type seen map[string]int16
	want := func(api string, got seen) {
		t.Helper()
		if len(got) != 2 {
			t.Fatalf("%s: answered %v, want both topics", api, got)
		}
		if got["mixed-allowed"] != 0 {
			t.Fatalf("%s: allowed topic: %v", api, kerr.ErrorForCode(got["mixed-allowed"]))
		}
		if got["mixed-denied"] != kerr.TopicAuthorizationFailed.Code {
			t.Fatalf("%s: denied topic: %v, want TOPIC_AUTHORIZATION_FAILED", api, kerr.ErrorForCode(got["mixed-denied"]))
		}
	}
	name := func(topic string, id [16]byte) string {
		for n, i := range ids {
			if topic == n || (topic == "" && id == i) {
				return n
			}
		}
		return topic
	}

	for _, cl := range []*kgo.Client{pinned(kmsg.Fetch, 12), alice} {
		req := kmsg.NewPtrFetchRequest()
		req.ReplicaID, req.MaxWaitMillis, req.MinBytes, req.MaxBytes, req.SessionEpoch = -1, 500, 1, 1<<20, -1
		for _, topic := range topics {
			rt := kmsg.NewFetchRequestTopic()
			rt.Topic, rt.TopicID = topic, ids[topic]
			rp := kmsg.NewFetchRequestTopicPartition()
			rp.PartitionMaxBytes = 1 << 20
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
		}
		resp := direct(t, cl, req).(*kmsg.FetchResponse)
		got := seen{}
		for _, rt := range resp.Topics {
			for _, rp := range rt.Partitions {
				n := name(rt.Topic, rt.TopicID)
				got[n] = rp.ErrorCode
				if n == "mixed-allowed" && len(rp.RecordBatches) == 0 {
					t.Fatalf("fetch v%d: no records for the allowed topic", resp.Version)
				}
				if n == "mixed-denied" && (len(rp.RecordBatches) > 0 || rp.HighWatermark != -1) {
					t.Fatalf("fetch v%d: denied topic answered with data (hw %d)", resp.Version, rp.HighWatermark)
				}
			}
		}
		want("fetch", got)
	}

	{
		req := kmsg.NewPtrProduceRequest()
		req.Acks, req.TimeoutMillis = -1, 5000
		for _, topic := range topics {
			rt := kmsg.NewProduceRequestTopic()
			rt.Topic, rt.TopicID = topic, ids[topic] // v13 names topics by id
			rp := kmsg.NewProduceRequestTopicPartition()
			rp.Records = idempotentBatch(-1, -1, -1, 1)
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
		}
		resp := direct(t, alice, req).(*kmsg.ProduceResponse)
		got := seen{}
		for _, rt := range resp.Topics {
			for _, rp := range rt.Partitions {
				got[name(rt.Topic, rt.TopicID)] = rp.ErrorCode
			}
		}
		want("produce", got)
	}

	{
		req := kmsg.NewPtrListOffsetsRequest()
		req.ReplicaID = -1
		for _, topic := range topics {
			rt := kmsg.NewListOffsetsRequestTopic()
			rt.Topic = topic
			rp := kmsg.NewListOffsetsRequestTopicPartition()
			rp.Timestamp = -1
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
		}
		resp := direct(t, alice, req).(*kmsg.ListOffsetsResponse)
		got := seen{}
		for _, rt := range resp.Topics {
			for _, rp := range rt.Partitions {
				got[rt.Topic] = rp.ErrorCode
			}
		}
		want("list offsets", got)
	}

	{
		req := kmsg.NewPtrOffsetCommitRequest()
		req.Group, req.Generation = "mixed-g", -1
		for _, topic := range topics {
			rt := kmsg.NewOffsetCommitRequestTopic()
			rt.Topic = topic
			rp := kmsg.NewOffsetCommitRequestTopicPartition()
			rp.Offset = 1
			rt.Partitions = append(rt.Partitions, rp)
			req.Topics = append(req.Topics, rt)
		}
		resp := direct(t, alice, req).(*kmsg.OffsetCommitResponse)
		got := seen{}
		for _, rt := range resp.Topics {
			for _, rp := range rt.Partitions {
				got[rt.Topic] = rp.ErrorCode
			}
		}
		want("offset commit", got)
	}

	for _, cl := range []*kgo.Client{pinned(kmsg.OffsetFetch, 7), alice} {
		req := kmsg.NewPtrOffsetFetchRequest()
		req.Group = "mixed-g"
		g := kmsg.NewOffsetFetchRequestGroup()
		g.Group = "mixed-g"
		for _, topic := range topics {
			rt := kmsg.NewOffsetFetchRequestTopic()
			rt.Topic, rt.Partitions = topic, []int32{0}
			req.Topics = append(req.Topics, rt)
			gt := kmsg.NewOffsetFetchRequestGroupTopic()
			gt.Topic, gt.TopicID, gt.Partitions = topic, ids[topic], []int32{0}
			g.Topics = append(g.Topics, gt)
		}
		req.Groups = append(req.Groups, g)
		resp := direct(t, cl, req).(*kmsg.OffsetFetchResponse)
		got := seen{}
		for _, rt := range resp.Topics {
			for _, rp := range rt.Partitions {
				got[rt.Topic] = rp.ErrorCode
			}
		}
		for _, rg := range resp.Groups {
			if rg.ErrorCode != 0 {
				t.Fatalf("offset fetch v%d: group error %v", resp.Version, kerr.ErrorForCode(rg.ErrorCode))
			}
			for _, rt := range rg.Topics {
				for _, rp := range rt.Partitions {
					got[name(rt.Topic, rt.TopicID)] = rp.ErrorCode
				}
			}
		}
		want("offset fetch", got)
	}
}

// direct sends req to the broker of cl's seed (the only one), without
// franz-go's client-side splitting of the request.
func direct(t *testing.T, cl *kgo.Client, req kmsg.Request) kmsg.Response {
	t.Helper()
	resp, err := cl.SeedBrokers()[0].Request(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}
