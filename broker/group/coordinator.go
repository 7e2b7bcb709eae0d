// Package group is the broker's group coordinator: the classic (pre
// KIP-848) membership protocol of Kafka, for any protocol type (Kafka
// consumers, Penstock workers with protocol type "connect", ...), and the
// store of committed offsets.
//
// The coordinator is protocol-agnostic, as Kafka's is: it picks the
// protocol every member supports (by the members' preference votes), hands
// the members' metadata to the leader and the leader's assignments to the
// members. Eager and cooperative rebalancing both work on top of that.
//
// State is kept in memory and persisted through a Store to the internal
// compacted topic __consumer_offsets in Kafka's own key/value format
// (OffsetCommitKey/Value for offsets, GroupMetadataKey/Value for groups),
// and rebuilt from it with Load at start.
package group

import (
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// Config tunes the coordinator (Kafka's broker properties of the same
// names).
type Config struct {
	// MinSessionTimeout is group.min.session.timeout.ms (6s).
	MinSessionTimeout time.Duration
	// MaxSessionTimeout is group.max.session.timeout.ms (30 min).
	MaxSessionTimeout time.Duration
	// InitialRebalanceDelay is group.initial.rebalance.delay.ms (3s):
	// how long the first rebalance of an empty group waits for more
	// members.
	InitialRebalanceDelay time.Duration
	// MaxMetadataBytes is offset.metadata.max.bytes (4096).
	MaxMetadataBytes int
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Now defaults to time.Now.
	Now func() time.Time
}

// DefaultConfig returns Kafka's defaults.
func DefaultConfig() Config {
	return Config{
		MinSessionTimeout:     6 * time.Second,
		MaxSessionTimeout:     30 * time.Minute,
		InitialRebalanceDelay: 3 * time.Second,
		MaxMetadataBytes:      4096,
	}
}

// Store persists the coordinator's records to the offsets topic.
type Store interface {
	// Append writes one record batch (built by the coordinator) and
	// returns a function that waits until the write is durable.
	Append(batch []byte) (wait func() error, err error)
}

type state int8

const (
	stateEmpty state = iota
	statePreparingRebalance
	stateCompletingRebalance
	stateStable
	stateDead
)

func (s state) String() string {
	return [...]string{"Empty", "PreparingRebalance", "CompletingRebalance", "Stable", "Dead"}[s]
}

type protocol struct {
	name string
	meta []byte
}

type member struct {
	id               string
	instanceID       *string
	clientID         string
	host             string
	sessionTimeout   time.Duration
	rebalanceTimeout time.Duration
	protocols        []protocol
	assignment       []byte
	joinedAt         int64 // order of joining, for picking a leader

	deadline time.Time // session expiry
	timer    *time.Timer

	join        *joinWait
	sync        chan *kmsg.SyncGroupResponse
	syncVersion int16
}

type joinWait struct {
	ch      chan *kmsg.JoinGroupResponse
	version int16
}

// tp is a topic partition.
type tp struct {
	topic     string
	partition int32
}

// offset is a committed offset.
type offset struct {
	offset      int64
	leaderEpoch int32
	metadata    string
	timestamp   int64
	// written orders commits by their write to the offsets topic (see
	// Coordinator.writes); 0 for offsets loaded at start.
	written uint64
}

type group struct {
	id           string
	state        state
	protocolType string
	protocol     string
	generation   int32
	leader       string
	members      map[string]*member
	pending      map[string]time.Time // member ids handed out with MEMBER_ID_REQUIRED
	statics      map[string]string    // group.instance.id -> member id
	joinSeq      int64
	stateTime    time.Time

	rebalanceTimer *time.Timer
	rebalanceToken int64
	initialUntil   time.Time
	syncTimer      *time.Timer

	offsets    map[tp]offset
	pendingTxn map[int64]map[tp]offset // producer id -> staged transactional offsets
}

// Coordinator is the group coordinator of one broker.
type Coordinator struct {
	cfg   Config
	log   *slog.Logger
	store Store

	mu     sync.Mutex
	groups map[string]*group
	closed bool
	token  int64
	writes uint64 // offset commits written, which happens under mu in log order
}

// New returns a coordinator persisting through store (nil: memory only).
func New(cfg Config, store Store) *Coordinator {
	d := DefaultConfig()
	if cfg.MinSessionTimeout <= 0 {
		cfg.MinSessionTimeout = d.MinSessionTimeout
	}
	if cfg.MaxSessionTimeout <= 0 {
		cfg.MaxSessionTimeout = d.MaxSessionTimeout
	}
	if cfg.InitialRebalanceDelay < 0 {
		cfg.InitialRebalanceDelay = 0
	}
	if cfg.MaxMetadataBytes <= 0 {
		cfg.MaxMetadataBytes = d.MaxMetadataBytes
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Coordinator{cfg: cfg, log: cfg.Logger, store: store, groups: map[string]*group{}}
}

// Close stops every timer and answers every waiting JoinGroup and
// SyncGroup with NOT_COORDINATOR, so clients look for the coordinator again.
func (c *Coordinator) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	for _, g := range c.groups {
		if g.rebalanceTimer != nil {
			g.rebalanceTimer.Stop()
		}
		if g.syncTimer != nil {
			g.syncTimer.Stop()
		}
		for _, m := range g.members {
			if m.timer != nil {
				m.timer.Stop()
			}
			c.failWaiters(m, kerr.NotCoordinator.Code)
		}
	}
}

func (c *Coordinator) now() time.Time { return c.cfg.Now() }

func newMemberID(clientID string) string {
	var b [16]byte
	rand.Read(b[:])
	u := hex.EncodeToString(b[:])
	return clientID + "-" + u[0:8] + "-" + u[8:12] + "-" + u[12:16] + "-" + u[16:20] + "-" + u[20:]
}

func (c *Coordinator) getOrCreate(id string) *group {
	g := c.groups[id]
	if g == nil {
		g = &group{id: id, members: map[string]*member{}, pending: map[string]time.Time{}, statics: map[string]string{},
			offsets: map[tp]offset{}, pendingTxn: map[int64]map[tp]offset{}, stateTime: c.now()}
		c.groups[id] = g
	}
	return g
}

// supportsProtocols reports whether a member with these protocols can join.
func (g *group) supportsProtocols(typ string, protos []protocol) bool {
	if len(g.members) == 0 {
		return typ != "" && len(protos) > 0
	}
	if typ != g.protocolType {
		return false
	}
	for _, cand := range g.candidates() {
		if slices.ContainsFunc(protos, func(p protocol) bool { return p.name == cand }) {
			return true
		}
	}
	return false
}

// candidates are the protocols every member supports.
func (g *group) candidates() []string {
	var out []string
	first := true
	for _, m := range g.members {
		names := make([]string, len(m.protocols))
		for i, p := range m.protocols {
			names[i] = p.name
		}
		if first {
			out = names
			first = false
			continue
		}
		out = slices.DeleteFunc(out, func(n string) bool { return !slices.Contains(names, n) })
	}
	return out
}

// selectProtocol picks the candidate most members prefer, Kafka's vote.
func (g *group) selectProtocol() string {
	cands := g.candidates()
	votes := map[string]int{}
	for _, m := range g.members {
		for _, p := range m.protocols {
			if slices.Contains(cands, p.name) {
				votes[p.name]++
				break
			}
		}
	}
	best := ""
	for _, cand := range cands {
		if best == "" || votes[cand] > votes[best] {
			best = cand
		}
	}
	return best
}

func (m *member) metadataFor(proto string) []byte {
	for _, p := range m.protocols {
		if p.name == proto {
			return p.meta
		}
	}
	return nil
}

func sameProtocols(a, b []protocol) bool {
	return slices.EqualFunc(a, b, func(x, y protocol) bool { return x.name == y.name && string(x.meta) == string(y.meta) })
}

func protocolsOf(req *kmsg.JoinGroupRequest) []protocol {
	out := make([]protocol, len(req.Protocols))
	for i, p := range req.Protocols {
		out[i] = protocol{p.Name, p.Metadata}
	}
	return out
}

func strEq(a, b *string) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}

