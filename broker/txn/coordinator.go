package txn

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/penstockhq/penstock/broker/records"
)

// Store persists transaction metadata records (to __transaction_state).
type Store interface {
	// Append writes one record batch and returns a function waiting for
	// its fsync.
	Append(batch []byte) (wait func() error, err error)
}

// Markers is how the coordinator ends a transaction in the data: it
// writes COMMIT or ABORT markers to partitions and completes the offsets a
// transaction staged in consumer groups.
type Markers interface {
	// WriteMarker appends a transaction marker to topic/partition and
	// returns a function waiting for its fsync. A partition that no
	// longer exists is skipped without error.
	WriteMarker(topic string, partition int32, producerID int64, epoch int16, commit bool) (wait func() error, err error)
	// CompleteGroups writes the marker to the offsets topic; once it is
	// durable (wait) the groups' staged offsets are visible (commit) or
	// dropped.
	CompleteGroups(groups []string, producerID int64, epoch int16, commit bool) (wait func() error, err error)
	// TopicExists reports whether a partition exists.
	TopicExists(topic string, partition int32) bool
}

// Config tunes the coordinator.
type Config struct {
	// MaxTimeout is transaction.max.timeout.ms (15 min).
	MaxTimeout time.Duration
	// AbortCheckInterval is how often timed-out transactions are looked
	// for (transaction.abort.timed.out.transaction.cleanup.interval.ms,
	// 10 s).
	AbortCheckInterval time.Duration
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

type txnState = kmsg.TransactionState

// Kafka's transaction states (as stored in TxnMetadataValue).
const (
	stEmpty          txnState = 0
	stOngoing        txnState = 1
	stPrepareCommit  txnState = 2
	stPrepareAbort   txnState = 3
	stCompleteCommit txnState = 4
	stCompleteAbort  txnState = 5
)

type tp struct {
	topic     string
	partition int32
}

type txnMeta struct {
	id         string
	producerID int64
	epoch      int16
	timeout    time.Duration
	state      txnState
	partitions map[tp]struct{}
	groups     map[string]struct{}
	start      time.Time
	lastUpdate time.Time
	// retrying is set while a background loop retries this prepared
	// transaction's markers.
	retrying bool

	op sync.Mutex // serializes the operations that write markers
}

// Coordinator is the transaction coordinator of one broker. Its state is
// kept in memory, guarded by mu, which is never held during I/O; each
// transactional id's operations that write (EndTxn, fencing, timeouts) are
// serialized by that id's own mutex.
type Coordinator struct {
	cfg     Config
	log     *slog.Logger
	ids     *IDAllocator
	store   Store
	markers Markers

	mu    sync.Mutex
	txns  map[string]*txnMeta
	byPID map[int64]*txnMeta

	closing   chan struct{}
	closeOnce sync.Once
	retries   sync.WaitGroup
}

// NewCoordinator makes a coordinator.
func NewCoordinator(cfg Config, ids *IDAllocator, store Store, markers Markers) *Coordinator {
	if cfg.MaxTimeout <= 0 {
		cfg.MaxTimeout = 15 * time.Minute
	}
	if cfg.AbortCheckInterval <= 0 {
		cfg.AbortCheckInterval = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Coordinator{cfg: cfg, log: cfg.Logger, ids: ids, store: store, markers: markers,
		txns: map[string]*txnMeta{}, byPID: map[int64]*txnMeta{}, closing: make(chan struct{})}
}

// Close stops the marker retries and waits for them; a transaction whose
// markers are still missing stays prepared on disk and is completed by
// Recover at the next start.
func (c *Coordinator) Close() {
	c.closeOnce.Do(func() { close(c.closing) })
	c.retries.Wait()
}

// IDs is the producer id allocator.
func (c *Coordinator) IDs() *IDAllocator { return c.ids }

func (c *Coordinator) persist(m *txnMeta) (func() error, error) {
	if c.store == nil {
		return func() error { return nil }, nil
	}
	key := kmsg.TxnMetadataKey{Version: 0, TransactionalID: m.id}
	v := kmsg.NewTxnMetadataValue()
	v.Version = 0
	v.ProducerID, v.ProducerEpoch = m.producerID, m.epoch
	v.TimeoutMillis = int32(m.timeout.Milliseconds())
	v.State = m.state
	byTopic := map[string][]int32{}
	for k := range m.partitions {
		byTopic[k.topic] = append(byTopic[k.topic], k.partition)
	}
	for t, ps := range byTopic {
		slices.Sort(ps)
		vt := kmsg.NewTxnMetadataValueTopic()
		vt.Topic, vt.Partitions = t, ps
		v.Topics = append(v.Topics, vt)
	}
	// Groups a transaction committed offsets to have no field of their
	// own in Kafka's format (Kafka adds the __consumer_offsets partition);
	// they are kept as topic entries named "group:<id>" with no
	// partitions.
	for g := range m.groups {
		vt := kmsg.NewTxnMetadataValueTopic()
		vt.Topic = groupPrefix + g
		v.Topics = append(v.Topics, vt)
	}
	v.LastUpdateTimestamp = m.lastUpdate.UnixMilli()
	v.StartTimestamp = m.start.UnixMilli()
	ts := time.Now().UnixMilli()
	batch := records.Build(records.Batch{ProducerID: -1, ProducerEpoch: -1, BaseSequence: -1, BaseTimestamp: ts, MaxTimestamp: ts},
		[]records.Record{{Offset: 0, Timestamp: ts, Key: key.AppendTo(nil), Value: v.AppendTo(nil)}})
	wait, err := c.store.Append(batch)
	if err != nil {
		return nil, fmt.Errorf("transaction coordinator: persist %q: %w", m.id, err)
	}
	return wait, nil
}

const groupPrefix = "group:"

// Load replays one batch of __transaction_state at start.
func (c *Coordinator) Load(batch []byte) error {
	_, recs, err := records.Decode(batch)
	if err != nil {
		return fmt.Errorf("transaction coordinator: load: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range recs {
		var k kmsg.TxnMetadataKey
		if err := k.ReadFrom(r.Key); err != nil {
			continue
		}
		if old := c.txns[k.TransactionalID]; old != nil {
			delete(c.byPID, old.producerID)
		}
		if r.Value == nil {
			delete(c.txns, k.TransactionalID)
			continue
		}
		var v kmsg.TxnMetadataValue
		if err := v.ReadFrom(r.Value); err != nil {
			c.log.Warn("skipping unreadable transaction metadata", "transactional_id", k.TransactionalID, "err", err)
			continue
		}
		m := &txnMeta{id: k.TransactionalID, producerID: v.ProducerID, epoch: v.ProducerEpoch,
			timeout: time.Duration(v.TimeoutMillis) * time.Millisecond, state: v.State,
			partitions: map[tp]struct{}{}, groups: map[string]struct{}{},
			start: time.UnixMilli(v.StartTimestamp), lastUpdate: time.UnixMilli(v.LastUpdateTimestamp)}
		for _, t := range v.Topics {
			if len(t.Topic) > len(groupPrefix) && t.Topic[:len(groupPrefix)] == groupPrefix {
				m.groups[t.Topic[len(groupPrefix):]] = struct{}{}
				continue
			}
			for _, p := range t.Partitions {
				m.partitions[tp{t.Topic, p}] = struct{}{}
			}
		}
		c.txns[m.id] = m
		c.byPID[m.producerID] = m
	}
	return nil
}

// Recover finishes what a crash interrupted: ongoing transactions are
// aborted (with an epoch bump, fencing their producer), prepared ones are
// completed.
func (c *Coordinator) Recover() {
	c.mu.Lock()
	var todo []*txnMeta
	for _, m := range c.txns {
		if m.state == stOngoing || m.state == stPrepareCommit || m.state == stPrepareAbort {
			todo = append(todo, m)
		}
	}
	c.mu.Unlock()
	for _, m := range todo {
		m.op.Lock()
		c.mu.Lock()
		st := m.state
		c.mu.Unlock()
		var err error
		switch st {
		case stOngoing:
			c.log.Info("aborting transaction interrupted by a restart", "transactional_id", m.id)
			err = c.abortAndFence(m)
		case stPrepareCommit, stPrepareAbort:
			c.log.Info("completing prepared transaction after a restart", "transactional_id", m.id, "commit", st == stPrepareCommit)
			err = c.complete(m, st == stPrepareCommit)
		}
		m.op.Unlock()
		if err != nil && !errors.Is(err, errMarkersPending) {
			c.log.Error("transaction recovery failed", "transactional_id", m.id, "err", err)
		}
	}
}

// Verify checks a transactional produce: the epoch must be the current
// one and the partition added to the ongoing transaction.
func (c *Coordinator) Verify(producerID int64, epoch int16, topic string, partition int32) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.byPID[producerID]
	switch {
	case m == nil:
		return fmt.Errorf("%w: producer %d has no transactional id", kerr.InvalidProducerIDMapping, producerID)
	case epoch != m.epoch:
		return fmt.Errorf("%w: producer %d epoch %d, current %d", kerr.InvalidProducerEpoch, producerID, epoch, m.epoch)
	case m.state != stOngoing:
		return fmt.Errorf("%w: transaction %q is not ongoing", kerr.InvalidTxnState, m.id)
	}
	if _, ok := m.partitions[tp{topic, partition}]; !ok {
		return fmt.Errorf("%w: %s-%d was not added to transaction %q", kerr.InvalidTxnState, topic, partition, m.id)
	}
	return nil
}

// InitProducerID handles InitProducerId. Without a transactional id it
// allocates an id (or bumps the epoch of a known one, KIP-360). With one, it
// fences the previous producer of that id: its open transaction is aborted
// and the epoch bumped.
func (c *Coordinator) InitProducerID(req *kmsg.InitProducerIDRequest) *kmsg.InitProducerIDResponse {
	resp := req.ResponseKind().(*kmsg.InitProducerIDResponse)
	resp.ProducerID, resp.ProducerEpoch = -1, -1
	fenced := kerr.ProducerFenced.Code
	if req.Version < 4 {
		fenced = kerr.InvalidProducerEpoch.Code
	}
	if req.TransactionalID == nil {
		if req.ProducerID >= 0 && req.ProducerEpoch >= 0 && req.ProducerEpoch < math.MaxInt16-1 {
			resp.ProducerID, resp.ProducerEpoch = req.ProducerID, req.ProducerEpoch+1
			return resp
		}
		id, err := c.ids.Next()
		if err != nil {
			c.log.Error("allocating producer id failed", "err", err)
			resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
			return resp
		}
		resp.ProducerID, resp.ProducerEpoch = id, 0
		return resp
	}
	tid := *req.TransactionalID
	if tid == "" {
		resp.ErrorCode = kerr.InvalidRequest.Code
		return resp
	}
	timeout := time.Duration(req.TransactionTimeoutMillis) * time.Millisecond
	if timeout <= 0 || timeout > c.cfg.MaxTimeout {
		resp.ErrorCode = kerr.InvalidTransactionTimeout.Code
		return resp
	}
	c.mu.Lock()
	m := c.txns[tid]
	if m == nil {
		id, err := c.ids.Next()
		if err != nil {
			c.mu.Unlock()
			c.log.Error("allocating producer id failed", "err", err)
			resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
			return resp
		}
		m = &txnMeta{id: tid, producerID: id, epoch: -1, state: stEmpty,
			partitions: map[tp]struct{}{}, groups: map[string]struct{}{}}
		c.txns[tid] = m
		c.byPID[id] = m
	}
	c.mu.Unlock()

	m.op.Lock()
	defer m.op.Unlock()
	c.mu.Lock()
	if req.ProducerID >= 0 && (req.ProducerID != m.producerID || req.ProducerEpoch != m.epoch) {
		// KIP-360 re-initialization by a producer that is no longer
		// the current one.
		c.mu.Unlock()
		resp.ErrorCode = fenced
		return resp
	}
	st, retrying := m.state, m.retrying
	c.mu.Unlock()
	var err error
	switch {
	case retrying:
		err = errMarkersPending
	case st == stOngoing:
		err = c.abortAndFence(m)
	case st == stPrepareAbort, st == stPrepareCommit:
		err = c.complete(m, st == stPrepareCommit)
	}
	switch {
	case errors.Is(err, errMarkersPending):
		// Kafka's answer while the previous transaction's markers
		// are being written; the producer retries.
		resp.ErrorCode = kerr.ConcurrentTransactions.Code
		return resp
	case err != nil:
		c.log.Error("ending the previous transaction failed", "transactional_id", tid, "err", err)
		resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
		return resp
	}
	c.mu.Lock()
	if m.epoch >= math.MaxInt16-1 {
		id, err := c.ids.Next()
		if err != nil {
			c.mu.Unlock()
			resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
			return resp
		}
		delete(c.byPID, m.producerID)
		m.producerID, m.epoch = id, -1
		c.byPID[id] = m
	}
	m.epoch++
	m.timeout = timeout
	m.state = stEmpty
	clear(m.partitions)
	clear(m.groups)
	m.lastUpdate = time.Now()
	wait, err := c.persist(m)
	pid, epoch := m.producerID, m.epoch
	c.mu.Unlock()
	if err == nil {
		err = wait()
	}
	if err != nil {
		c.log.Error("persisting transaction state failed", "transactional_id", tid, "err", err)
		resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
		return resp
	}
	c.log.Debug("initialized transactional producer", "transactional_id", tid, "producer_id", pid, "epoch", epoch)
	resp.ProducerID, resp.ProducerEpoch = pid, epoch
	return resp
}

// check validates a request's producer id and epoch against the txn.
// Called with c.mu held.
func (c *Coordinator) check(tid string, pid int64, epoch int16, fencedCode int16) (*txnMeta, int16) {
	m := c.txns[tid]
	switch {
	case m == nil, m.producerID != pid:
		return nil, kerr.InvalidProducerIDMapping.Code
	case m.epoch != epoch:
		return nil, fencedCode
	case m.state == stPrepareCommit || m.state == stPrepareAbort:
		return nil, kerr.ConcurrentTransactions.Code
	}
	return m, 0
}

func fencedFor(version, since int16) int16 {
	if version >= since {
		return kerr.ProducerFenced.Code
	}
	return kerr.InvalidProducerEpoch.Code
}

func (c *Coordinator) begin(m *txnMeta) {
	if m.state != stOngoing {
		m.state = stOngoing
		m.start = time.Now()
		clear(m.partitions)
		clear(m.groups)
	}
	m.lastUpdate = time.Now()
}

// AddPartitionsToTxn handles AddPartitionsToTxn v0-v3.
func (c *Coordinator) AddPartitionsToTxn(req *kmsg.AddPartitionsToTxnRequest) *kmsg.AddPartitionsToTxnResponse {
	resp := req.ResponseKind().(*kmsg.AddPartitionsToTxnResponse)
	setAll := func(code func(t string, p int32) int16) {
		resp.Topics = resp.Topics[:0]
		for _, rt := range req.Topics {
			st := kmsg.NewAddPartitionsToTxnResponseTopic()
			st.Topic = rt.Topic
			for _, p := range rt.Partitions {
				sp := kmsg.NewAddPartitionsToTxnResponseTopicPartition()
				sp.Partition, sp.ErrorCode = p, code(rt.Topic, p)
				st.Partitions = append(st.Partitions, sp)
			}
			resp.Topics = append(resp.Topics, st)
		}
	}
	var unknown bool
	for _, rt := range req.Topics {
		for _, p := range rt.Partitions {
			if !c.markers.TopicExists(rt.Topic, p) {
				unknown = true
			}
		}
	}
	if unknown {
		setAll(func(t string, p int32) int16 {
			if !c.markers.TopicExists(t, p) {
				return kerr.UnknownTopicOrPartition.Code
			}
			return kerr.OperationNotAttempted.Code
		})
		return resp
	}
	c.mu.Lock()
	m, code := c.check(req.TransactionalID, req.ProducerID, req.ProducerEpoch, fencedFor(req.Version, 2))
	if code != 0 {
		c.mu.Unlock()
		setAll(func(string, int32) int16 { return code })
		return resp
	}
	c.begin(m)
	for _, rt := range req.Topics {
		for _, p := range rt.Partitions {
			m.partitions[tp{rt.Topic, p}] = struct{}{}
		}
	}
	wait, err := c.persist(m)
	c.mu.Unlock()
	if err == nil {
		err = wait()
	}
	if err != nil {
		setAll(func(string, int32) int16 { return kerr.CoordinatorNotAvailable.Code })
		return resp
	}
	setAll(func(string, int32) int16 { return 0 })
	return resp
}

// AddOffsetsToTxn handles AddOffsetsToTxn: the group's offsets committed
// with TxnOffsetCommit become part of the transaction.
func (c *Coordinator) AddOffsetsToTxn(req *kmsg.AddOffsetsToTxnRequest) *kmsg.AddOffsetsToTxnResponse {
	resp := req.ResponseKind().(*kmsg.AddOffsetsToTxnResponse)
	c.mu.Lock()
	m, code := c.check(req.TransactionalID, req.ProducerID, req.ProducerEpoch, fencedFor(req.Version, 2))
	if code != 0 {
		c.mu.Unlock()
		resp.ErrorCode = code
		return resp
	}
	c.begin(m)
	m.groups[req.Group] = struct{}{}
	wait, err := c.persist(m)
	c.mu.Unlock()
	if err == nil {
		err = wait()
	}
	if err != nil {
		resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
	}
	return resp
}

// CheckTxnOffsetCommit validates a TxnOffsetCommit against the
// transaction and adds the group to it if needed; it returns an error code.
func (c *Coordinator) CheckTxnOffsetCommit(req *kmsg.TxnOffsetCommitRequest) int16 {
	c.mu.Lock()
	m, code := c.check(req.TransactionalID, req.ProducerID, req.ProducerEpoch, kerr.InvalidProducerEpoch.Code)
	switch {
	case code != 0:
	case m.state != stOngoing:
		code = kerr.InvalidTxnState.Code
	default:
		if _, ok := m.groups[req.Group]; ok {
			break
		}
		// The group must be durably in the transaction before its
		// offsets are staged: a restart ends the transaction only in
		// the groups it knows.
		m.groups[req.Group] = struct{}{}
		wait, err := c.persist(m)
		c.mu.Unlock()
		if err == nil {
			err = wait()
		}
		if err != nil {
			c.log.Error("persisting transaction state failed", "transactional_id", m.id, "err", err)
			return kerr.CoordinatorNotAvailable.Code
		}
		return 0
	}
	c.mu.Unlock()
	return code
}

// EndTxn handles EndTxn: the transaction is prepared (persisted), its
// markers are written to every partition and group, then it is complete.
func (c *Coordinator) EndTxn(req *kmsg.EndTxnRequest) *kmsg.EndTxnResponse {
	resp := req.ResponseKind().(*kmsg.EndTxnResponse)
	resp.ProducerID, resp.ProducerEpoch = -1, -1
	c.mu.Lock()
	m := c.txns[req.TransactionalID]
	c.mu.Unlock()
	if m == nil {
		resp.ErrorCode = kerr.InvalidProducerIDMapping.Code
		return resp
	}
	m.op.Lock()
	defer m.op.Unlock()
	c.mu.Lock()
	m, code := c.check(req.TransactionalID, req.ProducerID, req.ProducerEpoch, fencedFor(req.Version, 2))
	if code != 0 {
		c.mu.Unlock()
		resp.ErrorCode = code
		return resp
	}
	switch m.state {
	case stOngoing:
	case stCompleteCommit, stCompleteAbort:
		// A retry of an EndTxn that completed.
		if (m.state == stCompleteCommit) != req.Commit {
			resp.ErrorCode = kerr.InvalidTxnState.Code
		}
		c.mu.Unlock()
		return resp
	default:
		c.mu.Unlock()
		resp.ErrorCode = kerr.InvalidTxnState.Code
		return resp
	}
	c.mu.Unlock()
	// Once the outcome is prepared (durably) it is decided, as in Kafka:
	// markers that could not be written yet are retried in the
	// background and the producer is answered now.
	if err := c.complete(m, req.Commit); err != nil && !errors.Is(err, errMarkersPending) {
		c.log.Error("ending transaction failed", "transactional_id", m.id, "commit", req.Commit, "err", err)
		resp.ErrorCode = kerr.CoordinatorNotAvailable.Code
	}
	return resp
}

// Marker writes that failed are retried after markerRetryBackoff, doubling
// up to maxMarkerRetryBackoff.
const (
	markerRetryBackoff    = 100 * time.Millisecond
	maxMarkerRetryBackoff = 10 * time.Second
)

// errMarkersPending means a transaction is prepared but some of its
// markers are not written yet; a background loop retries them.
var errMarkersPending = errors.New("transaction markers pending")

// markerJob is what is left of writing one prepared transaction's markers.
type markerJob struct {
	producerID int64
	epoch      int16
	commit     bool
	parts      []tp     // partitions still without their marker
	groups     []string // groups whose staged offsets are not completed yet
}

// complete moves m to PrepareCommit/PrepareAbort (durably), writes the
// markers and moves it to CompleteCommit/CompleteAbort. If markers fail
// it starts retrying them in the background and returns errMarkersPending:
// the transaction stays prepared until every marker is written. Called
// with m.op held.
func (c *Coordinator) complete(m *txnMeta, commit bool) error {
	c.mu.Lock()
	prev, prevUpdate := m.state, m.lastUpdate
	if commit {
		m.state = stPrepareCommit
	} else {
		m.state = stPrepareAbort
	}
	m.lastUpdate = time.Now()
	wait, err := c.persist(m)
	j := &markerJob{producerID: m.producerID, epoch: m.epoch, commit: commit}
	for k := range m.partitions {
		j.parts = append(j.parts, k)
	}
	for g := range m.groups {
		j.groups = append(j.groups, g)
	}
	c.mu.Unlock()
	if err == nil {
		err = wait()
	}
	if err != nil {
		// Not prepared: the transaction is still what it was.
		c.mu.Lock()
		m.state, m.lastUpdate = prev, prevUpdate
		c.mu.Unlock()
		return err
	}
	if err := c.writeMarkers(j); err != nil {
		c.log.Warn("writing transaction markers failed; retrying", "transactional_id", m.id, "commit", commit, "err", err)
		c.mu.Lock()
		m.retrying = true
		c.mu.Unlock()
		c.retries.Add(1)
		go c.retryMarkers(m, j)
		return errMarkersPending
	}
	return c.finish(m, commit)
}

// writeMarkers writes the markers j still lacks, every one even when some
// fail, and leaves in j those that did not become durable.
func (c *Coordinator) writeMarkers(j *markerJob) error {
	var errs []error
	waits := make([]func() error, len(j.parts))
	for i, k := range j.parts {
		w, err := c.markers.WriteMarker(k.topic, k.partition, j.producerID, j.epoch, j.commit)
		if err != nil {
			errs = append(errs, fmt.Errorf("write marker to %s-%d: %w", k.topic, k.partition, err))
		}
		waits[i] = w
	}
	var groupWait func() error
	if len(j.groups) > 0 {
		w, err := c.markers.CompleteGroups(j.groups, j.producerID, j.epoch, j.commit)
		if err != nil {
			errs = append(errs, fmt.Errorf("complete group offsets: %w", err))
		}
		groupWait = w
	}
	left := j.parts[:0]
	for i, k := range j.parts {
		if waits[i] == nil {
			left = append(left, k)
		} else if err := waits[i](); err != nil {
			errs = append(errs, fmt.Errorf("sync marker of %s-%d: %w", k.topic, k.partition, err))
			left = append(left, k)
		}
	}
	j.parts = left
	if groupWait != nil {
		if err := groupWait(); err != nil {
			errs = append(errs, fmt.Errorf("sync group offsets marker: %w", err))
		} else {
			j.groups = nil
		}
	}
	return errors.Join(errs...)
}

// retryMarkers writes j's missing markers with a growing backoff until
// they are all durable, then completes m; it stops when the coordinator
// closes (Recover finishes the job at the next start).
func (c *Coordinator) retryMarkers(m *txnMeta, j *markerJob) {
	defer c.retries.Done()
	backoff := markerRetryBackoff
	for attempt := 2; ; attempt++ {
		t := time.NewTimer(backoff)
		select {
		case <-c.closing:
			t.Stop()
			return
		case <-t.C:
		}
		m.op.Lock()
		err := c.writeMarkers(j)
		if err == nil {
			c.mu.Lock()
			m.retrying = false
			c.mu.Unlock()
			err = c.finish(m, j.commit)
			m.op.Unlock()
			if err != nil {
				c.log.Error("persisting completed transaction failed", "transactional_id", m.id, "err", err)
			}
			c.log.Info("transaction markers written after retries", "transactional_id", m.id, "attempts", attempt)
			return
		}
		m.op.Unlock()
		c.log.Warn("writing transaction markers failed; retrying", "transactional_id", m.id,
			"attempt", attempt, "backoff", backoff, "err", err)
		backoff = min(2*backoff, maxMarkerRetryBackoff)
	}
}

// finish records that m's markers are all written. Called with m.op held.
func (c *Coordinator) finish(m *txnMeta, commit bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if commit {
		m.state = stCompleteCommit
	} else {
		m.state = stCompleteAbort
	}
	clear(m.partitions)
	clear(m.groups)
	m.lastUpdate = time.Now()
	_, err := c.persist(m)
	return err
}

// abortAndFence bumps the epoch (so the current producer is fenced) and
// aborts the ongoing transaction with markers of the new epoch. Called
// with m.op held.
func (c *Coordinator) abortAndFence(m *txnMeta) error {
	c.mu.Lock()
	if m.epoch < math.MaxInt16-1 {
		m.epoch++
	}
	c.mu.Unlock()
	return c.complete(m, false)
}

// AbortTimedOut aborts every transaction open for longer than its timeout
// (fencing its producer) and returns how many it aborted.
func (c *Coordinator) AbortTimedOut(now time.Time) int {
	c.mu.Lock()
	var todo []*txnMeta
	for _, m := range c.txns {
		if m.state == stOngoing && now.Sub(m.start) > m.timeout {
			todo = append(todo, m)
		}
	}
	c.mu.Unlock()
	n := 0
	for _, m := range todo {
		m.op.Lock()
		c.mu.Lock()
		still := m.state == stOngoing && now.Sub(m.start) > m.timeout
		c.mu.Unlock()
		if still {
			c.log.Info("aborting timed-out transaction", "transactional_id", m.id, "timeout", m.timeout)
			if err := c.abortAndFence(m); err != nil && !errors.Is(err, errMarkersPending) {
				c.log.Error("aborting timed-out transaction failed", "transactional_id", m.id, "err", err)
			} else {
				n++
			}
		}
		m.op.Unlock()
	}
	return n
}

// Run aborts timed-out transactions every AbortCheckInterval until done
// is closed.
func (c *Coordinator) Run(done <-chan struct{}) {
	t := time.NewTicker(c.cfg.AbortCheckInterval)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case now := <-t.C:
			c.AbortTimedOut(now)
		}
	}
}

