package postgres

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connectors/debezium"
)

// Offset keys. lsn, txId and ts_usec are Debezium's; lsn_proc and
// lsn_commit have Debezium's names; tx_event is Penstock's. Snapshot records
// carry snapshot=true, and the last one last_snapshot_record=true.
//
//   - lsn: the LSN of the event's WAL record
//   - lsn_commit: the commit LSN of the event's transaction
//   - lsn_proc: the end LSN of the last transaction processed completely
//     before this event; streaming restarts there
//   - tx_event: how many records of the transaction were emitted up to and
//     including this one; a restart skips that many
const (
	offLSN                = "lsn"
	offTxID               = "txId"
	offTsUsec             = "ts_usec"
	offLSNCommit          = "lsn_commit"
	offLSNProc            = "lsn_proc"
	offTxEvent            = "tx_event"
	offSnapshot           = "snapshot"
	offLastSnapshotRecord = "last_snapshot_record"
)

// Task is the PostgreSQL change data capture task: it snapshots the captured
// tables if needed, then streams changes from a logical replication slot with
// pgoutput. Debezium runs one task per connector; so does Penstock.
//
// A goroutine reads from the database into a bounded queue; Poll takes from
// it. The slot's confirmed flush LSN advances only in Commit, with offsets
// the worker flushed after the broker acknowledged their records, so the
// server keeps all WAL the connector may still have to re-read.
type Task struct {
	s         *settings
	tctx      connect.SourceTaskContext
	log       *slog.Logger
	ctx       context.Context
	cancel    context.CancelFunc
	q         *debezium.Queue
	partition map[string]any
	done      chan struct{}

	// committed is the LSN confirmed to the server; statusDirty asks the
	// reader to report it now. conn is the replication connection's socket,
	// whose read deadline Commit and Stop shorten to wake the reader.
	committed   atomic.Uint64
	statusDirty atomic.Bool
	conn        atomic.Pointer[net.Conn]

	progress debezium.SnapshotProgress
	stopOnce sync.Once
	// slotLag is the last slot lag measured, in bytes; -1 before the first.
	slotLag atomic.Int64
	// behind is how long before it was read the last transaction read
	// committed, in nanoseconds; -1 before the first.
	behind atomic.Int64
}

// The runtime shows a task's snapshot progress and lag through these.
var (
	_ connect.SnapshotProgresser = (*Task)(nil)
	_ connect.SourceLagger       = (*Task)(nil)
)

// NewTask returns an unstarted task.
func NewTask() *Task {
	t := &Task{}
	t.slotLag.Store(-1)
	t.behind.Store(-1)
	return t
}

// Start validates the properties, then starts reading in the background:
// connection problems (wal_level, replication rights, an active slot) surface
// as the error of a later Poll, so that Start returns quickly.
func (t *Task) Start(ctx context.Context, tctx connect.SourceTaskContext, props map[string]string) error {
	s, err := parseSettings(props)
	if err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	t.s = s
	t.tctx = tctx
	name := ""
	if tctx != nil {
		name = tctx.ConnectorName()
	}
	t.log = slog.Default().With("connector", name, "server", s.prefix, "slot", s.slot)
	t.ctx, t.cancel = context.WithCancel(ctx)
	t.q = debezium.NewQueue(s.maxQueue, int(s.maxQueueBytes))
	t.partition = map[string]any{"server": s.prefix}
	t.done = make(chan struct{})
	go t.run()
	return nil
}

func (t *Task) run() {
	defer close(t.done)
	err := t.produce(t.ctx)
	if err != nil && t.ctx.Err() == nil {
		t.log.Error("postgres capture failed", "err", err)
		t.q.Fail(err)
	}
}

// Poll returns the next records, waiting up to poll.interval.ms.
func (t *Task) Poll(ctx context.Context) ([]*connect.Record, error) {
	return t.q.Take(ctx, t.s.maxBatch, t.s.pollInterval)
}

// Commit confirms to the server the position of the flushed offset (see
// confirmable). The reader reports it at once.
func (t *Task) Commit(ctx context.Context, flushed []connect.SourceOffset) error {
	for _, so := range flushed {
		if fmt.Sprint(so.Partition["server"]) != t.s.prefix || so.Offset == nil {
			continue
		}
		lsn := confirmable(so.Offset)
		if lsn == 0 {
			continue
		}
		for {
			cur := t.committed.Load()
			if lsn <= cur || t.committed.CompareAndSwap(cur, lsn) {
				break
			}
		}
		t.statusDirty.Store(true)
		t.wake()
	}
	return nil
}