// touch extends a member's session.
func (c *Coordinator) touch(g *group, m *member) {
	m.deadline = c.now().Add(m.sessionTimeout)
	if m.timer == nil {
		id, gid := m.id, g.id
		m.timer = time.AfterFunc(m.sessionTimeout, func() { c.checkSession(gid, id) })
	}
}

// checkSession runs when a member's session timer fires: a member that
// has not been heard of for its session timeout leaves the group, unless it
// is waiting in a JoinGroup or SyncGroup.
func (c *Coordinator) checkSession(gid, mid string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	g := c.groups[gid]
	if g == nil {
		return
	}
	m := g.members[mid]
	if m == nil {
		return
	}
	now := c.now()
	if m.join != nil || m.sync != nil {
		m.deadline = now.Add(m.sessionTimeout)
	}
	if left := m.deadline.Sub(now); left > 0 {
		m.timer.Reset(left)
		return
	}
	c.log.Info("group member session expired", "group", g.id, "member", m.id, "session_timeout", m.sessionTimeout)
	c.removeMember(g, m, kerr.UnknownMemberID.Code)
}

func (c *Coordinator) failWaiters(m *member, code int16) {
	if m.join != nil {
		resp := kmsg.NewPtrJoinGroupResponse()
		resp.SetVersion(m.join.version)
		resp.ErrorCode, resp.Generation, resp.MemberID = code, -1, m.id
		m.join.ch <- resp
		m.join = nil
	}
	if m.sync != nil {
		resp := kmsg.NewPtrSyncGroupResponse()
		resp.SetVersion(m.syncVersion)
		resp.ErrorCode = code
		m.sync <- resp
		m.sync = nil
	}
}

