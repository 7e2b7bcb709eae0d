package mysql

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connectors/debezium"
)

// Offset keys, Debezium's MySQL offset fields.
//
//   - file, pos: where streaming restarts: the start of the transaction the
//     record belongs to (after the snapshot: the snapshot's position)
//   - gtids: the GTID set of the transactions completed before it; when
//     present, streaming restarts from it instead of file and pos
//   - event: rows events of that transaction wholly emitted before the
//     record's event
//   - row: rows of the record's event wholly emitted, including the
//     record's own row when the record is the row's last
//   - ts_sec: the binlog event's timestamp
//   - snapshot, snapshot_completed: snapshot records; the last one has
//     snapshot_completed=true
const (
	offFile              = "file"
	offPos               = "pos"
	offGTIDs             = "gtids"
	offEvent             = "event"
	offRow               = "row"
	offTsSec             = "ts_sec"
	offServerID          = "server_id"
	offSnapshot          = "snapshot"
	offSnapshotCompleted = "snapshot_completed"
)

// position is a binlog position: a file and offset, and the GTID set
// executed up to it.
type position struct {
	file  string
	pos   uint64
	gtids string
}

// Task is the MySQL/MariaDB change data capture task: it snapshots the
// captured tables if needed, then streams row changes from the binlog.
// Debezium runs one task per connector; so does Penstock.
//
// A goroutine reads from the database into a bounded queue; Poll takes from
// it. Offsets reach the offsets topic through the worker, after the broker
// acknowledged the records they belong to.
type Task struct {
	s         *settings
	tctx      connect.SourceTaskContext
	log       *slog.Logger
	ctx       context.Context
	cancel    context.CancelFunc
	q         *debezium.Queue
	partition map[string]any
	done      chan struct{}
	source    *debezium.Source // fills the common source block fields
	progress  debezium.SnapshotProgress
	stopOnce  sync.Once
	// behind is the binlog lag at the last event read, in nanoseconds; -1
	// before the first.
	behind atomic.Int64
	// finished is closed by initial_only when the snapshot is complete.
	finished chan struct{}
}

// NewTask returns an unstarted task.
func NewTask() *Task {
	t := &Task{}
	t.behind.Store(-1)
	return t
}

// The runtime shows a task's snapshot progress and lag through these.
var (
	_ connect.SnapshotProgresser = (*Task)(nil)
	_ connect.SourceLagger       = (*Task)(nil)
)

// Start validates the properties, then starts reading in the background:
// server problems (binlog settings, privileges) surface as the error of a
// later Poll, so that Start returns quickly.
func (t *Task) Start(ctx context.Context, tctx connect.SourceTaskContext, props map[string]string) error {
	s, err := parseSettings(props)
	if err != nil {
		return fmt.Errorf("mysql: %w", err)
	}
	t.s = s
	t.tctx = tctx
	name := ""
	if tctx != nil {
		name = tctx.ConnectorName()
	}
	t.log = slog.Default().With("connector", name, "server", s.prefix)
	t.ctx, t.cancel = context.WithCancel(ctx)
	t.q = debezium.NewQueue(s.maxQueue, int(s.maxQueueBytes))
	t.partition = map[string]any{"server": s.prefix}
	t.source = newSourceFor(s)
	t.done = make(chan struct{})
	t.finished = make(chan struct{})
	go t.run()
	return nil
}

func (t *Task) run() {
	defer close(t.done)
	err := t.produce(t.ctx)
	if err != nil && t.ctx.Err() == nil {
		t.log.Error("mysql capture failed", "err", err)
		t.q.Fail(fmt.Errorf("mysql: %w", err))
	}
}

// Poll returns the next records, waiting up to poll.interval.ms.
func (t *Task) Poll(ctx context.Context) ([]*connect.Record, error) {
	return t.q.Take(ctx, t.s.maxBatch, t.s.pollInterval)
}

// Stop ends reading and closes the connections.
func (t *Task) Stop() error {
	if t.cancel == nil {
		return nil
	}
	var err error
	t.stopOnce.Do(func() {
		t.cancel()
		select {
		case <-t.done:
		case <-time.After(30 * time.Second):
			err = errors.New("mysql: reader did not stop within 30s")
		}
	})
	return err
}

// Progress returns the snapshot progress per table (rows read and the
// server's row estimate); empty when no snapshot ran.
func (t *Task) Progress() []TableProgress { return t.progress.List() }

// SourceLag returns how far behind the server the last binlog event read
// was (penstock_cdc_source_lag_seconds); the byte lag is not known.
func (t *Task) SourceLag() connect.SourceLag {
	return connect.SourceLag{Bytes: -1, Behind: time.Duration(t.behind.Load())}
}

// newSourceFor returns the filler of the source blocks' common fields.
func newSourceFor(s *settings) *debezium.Source {
	return debezium.NewSource(sourceSchema, "mysql", Version, s.prefix)
}

