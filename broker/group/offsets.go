package group

import (
	"encoding/binary"
	"fmt"
	"slices"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/penstockhq/penstock/broker/records"
)

// Record formats in __consumer_offsets (Kafka's): keys of version 0 or 1
// are offset commits (group, topic, partition), keys of version 2 group
// metadata (group). Values are OffsetCommitValue v3 and GroupMetadataValue
// v3; a null value (tombstone) deletes. Transactional offset commits are
// written as transactional batches of the committing producer and become
// visible when the transaction's COMMIT marker follows in the same log.

func offsetKey(group string, k tp) []byte {
	key := kmsg.OffsetCommitKey{Version: 1, Group: group, Topic: k.topic, Partition: k.partition}
	return key.AppendTo(nil)
}

func offsetValue(o offset) []byte {
	v := kmsg.NewOffsetCommitValue()
	v.Version = 3
	v.Offset, v.LeaderEpoch, v.Metadata, v.CommitTimestamp = o.offset, o.leaderEpoch, o.metadata, o.timestamp
	return v.AppendTo(nil)
}

func groupKey(group string) []byte {
	key := kmsg.GroupMetadataKey{Version: 2, Group: group}
	return key.AppendTo(nil)
}

func (c *Coordinator) groupValue(g *group) []byte {
	v := kmsg.NewGroupMetadataValue()
	v.Version = 3
	v.ProtocolType, v.Generation = g.protocolType, g.generation
	if g.protocol != "" {
		v.Protocol = kmsg.StringPtr(g.protocol)
	}
	if g.leader != "" {
		v.Leader = kmsg.StringPtr(g.leader)
	}
	v.CurrentStateTimestamp = g.stateTime.UnixMilli()
	for _, m := range g.sortedMembers() {
		vm := kmsg.NewGroupMetadataValueMember()
		vm.MemberID, vm.InstanceID, vm.ClientID, vm.ClientHost = m.id, m.instanceID, m.clientID, m.host
		vm.RebalanceTimeoutMillis = int32(m.rebalanceTimeout.Milliseconds())
		vm.SessionTimeoutMillis = int32(m.sessionTimeout.Milliseconds())
		vm.Subscription = m.metadataFor(g.protocol)
		vm.Assignment = m.assignment
		v.Members = append(v.Members, vm)
	}
	return v.AppendTo(nil)
}

// write appends key/value records (nil value: tombstone) as one batch.
func (c *Coordinator) write(kvs [][2][]byte) (func() error, error) {
	return c.writeBatch(kvs, -1, -1)
}

func (c *Coordinator) writeBatch(kvs [][2][]byte, producerID int64, epoch int16) (func() error, error) {
	if c.store == nil || len(kvs) == 0 {
		return func() error { return nil }, nil
	}
	ts := c.now().UnixMilli()
	recs := make([]records.Record, len(kvs))
	for i, kv := range kvs {
		recs[i] = records.Record{Offset: int64(i), Timestamp: ts, Key: kv[0], Value: kv[1]}
	}
	b := records.Batch{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1, BaseTimestamp: ts, MaxTimestamp: ts}
	if producerID >= 0 {
		b.ProducerID, b.ProducerEpoch, b.Attributes = producerID, epoch, records.AttrTransactional
	}
	wait, err := c.store.Append(records.Build(b, recs))
	if err != nil {
		return nil, fmt.Errorf("group coordinator: write offsets topic: %w", err)
	}
	return wait, nil
}

func (c *Coordinator) persistGroup(g *group) {
	if _, err := c.write([][2][]byte{{groupKey(g.id), c.groupValue(g)}}); err != nil {
		c.log.Error("persisting group metadata failed", "group", g.id, "err", err)
	}
}