// removeMember takes m out of g and rebalances the rest.
func (c *Coordinator) removeMember(g *group, m *member, code int16) {
	delete(g.members, m.id)
	if m.instanceID != nil && g.statics[*m.instanceID] == m.id {
		delete(g.statics, *m.instanceID)
	}
	if m.timer != nil {
		m.timer.Stop()
	}
	c.failWaiters(m, code)
	if g.leader == m.id {
		g.leader = ""
		if next := g.firstMember(); next != nil {
			g.leader = next.id
		}
	}
	switch g.state {
	case stateStable, stateCompletingRebalance:
		c.prepareRebalance(g, "member "+m.id+" left")
	case statePreparingRebalance:
		c.checkJoinComplete(g)
	}
}

func (g *group) firstMember() *member {
	var best *member
	for _, m := range g.members {
		if best == nil || m.joinedAt < best.joinedAt {
			best = m
		}
	}
	return best
}

// prepareRebalance moves g to PreparingRebalance: members must rejoin
// within the largest rebalance timeout.
func (c *Coordinator) prepareRebalance(g *group, reason string) {
	if g.state == statePreparingRebalance {
		return
	}
	if g.state == stateCompletingRebalance {
		for _, m := range g.members {
			m.assignment = nil
			if m.sync != nil {
				c.failWaiters(&member{id: m.id, sync: m.sync, syncVersion: m.syncVersion}, kerr.RebalanceInProgress.Code)
				m.sync = nil
			}
		}
	}
	if g.syncTimer != nil {
		g.syncTimer.Stop()
		g.syncTimer = nil
	}
	var timeout time.Duration
	for _, m := range g.members {
		timeout = max(timeout, m.rebalanceTimeout)
	}
	wasEmpty := g.state == stateEmpty
	g.state = statePreparingRebalance
	g.stateTime = c.now()
	c.log.Debug("group rebalancing", "group", g.id, "generation", g.generation, "reason", reason)
	c.token++
	g.rebalanceToken = c.token
	tok := g.rebalanceToken
	if g.rebalanceTimer != nil {
		g.rebalanceTimer.Stop()
	}
	g.rebalanceTimer = time.AfterFunc(timeout, func() { c.rebalanceTimeout(g.id, tok) })
	if wasEmpty && c.cfg.InitialRebalanceDelay > 0 {
		delay := min(c.cfg.InitialRebalanceDelay, timeout)
		g.initialUntil = c.now().Add(delay)
		time.AfterFunc(delay, func() {
			c.mu.Lock()
			defer c.mu.Unlock()
			if gg := c.groups[g.id]; gg == g && g.rebalanceToken == tok && !c.closed {
				c.checkJoinComplete(g)
			}
		})
	} else {
		g.initialUntil = time.Time{}
	}
	c.checkJoinComplete(g)
}

func (c *Coordinator) rebalanceTimeout(gid string, tok int64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	g := c.groups[gid]
	if c.closed || g == nil || g.rebalanceToken != tok || g.state != statePreparingRebalance {
		return
	}
	c.completeJoin(g)
}

// checkJoinComplete completes the join phase once every member rejoined.
func (c *Coordinator) checkJoinComplete(g *group) {
	if g.state != statePreparingRebalance || len(g.pending) > 0 {
		return
	}
	if c.now().Before(g.initialUntil) && len(g.members) > 0 {
		return
	}
	for _, m := range g.members {
		if m.join == nil {
			return
		}
	}
	c.completeJoin(g)
}

