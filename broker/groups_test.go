package broker_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/penstockhq/penstock/internal/brokertest"
)

// groupProps make groups react quickly in tests.
var groupProps = map[string]string{
	"group.initial.rebalance.delay.ms": "0",
	"group.min.session.timeout.ms":     "500",
}

func startGroupBroker(t *testing.T, opts ...brokertest.Option) *brokertest.Broker {
	t.Helper()
	return brokertest.Start(t, append([]brokertest.Option{brokertest.WithProps(groupProps)}, opts...)...)
}

func createTopic(t *testing.T, addr, topic string, partitions int32, configs map[string]*string) {
	t.Helper()
	cl := newClient(t, addr)
	adm := kadm.NewClient(cl)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := adm.CreateTopic(ctx, partitions, 1, configs, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create topic %s: %v", topic, err)
	}
}

// groupMember is a franz-go group consumer recording what it owns.
type groupMember struct {
	name string
	cl   *kgo.Client

	mu      sync.Mutex
	owned   map[int32]bool
	assigns int // OnPartitionsAssigned calls
	recs    []*kgo.Record
}

func startMember(t *testing.T, addr, group, topic, name string, balancer kgo.GroupBalancer, extra ...kgo.Opt) *groupMember {
	t.Helper()
	m := &groupMember{name: name, owned: map[int32]bool{}}
	opts := []kgo.Opt{
		kgo.SeedBrokers(addr), kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
		kgo.Balancers(balancer), kgo.ClientID(name),
		kgo.SessionTimeout(3 * time.Second), kgo.HeartbeatInterval(200 * time.Millisecond),
		kgo.RebalanceTimeout(5 * time.Second),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.OnPartitionsAssigned(func(_ context.Context, _ *kgo.Client, a map[string][]int32) {
			m.mu.Lock()
			defer m.mu.Unlock()
			m.assigns++
			for _, p := range a[topic] {
				m.owned[p] = true
			}
		}),
		kgo.OnPartitionsRevoked(func(ctx context.Context, cl *kgo.Client, r map[string][]int32) {
			m.mu.Lock()
			for _, p := range r[topic] {
				delete(m.owned, p)
			}
			m.mu.Unlock()
			cl.CommitMarkedOffsets(ctx)
		}),
		kgo.OnPartitionsLost(func(_ context.Context, _ *kgo.Client, r map[string][]int32) {
			m.mu.Lock()
			defer m.mu.Unlock()
			for _, p := range r[topic] {
				delete(m.owned, p)
			}
		}),
		kgo.AutoCommitMarks(), kgo.AutoCommitInterval(100 * time.Millisecond),
		kgo.BlockRebalanceOnPoll(),
	}
	cl, err := kgo.NewClient(append(opts, extra...)...)
	if err != nil {
		t.Fatal(err)
	}
	m.cl = cl
	go func() {
		for {
			fs := cl.PollFetches(context.Background())
			if fs.IsClientClosed() {
				return
			}
			fs.EachRecord(func(r *kgo.Record) {
				m.mu.Lock()
				m.recs = append(m.recs, r)
				m.mu.Unlock()
				cl.MarkCommitRecords(r)
			})
			cl.AllowRebalance()
		}
	}()
	return m
}

