package group

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

type memStore struct{ batches [][]byte }

func (m *memStore) Append(b []byte) (func() error, error) {
	m.batches = append(m.batches, append([]byte(nil), b...))
	return func() error { return nil }, nil
}

func joinReq(member string, version int16) *kmsg.JoinGroupRequest {
	r := kmsg.NewPtrJoinGroupRequest()
	r.SetVersion(version)
	r.Group, r.MemberID, r.ProtocolType = "g", member, "connect"
	r.SessionTimeoutMillis, r.RebalanceTimeoutMillis = 10000, 300
	p := kmsg.NewJoinGroupRequestProtocol()
	p.Name, p.Metadata = "sessioned", []byte("meta-"+member)
	r.Protocols = []kmsg.JoinGroupRequestProtocol{p}
	return r
}

func recv[T any](t *testing.T, ch <-chan T) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(5 * time.Second):
		t.Fatal("no response")
	}
	var zero T
	return zero
}

func TestMembershipProtocol(t *testing.T) {
	st := &memStore{}
	cfg := DefaultConfig()
	cfg.InitialRebalanceDelay = 0
	c := New(cfg, st)
	defer c.Close()

	// v4+: the first join only hands out a member id.
	r := recv(t, c.JoinGroup(joinReq("", 5), "w1", "/h"))
	if r.ErrorCode != kerr.MemberIDRequired.Code || r.MemberID == "" {
		t.Fatalf("first join: %v %q", kerr.ErrorForCode(r.ErrorCode), r.MemberID)
	}
	a := r.MemberID
	r = recv(t, c.JoinGroup(joinReq(a, 5), "w1", "/h"))
	if r.ErrorCode != 0 || r.Generation != 1 || r.LeaderID != a || len(r.Members) != 1 || *r.Protocol != "sessioned" {
		t.Fatalf("second join: %+v", r)
	}
	sync := func(member string, gen int32, assign map[string]string) <-chan *kmsg.SyncGroupResponse {
		s := kmsg.NewPtrSyncGroupRequest()
		s.Group, s.MemberID, s.Generation = "g", member, gen
		for m, v := range assign {
			ga := kmsg.NewSyncGroupRequestGroupAssignment()
			ga.MemberID, ga.MemberAssignment = m, []byte(v)
			s.GroupAssignment = append(s.GroupAssignment, ga)
		}
		return c.SyncGroup(s)
	}
	if s := recv(t, sync(a, 1, map[string]string{a: "all"})); s.ErrorCode != 0 || string(s.MemberAssignment) != "all" {
		t.Fatalf("sync: %+v", s)
	}
	hb := func(member string, gen int32) int16 {
		h := kmsg.NewPtrHeartbeatRequest()
		h.Group, h.MemberID, h.Generation = "g", member, gen
		return c.Heartbeat(h).ErrorCode
	}
	if code := hb(a, 1); code != 0 {
		t.Fatalf("heartbeat: %v", kerr.ErrorForCode(code))
	}

	// A second member (v3: no member id round trip) starts a rebalance.
	bch := c.JoinGroup(joinReq("", 3), "w2", "/h")
	if code := hb(a, 1); code != kerr.RebalanceInProgress.Code {
		t.Fatalf("heartbeat during rebalance: %v", kerr.ErrorForCode(code))
	}
	ar := recv(t, c.JoinGroup(joinReq(a, 5), "w1", "/h"))
	br := recv(t, bch)
	if ar.Generation != 2 || br.Generation != 2 || ar.LeaderID != a || len(ar.Members) != 2 || len(br.Members) != 0 {
		t.Fatalf("rebalance: leader %+v follower %+v", ar, br)
	}
	b := br.MemberID
	if code := hb(a, 1); code != kerr.IllegalGeneration.Code {
		t.Fatalf("old generation heartbeat: %v", kerr.ErrorForCode(code))
	}
	fch := sync(b, 2, nil)
	recv(t, sync(a, 2, map[string]string{a: "x", b: "y"}))
	if f := recv(t, fch); string(f.MemberAssignment) != "y" {
		t.Fatalf("follower assignment %q", f.MemberAssignment)
	}

	// A member that does not rejoin within the rebalance timeout is
	// dropped.
	cch := c.JoinGroup(joinReq("", 3), "w3", "/h")
	ar = recv(t, c.JoinGroup(joinReq(a, 5), "w1", "/h"))
	cr := recv(t, cch)
	if ar.Generation != 3 || len(ar.Members) != 2 || cr.ErrorCode != 0 {
		t.Fatalf("after timeout: leader %+v", ar)
	}
	if code := hb(b, 2); code != kerr.UnknownMemberID.Code {
		t.Fatalf("dropped member heartbeat: %v", kerr.ErrorForCode(code))
	}

	// Batched leave (v3+).
	l := kmsg.NewPtrLeaveGroupRequest()
	l.SetVersion(3)
	l.Group = "g"
	for _, m := range []string{a, cr.MemberID, "nobody"} {
		lm := kmsg.NewLeaveGroupRequestMember()
		lm.MemberID = m
		l.Members = append(l.Members, lm)
	}
	lr := c.LeaveGroup(l)
	if lr.Members[0].ErrorCode != 0 || lr.Members[1].ErrorCode != 0 || lr.Members[2].ErrorCode != kerr.UnknownMemberID.Code {
		t.Fatalf("leave: %+v", lr.Members)
	}
	d := kmsg.NewPtrDescribeGroupsRequest()
	d.Groups = []string{"g"}
	if dg := c.DescribeGroups(d).Groups[0]; dg.State != "Empty" || dg.ProtocolType != "connect" {
		t.Fatalf("describe after leave: %+v", dg)
	}
}

