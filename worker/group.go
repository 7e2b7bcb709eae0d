package worker

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/penstockhq/penstock/worker/rest"
)

// Group membership of distributed workers: Kafka's classic group protocol
// (JoinGroup, SyncGroup, Heartbeat, LeaveGroup) with protocol type
// "connect", issued as kmsg requests through a kgo.Client, so it works
// against any Kafka-protocol broker.
//
// Wire format. Kafka Connect encodes its ConnectProtocol and
// IncrementalCooperativeConnectProtocol metadata in Kafka's binary schema
// format. Only Penstock workers join a Penstock group, so Penstock encodes
// the same fields as JSON under its own protocol name, groupProtocol: a
// Kafka Connect worker pointed at the same group.id is refused by the
// coordinator (INCONSISTENT_GROUP_PROTOCOL) instead of misreading bytes.
//
//	subscription (JoinGroup metadata):
//	  {"version":1,"url":"http://host:8083/","config_offset":42,
//	   "assignment":{"connectors":["a"],"tasks":[{"connector":"a","task":0}]}}
//	assignment (SyncGroup):
//	  {"version":1,"error":0,"leader":"<member id>","leader_url":"http://host:8083/",
//	   "config_offset":42,"assigned":{...},"revoked":{...},"delay_ms":0}
//
// "assignment" in a subscription is the work the member runs now (KC: its
// previous assignment). "assigned" is everything the member runs after the
// round (what it keeps plus what is new), "revoked" what it must stop first;
// a member with revocations stops them and rejoins at once. A member whose
// "delay_ms" is positive rejoins after that long (scheduled rebalance).
const (
	groupProtocolType = "connect"
	groupProtocol     = "penstock-sessioned-json"
	groupWireVersion  = 1
)

// subscription is a member's JoinGroup metadata.
type subscription struct {
	Version      int     `json:"version"`
	URL          string  `json:"url"`
	ConfigOffset int64   `json:"config_offset"`
	Assignment   workSet `json:"assignment"`
}

// groupAssignment is a member's SyncGroup assignment.
type groupAssignment struct {
	Version      int     `json:"version"`
	Error        int16   `json:"error"`
	Leader       string  `json:"leader"`
	LeaderURL    string  `json:"leader_url"`
	ConfigOffset int64   `json:"config_offset"`
	Assigned     workSet `json:"assigned"`
	Revoked      workSet `json:"revoked"`
	DelayMs      int64   `json:"delay_ms"`
	// ConfigShape is a hash of the connectors and task counts the
	// assignment covers: a member whose config view differs rejoins, so
	// new work is assigned at once (Penstock's addition).
	ConfigShape string `json:"config_shape"`

	// Filled in locally.
	MemberID   string `json:"-"`
	Generation int32  `json:"-"`
	// URLs maps member ids to REST URLs (the leader only).
	URLs map[string]string `json:"-"`
}

func (a *groupAssignment) isLeader() bool {
	return a != nil && a.Leader != "" && a.Leader == a.MemberID
}

// groupMember keeps a herder in its group.
type groupMember struct {
	h   *Herder
	cl  *kgo.Client
	log *slog.Logger

	session, heartbeat, rebalance, maxDelay time.Duration

	rejoin chan struct{}
	cancel context.CancelFunc
	done   chan struct{}

	// owned by run's goroutine
	memberID   string
	generation int32
	state      assignorState
	wasLeader  bool
}

func newGroupMember(h *Herder) (*groupMember, error) {
	cl, err := kgo.NewClient(h.storeOpts("group")...)
	if err != nil {
		return nil, fmt.Errorf("worker: group client: %w", err)
	}
	p := h.cfg
	m := &groupMember{h: h, cl: cl, log: h.log.With("group", p.GroupID),
		session: p.SessionTimeout, heartbeat: p.HeartbeatInterval, rebalance: p.RebalanceTimeout, maxDelay: p.ScheduledRebalanceDelay,
		rejoin: make(chan struct{}, 1), done: make(chan struct{})}
	return m, nil
}

func (m *groupMember) start() {
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	go m.run(ctx)
}

// requestRejoin makes the member rejoin the group (a new round).
func (m *groupMember) requestRejoin() {
	select {
	case m.rejoin <- struct{}{}:
	default:
	}
}

// stop stops heartbeating without leaving the group.
func (m *groupMember) stop() {
	m.cancel()
	<-m.done
}

// leave sends LeaveGroup so the group rebalances at once, then closes the client.
func (m *groupMember) leave() {
	if m.memberID != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		req := kmsg.NewPtrLeaveGroupRequest()
		req.Group = m.h.cfg.GroupID
		req.MemberID = m.memberID
		mem := kmsg.NewLeaveGroupRequestMember()
		mem.MemberID = m.memberID
		req.Members = append(req.Members, mem)
		if _, err := req.RequestWith(ctx, m.cl); err != nil {
			m.log.Warn("leaving the group failed", "err", err)
		}
		cancel()
	}
	m.cl.Close()
}