// completeJoin ends the join phase: members that did not rejoin are
// removed, the generation advances, the leader gets everyone's metadata.
func (c *Coordinator) completeJoin(g *group) {
	if g.rebalanceTimer != nil {
		g.rebalanceTimer.Stop()
		g.rebalanceTimer = nil
	}
	c.token++
	g.rebalanceToken = c.token
	clear(g.pending)
	for _, m := range g.members {
		if m.join == nil {
			c.log.Info("group member did not rejoin in time; removing it", "group", g.id, "member", m.id)
			delete(g.members, m.id)
			if m.instanceID != nil && g.statics[*m.instanceID] == m.id {
				delete(g.statics, *m.instanceID)
			}
			if m.timer != nil {
				m.timer.Stop()
			}
			c.failWaiters(m, kerr.UnknownMemberID.Code)
		}
	}
	g.generation++
	g.stateTime = c.now()
	if len(g.members) == 0 {
		g.state = stateEmpty
		g.protocol, g.leader = "", ""
		c.persistGroup(g)
		return
	}
	g.protocol = g.selectProtocol()
	if _, ok := g.members[g.leader]; !ok {
		g.leader = g.firstMember().id
	}
	g.state = stateCompletingRebalance
	var all []kmsg.JoinGroupResponseMember
	for _, m := range g.sortedMembers() {
		jm := kmsg.NewJoinGroupResponseMember()
		jm.MemberID, jm.InstanceID, jm.ProtocolMetadata = m.id, m.instanceID, m.metadataFor(g.protocol)
		all = append(all, jm)
	}
	var timeout time.Duration
	for _, m := range g.members {
		resp := kmsg.NewPtrJoinGroupResponse()
		resp.SetVersion(m.join.version)
		resp.Generation = g.generation
		resp.ProtocolType = kmsg.StringPtr(g.protocolType)
		resp.Protocol = kmsg.StringPtr(g.protocol)
		resp.LeaderID = g.leader
		resp.MemberID = m.id
		if m.id == g.leader {
			resp.Members = all
		}
		m.join.ch <- resp
		m.join = nil
		c.touch(g, m)
		timeout = max(timeout, m.rebalanceTimeout)
	}
	c.log.Info("group rebalanced", "group", g.id, "generation", g.generation, "protocol", g.protocol,
		"members", len(g.members), "leader", g.leader)
	gen := g.generation
	g.syncTimer = time.AfterFunc(timeout, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.closed || c.groups[g.id] != g || g.state != stateCompletingRebalance || g.generation != gen {
			return
		}
		// The leader never sent its assignment: drop the members that
		// did not sync and start over.
		for _, m := range g.members {
			if m.sync == nil {
				delete(g.members, m.id)
				if m.instanceID != nil && g.statics[*m.instanceID] == m.id {
					delete(g.statics, *m.instanceID)
				}
				if g.leader == m.id {
					g.leader = ""
				}
			}
		}
		c.prepareRebalance(g, "pending sync timed out")
	})
}

func (g *group) sortedMembers() []*member {
	ms := make([]*member, 0, len(g.members))
	for _, m := range g.members {
		ms = append(ms, m)
	}
	slices.SortFunc(ms, func(a, b *member) int { return int(a.joinedAt - b.joinedAt) })
	return ms
}

func (c *Coordinator) addMember(g *group, id string, req *kmsg.JoinGroupRequest, clientID, host string, w *joinWait) *member {
	g.joinSeq++
	m := &member{
		id: id, instanceID: req.InstanceID, clientID: clientID, host: host,
		sessionTimeout:   time.Duration(req.SessionTimeoutMillis) * time.Millisecond,
		rebalanceTimeout: time.Duration(req.RebalanceTimeoutMillis) * time.Millisecond,
		protocols:        protocolsOf(req),
		joinedAt:         g.joinSeq,
		join:             w,
	}
	if req.Version == 0 {
		m.rebalanceTimeout = m.sessionTimeout
	}
	if len(g.members) == 0 {
		g.protocolType = req.ProtocolType
	}
	g.members[id] = m
	delete(g.pending, id)
	if m.instanceID != nil {
		g.statics[*m.instanceID] = id
	}
	if g.leader == "" {
		g.leader = id
	}
	c.touch(g, m)
	return m
}