// validateMember applies the generation and membership checks that
// OffsetCommit and TxnOffsetCommit share. Commits with generation -1 and
// no member id are accepted for groups without members (simple consumers,
// admin tools).
func (g *group) validateMember(generation int32, memberID string, instanceID *string) int16 {
	if generation < 0 && memberID == "" && len(g.members) == 0 {
		return 0
	}
	if instanceID != nil {
		if sid, ok := g.statics[*instanceID]; ok && sid != memberID {
			return kerr.FencedInstanceID.Code
		}
	}
	m := g.members[memberID]
	switch {
	case m == nil:
		return kerr.UnknownMemberID.Code
	case generation != g.generation:
		return kerr.IllegalGeneration.Code
	case g.state == stateCompletingRebalance:
		return kerr.RebalanceInProgress.Code
	}
	return 0
}

// OffsetCommit handles an OffsetCommit request. The returned function
// blocks until the commit is durable and fills in any write error; call
// it before sending the response.
func (c *Coordinator) OffsetCommit(req *kmsg.OffsetCommitRequest) (*kmsg.OffsetCommitResponse, func()) {
	resp := req.ResponseKind().(*kmsg.OffsetCommitResponse)
	setAll := func(code int16) {
		resp.Topics = resp.Topics[:0]
		for _, rt := range req.Topics {
			st := kmsg.NewOffsetCommitResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				sp := kmsg.NewOffsetCommitResponseTopicPartition()
				sp.Partition, sp.ErrorCode = rp.Partition, code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
	}
	nop := func() {}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		setAll(kerr.NotCoordinator.Code)
		return resp, nop
	}
	if req.Group == "" {
		setAll(kerr.InvalidGroupID.Code)
		return resp, nop
	}
	g := c.groups[req.Group]
	if g == nil {
		if req.Generation >= 0 || req.MemberID != "" {
			setAll(kerr.IllegalGeneration.Code)
			if req.MemberID != "" {
				setAll(kerr.UnknownMemberID.Code)
			}
			return resp, nop
		}
		g = c.getOrCreate(req.Group)
	}
	if g.state == statePreparingRebalance && req.Generation >= 0 && g.members[req.MemberID] != nil && req.Generation == g.generation {
		// Members may commit what they processed before rejoining.
	} else if code := g.validateMember(req.Generation, req.MemberID, req.InstanceID); code != 0 {
		setAll(code)
		return resp, nop
	}
	c.writes++
	now, written := c.now().UnixMilli(), c.writes
	var kvs [][2][]byte
	type upd struct {
		k tp
		o offset
	}
	var upds []upd
	for _, rt := range req.Topics {
		st := kmsg.NewOffsetCommitResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewOffsetCommitResponseTopicPartition()
			sp.Partition = rp.Partition
			md := ""
			if rp.Metadata != nil {
				md = *rp.Metadata
			}
			if len(md) > c.cfg.MaxMetadataBytes {
				sp.ErrorCode = kerr.OffsetMetadataTooLarge.Code
			} else {
				k := tp{rt.Topic, rp.Partition}
				o := offset{offset: rp.Offset, leaderEpoch: rp.LeaderEpoch, metadata: md, timestamp: now, written: written}
				if req.Version < 6 {
					o.leaderEpoch = -1
				}
				kvs = append(kvs, [2][]byte{offsetKey(g.id, k), offsetValue(o)})
				upds = append(upds, upd{k, o})
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	wait, err := c.write(kvs)
	if err != nil {
		c.log.Error("offset commit failed", "group", g.id, "err", err)
		setAll(kerr.UnknownServerError.Code)
		return resp, nop
	}
	// The offsets become visible once durable, and a commit never
	// replaces one written after it.
	return resp, func() {
		if err := wait(); err != nil {
			c.log.Error("offset commit fsync failed", "group", req.Group, "err", err)
			failUnset(resp.Topics, func(t *kmsg.OffsetCommitResponseTopic) []kmsg.OffsetCommitResponseTopicPartition { return t.Partitions },
				func(p *kmsg.OffsetCommitResponseTopicPartition) *int16 { return &p.ErrorCode })
			return
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, u := range upds {
			if cur, ok := g.offsets[u.k]; !ok || cur.written < u.o.written {
				g.offsets[u.k] = u.o
			}
		}
	}
}

// failUnset gives every partition of a response that has no error yet
// UNKNOWN_SERVER_ERROR (a write that did not become durable).
func failUnset[T, P any](topics []T, parts func(*T) []P, code func(*P) *int16) {
	for i := range topics {
		ps := parts(&topics[i])
		for j := range ps {
			if c := code(&ps[j]); *c == 0 {
				*c = kerr.UnknownServerError.Code
			}
		}
	}
}

// fetchGroup answers one group of an OffsetFetch.
func (c *Coordinator) fetchGroup(id string, topics map[string][]int32, all, requireStable bool) ([]kmsg.OffsetFetchResponseGroupTopic, int16) {
	g := c.groups[id]
	unstable := func(k tp) bool {
		if g == nil || !requireStable {
			return false
		}
		for _, p := range g.pendingTxn {
			if _, ok := p[k]; ok {
				return true
			}
		}
		return false
	}
	part := func(k tp) kmsg.OffsetFetchResponseGroupTopicPartition {
		sp := kmsg.NewOffsetFetchResponseGroupTopicPartition()
		sp.Partition, sp.Offset, sp.LeaderEpoch, sp.Metadata = k.partition, -1, -1, kmsg.StringPtr("")
		if unstable(k) {
			sp.ErrorCode = kerr.UnstableOffsetCommit.Code
			return sp
		}
		if g != nil {
			if o, ok := g.offsets[k]; ok {
				sp.Offset, sp.LeaderEpoch, sp.Metadata = o.offset, o.leaderEpoch, kmsg.StringPtr(o.metadata)
			}
		}
		return sp
	}
	var out []kmsg.OffsetFetchResponseGroupTopic
	if all {
		if g == nil {
			return nil, 0
		}
		byTopic := map[string][]int32{}
		for k := range g.offsets {
			byTopic[k.topic] = append(byTopic[k.topic], k.partition)
		}
		topics = byTopic
	}
	names := make([]string, 0, len(topics))
	for t := range topics {
		names = append(names, t)
	}
	slices.Sort(names)
	for _, t := range names {
		st := kmsg.NewOffsetFetchResponseGroupTopic()
		st.Topic = t
		ps := slices.Clone(topics[t])
		slices.Sort(ps)
		for _, p := range ps {
			st.Partitions = append(st.Partitions, part(tp{t, p}))
		}
		out = append(out, st)
	}
	return out, 0
}

// OffsetFetch handles an OffsetFetch request, one group before v8 and
// many from v8. Partitions without a commit get offset -1.
func (c *Coordinator) OffsetFetch(req *kmsg.OffsetFetchRequest) *kmsg.OffsetFetchResponse {
	resp := req.ResponseKind().(*kmsg.OffsetFetchResponse)
	c.mu.Lock()
	defer c.mu.Unlock()
	closed := c.closed
	if req.Version < 8 {
		if closed {
			resp.ErrorCode = kerr.NotCoordinator.Code
			return resp
		}
		topics := map[string][]int32{}
		for _, rt := range req.Topics {
			topics[rt.Topic] = append(topics[rt.Topic], rt.Partitions...)
		}
		gts, code := c.fetchGroup(req.Group, topics, req.Topics == nil, req.RequireStable)
		resp.ErrorCode = code
		for _, gt := range gts {
			st := kmsg.NewOffsetFetchResponseTopic()
			st.Topic = gt.Topic
			for _, gp := range gt.Partitions {
				sp := kmsg.NewOffsetFetchResponseTopicPartition()
				sp.Partition, sp.Offset, sp.LeaderEpoch, sp.Metadata, sp.ErrorCode = gp.Partition, gp.Offset, gp.LeaderEpoch, gp.Metadata, gp.ErrorCode
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
		if req.Version < 2 {
			resp.ErrorCode = 0
		}
		return resp
	}
	for _, rg := range req.Groups {
		og := kmsg.NewOffsetFetchResponseGroup()
		og.Group = rg.Group
		if closed {
			og.ErrorCode = kerr.NotCoordinator.Code
			resp.Groups = append(resp.Groups, og)
			continue
		}
		topics := map[string][]int32{}
		for _, rt := range rg.Topics {
			topics[rt.Topic] = append(topics[rt.Topic], rt.Partitions...)
		}
		og.Topics, og.ErrorCode = c.fetchGroup(rg.Group, topics, rg.Topics == nil, req.RequireStable)
		resp.Groups = append(resp.Groups, og)
	}
	return resp
}

// subscribedTopics returns the topics a consumer group's members subscribe
// to (decoded from their consumer protocol metadata), or nil for groups of
// other protocol types.
func (g *group) subscribedTopics() map[string]bool {
	if g.protocolType != "consumer" || len(g.members) == 0 {
		return nil
	}
	out := map[string]bool{}
	for _, m := range g.members {
		var md kmsg.ConsumerMemberMetadata
		if err := md.ReadFrom(m.metadataFor(g.protocol)); err == nil {
			for _, t := range md.Topics {
				out[t] = true
			}
		}
	}
	return out
}

// OffsetDelete handles an OffsetDelete request: committed offsets of
// topics the group does not subscribe to are deleted.
func (c *Coordinator) OffsetDelete(req *kmsg.OffsetDeleteRequest) (*kmsg.OffsetDeleteResponse, func()) {
	resp := req.ResponseKind().(*kmsg.OffsetDeleteResponse)
	nop := func() {}
	c.mu.Lock()
	defer c.mu.Unlock()
	g := c.groups[req.Group]
	if g == nil {
		resp.ErrorCode = kerr.GroupIDNotFound.Code
		return resp, nop
	}
	if len(g.members) > 0 && g.protocolType != "consumer" {
		resp.ErrorCode = kerr.NonEmptyGroup.Code
		return resp, nop
	}
	subs := g.subscribedTopics()
	var kvs [][2][]byte
	for _, rt := range req.Topics {
		st := kmsg.NewOffsetDeleteResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewOffsetDeleteResponseTopicPartition()
			sp.Partition = rp.Partition
			if subs[rt.Topic] {
				sp.ErrorCode = kerr.GroupSubscribedToTopic.Code
			} else if _, ok := g.offsets[tp{rt.Topic, rp.Partition}]; ok {
				delete(g.offsets, tp{rt.Topic, rp.Partition})
				kvs = append(kvs, [2][]byte{offsetKey(g.id, tp{rt.Topic, rp.Partition}), nil})
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	wait, err := c.write(kvs)
	if err != nil {
		resp.ErrorCode = kerr.UnknownServerError.Code
		return resp, nop
	}
	return resp, func() { wait() }
}

// TxnOffsetCommit stages a transaction's offsets for the group: they are
// written to the offsets topic as part of the producer's transaction and
// become visible with CompleteTxn(commit=true). The caller has checked the
// transaction (producer id, epoch, AddOffsetsToTxn).
func (c *Coordinator) TxnOffsetCommit(req *kmsg.TxnOffsetCommitRequest) (*kmsg.TxnOffsetCommitResponse, func()) {
	resp := req.ResponseKind().(*kmsg.TxnOffsetCommitResponse)
	setAll := func(code int16) {
		resp.Topics = resp.Topics[:0]
		for _, rt := range req.Topics {
			st := kmsg.NewTxnOffsetCommitResponseTopic()
			st.Topic = rt.Topic
			for _, rp := range rt.Partitions {
				sp := kmsg.NewTxnOffsetCommitResponseTopicPartition()
				sp.Partition, sp.ErrorCode = rp.Partition, code
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
	}
	nop := func() {}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		setAll(kerr.NotCoordinator.Code)
		return resp, nop
	}
	g := c.getOrCreate(req.Group)
	if req.Version >= 3 && (req.Generation >= 0 || req.MemberID != "") {
		if code := g.validateMember(req.Generation, req.MemberID, req.InstanceID); code != 0 && code != kerr.RebalanceInProgress.Code {
			setAll(code)
			return resp, nop
		}
	}
	now := c.now().UnixMilli()
	var kvs [][2][]byte
	staged := map[tp]offset{}
	for _, rt := range req.Topics {
		st := kmsg.NewTxnOffsetCommitResponseTopic()
		st.Topic = rt.Topic
		for _, rp := range rt.Partitions {
			sp := kmsg.NewTxnOffsetCommitResponseTopicPartition()
			sp.Partition = rp.Partition
			md := ""
			if rp.Metadata != nil {
				md = *rp.Metadata
			}
			if len(md) > c.cfg.MaxMetadataBytes {
				sp.ErrorCode = kerr.OffsetMetadataTooLarge.Code
			} else {
				k := tp{rt.Topic, rp.Partition}
				o := offset{offset: rp.Offset, leaderEpoch: rp.LeaderEpoch, metadata: md, timestamp: now}
				kvs = append(kvs, [2][]byte{offsetKey(g.id, k), offsetValue(o)})
				staged[k] = o
			}
			st.Partitions = append(st.Partitions, sp)
		}
		resp.Topics = append(resp.Topics, st)
	}
	wait, err := c.writeBatch(kvs, req.ProducerID, req.ProducerEpoch)
	if err != nil {
		setAll(kerr.UnknownServerError.Code)
		return resp, nop
	}
	p := g.pendingTxn[req.ProducerID]
	if p == nil {
		p = map[tp]offset{}
		g.pendingTxn[req.ProducerID] = p
	}
	for k, o := range staged {
		p[k] = o
	}
	return resp, func() {
		err := wait()
		if err == nil {
			return
		}
		c.log.Error("transactional offset commit fsync failed", "group", req.Group, "producer_id", req.ProducerID, "err", err)
		failUnset(resp.Topics, func(t *kmsg.TxnOffsetCommitResponseTopic) []kmsg.TxnOffsetCommitResponseTopicPartition {
			return t.Partitions
		},
			func(p *kmsg.TxnOffsetCommitResponseTopicPartition) *int16 { return &p.ErrorCode })
		// Not durable: the transaction's commit must not apply them.
		c.mu.Lock()
		defer c.mu.Unlock()
		p := g.pendingTxn[req.ProducerID]
		for k, o := range staged {
			if p[k] == o {
				delete(p, k)
			}
		}
		if len(p) == 0 {
			delete(g.pendingTxn, req.ProducerID)
		}
	}
}

// CompleteTxn ends producerID's transaction in the given groups:
// appendMarker writes its marker (MarkerBatch) to the offsets topic, under
// the coordinator's lock so that it is ordered with offset commits, and
// the returned function waits for the marker's fsync, after which the
// staged offsets become visible (commit) or are dropped (abort). If the
// marker is not durable they stay staged for a retry. An aborted
// transaction's records need no rewrite: loading skips them, and the log
// cleaner, which knows the partition's aborted transactions, drops them.
func (c *Coordinator) CompleteTxn(groups []string, producerID int64, commit bool, appendMarker func() (wait func() error, err error)) (func() error, error) {
	c.mu.Lock()
	wait, err := appendMarker()
	c.writes++
	written := c.writes
	c.mu.Unlock()
	if err != nil {
		return nil, err
	}
	return func() error {
		if err := wait(); err != nil {
			return err
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, id := range groups {
			g := c.groups[id]
			if g == nil {
				continue
			}
			staged := g.pendingTxn[producerID]
			delete(g.pendingTxn, producerID)
			for k, o := range staged {
				if cur, ok := g.offsets[k]; commit && (!ok || cur.written < written) {
					o.written = written
					g.offsets[k] = o
				}
			}
		}
		return nil
	}, nil
}

// MarkerBatch builds the transaction marker for producerID that
// CompleteTxn's appendMarker writes to the offsets topic.
func MarkerBatch(producerID int64, epoch int16, commit bool) []byte {
	return records.ControlBatch(producerID, epoch, commit, time.Now().UnixMilli())
}

// Load replays one stored batch of the offsets topic (in log order) while
// the broker starts, before it serves.
func (c *Coordinator) Load(batch []byte) error {
	b, recs, err := records.Decode(batch)
	if err != nil {
		return fmt.Errorf("group coordinator: load: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if b.IsControl() {
		if len(recs) == 0 || len(recs[0].Key) < 4 {
			return nil
		}
		commit := int16(binary.BigEndian.Uint16(recs[0].Key[2:])) == records.ControlCommit
		for _, g := range c.groups {
			if staged, ok := g.pendingTxn[b.ProducerID]; ok {
				delete(g.pendingTxn, b.ProducerID)
				if commit {
					for k, o := range staged {
						g.offsets[k] = o
					}
				}
			}
		}
		return nil
	}
	for _, r := range recs {
		if len(r.Key) < 2 {
			continue
		}
		switch version := int16(binary.BigEndian.Uint16(r.Key)); version {
		case 0, 1:
			var k kmsg.OffsetCommitKey
			if err := k.ReadFrom(r.Key); err != nil {
				c.log.Warn("skipping unreadable offset commit key", "err", err)
				continue
			}
			g := c.getOrCreate(k.Group)
			key := tp{k.Topic, k.Partition}
			if r.Value == nil {
				delete(g.offsets, key)
				continue
			}
			var v kmsg.OffsetCommitValue
			if err := v.ReadFrom(r.Value); err != nil {
				c.log.Warn("skipping unreadable offset commit value", "group", k.Group, "err", err)
				continue
			}
			o := offset{offset: v.Offset, leaderEpoch: v.LeaderEpoch, metadata: v.Metadata, timestamp: v.CommitTimestamp}
			if v.Version < 3 {
				o.leaderEpoch = -1
			}
			if b.IsTransactional() {
				p := g.pendingTxn[b.ProducerID]
				if p == nil {
					p = map[tp]offset{}
					g.pendingTxn[b.ProducerID] = p
				}
				p[key] = o
			} else {
				g.offsets[key] = o
			}
		case 2:
			var k kmsg.GroupMetadataKey
			if err := k.ReadFrom(r.Key); err != nil {
				c.log.Warn("skipping unreadable group metadata key", "err", err)
				continue
			}
			if r.Value == nil {
				delete(c.groups, k.Group)
				continue
			}
			var v kmsg.GroupMetadataValue
			if err := v.ReadFrom(r.Value); err != nil {
				c.log.Warn("skipping unreadable group metadata", "group", k.Group, "err", err)
				continue
			}
			c.loadGroup(k.Group, &v)
		}
	}
	return nil
}

func (c *Coordinator) loadGroup(id string, v *kmsg.GroupMetadataValue) {
	g := c.getOrCreate(id)
	for _, m := range g.members {
		if m.timer != nil {
			m.timer.Stop()
		}
	}
	g.members, g.statics = map[string]*member{}, map[string]string{}
	g.protocolType, g.generation = v.ProtocolType, v.Generation
	g.protocol, g.leader = "", ""
	if v.Protocol != nil {
		g.protocol = *v.Protocol
	}
	if v.Leader != nil {
		g.leader = *v.Leader
	}
	g.state = stateEmpty
	for _, vm := range v.Members {
		g.joinSeq++
		m := &member{
			id: vm.MemberID, instanceID: vm.InstanceID, clientID: vm.ClientID, host: vm.ClientHost,
			sessionTimeout:   time.Duration(vm.SessionTimeoutMillis) * time.Millisecond,
			rebalanceTimeout: time.Duration(vm.RebalanceTimeoutMillis) * time.Millisecond,
			protocols:        []protocol{{g.protocol, vm.Subscription}},
			assignment:       vm.Assignment,
			joinedAt:         g.joinSeq,
		}
		g.members[m.id] = m
		if m.instanceID != nil {
			g.statics[*m.instanceID] = m.id
		}
	}
	if len(g.members) > 0 && g.protocol != "" {
		g.state = stateStable
	}
}

// Start arms the session timers of the members loaded from the offsets
// topic: members that do not come back within their session timeout after
// a restart are removed and their group rebalances.
func (c *Coordinator) Start() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, g := range c.groups {
		for _, m := range g.members {
			if m.sessionTimeout <= 0 {
				m.sessionTimeout = c.cfg.MinSessionTimeout
			}
			c.touch(g, m)
		}
	}
}

// GroupsWithPendingTxn lists the groups holding offsets staged by
// producerID (for transaction recovery).
func (c *Coordinator) GroupsWithPendingTxn(producerID int64) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for id, g := range c.groups {
		if _, ok := g.pendingTxn[producerID]; ok {
			out = append(out, id)
		}
	}
	return out
}