// confirmable returns the LSN a flushed offset allows to confirm to the
// server, 0 for none (a snapshot record). It is a function of the offset
// alone, so that a restart can compare the slot's confirmed position with
// the stored offset like with like: for an event inside a transaction, the
// transaction's commit LSN (the server skips only transactions committed
// before the confirmed position, so the transaction is sent again and the
// restart skips its records already emitted); for a heartbeat, the WAL
// position it carried.
func confirmable(off map[string]any) uint64 {
	if b, _ := off[offSnapshot].(bool); b {
		return 0
	}
	return uint64(interpretOffset(off).through)
}

// wake interrupts the reader's wait on the replication connection.
func (t *Task) wake() {
	if c := t.conn.Load(); c != nil {
		_ = (*c).SetReadDeadline(time.Now())
	}
}

// Stop ends reading, closes the connections and, with slot.drop.on.stop,
// drops the slot.
func (t *Task) Stop() error {
	if t.cancel == nil {
		return nil
	}
	var err error
	t.stopOnce.Do(func() {
		t.cancel()
		t.wake()
		select {
		case <-t.done:
		case <-time.After(30 * time.Second):
			err = errors.New("postgres: reader did not stop within 30s")
		}
		if t.s.dropSlot && t.s.snapshotMode != SnapshotInitialOnly {
			if derr := t.dropSlot(); derr != nil {
				err = errors.Join(err, derr)
			}
		}
	})
	return err
}

// Progress returns the snapshot progress per table (rows read and the
// planner's row estimate); empty when no snapshot ran.
func (t *Task) Progress() []TableProgress { return t.progress.List() }

// SourceLag returns the replication slot's lag in bytes as last measured
// (every status interval while streaming), and how far behind the server
// the last transaction read was: the time from its commit to its reading,
// as the MySQL connector's from binlog event timestamps
// (penstock_cdc_source_lag_seconds).
func (t *Task) SourceLag() connect.SourceLag {
	return connect.SourceLag{Bytes: t.slotLag.Load(), Behind: time.Duration(t.behind.Load())}
}

// CommittedLSN returns the LSN last confirmed to the server.
func (t *Task) CommittedLSN() uint64 { return t.committed.Load() }

// resumePoint is where streaming picks up from a stored offset.
type resumePoint struct {
	start  pglogrepl.LSN // START_REPLICATION position
	commit pglogrepl.LSN // transaction partially emitted (0: none)
	skip   int64         // its records already emitted
	// incremental is the progress of an incremental snapshot the stored
	// offset was in the middle of; nil when none.
	incremental *debezium.IncrementalProgress
}

// storedState interprets the stored offset.
type storedState struct {
	present          bool
	snapshotComplete bool
	resume           resumePoint
	// through is the position up to which the offset's records cover the
	// WAL: the commit LSN of its transaction (sent again from there), or
	// the position streaming resumes at. The slot may have been confirmed
	// up to there, and no further.
	through pglogrepl.LSN
}

func interpretOffset(off map[string]any) storedState {
	if off == nil {
		return storedState{}
	}
	st := storedState{present: true, snapshotComplete: true}
	if b, _ := off[offSnapshot].(bool); b {
		last, _ := off[offLastSnapshotRecord].(bool)
		st.snapshotComplete = last
	}
	lsn, _ := debezium.OffsetInt(off[offLSN])
	proc, hasProc := debezium.OffsetInt(off[offLSNProc])
	commit, hasCommit := debezium.OffsetInt(off[offLSNCommit])
	ev, hasEv := debezium.OffsetInt(off[offTxEvent])
	switch {
	case hasProc && hasCommit && hasEv:
		st.resume = resumePoint{start: pglogrepl.LSN(proc), commit: pglogrepl.LSN(commit), skip: ev}
	case hasProc:
		st.resume = resumePoint{start: pglogrepl.LSN(proc)}
	default:
		st.resume = resumePoint{start: pglogrepl.LSN(lsn)}
	}
	st.resume.incremental = debezium.IncrementalFrom(off)
	st.through = st.resume.start
	if hasCommit {
		st.through = max(st.through, pglogrepl.LSN(commit))
	}
	return st
}