func (m *member) update(req *kmsg.JoinGroupRequest, w *joinWait) {
	m.protocols = protocolsOf(req)
	m.sessionTimeout = time.Duration(req.SessionTimeoutMillis) * time.Millisecond
	m.rebalanceTimeout = time.Duration(req.RebalanceTimeoutMillis) * time.Millisecond
	if req.Version == 0 {
		m.rebalanceTimeout = m.sessionTimeout
	}
	if m.join != nil && m.join != w {
		resp := kmsg.NewPtrJoinGroupResponse()
		resp.SetVersion(m.join.version)
		resp.ErrorCode, resp.Generation, resp.MemberID = kerr.RebalanceInProgress.Code, -1, m.id
		m.join.ch <- resp
	}
	m.join = w
}

// currentJoinResponse answers a join without a rebalance with the current
// generation (a follower rejoining with unchanged metadata, or a static
// member replacing its old incarnation).
func (g *group) currentJoinResponse(m *member, version int16, withMembers bool) *kmsg.JoinGroupResponse {
	resp := kmsg.NewPtrJoinGroupResponse()
	resp.SetVersion(version)
	resp.Generation = g.generation
	resp.ProtocolType = kmsg.StringPtr(g.protocolType)
	resp.Protocol = kmsg.StringPtr(g.protocol)
	resp.LeaderID = g.leader
	resp.MemberID = m.id
	if withMembers {
		for _, o := range g.sortedMembers() {
			jm := kmsg.NewJoinGroupResponseMember()
			jm.MemberID, jm.InstanceID, jm.ProtocolMetadata = o.id, o.instanceID, o.metadataFor(g.protocol)
			resp.Members = append(resp.Members, jm)
		}
	}
	return resp
}

// JoinGroup handles a JoinGroup request; the response arrives on the
// returned channel once the rebalance completes (or at once on errors).
func (c *Coordinator) JoinGroup(req *kmsg.JoinGroupRequest, clientID, host string) <-chan *kmsg.JoinGroupResponse {
	ch := make(chan *kmsg.JoinGroupResponse, 1)
	w := &joinWait{ch: ch, version: req.Version}
	fail := func(code int16, memberID string) <-chan *kmsg.JoinGroupResponse {
		resp := req.ResponseKind().(*kmsg.JoinGroupResponse)
		resp.ErrorCode, resp.Generation, resp.MemberID = code, -1, memberID
		ch <- resp
		return ch
	}
	if req.Group == "" {
		return fail(kerr.InvalidGroupID.Code, req.MemberID)
	}
	session := time.Duration(req.SessionTimeoutMillis) * time.Millisecond
	if session < c.cfg.MinSessionTimeout || session > c.cfg.MaxSessionTimeout {
		return fail(kerr.InvalidSessionTimeout.Code, req.MemberID)
	}
	protos := protocolsOf(req)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return fail(kerr.NotCoordinator.Code, req.MemberID)
	}
	g := c.groups[req.Group]
	if g == nil && req.MemberID != "" {
		return fail(kerr.UnknownMemberID.Code, req.MemberID)
	}
	if g == nil {
		g = c.getOrCreate(req.Group)
	}
	if g.state == stateDead {
		return fail(kerr.CoordinatorNotAvailable.Code, req.MemberID)
	}
	if !g.supportsProtocols(req.ProtocolType, protos) {
		return fail(kerr.InconsistentGroupProtocol.Code, req.MemberID)
	}
	if req.MemberID == "" {
		newID := newMemberID(clientID)
		if req.InstanceID != nil {
			if oldID, ok := g.statics[*req.InstanceID]; ok && g.members[oldID] != nil {
				c.replaceStatic(g, g.members[oldID], newID, req, w)
				return ch
			}
		} else if req.Version >= 4 {
			g.pending[newID] = c.now()
			resp := req.ResponseKind().(*kmsg.JoinGroupResponse)
			resp.ErrorCode, resp.Generation, resp.MemberID = kerr.MemberIDRequired.Code, -1, newID
			ch <- resp
			// A pending id not used within the session timeout is
			// forgotten so it cannot hold up a rebalance.
			time.AfterFunc(session, func() {
				c.mu.Lock()
				defer c.mu.Unlock()
				if _, ok := g.pending[newID]; ok {
					delete(g.pending, newID)
					c.checkJoinComplete(g)
				}
			})
			return ch
		}
		c.addMember(g, newID, req, clientID, host, w)
		c.prepareRebalance(g, "member "+newID+" joined")
		c.checkJoinComplete(g)
		return ch
	}
	if _, ok := g.pending[req.MemberID]; ok {
		c.addMember(g, req.MemberID, req, clientID, host, w)
		c.prepareRebalance(g, "member "+req.MemberID+" joined")
		c.checkJoinComplete(g)
		return ch
	}
	m := g.members[req.MemberID]
	if m == nil {
		return fail(kerr.UnknownMemberID.Code, req.MemberID)
	}
	if req.InstanceID != nil && g.statics[*req.InstanceID] != m.id {
		return fail(kerr.FencedInstanceID.Code, req.MemberID)
	}
	c.touch(g, m)
	switch g.state {
	case statePreparingRebalance:
		m.update(req, w)
		c.checkJoinComplete(g)
	case stateCompletingRebalance:
		if sameProtocols(m.protocols, protos) {
			ch <- g.currentJoinResponse(m, req.Version, m.id == g.leader)
			return ch
		}
		m.update(req, w)
		c.prepareRebalance(g, "member "+m.id+" changed its metadata")
	case stateStable:
		if m.id == g.leader || !sameProtocols(m.protocols, protos) {
			m.update(req, w)
			c.prepareRebalance(g, "member "+m.id+" rejoined")
			return ch
		}
		ch <- g.currentJoinResponse(m, req.Version, false)
	default:
		return fail(kerr.UnknownMemberID.Code, req.MemberID)
	}
	return ch
}