// Describe returns the state of a transactional id for DescribeTransactions:
// state name, producer id, epoch, timeout, start time and partitions.
func (c *Coordinator) Describe(tid string) (kmsg.DescribeTransactionsResponseTransactionState, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := kmsg.NewDescribeTransactionsResponseTransactionState()
	st.TransactionalID = tid
	m := c.txns[tid]
	if m == nil {
		st.ErrorCode = kerr.TransactionalIDNotFound.Code
		return st, false
	}
	st.State = stateName(m.state)
	st.TimeoutMillis = int32(m.timeout.Milliseconds())
	st.StartTimestamp = -1
	if m.state == stOngoing {
		st.StartTimestamp = m.start.UnixMilli()
	}
	st.ProducerID, st.ProducerEpoch = m.producerID, m.epoch
	byTopic := map[string][]int32{}
	for k := range m.partitions {
		byTopic[k.topic] = append(byTopic[k.topic], k.partition)
	}
	for t, ps := range byTopic {
		slices.Sort(ps)
		dt := kmsg.NewDescribeTransactionsResponseTransactionStateTopic()
		dt.Topic, dt.Partitions = t, ps
		st.Topics = append(st.Topics, dt)
	}
	return st, true
}

// List returns every transactional id with its producer id and state.
func (c *Coordinator) List() []kmsg.ListTransactionsResponseTransactionState {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []kmsg.ListTransactionsResponseTransactionState
	for id, m := range c.txns {
		s := kmsg.NewListTransactionsResponseTransactionState()
		s.TransactionalID, s.ProducerID, s.TransactionState = id, m.producerID, stateName(m.state)
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b kmsg.ListTransactionsResponseTransactionState) int {
		if a.TransactionalID < b.TransactionalID {
			return -1
		}
		return 1
	})
	return out
}

func stateName(s txnState) string {
	switch s {
	case stEmpty:
		return "Empty"
	case stOngoing:
		return "Ongoing"
	case stPrepareCommit:
		return "PrepareCommit"
	case stPrepareAbort:
		return "PrepareAbort"
	case stCompleteCommit:
		return "CompleteCommit"
	case stCompleteAbort:
		return "CompleteAbort"
	}
	return "Dead"
}
