package broker

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/penstockhq/penstock/broker/group"
	"github.com/penstockhq/penstock/broker/records"
	"github.com/penstockhq/penstock/broker/storage"
	"github.com/penstockhq/penstock/broker/txn"
)

// Internal topics.
const (
	// OffsetsTopic holds committed offsets and group metadata.
	OffsetsTopic = "__consumer_offsets"
	// TransactionStateTopic holds the transaction coordinator's state.
	TransactionStateTopic = "__transaction_state"
)

// producerIDFile reserves producer id blocks (see txn.IDAllocator).
const producerIDFile = "producer-ids"

// coordinators are the broker's group and transaction coordinators, its
// per-partition producer state and the log cleaner.
type coordinators struct {
	groups *group.Coordinator
	txns   *txn.Coordinator

	mu    sync.RWMutex
	parts map[partKey]*txn.PartitionState

	cleanerMu sync.Mutex // one cleaning at a time

	// markerFault, when set, is called before every transaction marker
	// write (see SetMarkerFault).
	markerFault atomic.Pointer[func(topic string, partition int32) error]
}

// SetMarkerFault installs a fault-injection hook for tests: fault is
// called before each transaction marker write (the consumer groups'
// marker as OffsetsTopic partition 0), and an error it returns fails that
// write as a storage error would. nil removes the hook.
func (s *Server) SetMarkerFault(fault func(topic string, partition int32) error) {
	if fault == nil {
		s.coord.markerFault.Store(nil)
		return
	}
	s.coord.markerFault.Store(&fault)
}

func (co *coordinators) injectedFault(topic string, partition int32) error {
	if f := co.markerFault.Load(); f != nil {
		if err := (*f)(topic, partition); err != nil {
			return fmt.Errorf("injected marker fault on %s-%d: %w", topic, partition, err)
		}
	}
	return nil
}

type partKey struct {
	topic     string
	partition int32
}

func isInternalTopic(name string) bool {
	return name == OffsetsTopic || name == TransactionStateTopic
}