// replaceStatic gives a restarted static member (same group.instance.id,
// no member id) a new member id in place of the old one, without a
// rebalance when the group is stable and its protocol does not change.
func (c *Coordinator) replaceStatic(g *group, old *member, newID string, req *kmsg.JoinGroupRequest, w *joinWait) {
	c.failWaiters(old, kerr.FencedInstanceID.Code)
	if old.timer != nil {
		old.timer.Stop()
	}
	delete(g.members, old.id)
	m := &member{
		id: newID, instanceID: old.instanceID, clientID: old.clientID, host: old.host,
		sessionTimeout: old.sessionTimeout, rebalanceTimeout: old.rebalanceTimeout,
		protocols: old.protocols, assignment: old.assignment, joinedAt: old.joinedAt,
	}
	g.members[newID] = m
	g.statics[*req.InstanceID] = newID
	if g.leader == old.id {
		g.leader = newID
	}
	c.touch(g, m)
	c.log.Info("static group member rejoined", "group", g.id, "instance_id", *req.InstanceID, "old_member", old.id, "member", newID)
	switch g.state {
	case stateStable:
		// As Kafka: no rebalance unless the group's protocol would
		// change; the member keeps its assignment under its new id.
		m.update(req, nil)
		if g.selectProtocol() == g.protocol {
			c.persistGroup(g)
			// A leader gets the members (with SkipAssignment from v9)
			// as Kafka answers; its SyncGroup in the stable group
			// changes nothing.
			resp := g.currentJoinResponse(m, req.Version, m.id == g.leader)
			resp.SkipAssignment = m.id == g.leader
			w.ch <- resp
			return
		}
		m.join = w
		c.prepareRebalance(g, "static member "+newID+" changed the group's protocol")
	case stateCompletingRebalance:
		m.update(req, w)
		c.prepareRebalance(g, "static member "+newID+" rejoined during a rebalance")
	default:
		m.update(req, w)
		c.checkJoinComplete(g)
	}
}