func TestOffsetsPersistAndReload(t *testing.T) {
	st := &memStore{}
	cfg := DefaultConfig()
	c := New(cfg, st)
	commit := func(group string, off int64) {
		r := kmsg.NewPtrOffsetCommitRequest()
		r.SetVersion(8)
		r.Group, r.Generation = group, -1
		rt := kmsg.NewOffsetCommitRequestTopic()
		rt.Topic = "t"
		rp := kmsg.NewOffsetCommitRequestTopicPartition()
		rp.Partition, rp.Offset, rp.Metadata = 0, off, kmsg.StringPtr("md")
		rt.Partitions = append(rt.Partitions, rp)
		r.Topics = append(r.Topics, rt)
		resp, wait := c.OffsetCommit(r)
		wait()
		if code := resp.Topics[0].Partitions[0].ErrorCode; code != 0 {
			t.Fatalf("commit: %v", kerr.ErrorForCode(code))
		}
	}
	commit("g1", 5)
	commit("g1", 7)
	commit("g2", 9)
	// A transactional commit, then its abort, then one committed.
	txc := func(off int64) {
		r := kmsg.NewPtrTxnOffsetCommitRequest()
		r.Group, r.ProducerID, r.ProducerEpoch, r.Generation = "g2", 42, 0, -1
		rt := kmsg.NewTxnOffsetCommitRequestTopic()
		rt.Topic = "t"
		rp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
		rp.Offset = off
		rt.Partitions = append(rt.Partitions, rp)
		r.Topics = append(r.Topics, rt)
		_, wait := c.TxnOffsetCommit(r)
		wait()
	}
	end := func(commit bool) {
		wait, err := c.CompleteTxn([]string{"g2"}, 42, commit, func() (func() error, error) {
			return st.Append(MarkerBatch(42, 0, commit))
		})
		if err == nil {
			err = wait()
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	txc(100)
	end(false)
	txc(11)
	end(true)

	fetch := func(c *Coordinator) map[string]int64 {
		r := kmsg.NewPtrOffsetFetchRequest()
		r.SetVersion(8)
		for _, g := range []string{"g1", "g2", "none"} {
			rg := kmsg.NewOffsetFetchRequestGroup()
			rg.Group = g
			rt := kmsg.NewOffsetFetchRequestGroupTopic()
			rt.Topic, rt.Partitions = "t", []int32{0}
			rg.Topics = append(rg.Topics, rt)
			r.Groups = append(r.Groups, rg)
		}
		out := map[string]int64{}
		for _, g := range c.OffsetFetch(r).Groups {
			out[g.Group] = g.Topics[0].Partitions[0].Offset
		}
		return out
	}
	want := map[string]int64{"g1": 7, "g2": 11, "none": -1}
	if got := fetch(c); got["g1"] != 7 || got["g2"] != 11 || got["none"] != -1 {
		t.Fatalf("fetch: %v, want %v", got, want)
	}
	c.Close()
	c2 := New(cfg, nil)
	defer c2.Close()
	for _, b := range st.batches {
		if err := c2.Load(b); err != nil {
			t.Fatal(err)
		}
	}
	if got := fetch(c2); got["g1"] != 7 || got["g2"] != 11 || got["none"] != -1 {
		t.Fatalf("after reload: %v, want %v", got, want)
	}
	od := kmsg.NewPtrOffsetDeleteRequest()
	od.Group = "g1"
	odt := kmsg.NewOffsetDeleteRequestTopic()
	odt.Topic = "t"
	odt.Partitions = []kmsg.OffsetDeleteRequestTopicPartition{{Partition: 0}}
	od.Topics = append(od.Topics, odt)
	if resp, wait := c2.OffsetDelete(od); resp.ErrorCode != 0 {
		t.Fatalf("offset delete: %v", kerr.ErrorForCode(resp.ErrorCode))
	} else {
		wait()
	}
	if got := fetch(c2); got["g1"] != -1 {
		t.Fatalf("after offset delete: %v", got)
	}
	dg := kmsg.NewPtrDeleteGroupsRequest()
	dg.Groups = []string{"g2", "missing"}
	resp, _ := c2.DeleteGroups(dg)
	if resp.Groups[0].ErrorCode != 0 || resp.Groups[1].ErrorCode != kerr.GroupIDNotFound.Code {
		t.Fatalf("delete groups: %+v", resp.Groups)
	}
}