// produce runs the snapshot (when needed) and then streams.
func (t *Task) produce(ctx context.Context) error {
	s := t.s
	conn, err := s.connect(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	info, err := s.checkServer(conn)
	if err != nil {
		return err
	}
	t.log.Info("connected", "version", info.version, "flavor", info.flavor, "gtids", info.gtidMode, "server_id", s.serverID)

	var stored map[string]any
	if t.tctx != nil && t.tctx.Offsets() != nil {
		if stored, err = t.tctx.Offsets().Offset(ctx, t.partition); err != nil {
			return fmt.Errorf("read stored offset: %w", err)
		}
	}
	st := interpretOffset(stored)
	snapshot := false
	switch s.snapshotMode {
	case SnapshotAlways:
		snapshot = true
	case SnapshotInitial, SnapshotInitialOnly, SnapshotWhenNeeded, SnapshotRecovery:
		snapshot = !st.present || !st.snapshotComplete
	case SnapshotNoData:
		snapshot = false
	}
	if st.present && st.snapshotComplete && !snapshot {
		if err := t.checkResume(conn, st.resume); err != nil {
			if errors.Is(err, errBinlogPurged) && s.snapshotMode == SnapshotWhenNeeded {
				t.log.Warn("binlog at the stored offset was purged; taking a new snapshot (snapshot.mode=when_needed)",
					"file", st.resume.pos.file, "pos", st.resume.pos.pos, "gtids", st.resume.pos.gtids)
				snapshot = true
			} else {
				return err
			}
		}
	}
	var rp resumePoint
	switch {
	case snapshot:
		pos, err := t.snapshot(ctx, conn, info)
		if err != nil || ctx.Err() != nil {
			return err
		}
		if s.snapshotMode == SnapshotInitialOnly {
			t.log.Info("snapshot.mode=initial_only: snapshot complete, not streaming")
			close(t.finished)
			<-ctx.Done()
			return nil
		}
		rp = resumePoint{pos: pos, fresh: true}
	case st.present:
		rp = st.resume
	default:
		pos, err := binlogPosition(conn, info)
		if err != nil {
			return err
		}
		rp = resumePoint{pos: pos, fresh: true}
	}
	conn.Close()
	err = t.stream(ctx, info, rp)
	if errors.Is(err, errBinlogPurged) && s.snapshotMode == SnapshotWhenNeeded && !snapshot {
		t.log.Warn("binlog at the stored offset was purged; taking a new snapshot (snapshot.mode=when_needed)", "err", err)
		if conn, err = s.connect(ctx); err != nil {
			return err
		}
		pos, err := t.snapshot(ctx, conn, info)
		conn.Close()
		if err != nil || ctx.Err() != nil {
			return err
		}
		return t.stream(ctx, info, resumePoint{pos: pos, fresh: true})
	}
	return err
}

// checkResume verifies that the server still has the binlog file a stored
// offset resumes from. A GTID set is checked by the server when streaming
// starts (stream maps its refusal to errBinlogPurged).
func (t *Task) checkResume(conn *client.Conn, rp resumePoint) error {
	if rp.pos.gtids != "" || rp.pos.file == "" {
		return nil
	}
	files, err := binlogFiles(conn)
	if err != nil {
		return err
	}
	if !files[rp.pos.file] {
		return fmt.Errorf("binlog file %s: %w", rp.pos.file, errBinlogPurged)
	}
	return nil
}

// resumePoint is where streaming picks up.
type resumePoint struct {
	pos       position
	skipEvent int64 // rows events of the first transaction already emitted
	skipRow   int64 // rows of the next event already emitted
	fresh     bool  // no stored offset, or a snapshot just taken: the schema history starts anew
	// incremental is the progress of an incremental snapshot the stored
	// offset was in the middle of.
	incremental *debezium.IncrementalProgress
}

// storedState interprets the stored offset.
type storedState struct {
	present          bool
	snapshotComplete bool
	resume           resumePoint
}

func interpretOffset(off map[string]any) storedState {
	if off == nil {
		return storedState{}
	}
	st := storedState{present: true, snapshotComplete: true}
	if b, _ := off[offSnapshot].(bool); b {
		done, _ := off[offSnapshotCompleted].(bool)
		st.snapshotComplete = done
	}
	file, _ := off[offFile].(string)
	pos, _ := debezium.OffsetInt(off[offPos])
	gtids, _ := off[offGTIDs].(string)
	ev, _ := debezium.OffsetInt(off[offEvent])
	row, _ := debezium.OffsetInt(off[offRow])
	st.resume = resumePoint{pos: position{file: file, pos: uint64(pos), gtids: gtids}, skipEvent: ev, skipRow: row,
		incremental: debezium.IncrementalFrom(off)}
	return st
}