// SyncGroup handles a SyncGroup request; the response arrives on the
// returned channel once the leader sent the assignment.
func (c *Coordinator) SyncGroup(req *kmsg.SyncGroupRequest) <-chan *kmsg.SyncGroupResponse {
	ch := make(chan *kmsg.SyncGroupResponse, 1)
	resp := req.ResponseKind().(*kmsg.SyncGroupResponse)
	fail := func(code int16) <-chan *kmsg.SyncGroupResponse {
		resp.ErrorCode = code
		ch <- resp
		return ch
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return fail(kerr.NotCoordinator.Code)
	}
	g := c.groups[req.Group]
	if g == nil {
		return fail(kerr.UnknownMemberID.Code)
	}
	m := g.members[req.MemberID]
	switch {
	case m == nil:
		return fail(kerr.UnknownMemberID.Code)
	case req.InstanceID != nil && g.statics[*req.InstanceID] != m.id:
		return fail(kerr.FencedInstanceID.Code)
	case req.Generation != g.generation:
		return fail(kerr.IllegalGeneration.Code)
	case req.ProtocolType != nil && *req.ProtocolType != g.protocolType,
		req.Protocol != nil && *req.Protocol != g.protocol:
		return fail(kerr.InconsistentGroupProtocol.Code)
	}
	c.touch(g, m)
	resp.ProtocolType, resp.Protocol = kmsg.StringPtr(g.protocolType), kmsg.StringPtr(g.protocol)
	switch g.state {
	case statePreparingRebalance:
		return fail(kerr.RebalanceInProgress.Code)
	case stateCompletingRebalance:
		m.sync, m.syncVersion = ch, req.Version
		if m.id != g.leader {
			return ch
		}
		assign := map[string][]byte{}
		for _, a := range req.GroupAssignment {
			assign[a.MemberID] = a.MemberAssignment
		}
		for _, o := range g.members {
			o.assignment = assign[o.id]
			if o.assignment == nil {
				o.assignment = []byte{}
			}
		}
		if g.syncTimer != nil {
			g.syncTimer.Stop()
			g.syncTimer = nil
		}
		g.state = stateStable
		g.stateTime = c.now()
		c.persistGroup(g)
		for _, o := range g.members {
			if o.sync != nil {
				r := kmsg.NewPtrSyncGroupResponse()
				r.SetVersion(o.syncVersion)
				r.ProtocolType, r.Protocol = kmsg.StringPtr(g.protocolType), kmsg.StringPtr(g.protocol)
				r.MemberAssignment = o.assignment
				o.sync <- r
				o.sync = nil
			}
		}
	case stateStable:
		resp.MemberAssignment = m.assignment
		ch <- resp
	default:
		return fail(kerr.UnknownMemberID.Code)
	}
	return ch
}

// Heartbeat handles a Heartbeat request.
func (c *Coordinator) Heartbeat(req *kmsg.HeartbeatRequest) *kmsg.HeartbeatResponse {
	resp := req.ResponseKind().(*kmsg.HeartbeatResponse)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		resp.ErrorCode = kerr.NotCoordinator.Code
		return resp
	}
	g := c.groups[req.Group]
	var m *member
	if g != nil {
		m = g.members[req.MemberID]
	}
	switch {
	case m == nil:
		resp.ErrorCode = kerr.UnknownMemberID.Code
	case req.InstanceID != nil && g.statics[*req.InstanceID] != m.id:
		resp.ErrorCode = kerr.FencedInstanceID.Code
	case req.Generation != g.generation:
		resp.ErrorCode = kerr.IllegalGeneration.Code
	default:
		c.touch(g, m)
		if g.state == statePreparingRebalance {
			resp.ErrorCode = kerr.RebalanceInProgress.Code
		}
	}
	return resp
}

// LeaveGroup handles a LeaveGroup request (one member before v3, a batch
// of members, possibly by group.instance.id, from v3).
func (c *Coordinator) LeaveGroup(req *kmsg.LeaveGroupRequest) *kmsg.LeaveGroupResponse {
	resp := req.ResponseKind().(*kmsg.LeaveGroupResponse)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		resp.ErrorCode = kerr.NotCoordinator.Code
		return resp
	}
	g := c.groups[req.Group]
	leaves := req.Members
	if req.Version < 3 {
		lm := kmsg.NewLeaveGroupRequestMember()
		lm.MemberID = req.MemberID
		leaves = []kmsg.LeaveGroupRequestMember{lm}
	}
	if g == nil {
		resp.ErrorCode = kerr.UnknownMemberID.Code
		if req.Version >= 3 {
			resp.ErrorCode = 0
			for _, l := range leaves {
				rm := kmsg.NewLeaveGroupResponseMember()
				rm.MemberID, rm.InstanceID, rm.ErrorCode = l.MemberID, l.InstanceID, kerr.UnknownMemberID.Code
				resp.Members = append(resp.Members, rm)
			}
		}
		return resp
	}
	for _, l := range leaves {
		rm := kmsg.NewLeaveGroupResponseMember()
		rm.MemberID, rm.InstanceID = l.MemberID, l.InstanceID
		id := l.MemberID
		if l.InstanceID != nil {
			sid, ok := g.statics[*l.InstanceID]
			switch {
			case !ok:
				rm.ErrorCode = kerr.UnknownMemberID.Code
			case id != "" && id != sid:
				rm.ErrorCode = kerr.FencedInstanceID.Code
			}
			id = sid
		}
		if rm.ErrorCode == 0 {
			if _, ok := g.pending[id]; ok {
				delete(g.pending, id)
				c.checkJoinComplete(g)
			} else if m := g.members[id]; m != nil {
				c.log.Info("group member left", "group", g.id, "member", id)
				c.removeMember(g, m, kerr.UnknownMemberID.Code)
			} else {
				rm.ErrorCode = kerr.UnknownMemberID.Code
			}
		}
		resp.Members = append(resp.Members, rm)
	}
	if req.Version < 3 {
		resp.ErrorCode = resp.Members[0].ErrorCode
		resp.Members = nil
	}
	return resp
}

