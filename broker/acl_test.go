package broker_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/penstockhq/penstock/internal/brokertest"
)

func aclBrokerProps() map[string]string {
	return map[string]string{
		"listeners":             "SASL_PLAINTEXT://127.0.0.1:0",
		"sasl.jaas.config":      plainJAAS,
		"authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
		"super.users":           "User:admin",
	}
}

func plainUser(t *testing.T, addr, user, pass string, opts ...kgo.Opt) *kgo.Client {
	return secureClient(t, addr, map[string]string{"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "PLAIN",
		"sasl.jaas.config": jaasFor("plain.PlainLoginModule", user, pass)}, opts...)
}

// TestACLs: alice may write and read one topic, everything under a
// prefix, one group and one transactional id; everything else is refused
// with Kafka's authorization errors and left out of her metadata. The ACLs
// survive a restart.
func TestACLs(t *testing.T) {
	b := brokertest.Start(t, brokertest.WithProps(aclBrokerProps()))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	adm := kadm.NewClient(plainUser(t, b.Addr, "admin", "admin-secret"))
	if _, err := adm.CreateTopics(ctx, 1, 1, nil, "allowed", "denied", "pre-one"); err != nil {
		t.Fatal(err)
	}
	acls := kadm.NewACLs().Allow("User:alice").Topics("allowed").Operations(kadm.OpWrite, kadm.OpRead).
		ResourcePatternType(kadm.ACLPatternLiteral)
	pre := kadm.NewACLs().Allow("User:alice").Topics("pre-").Operations(kadm.OpAll).ResourcePatternType(kadm.ACLPatternPrefixed)
	grp := kadm.NewACLs().Allow("User:alice").Groups("g1").Operations(kadm.OpRead).ResourcePatternType(kadm.ACLPatternLiteral)
	txn := kadm.NewACLs().Allow("User:alice").TransactionalIDs("tx1").Operations(kadm.OpWrite).ResourcePatternType(kadm.ACLPatternLiteral)
	for _, b := range []*kadm.ACLBuilder{acls, pre, grp, txn} {
		res, err := adm.CreateACLs(ctx, b)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			if r.Err != nil {
				t.Fatalf("create ACL: %v", r.Err)
			}
		}
	}

	check := func(addr string) {
		t.Helper()
		alice := plainUser(t, addr, "alice", "alice-secret")
		produce := func(topic string) error {
			return alice.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: []byte("x")}).FirstErr()
		}
		for _, topic := range []string{"allowed", "pre-one"} {
			if err := produce(topic); err != nil {
				t.Fatalf("produce to %s: %v", topic, err)
			}
		}
		if err := produce("denied"); !errors.Is(err, kerr.TopicAuthorizationFailed) {
			t.Fatalf("produce to denied: %v, want TOPIC_AUTHORIZATION_FAILED", err)
		}
		// Metadata lists only what alice may describe.
		topics, err := kadm.NewClient(alice).ListTopics(ctx)
		if err != nil {
			t.Fatal(err)
		}
		names := topics.Names()
		slices.Sort(names)
		if !slices.Equal(names, []string{"allowed", "pre-one"}) {
			t.Fatalf("alice sees topics %v", names)
		}
		// Consuming in group g1 works; g2 is refused.
		c := plainUser(t, addr, "alice", "alice-secret", kgo.ConsumerGroup("g1"), kgo.ConsumeTopics("allowed"),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		fs := c.PollRecords(ctx, 1)
		if err := fs.Err0(); err != nil || fs.NumRecords() == 0 {
			t.Fatalf("consume allowed in g1: %v (%d records)", err, fs.NumRecords())
		}
		if err := c.CommitUncommittedOffsets(ctx); err != nil {
			t.Fatalf("commit g1: %v", err)
		}
		c.Close() // leave g1, so the group rebalances at once after the restart
		c2 := plainUser(t, addr, "alice", "alice-secret", kgo.ConsumerGroup("g2"), kgo.ConsumeTopics("allowed"))
		fs = c2.PollFetches(ctx)
		var gerr error
		fs.EachError(func(_ string, _ int32, err error) { gerr = err })
		if !errors.Is(gerr, kerr.GroupAuthorizationFailed) {
			t.Fatalf("join g2: %v, want GROUP_AUTHORIZATION_FAILED", gerr)
		}
		// Fetching the denied topic directly is refused.
		d := plainUser(t, addr, "alice", "alice-secret", kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{
			"denied": {0: kgo.NewOffset().AtStart()}}))
		fs = d.PollFetches(ctx)
		var ferr error
		fs.EachError(func(_ string, _ int32, err error) { ferr = err })
		if !errors.Is(ferr, kerr.TopicAuthorizationFailed) {
			t.Fatalf("fetch denied: %v, want TOPIC_AUTHORIZATION_FAILED", ferr)
		}
		// Transactional id tx1 is allowed, tx2 is not.
		tx := plainUser(t, addr, "alice", "alice-secret", kgo.TransactionalID("tx1"))
		if err := tx.BeginTransaction(); err != nil {
			t.Fatal(err)
		}
		if err := tx.ProduceSync(ctx, &kgo.Record{Topic: "allowed", Value: []byte("t")}).FirstErr(); err != nil {
			t.Fatalf("transactional produce tx1: %v", err)
		}
		if err := tx.EndTransaction(ctx, kgo.TryCommit); err != nil {
			t.Fatalf("commit tx1: %v", err)
		}
		tx2 := plainUser(t, addr, "alice", "alice-secret", kgo.TransactionalID("tx2"))
		err = tx2.BeginTransaction()
		if err == nil {
			err = tx2.ProduceSync(ctx, &kgo.Record{Topic: "allowed", Value: []byte("t")}).FirstErr()
		}
		if !errors.Is(err, kerr.TransactionalIDAuthorizationFailed) {
			t.Fatalf("transactional produce tx2: %v, want TRANSACTIONAL_ID_AUTHORIZATION_FAILED", err)
		}
		// alice may not manage ACLs.
		res, err := kadm.NewClient(alice).DescribeACLs(ctx, kadm.NewACLs().AnyResource().Allow().AllowHosts().Deny().DenyHosts().
			Operations(kadm.OpAny).ResourcePatternType(kadm.ACLPatternAny))
		if err == nil && len(res) > 0 {
			err = res[0].Err
		}
		if !errors.Is(err, kerr.ClusterAuthorizationFailed) {
			t.Fatalf("alice describing ACLs: %v (%+v), want CLUSTER_AUTHORIZATION_FAILED", err, res)
		}
	}
	check(b.Addr)

	b.Stop()
	b2 := brokertest.Start(t, brokertest.WithDir(b.Dir), brokertest.WithProps(aclBrokerProps()))
	adm2 := kadm.NewClient(plainUser(t, b2.Addr, "admin", "admin-secret"))
	described, err := adm2.DescribeACLs(ctx, kadm.NewACLs().AnyResource().Allow().AllowHosts().Deny().DenyHosts().
		Operations(kadm.OpAny).ResourcePatternType(kadm.ACLPatternAny))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, d := range described {
		if d.Err != nil {
			t.Fatal(d.Err)
		}
		n += len(d.Described)
	}
	if n != 5 {
		t.Fatalf("%d ACLs after restart, want 5", n)
	}
	check(b2.Addr)

	// Deleting the prefixed ACL takes pre-* away.
	if _, err := adm2.DeleteACLs(ctx, kadm.NewACLs().Allow("User:alice").AllowHosts().Topics("pre-").Operations(kadm.OpAll).
		ResourcePatternType(kadm.ACLPatternPrefixed)); err != nil {
		t.Fatal(err)
	}
	alice := plainUser(t, b2.Addr, "alice", "alice-secret")
	if err := alice.ProduceSync(ctx, &kgo.Record{Topic: "pre-one", Value: []byte("x")}).FirstErr(); !errors.Is(err, kerr.TopicAuthorizationFailed) {
		t.Fatalf("produce to pre-one after delete: %v", err)
	}
}