func (m *groupMember) run(ctx context.Context) {
	defer close(m.done)
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		a, err := m.joinAndSync(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			m.log.Warn("group round failed; rejoining", "err", err, "member", m.memberID)
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(backoff*2, 5*time.Second)
			continue
		}
		backoff = 100 * time.Millisecond
		// Drain a rejoin requested before this round: the round covered it.
		select {
		case <-m.rejoin:
		default:
		}
		// Stopping revoked tasks may take longer than a session: keep
		// heartbeating meanwhile.
		hbCtx, stopHB := context.WithCancel(ctx)
		hbDone := make(chan error, 1)
		go func() { hbDone <- m.heartbeatUntil(hbCtx) }()
		m.h.applyAssignment(ctx, a)
		stopHB()
		if err := <-hbDone; err != nil {
			if errors.Is(err, kerr.UnknownMemberID) || errors.Is(err, kerr.FencedInstanceID) {
				m.memberID = ""
			}
			continue
		}
		if !a.Revoked.empty() || a.Error != 0 {
			continue // revoked work is stopped: rejoin for the follow-up round
		}
		m.heartbeatUntilRejoin(ctx, a)
	}
}

// heartbeatUntil heartbeats until ctx is done (nil) or the group needs a
// new round (the error that said so).
func (m *groupMember) heartbeatUntil(ctx context.Context) error {
	tick := time.NewTicker(m.heartbeat)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		if err := m.sendHeartbeat(ctx); err != nil && ctx.Err() == nil {
			if errors.Is(err, kerr.RebalanceInProgress) || errors.Is(err, kerr.UnknownMemberID) ||
				errors.Is(err, kerr.FencedInstanceID) || errors.Is(err, kerr.IllegalGeneration) {
				return err
			}
		}
	}
}

func (m *groupMember) sendHeartbeat(ctx context.Context) error {
	req := kmsg.NewPtrHeartbeatRequest()
	req.Group = m.h.cfg.GroupID
	req.Generation = m.generation
	req.MemberID = m.memberID
	hctx, cancel := context.WithTimeout(ctx, m.session)
	defer cancel()
	resp, err := req.RequestWith(hctx, m.cl)
	if err != nil {
		return err
	}
	return kerr.ErrorForCode(resp.ErrorCode)
}

func (m *groupMember) heartbeatUntilRejoin(ctx context.Context, a *groupAssignment) {
	var delay <-chan time.Time
	if a.DelayMs > 0 {
		t := time.NewTimer(time.Duration(a.DelayMs) * time.Millisecond)
		defer t.Stop()
		delay = t.C
	}
	tick := time.NewTicker(m.heartbeat)
	defer tick.Stop()
	lastOK := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-m.rejoin:
			return
		case <-delay:
			return
		case <-tick.C:
		}
		err := m.sendHeartbeat(ctx)
		switch {
		case err == nil:
			lastOK = time.Now()
		case errors.Is(err, kerr.RebalanceInProgress):
			return
		case errors.Is(err, kerr.UnknownMemberID), errors.Is(err, kerr.FencedInstanceID):
			m.memberID = ""
			return
		case errors.Is(err, kerr.IllegalGeneration):
			return
		default:
			if ctx.Err() != nil {
				return
			}
			m.log.Warn("heartbeat failed", "err", err)
			if time.Since(lastOK) > m.session {
				return
			}
		}
	}
}

// joinAndSync runs one JoinGroup + SyncGroup round; the leader computes the
// assignment in between.
func (m *groupMember) joinAndSync(ctx context.Context) (*groupAssignment, error) {
	h := m.h
	sub := subscription{Version: groupWireVersion, URL: h.cfg.AdvertisedURL(), ConfigOffset: h.configs.snapshot().offset, Assignment: h.currentWork()}
	meta, _ := json.Marshal(sub)
	var join *kmsg.JoinGroupResponse
	for attempt := 0; ; attempt++ {
		req := kmsg.NewPtrJoinGroupRequest()
		req.Group = h.cfg.GroupID
		req.SessionTimeoutMillis = int32(m.session.Milliseconds())
		req.RebalanceTimeoutMillis = int32(m.rebalance.Milliseconds())
		req.MemberID = m.memberID
		req.ProtocolType = groupProtocolType
		p := kmsg.NewJoinGroupRequestProtocol()
		p.Name = groupProtocol
		p.Metadata = meta
		req.Protocols = append(req.Protocols, p)
		jctx, cancel := context.WithTimeout(ctx, m.rebalance+m.session+10*time.Second)
		resp, err := req.RequestWith(jctx, m.cl)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("join group: %w", err)
		}
		err = kerr.ErrorForCode(resp.ErrorCode)
		if errors.Is(err, kerr.MemberIDRequired) && attempt < 3 {
			m.memberID = resp.MemberID
			continue
		}
		if errors.Is(err, kerr.UnknownMemberID) || errors.Is(err, kerr.IllegalGeneration) {
			m.memberID = ""
		}
		if err != nil {
			return nil, fmt.Errorf("join group: %w", err)
		}
		join = resp
		break
	}
	m.memberID, m.generation = join.MemberID, join.Generation
	sync := kmsg.NewPtrSyncGroupRequest()
	sync.Group = h.cfg.GroupID
	sync.Generation = join.Generation
	sync.MemberID = join.MemberID
	pt, pn := groupProtocolType, groupProtocol
	sync.ProtocolType, sync.Protocol = &pt, &pn
	var urls map[string]string
	if join.LeaderID == join.MemberID {
		as, u, err := m.lead(ctx, join)
		if err != nil {
			return nil, err
		}
		urls = u
		for id, a := range as {
			b, _ := json.Marshal(a)
			ga := kmsg.NewSyncGroupRequestGroupAssignment()
			ga.MemberID, ga.MemberAssignment = id, b
			sync.GroupAssignment = append(sync.GroupAssignment, ga)
		}
	} else {
		m.wasLeader = false
	}
	sctx, cancel := context.WithTimeout(ctx, m.rebalance+m.session+10*time.Second)
	resp, err := sync.RequestWith(sctx, m.cl)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("sync group: %w", err)
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		if errors.Is(err, kerr.UnknownMemberID) {
			m.memberID = ""
		}
		return nil, fmt.Errorf("sync group: %w", err)
	}
	var a groupAssignment
	if err := json.Unmarshal(resp.MemberAssignment, &a); err != nil {
		return nil, fmt.Errorf("sync group: unreadable assignment (is a non-Penstock worker in group %s?): %w", h.cfg.GroupID, err)
	}
	a.MemberID, a.Generation, a.URLs = m.memberID, join.Generation, urls
	m.log.Info("joined group", "generation", a.Generation, "member", a.MemberID, "leader", a.isLeader(),
		"connectors", len(a.Assigned.Connectors), "tasks", len(a.Assigned.Tasks),
		"revoked_connectors", len(a.Revoked.Connectors), "revoked_tasks", len(a.Revoked.Tasks), "delay_ms", a.DelayMs)
	return &a, nil
}