// DescribeGroups handles a DescribeGroups request.
func (c *Coordinator) DescribeGroups(req *kmsg.DescribeGroupsRequest) *kmsg.DescribeGroupsResponse {
	resp := req.ResponseKind().(*kmsg.DescribeGroupsResponse)
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, id := range req.Groups {
		dg := kmsg.NewDescribeGroupsResponseGroup()
		dg.Group = id
		dg.AuthorizedOperations = -2147483648
		g := c.groups[id]
		if g == nil {
			dg.State = stateDead.String()
			if req.Version >= 6 {
				dg.ErrorCode = kerr.GroupIDNotFound.Code
			}
			resp.Groups = append(resp.Groups, dg)
			continue
		}
		dg.State, dg.ProtocolType = g.state.String(), g.protocolType
		if g.state == stateStable {
			dg.Protocol = g.protocol
		}
		for _, m := range g.sortedMembers() {
			dm := kmsg.NewDescribeGroupsResponseGroupMember()
			dm.MemberID, dm.InstanceID, dm.ClientID, dm.ClientHost = m.id, m.instanceID, m.clientID, m.host
			if g.state == stateStable {
				dm.ProtocolMetadata = m.metadataFor(g.protocol)
				dm.MemberAssignment = m.assignment
			}
			dg.Members = append(dg.Members, dm)
		}
		resp.Groups = append(resp.Groups, dg)
	}
	return resp
}

// ListGroups handles a ListGroups request (with the v4 state and v5 type
// filters; every group here is a "classic" group).
func (c *Coordinator) ListGroups(req *kmsg.ListGroupsRequest) *kmsg.ListGroupsResponse {
	resp := req.ResponseKind().(*kmsg.ListGroupsResponse)
	c.mu.Lock()
	defer c.mu.Unlock()
	ids := make([]string, 0, len(c.groups))
	for id := range c.groups {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		g := c.groups[id]
		st := g.state.String()
		if len(req.StatesFilter) > 0 && !slices.ContainsFunc(req.StatesFilter, func(s string) bool { return equalFold(s, st) }) {
			continue
		}
		if len(req.TypesFilter) > 0 && !slices.ContainsFunc(req.TypesFilter, func(s string) bool { return equalFold(s, "classic") }) {
			continue
		}
		lg := kmsg.NewListGroupsResponseGroup()
		lg.Group, lg.ProtocolType, lg.GroupState, lg.GroupType = id, g.protocolType, st, "classic"
		resp.Groups = append(resp.Groups, lg)
	}
	return resp
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range len(a) {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// DeleteGroups handles a DeleteGroups request: only groups without members
// can be deleted; their offsets and metadata are tombstoned.
func (c *Coordinator) DeleteGroups(req *kmsg.DeleteGroupsRequest) (*kmsg.DeleteGroupsResponse, func()) {
	resp := req.ResponseKind().(*kmsg.DeleteGroupsResponse)
	c.mu.Lock()
	defer c.mu.Unlock()
	var waits []func() error
	for _, id := range req.Groups {
		dg := kmsg.NewDeleteGroupsResponseGroup()
		dg.Group = id
		g := c.groups[id]
		switch {
		case g == nil:
			dg.ErrorCode = kerr.GroupIDNotFound.Code
		case len(g.members) > 0 || g.state != stateEmpty:
			dg.ErrorCode = kerr.NonEmptyGroup.Code
		default:
			var kvs [][2][]byte
			for k := range g.offsets {
				kvs = append(kvs, [2][]byte{offsetKey(g.id, k), nil})
			}
			kvs = append(kvs, [2][]byte{groupKey(g.id), nil})
			w, err := c.write(kvs)
			if err != nil {
				dg.ErrorCode, dg.ErrorMessage = kerr.UnknownServerError.Code, kmsg.StringPtr(err.Error())
				break
			}
			waits = append(waits, w)
			g.state = stateDead
			delete(c.groups, id)
		}
		resp.Groups = append(resp.Groups, dg)
	}
	return resp, func() {
		for _, w := range waits {
			w()
		}
	}
}