func (m *groupMember) partitions() []int32 {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []int32
	for p := range m.owned {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// waitAssignment waits until the members own disjoint partition sets
// covering all n partitions, each member owning at least one.
func waitAssignment(t *testing.T, n int, ms ...*groupMember) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		seen := map[int32]int{}
		ok := true
		for _, m := range ms {
			ps := m.partitions()
			if len(ps) == 0 {
				ok = false
			}
			for _, p := range ps {
				seen[p]++
			}
		}
		if ok && len(seen) == n {
			for _, c := range seen {
				if c != 1 {
					ok = false
				}
			}
			if ok {
				return
			}
		}
		if time.Now().After(deadline) {
			var desc []string
			for _, m := range ms {
				desc = append(desc, fmt.Sprintf("%s=%v", m.name, m.partitions()))
			}
			t.Fatalf("no complete assignment of %d partitions: %v", n, desc)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestGroupRebalanceEagerAndCooperative(t *testing.T) {
	b := startGroupBroker(t)
	for _, bal := range []struct {
		name string
		b    kgo.GroupBalancer
	}{{"range", kgo.RangeBalancer()}, {"cooperative-sticky", kgo.CooperativeStickyBalancer()}} {
		t.Run(bal.name, func(t *testing.T) {
			topic, group := "grp-"+bal.name, "g-"+bal.name
			createTopic(t, b.Addr, topic, 6, nil)
			prod := newClient(t, b.Addr)
			produceN(t, prod, topic, 300, "a")

			m1 := startMember(t, b.Addr, group, topic, "m1", bal.b)
			defer m1.cl.Close()
			waitAssignment(t, 6, m1)
			m2 := startMember(t, b.Addr, group, topic, "m2", bal.b)
			defer m2.cl.Close()
			waitAssignment(t, 6, m1, m2)
			m3 := startMember(t, b.Addr, group, topic, "m3", bal.b)
			waitAssignment(t, 6, m1, m2, m3)
			for _, m := range []*groupMember{m1, m2, m3} {
				if n := len(m.partitions()); n != 2 {
					t.Fatalf("%s owns %d partitions, want 2", m.name, n)
				}
			}
			m3.cl.Close() // leaves the group
			waitAssignment(t, 6, m1, m2)

			adm := kadm.NewClient(prod)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			dg, err := adm.DescribeGroups(ctx, group)
			if err != nil {
				t.Fatal(err)
			}
			g := dg[group]
			if g.State != "Stable" || len(g.Members) != 2 || g.ProtocolType != "consumer" {
				t.Fatalf("describe: state %s, %d members, protocol type %s", g.State, len(g.Members), g.ProtocolType)
			}
			// Everything produced is consumed and committed.
			deadline := time.Now().Add(20 * time.Second)
			for {
				os, err := adm.FetchOffsets(ctx, group)
				if err != nil {
					t.Fatal(err)
				}
				var sum int64
				os.Each(func(o kadm.OffsetResponse) { sum += o.At })
				if sum == 300 {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("committed offsets sum to %d, want 300", sum)
				}
				time.Sleep(100 * time.Millisecond)
			}
		})
	}
}

func TestGroupSessionTimeoutRemovesMember(t *testing.T) {
	b := startGroupBroker(t)
	topic, group := "grp-session", "g-session"
	createTopic(t, b.Addr, topic, 4, nil)
	m1 := startMember(t, b.Addr, group, topic, "m1", kgo.RangeBalancer())
	defer m1.cl.Close()
	// m2 stops heartbeating without leaving: its connections are cut.
	d := &cutDialer{}
	m2 := startMember(t, b.Addr, group, topic, "m2", kgo.RangeBalancer(), kgo.Dialer(d.dial))
	waitAssignment(t, 4, m1, m2)
	start := time.Now()
	d.cut()
	defer m2.cl.Close()
	deadline := time.Now().Add(20 * time.Second)
	for len(m1.partitions()) != 4 {
		if time.Now().After(deadline) {
			t.Fatalf("m1 owns %v after m2's session should have expired", m1.partitions())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if el := time.Since(start); el < 2*time.Second {
		t.Fatalf("member removed after %v, before its 3s session timeout", el)
	}
}

func TestGroupStaticMemberRestartNoRebalance(t *testing.T) {
	b := startGroupBroker(t)
	topic, group := "grp-static", "g-static"
	createTopic(t, b.Addr, topic, 4, nil)
	inst := func(id string) kgo.Opt { return kgo.InstanceID(id) }
	m1 := startMember(t, b.Addr, group, topic, "s1", kgo.RangeBalancer(), inst("i1"))
	defer m1.cl.Close()
	m2 := startMember(t, b.Addr, group, topic, "s2", kgo.RangeBalancer(), inst("i2"))
	waitAssignment(t, 4, m1, m2)
	adm := kadm.NewClient(newClient(t, b.Addr))
	ctx := context.Background()
	before, err := adm.DescribeGroups(ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	// A static member's Close does not leave the group; it restarts.
	owned := m2.partitions()
	m1.mu.Lock()
	assignsBefore := m1.assigns
	m1.mu.Unlock()
	m2.cl.Close()
	m2b := startMember(t, b.Addr, group, topic, "s2", kgo.RangeBalancer(), inst("i2"))
	defer m2b.cl.Close()
	waitAssignment(t, 4, m1, m2b)
	if got := m2b.partitions(); !slices.Equal(got, owned) {
		t.Fatalf("restarted static member owns %v, before %v", got, owned)
	}
	time.Sleep(500 * time.Millisecond)
	m1.mu.Lock()
	assignsAfter := m1.assigns
	m1.mu.Unlock()
	if assignsAfter != assignsBefore {
		t.Fatalf("the other member was reassigned %d times: the static restart caused a rebalance", assignsAfter-assignsBefore)
	}
	after, err := adm.DescribeGroups(ctx, group)
	if err != nil {
		t.Fatal(err)
	}
	// Same generation: kadm does not expose it, so look at members.
	if len(after[group].Members) != 2 || after[group].State != "Stable" {
		t.Fatalf("after static restart: %+v", after[group])
	}
	var oldIDs, newIDs []string
	for _, m := range before[group].Members {
		oldIDs = append(oldIDs, m.MemberID)
	}
	for _, m := range after[group].Members {
		newIDs = append(newIDs, m.MemberID)
	}
	if slices.Equal(oldIDs, newIDs) {
		t.Fatalf("static member kept its member id %v", newIDs)
	}
}

func TestGroupResumeAfterRestart(t *testing.T) {
	dir := t.TempDir()
	b := startGroupBroker(t, brokertest.WithDir(dir))
	topic, group := "grp-restart", "g-restart"
	createTopic(t, b.Addr, topic, 3, nil)
	prod := newClient(t, b.Addr)
	produceN(t, prod, topic, 90, "a")
	consume := func(addr string, n int) []*kgo.Record {
		cl := newClient(t, addr, kgo.ConsumerGroup(group), kgo.ConsumeTopics(topic),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit())
		defer cl.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		var out []*kgo.Record
		for len(out) < n {
			fs := cl.PollRecords(ctx, n-len(out))
			if ctx.Err() != nil {
				t.Fatalf("consumed %d of %d", len(out), n)
			}
			out = append(out, fs.Records()...)
		}
		if err := cl.CommitRecords(ctx, out...); err != nil {
			t.Fatalf("commit: %v", err)
		}
		return out
	}
	first := consume(b.Addr, 90)
	prod.Close()
	b.Stop()
	b2 := startGroupBroker(t, brokertest.WithDir(dir))
	prod2 := newClient(t, b2.Addr)
	produceN(t, prod2, topic, 30, "b")
	second := consume(b2.Addr, 30)
	for _, r := range second {
		if string(r.Value[:1]) != "b" {
			t.Fatalf("after restart the group re-read %q at %s/%d@%d", r.Value, r.Topic, r.Partition, r.Offset)
		}
	}
	if len(first) != 90 {
		t.Fatalf("first pass read %d", len(first))
	}
	adm := kadm.NewClient(prod2)
	lg, err := adm.ListGroups(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := lg[group]; !ok {
		t.Fatalf("group %s not listed after restart: %v", group, lg.Groups())
	}
}