func (s *Server) propDuration(key string, def time.Duration) time.Duration {
	v, ok := s.cfg.Props[key]
	if !ok {
		return def
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil {
		s.log.Warn("ignoring bad broker property", "key", key, "value", v)
		return def
	}
	return time.Duration(n) * time.Millisecond
}

// initCoordinators installs the producer-state append hooks; it runs
// before the topics are opened.
func (s *Server) initCoordinators() error {
	ids, err := txn.NewIDAllocator(s.fs, filepath.Join(s.cfg.DataDir, producerIDFile))
	if err != nil {
		return fmt.Errorf("broker: %w", err)
	}
	co := &coordinators{parts: map[partKey]*txn.PartitionState{}}
	s.coord = co
	co.txns = txn.NewCoordinator(txn.Config{
		MaxTimeout:         s.propDuration("transaction.max.timeout.ms", 15*time.Minute),
		AbortCheckInterval: s.propDuration("transaction.abort.timed.out.transaction.cleanup.interval.ms", 10*time.Second),
		Logger:             s.log.With("component", "txn-coordinator"),
	}, ids, internalStore{s, TransactionStateTopic}, markerWriter{s})
	gcfg := group.DefaultConfig()
	gcfg.MinSessionTimeout = s.propDuration("group.min.session.timeout.ms", gcfg.MinSessionTimeout)
	gcfg.MaxSessionTimeout = s.propDuration("group.max.session.timeout.ms", gcfg.MaxSessionTimeout)
	gcfg.InitialRebalanceDelay = s.propDuration("group.initial.rebalance.delay.ms", gcfg.InitialRebalanceDelay)
	if v, ok := s.cfg.Props["offset.metadata.max.bytes"]; ok {
		gcfg.MaxMetadataBytes, _ = strconv.Atoi(strings.TrimSpace(v))
	}
	gcfg.Logger = s.log.With("component", "group-coordinator")
	co.groups = group.New(gcfg, internalStore{s, OffsetsTopic})
	s.appendHooks = func(topic string, partition int32) storage.AppendHook {
		verify := co.txns.Verify
		switch topic {
		case TransactionStateTopic:
			return nil
		case OffsetsTopic:
			// Transactional offset commits: their transactions are
			// checked by the coordinators; the state serves the
			// cleaner (open and aborted transactions).
			verify = nil
		}
		ps := txn.NewPartitionState(topic, partition, filepath.Join(s.topicsDir(), topic, strconv.Itoa(int(partition))), verify)
		co.mu.Lock()
		co.parts[partKey{topic, partition}] = ps
		co.mu.Unlock()
		return ps
	}
	return nil
}

// startCoordinators runs after the topics are open: it creates the
// internal topics, rebuilds producer state, loads groups, offsets and
// transactions, finishes interrupted transactions and starts the
// background loops (transaction timeouts, log cleaner).
func (s *Server) startCoordinators() error {
	co := s.coord
	internalCfg := map[string]string{"cleanup.policy": "compact", "retention.ms": "-1", "segment.bytes": "104857600"}
	for _, name := range []string{OffsetsTopic, TransactionStateTopic} {
		if s.lookupTopic(name) == nil {
			if _, err := s.createTopic(name, 1, internalCfg, false); err != nil {
				return fmt.Errorf("broker: create %s: %w", name, err)
			}
		}
	}
	for _, t := range s.topicList() {
		for p, l := range t.partitions() {
			if ps := co.part(t.name, int32(p)); ps != nil {
				if err := ps.Rebuild(l, s.log); err != nil {
					return fmt.Errorf("broker: %w", err)
				}
				if err := ps.Snapshot(l, s.producerExpiry()); err != nil {
					s.log.Warn("writing producer state snapshot failed", "topic", t.name, "partition", p, "err", err)
				}
			}
		}
	}
	load := func(name string, fn func([]byte) error) error {
		l := s.lookupTopic(name).partition(0)
		err := l.ScanBatches(l.LogStartOffset(), -1, func(b []byte, h storage.BatchHeader) error {
			return fn(slices.Clone(b))
		})
		if err != nil {
			return fmt.Errorf("broker: load %s: %w", name, err)
		}
		return nil
	}
	if err := load(OffsetsTopic, co.groups.Load); err != nil {
		return err
	}
	if err := load(TransactionStateTopic, co.txns.Load); err != nil {
		return err
	}
	co.txns.Recover()
	co.groups.Start()
	s.wg.Go(func() {
		<-s.closing
		co.groups.Close()
	})
	s.wg.Go(func() {
		co.txns.Run(s.closing)
		co.txns.Close()
	})
	s.wg.Go(s.cleanerLoop)
	s.wg.Go(s.snapshotLoop)
	return nil
}

// producerExpiry is the Unix ms time before which an idempotent producer's
// last batch makes its state expire (producer.id.expiration.ms, 1 day).
func (s *Server) producerExpiry() int64 {
	return time.Now().Add(-s.propDuration("producer.id.expiration.ms", 24*time.Hour)).UnixMilli()
}

// snapshotLoop writes producer state snapshots of the partitions that
// changed every log.flush.offset.checkpoint.interval.ms (60 s) and once
// more at shutdown, so that a restart replays only the log after them;
// producers idle past producer.id.expiration.ms are dropped then.
func (s *Server) snapshotLoop() {
	tick := time.NewTicker(s.propDuration("log.flush.offset.checkpoint.interval.ms", time.Minute))
	defer tick.Stop()
	for done := false; !done; {
		select {
		case <-s.closing:
			done = true
		case <-tick.C:
		}
		for _, t := range s.topicList() {
			for p, l := range t.partitions() {
				ps := s.coord.part(t.name, int32(p))
				if ps == nil {
					continue
				}
				if err := ps.Snapshot(l, s.producerExpiry()); err != nil && !errors.Is(err, fs.ErrNotExist) {
					s.log.Warn("writing producer state snapshot failed", "topic", t.name, "partition", p, "err", err)
				}
			}
		}
	}
}

func (co *coordinators) part(topic string, partition int32) *txn.PartitionState {
	co.mu.RLock()
	defer co.mu.RUnlock()
	return co.parts[partKey{topic, partition}]
}

// internalStore appends to partition 0 of an internal topic.
type internalStore struct {
	s    *Server
	name string
}

func (st internalStore) log() (*storage.Log, error) {
	t := st.s.lookupTopic(st.name)
	if t == nil || t.partition(0) == nil {
		return nil, fmt.Errorf("internal topic %s is missing", st.name)
	}
	return t.partition(0), nil
}

// syncWait waits for the appended records themselves to be durable: the
// sync round's own error is that of any log it synced.
func syncWait(res storage.AppendResult) func() error {
	if res.Sync == nil {
		return func() error { return nil }
	}
	return res.Wait
}

// Append implements group.Store and txn.Store.
func (st internalStore) Append(batch []byte) (func() error, error) {
	l, err := st.log()
	if err != nil {
		return nil, err
	}
	res, err := l.Append(batch)
	if err != nil {
		return nil, fmt.Errorf("append to %s: %w", st.name, err)
	}
	return syncWait(res), nil
}

// markerWriter implements txn.Markers on the broker's partitions.
type markerWriter struct{ s *Server }

func (mw markerWriter) TopicExists(topic string, partition int32) bool {
	t := mw.s.lookupTopic(topic)
	return t != nil && t.partition(partition) != nil
}

func (mw markerWriter) WriteMarker(topic string, partition int32, producerID int64, epoch int16, commit bool) (func() error, error) {
	nop := func() error { return nil }
	t := mw.s.lookupTopic(topic)
	if t == nil || t.partition(partition) == nil {
		return nop, nil
	}
	if err := mw.s.coord.injectedFault(topic, partition); err != nil {
		return nil, err
	}
	l := t.partition(partition)
	res, err := l.AppendControl(records.ControlBatch(producerID, epoch, commit, time.Now().UnixMilli()))
	if errors.Is(err, storage.ErrClosed) {
		return nop, nil
	}
	if err != nil {
		return nil, err
	}
	return syncWait(res), nil
}

func (mw markerWriter) CompleteGroups(groups []string, producerID int64, epoch int16, commit bool) (func() error, error) {
	if err := mw.s.coord.injectedFault(OffsetsTopic, 0); err != nil {
		return nil, err
	}
	l, err := internalStore{mw.s, OffsetsTopic}.log()
	if err != nil {
		return nil, err
	}
	return mw.s.coord.groups.CompleteTxn(groups, producerID, commit, func() (func() error, error) {
		res, err := l.AppendControl(group.MarkerBatch(producerID, epoch, commit))
		if err != nil {
			return nil, fmt.Errorf("append marker to %s: %w", OffsetsTopic, err)
		}
		return syncWait(res), nil
	})
}