// configShape hashes the connectors and task counts of a snapshot: when it
// changes, members start a round so new work is assigned.
func configShape(snap configSnapshot) string {
	names := make([]string, 0, len(snap.connectors))
	for n := range snap.connectors {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		fmt.Fprintf(&b, "%s=%d;", n, len(snap.taskConfigs[n]))
	}
	sum := sha256.Sum256([]byte(b.String()))
	return hex.EncodeToString(sum[:8])
}

// lead computes every member's assignment (the leader's part of a round).
func (m *groupMember) lead(ctx context.Context, join *kmsg.JoinGroupResponse) (map[string]groupAssignment, map[string]string, error) {
	h := m.h
	if !m.wasLeader {
		m.state = assignorState{} // another leader's memory is not ours
	}
	m.wasLeader = true
	rctx, cancel := context.WithTimeout(ctx, m.rebalance)
	err := h.configs.readToEnd(rctx)
	cancel()
	if err != nil {
		return nil, nil, fmt.Errorf("leader: reading the config topic: %w", err)
	}
	snap := h.configs.snapshot()
	in := assignorInput{Members: map[string]workSet{}, Now: time.Now(), MaxDelay: m.maxDelay}
	urls := map[string]string{}
	for _, mem := range join.Members {
		var sub subscription
		if err := json.Unmarshal(mem.ProtocolMetadata, &sub); err != nil {
			m.log.Warn("ignoring unreadable member metadata", "member", mem.MemberID, "err", err)
		}
		in.Members[mem.MemberID] = sub.Assignment
		urls[mem.MemberID] = sub.URL
	}
	for name := range snap.connectors {
		in.Connectors = append(in.Connectors, name)
		for i := range snap.taskConfigs[name] {
			in.Tasks = append(in.Tasks, TaskID{Connector: name, Task: i})
		}
	}
	sort.Strings(in.Connectors)
	sortTasks(in.Tasks)
	if m.state.Previous == nil {
		// A new leader: learn who ran what from the members and the status topic.
		workers := map[string]string{}
		for id, u := range urls {
			workers[id] = strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(u, "http://"), "https://"), "/")
		}
		conns, tasks := map[string]string{}, map[TaskID]string{}
		live := func(st status, ok bool) string {
			if !ok || st.State == rest.StateUnassigned || st.State == rest.StateStopped {
				return ""
			}
			return st.WorkerID
		}
		for _, c := range in.Connectors {
			conns[c] = live(h.statuses.get(connectorStatusKey(c)))
		}
		for _, t := range in.Tasks {
			tasks[t] = live(h.statuses.get(taskStatusKey(t.Connector, t.Task)))
		}
		m.state.Previous = inferPrevious(in.Members, workers, conns, tasks)
	}
	out := assign(in, m.state)
	m.state = out.State
	shape := configShape(snap)
	delayMs := out.Delay.Milliseconds()
	if out.Delay > 0 && delayMs == 0 {
		delayMs = 1
	}
	as := map[string]groupAssignment{}
	for id, ma := range out.Members {
		as[id] = groupAssignment{Version: groupWireVersion, Leader: join.MemberID, LeaderURL: urls[join.MemberID],
			ConfigOffset: snap.offset, ConfigShape: shape, Assigned: ma.Assigned, Revoked: ma.Revoked, DelayMs: delayMs}
	}
	return as, urls, nil
}
