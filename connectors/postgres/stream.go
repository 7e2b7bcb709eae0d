package postgres

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"strconv"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connectors/debezium"
	"github.com/prometheus/client_golang/prometheus"
)

// txState is the transaction being decoded.
type txState struct {
	active bool
	xid    uint32
	commit pglogrepl.LSN
	time   time.Time
	events int64 // records produced so far, skipped ones included
	skip   int64 // records to drop: already emitted before a restart
}

// bufferedChange is a change of a streamed in-progress transaction, kept
// until the transaction commits.
type bufferedChange struct {
	xid uint32
	lsn pglogrepl.LSN
	msg pglogrepl.Message
	tbl *table
}

// streamer decodes the pgoutput stream into records.
type streamer struct {
	t        *Task
	s        *settings
	ctx      context.Context
	conn     *pgconn.PgConn
	meta     *pgx.Conn
	tm       *typeMap
	lag      prometheus.Gauge // debezium.SourceLagSeconds of this server, looked up on the first transaction
	tables   map[uint32]*table
	tx       txState
	resume   resumePoint
	lastEnd  pglogrepl.LSN // end of the last transaction processed
	walEnd   pglogrepl.LSN // server position from keepalives, safe when idle
	lastXid  uint32
	batch    []*connect.Record
	proto    int
	inStream bool
	streamed map[uint32][]bufferedChange // in-progress transactions by top-level xid
	streamX  uint32                      // xid of the open stream block
	wc       walChange                   // the change being decoded, reused
	arena    valueArena                  // the values of records
	recs     recordSlab
	inc      debezium.IncrementalSnapshot[*table] // incremental snapshots (execute-snapshot signals)

	err      error // a failed mid-transaction flush, returned by handle's caller
	nowBoxed debezium.Times
	nowUses  int
	// txBoxed holds the open transaction's values, boxed once.
	txBoxed struct {
		times                     debezium.Times
		xid, tsUsec, commit, proc any
		offset                    map[string]any // the offset of its records, lsn and tx_event aside
	}

	nextStatus    time.Time
	nextHeartbeat time.Time
	msgCount      int
}

// stream runs START_REPLICATION and turns the messages into records until
// ctx ends.
func (t *Task) stream(ctx context.Context, conn *pgconn.PgConn, meta *pgx.Conn, tm *typeMap, version int, rp resumePoint) error {
	s := t.s
	proto := 1
	args := []string{"publication_names '" + s.publication + "'"}
	if version >= 140000 {
		args = append(args, "messages 'true'")
		if s.streamInProgress {
			proto = 2
			args = append(args, "streaming 'true'")
		}
	}
	args = append([]string{"proto_version '" + strconv.Itoa(proto) + "'"}, args...)
	err := pglogrepl.StartReplication(ctx, conn, s.slot, rp.start, pglogrepl.StartReplicationOptions{PluginArgs: args})
	if err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && pgErr.Code == "55006" {
			return fmt.Errorf("postgres: replication slot %q is active (in use by another consumer): %w", s.slot, err)
		}
		return fmt.Errorf("start replication on slot %s at LSN %s: %w", s.slot, rp.start, err)
	}
	t.log.Info("streaming started", "lsn", rp.start, "proto_version", proto, "resume_commit", rp.commit, "resume_skip", rp.skip)
	nc := conn.Conn()
	t.conn.Store(&nc)
	defer t.conn.Store(nil)
	if t.committed.Load() < uint64(rp.start) {
		t.committed.Store(uint64(rp.start))
	}

	st := &streamer{t: t, s: s, ctx: ctx, conn: conn, meta: meta, tm: tm, tables: map[uint32]*table{},
		resume: rp, lastEnd: rp.start, proto: proto, streamed: map[uint32][]bufferedChange{},
		batch: make([]*connect.Record, 0, s.maxBatch)}
	now := time.Now()
	st.nextStatus = now.Add(s.statusInterval)
	if s.heartbeat > 0 {
		st.nextHeartbeat = now.Add(s.heartbeat)
	}
	st.inc = debezium.NewIncrementalSnapshot(st, t.log, s.incrementalChunk)
	if rp.incremental != nil {
		if err := st.inc.Resume(rp.incremental); err != nil {
			return err
		}
	}
	st.setDeadline()
	for {
		if ctx.Err() != nil {
			return nil
		}
		msg, err := conn.ReceiveMessage(context.Background())
		if err != nil {
			var ne net.Error
			if pgconn.Timeout(err) || (errors.As(err, &ne) && ne.Timeout()) {
				if err := st.tick(); err != nil {
					return err
				}
				continue
			}
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("receive from replication slot %s after LSN %s: %w", s.slot, st.lastEnd, err)
		}
		switch m := msg.(type) {
		case *pgproto3.CopyData:
			if len(m.Data) == 0 {
				continue
			}
			switch m.Data[0] {
			case pglogrepl.PrimaryKeepaliveMessageByteID:
				ka, err := pglogrepl.ParsePrimaryKeepaliveMessage(m.Data[1:])
				if err != nil {
					return fmt.Errorf("parse keepalive: %w", err)
				}
				if !st.tx.active && ka.ServerWALEnd > st.walEnd {
					st.walEnd = ka.ServerWALEnd
				}
				if ka.ReplyRequested {
					if err := st.sendStatus(); err != nil {
						return err
					}
				}
			case pglogrepl.XLogDataByteID:
				xld, err := pglogrepl.ParseXLogData(m.Data[1:])
				if err != nil {
					return fmt.Errorf("parse XLogData: %w", err)
				}
				if err := st.handle(xld); err != nil {
					return err
				}
				if st.err != nil {
					return st.err
				}
			}
		case *pgproto3.ErrorResponse:
			return fmt.Errorf("replication slot %s: %w", s.slot, pgconn.ErrorResponseToPgError(m))
		case *pgproto3.CopyDone:
			return fmt.Errorf("replication slot %s: server ended the stream", s.slot)
		}
		st.msgCount++
		if st.msgCount&1023 == 0 || st.t.statusDirty.Load() {
			if now := time.Now(); now.After(st.nextStatus) || st.t.statusDirty.Load() || (!st.nextHeartbeat.IsZero() && now.After(st.nextHeartbeat)) {
				if err := st.tick(); err != nil {
					return err
				}
			}
		}
	}
}

// setDeadline sets the socket read deadline to the next periodic duty.
func (st *streamer) setDeadline() {
	d := st.nextStatus
	if !st.nextHeartbeat.IsZero() && st.nextHeartbeat.Before(d) {
		d = st.nextHeartbeat
	}
	// Never in the past: a past deadline would fail every read, even one
	// that only needs the rest of a message.
	if earliest := time.Now().Add(time.Millisecond); d.Before(earliest) {
		d = earliest
	}
	_ = st.conn.Conn().SetReadDeadline(d)
}

// tick does the periodic duties: status update, heartbeat, slot lag.
func (st *streamer) tick() error {
	if st.ctx.Err() != nil {
		return nil
	}
	now := time.Now()
	if st.t.statusDirty.Swap(false) || !now.Before(st.nextStatus) {
		if err := st.sendStatus(); err != nil {
			return err
		}
		if !now.Before(st.nextStatus) {
			st.nextStatus = now.Add(st.s.statusInterval)
			st.updateLag()
		}
	}
	if !st.nextHeartbeat.IsZero() && !now.Before(st.nextHeartbeat) {
		st.nextHeartbeat = now.Add(st.s.heartbeat)
		if st.tx.active {
			// Inside a transaction the position cannot move: try next time.
			st.setDeadline()
			return nil
		}
		if err := st.heartbeat(); err != nil {
			return err
		}
		// The keepalive this asks for refreshes walEnd for the next heartbeat.
		if err := st.sendStatusReply(true); err != nil {
			return err
		}
	}
	st.setDeadline()
	return nil
}

// sendStatus reports the committed LSN as written, flushed and applied.
func (st *streamer) sendStatus() error { return st.sendStatusReply(false) }

// sendStatusReply sends a status update; reply asks the server for a
// keepalive, whose WAL end is the position the server has decoded to.
func (st *streamer) sendStatusReply(reply bool) error {
	lsn := pglogrepl.LSN(st.t.committed.Load())
	err := pglogrepl.SendStandbyStatusUpdate(st.ctx, st.conn, pglogrepl.StandbyStatusUpdate{
		WALWritePosition: lsn, WALFlushPosition: lsn, WALApplyPosition: lsn, ReplyRequested: reply})
	if err != nil {
		return fmt.Errorf("send standby status (flush LSN %s) on slot %s: %w", lsn, st.s.slot, err)
	}
	return nil
}

// updateLag refreshes the slot lag gauge.
func (st *streamer) updateLag() {
	ctx, cancel := context.WithTimeout(st.ctx, 2*time.Second)
	defer cancel()
	var lag int64
	err := st.meta.QueryRow(ctx, `SELECT coalesce(pg_wal_lsn_diff(pg_current_wal_lsn(), confirmed_flush_lsn), 0)::int8
	  FROM pg_replication_slots WHERE slot_name = $1`, st.s.slot).Scan(&lag)
	if err == nil {
		slotLagBytes.WithLabelValues(st.s.prefix, st.s.slot).Set(float64(lag))
		st.t.slotLag.Store(lag)
	}
}

// heartbeat runs heartbeat.action.query and emits a heartbeat record whose
// offset carries the latest position known to be fully processed.
func (st *streamer) heartbeat() error {
	if q := st.s.heartbeatQuery; q != "" {
		ctx, cancel := context.WithTimeout(st.ctx, 10*time.Second)
		_, err := st.meta.Exec(ctx, q)
		cancel()
		if err != nil {
			st.t.log.Warn("heartbeat.action.query failed", "err", err)
		}
	}
	pos := st.lastEnd
	if st.walEnd > pos && len(st.streamed) == 0 {
		pos = st.walEnd
	}
	now := time.Now()
	rec := debezium.Heartbeat(st.s.heartbeatTopic, st.s.prefix, now)
	rec.SourcePartition = st.t.partition
	rec.SourceOffset = map[string]any{offLSN: int64(pos), offLSNProc: int64(pos), offTxID: int64(st.lastXid),
		offTsUsec: now.UnixMicro()}
	maps.Copy(rec.SourceOffset, st.inc.Offset())
	st.batch = append(st.batch, rec)
	return st.flush()
}

// flush hands the batch to the queue, keeping the connection alive while
// the queue is full.
func (st *streamer) flush() error {
	if len(st.batch) == 0 {
		return nil
	}
	err := st.t.q.Push(st.ctx, st.batch, st.s.statusInterval/2, func() error {
		st.t.statusDirty.Store(false)
		return st.sendStatus()
	})
	st.batch = make([]*connect.Record, 0, st.s.maxBatch)
	if err != nil && st.ctx.Err() != nil {
		return nil
	}
	return err
}

// handle decodes one XLogData message.
func (st *streamer) handle(xld pglogrepl.XLogData) error {
	data := xld.WALData
	if len(data) == 0 {
		return fmt.Errorf("decode pgoutput message at LSN %s: empty message", xld.WALStart)
	}
	// The hot messages outside streamed blocks are decoded by hand, without
	// allocating (pgoutput.go); the rest by pglogrepl.
	if !st.inStream {
		switch data[0] {
		case 'B':
			m, err := decodeBegin(data)
			if err != nil {
				return fmt.Errorf("decode pgoutput message at LSN %s: %w", xld.WALStart, err)
			}
			st.begin(m.xid, pglogrepl.LSN(m.finalLSN), m.time)
			return nil
		case 'C':
			m, err := decodeCommit(data)
			if err != nil {
				return fmt.Errorf("decode pgoutput message at LSN %s: %w", xld.WALStart, err)
			}
			return st.commit(pglogrepl.LSN(m.endLSN))
		case 'I', 'U', 'D':
			c := &st.wc
			if err := c.decode(data); err != nil {
				return fmt.Errorf("decode pgoutput message at LSN %s: %w", xld.WALStart, err)
			}
			var op byte
			switch c.op {
			case 'I':
				op = 'c'
			case 'U':
				op = 'u'
			default:
				op = 'd'
			}
			return st.changeRow(nil, c.relID, op, &c.old, &c.new, xld.WALStart)
		}
	}
	var msg pglogrepl.Message
	var err error
	if st.proto >= 2 {
		msg, err = pglogrepl.ParseV2(xld.WALData, st.inStream)
	} else {
		msg, err = pglogrepl.Parse(xld.WALData)
	}
	if err != nil {
		return fmt.Errorf("decode pgoutput message at LSN %s: %w", xld.WALStart, err)
	}
	switch m := msg.(type) {
	case *pglogrepl.StreamStartMessageV2:
		st.inStream = true
		st.streamX = m.Xid
		return nil
	case *pglogrepl.StreamStopMessageV2:
		st.inStream = false
		return nil
	case *pglogrepl.StreamAbortMessageV2:
		if m.Xid == m.SubXid {
			delete(st.streamed, m.Xid)
		} else {
			kept := st.streamed[m.Xid][:0]
			for _, c := range st.streamed[m.Xid] {
				if c.xid != m.SubXid {
					kept = append(kept, c)
				}
			}
			st.streamed[m.Xid] = kept
		}
		return nil
	case *pglogrepl.StreamCommitMessageV2:
		changes := st.streamed[m.Xid]
		delete(st.streamed, m.Xid)
		st.begin(m.Xid, m.CommitLSN, m.CommitTime)
		for _, c := range changes {
			if err := st.change(c.tbl, c.msg, c.lsn); err != nil {
				return err
			}
		}
		return st.commit(m.TransactionEndLSN)
	}
	if st.inStream {
		return st.buffer(msg, xld.WALStart)
	}
	switch m := msg.(type) {
	case *pglogrepl.BeginMessage:
		st.begin(m.Xid, m.FinalLSN, m.CommitTime)
	case *pglogrepl.CommitMessage:
		return st.commit(m.TransactionEndLSN)
	case *pglogrepl.RelationMessage:
		return st.relation(m)
	case *pglogrepl.RelationMessageV2:
		return st.relation(&m.RelationMessage)
	case *pglogrepl.TypeMessage, *pglogrepl.TypeMessageV2, *pglogrepl.OriginMessage:
		// Types are read from pg_type when a relation uses an unknown one.
	case *pglogrepl.LogicalDecodingMessage:
		return st.message(m, xld.WALStart)
	case *pglogrepl.LogicalDecodingMessageV2:
		return st.message(&m.LogicalDecodingMessage, xld.WALStart)
	default:
		return st.change(nil, msg, xld.WALStart)
	}
	return nil
}

// buffer keeps a change of a streamed in-progress transaction. The WAL data
// is only valid until the next receive, so the message is decoded again
// from a copy.
func (st *streamer) buffer(msg pglogrepl.Message, lsn pglogrepl.LSN) error {
	var xid uint32
	var relID uint32
	switch m := msg.(type) {
	case *pglogrepl.RelationMessageV2:
		return st.relation(&m.RelationMessage)
	case *pglogrepl.TypeMessageV2:
		return nil
	case *pglogrepl.LogicalDecodingMessageV2:
		xid = m.Xid
	case *pglogrepl.InsertMessageV2:
		xid, relID = m.Xid, m.RelationID
		m.Tuple = cloneTuple(m.Tuple)
	case *pglogrepl.UpdateMessageV2:
		xid, relID = m.Xid, m.RelationID
		m.OldTuple, m.NewTuple = cloneTuple(m.OldTuple), cloneTuple(m.NewTuple)
	case *pglogrepl.DeleteMessageV2:
		xid, relID = m.Xid, m.RelationID
		m.OldTuple = cloneTuple(m.OldTuple)
	case *pglogrepl.TruncateMessageV2:
		xid = m.Xid
	default:
		return nil
	}
	if lm, ok := msg.(*pglogrepl.LogicalDecodingMessageV2); ok {
		lm.Content = append([]byte(nil), lm.Content...)
	}
	var tbl *table
	if relID != 0 {
		tbl = st.tables[relID]
	}
	st.streamed[st.streamX] = append(st.streamed[st.streamX], bufferedChange{xid: xid, lsn: lsn, msg: msg, tbl: tbl})
	return nil
}

func cloneTuple(t *pglogrepl.TupleData) *pglogrepl.TupleData {
	if t == nil {
		return nil
	}
	c := &pglogrepl.TupleData{ColumnNum: t.ColumnNum, Columns: make([]*pglogrepl.TupleDataColumn, len(t.Columns))}
	for i, col := range t.Columns {
		cc := *col
		cc.Data = append([]byte(nil), col.Data...)
		c.Columns[i] = &cc
	}
	return c
}

func (st *streamer) begin(xid uint32, commit pglogrepl.LSN, ts time.Time) {
	st.tx = txState{active: true, xid: xid, commit: commit, time: ts}
	if st.lag == nil {
		st.lag = debezium.SourceLagSeconds.WithLabelValues(st.s.prefix)
	}
	behind := time.Since(ts)
	st.lag.Set(behind.Seconds())
	st.t.behind.Store(int64(behind))
	st.lastXid = xid
	st.txBoxed.times = debezium.NewTimes(ts)
	st.txBoxed.xid = int64(xid)
	st.txBoxed.tsUsec = ts.UnixMicro()
	st.txBoxed.commit = int64(commit)
	st.txBoxed.proc = int64(st.lastEnd)
	st.txBoxed.offset = map[string]any{offLSN: nil, offTxID: st.txBoxed.xid, offTsUsec: st.txBoxed.tsUsec,
		offLSNCommit: st.txBoxed.commit, offLSNProc: st.txBoxed.proc, offTxEvent: nil}
	st.nowUses = 0
	if st.resume.commit != 0 {
		switch {
		case commit < st.resume.commit:
			st.tx.skip = 1 << 62 // emitted entirely before the restart
		case commit == st.resume.commit:
			st.tx.skip = st.resume.skip
			st.resume.commit = 0
		default:
			st.resume.commit = 0
		}
	}
}

func (st *streamer) commit(end pglogrepl.LSN) error {
	if end > st.lastEnd {
		st.lastEnd = end
	}
	st.tx.active = false
	return st.flush()
}

// relation records a table's published definition.
func (st *streamer) relation(m *pglogrepl.RelationMessage) error {
	ctx, cancel := context.WithTimeout(st.ctx, 30*time.Second)
	defer cancel()
	signal := st.s.signalTable != "" && st.s.signalTable == m.Namespace+"."+m.RelationName
	if !st.s.filter.Table(m.Namespace, m.RelationName) {
		st.tables[m.RelationID] = &table{relID: m.RelationID, schema: m.Namespace, name: m.RelationName, signal: signal}
		return nil
	}
	cat, err := describe(ctx, st.meta, m.RelationID)
	if err != nil {
		// The table may have been dropped since; describe from the message.
		cat = &catalogTable{relID: m.RelationID, schema: m.Namespace, name: m.RelationName}
	}
	cat.schema, cat.name = m.Namespace, m.RelationName
	cols := make([]catalogColumn, len(m.Columns))
	for i, c := range m.Columns {
		if _, known := st.tm.byOID[c.DataType]; !known && c.DataType >= 10000 {
			if err := st.tm.load(ctx, st.meta); err != nil {
				return err
			}
		}
		cols[i] = catalogColumn{name: c.Name, oid: c.DataType, typmod: c.TypeModifier}
	}
	tbl, err := st.s.buildTable(st.tm, m.RelationID, cat, m.ReplicaIdentity, cols)
	if err != nil {
		return fmt.Errorf("relation %s.%s at LSN %s: %w", m.Namespace, m.RelationName, st.lastEnd, err)
	}
	if old := st.tables[m.RelationID]; old != nil && old.captured {
		st.t.log.Info("table definition changed", "table", m.Namespace+"."+m.RelationName, "columns", len(cols))
	}
	tbl.signal = signal
	st.tables[m.RelationID] = tbl
	return nil
}

// tupleOf views a pglogrepl tuple as a walTuple (in buf).
func tupleOf(td *pglogrepl.TupleData, buf *walTuple) *walTuple {
	buf.present = td != nil
	buf.kinds, buf.data = buf.kinds[:0], buf.data[:0]
	if td == nil {
		return buf
	}
	for _, c := range td.Columns {
		buf.kinds = append(buf.kinds, c.DataType)
		buf.data = append(buf.data, c.Data)
	}
	return buf
}

// change turns an insert, update, delete or truncate decoded by pglogrepl
// into records.
func (st *streamer) change(tbl *table, msg pglogrepl.Message, lsn pglogrepl.LSN) error {
	var (
		relID    uint32
		op       byte
		oldT     *pglogrepl.TupleData
		newT     *pglogrepl.TupleData
		truncate []uint32
	)
	switch m := msg.(type) {
	case *pglogrepl.InsertMessage:
		relID, op, newT = m.RelationID, 'c', m.Tuple
	case *pglogrepl.InsertMessageV2:
		relID, op, newT = m.RelationID, 'c', m.Tuple
	case *pglogrepl.UpdateMessage:
		relID, op, oldT, newT = m.RelationID, 'u', m.OldTuple, m.NewTuple
	case *pglogrepl.UpdateMessageV2:
		relID, op, oldT, newT = m.RelationID, 'u', m.OldTuple, m.NewTuple
	case *pglogrepl.DeleteMessage:
		relID, op, oldT = m.RelationID, 'd', m.OldTuple
	case *pglogrepl.DeleteMessageV2:
		relID, op, oldT = m.RelationID, 'd', m.OldTuple
	case *pglogrepl.TruncateMessage:
		op, truncate = 't', m.RelationIDs
	case *pglogrepl.TruncateMessageV2:
		op, truncate = 't', m.RelationIDs
	case *pglogrepl.LogicalDecodingMessageV2:
		return st.message(&m.LogicalDecodingMessage, lsn)
	default:
		return nil
	}
	if op == 't' {
		if st.s.skip["t"] {
			return nil
		}
		for _, id := range truncate {
			tb := st.tables[id]
			if tb == nil || !tb.captured {
				continue
			}
			env := connect.NewStruct(tb.envSchema)
			debezium.FillEnvelope(env, debezium.OpTruncate, nil, nil, st.source(tb, lsn), debezium.NewTimes(time.Now()))
			st.emit(&connect.Record{Topic: tb.topic, Partition: -1, ValueSchema: tb.envSchema, Value: env}, lsn)
		}
		return nil
	}
	var o, n walTuple
	return st.changeRow(tbl, relID, op, tupleOf(oldT, &o), tupleOf(newT, &n), lsn)
}

// changeRow turns an insert (op c), update (u) or delete (d) of relation
// relID into records; oldT and newT are its tuples, present or not.
func (st *streamer) changeRow(tbl *table, relID uint32, op byte, oldT, newT *walTuple, lsn pglogrepl.LSN) error {
	if tbl == nil {
		tbl = st.tables[relID]
	}
	if tbl == nil {
		return fmt.Errorf("change at LSN %s for relation %d without a preceding Relation message", lsn, relID)
	}
	if tbl.signal && op == 'c' && newT.present {
		if err := st.signal(newT, lsn); err != nil {
			return err
		}
	}
	if !tbl.captured || st.s.skip[string(op)] {
		return nil
	}
	var before, after *rowValues
	if oldT.present {
		r, err := tbl.decodeRow(oldT.kinds, oldT.data, nil, &st.arena)
		if err != nil {
			return fmt.Errorf("old row at LSN %s: %w", lsn, err)
		}
		before = &r
	}
	if newT.present {
		r, err := tbl.decodeRow(newT.kinds, newT.data, before, &st.arena)
		if err != nil {
			return fmt.Errorf("new row at LSN %s: %w", lsn, err)
		}
		after = &r
	}
	if before != nil {
		st.supersede(tbl, before.key)
	}
	if after != nil {
		st.supersede(tbl, after.key)
	}
	switch op {
	case 'c':
		st.emit(st.changeRecord(tbl, "c", nil, after, after.key, lsn), lsn)
	case 'u':
		if before != nil && tbl.keySchema != nil && !debezium.KeysEqual(before.key, after.key) {
			// Key change: a delete of the old key, its tombstone, a create.
			st.emit(st.changeRecord(tbl, "d", before, nil, before.key, lsn), lsn)
			if st.s.tombstones {
				st.emit(debezium.Tombstone(tbl.topic, tbl.keySchema, before.key), lsn)
			}
			st.emit(st.changeRecord(tbl, "c", nil, after, after.key, lsn), lsn)
			return nil
		}
		// Under REPLICA IDENTITY DEFAULT an update without key change carries
		// no old tuple: before stays null, as in Debezium.
		st.emit(st.changeRecord(tbl, "u", before, after, after.key, lsn), lsn)
	case 'd':
		if before == nil {
			return nil // REPLICA IDENTITY NOTHING: PostgreSQL refuses such deletes when published
		}
		st.emit(st.changeRecord(tbl, "d", before, nil, before.key, lsn), lsn)
		if st.s.tombstones && tbl.keySchema != nil {
			st.emit(debezium.Tombstone(tbl.topic, tbl.keySchema, before.key), lsn)
		}
	}
	return nil
}

// now returns the processing time as boxed values, refreshed every 256
// records: ts_ms/ts_us/ts_ns of an envelope say when the connector
// processed the event, and a few microseconds of staleness do not matter.
func (st *streamer) now() debezium.Times {
	if st.nowUses&255 == 0 {
		st.nowBoxed = debezium.NewTimes(time.Now())
	}
	st.nowUses++
	return st.nowBoxed
}

// changeRecord builds one change event.
func (st *streamer) changeRecord(tbl *table, op string, before, after *rowValues, key *connect.Struct, lsn pglogrepl.LSN) *connect.Record {
	env := st.arena.newStruct(tbl.envSchema)
	var b, a *connect.Struct
	if before != nil {
		b = before.val
	}
	if after != nil {
		a = after.val
	}
	debezium.FillEnvelope(env, op, b, a, st.source(tbl, lsn), st.now())
	rec := st.recs.next()
	*rec = connect.Record{Topic: tbl.topic, Partition: -1, ValueSchema: tbl.envSchema, Value: env}
	if tbl.keySchema != nil {
		rec.KeySchema, rec.Key = tbl.keySchema, key
	}
	if after != nil {
		debezium.AddUnavailableColumns(rec, after.unavailable)
	}
	return rec
}

// source builds the source block of a streamed event.
func (st *streamer) source(tbl *table, lsn pglogrepl.LSN) *connect.Struct {
	src := st.arena.newStruct(sourceSchema)
	times := st.txBoxed.times
	if !st.tx.active {
		times = debezium.NewTimes(time.Now())
	}
	st.s.source.Fill(src, times, debezium.SnapshotFalse, st.s.boxed.dbname)
	var seq [48]byte
	b := append(seq[:0], `["`...)
	b = strconv.AppendUint(b, uint64(st.lastEnd), 10)
	b = append(b, `","`...)
	b = strconv.AppendUint(b, uint64(lsn), 10)
	b = append(b, `"]`...)
	src.SetAt(srcSequence, st.arena.stringOf(b))
	if tbl != nil {
		src.SetAt(srcSchema, tbl.boxed.schema)
		src.SetAt(srcTable, tbl.boxed.name)
	} else {
		src.SetAt(srcSchema, "")
		src.SetAt(srcTable, "")
	}
	if st.tx.active {
		src.SetAt(srcTxID, st.txBoxed.xid)
	}
	src.SetAt(srcLSN, st.arena.int64(int64(lsn)))
	return src
}

// emit gives rec its offset and adds it to the batch, unless it was already
// emitted before a restart.
func (st *streamer) emit(rec *connect.Record, lsn pglogrepl.LSN) {
	rec.SourcePartition = st.t.partition
	if st.tx.active {
		st.tx.events++
		if st.tx.events <= st.tx.skip {
			return
		}
		// A copy of the transaction's offset, then the event's own fields:
		// copying a small map is cheaper than filling a new one.
		off := maps.Clone(st.txBoxed.offset)
		off[offLSN] = st.arena.int64(int64(lsn))
		off[offTxEvent] = st.arena.int64(st.tx.events)
		rec.SourceOffset = off
	} else {
		rec.SourceOffset = map[string]any{offLSN: int64(lsn), offTxID: int64(st.lastXid),
			offTsUsec: time.Now().UnixMicro(), offLSNProc: int64(st.lastEnd)}
	}
	if inc := st.inc.Offset(); inc != nil {
		maps.Copy(rec.SourceOffset, inc)
	}
	st.batch = append(st.batch, rec)
	if len(st.batch) >= st.s.maxBatch {
		if err := st.flush(); err != nil && st.err == nil {
			st.err = err
		}
	}
}

var (
	messageBlockSchema = func() *connect.Schema {
		s := connect.NewStructSchema(messageBlockSchemaName,
			connect.F("prefix", connect.OptionalStringSchema), connect.F("content", connect.OptionalBytesSchema))
		s.Version = 1
		return s
	}()
	messageValueSchema = func() *connect.Schema {
		s := connect.NewStructSchema(messageValueSchemaName,
			connect.F("op", connect.StringSchema), connect.F("ts_ms", connect.OptionalInt64Schema),
			connect.F("source", sourceSchema), connect.F("message", messageBlockSchema))
		s.Version = 1
		return s
	}()
	messageKeySchema = func() *connect.Schema {
		s := connect.NewStructSchema(messageKeySchemaName, connect.F("prefix", connect.OptionalStringSchema))
		s.Version = 1
		return s
	}()
)

// message emits a logical decoding message (pg_logical_emit_message) as an
// op m event on <prefix>.message.
func (st *streamer) message(m *pglogrepl.LogicalDecodingMessage, lsn pglogrepl.LSN) error {
	key := connect.NewStruct(messageKeySchema)
	key.SetAt(0, m.Prefix)
	blk := connect.NewStruct(messageBlockSchema)
	blk.SetAt(0, m.Prefix)
	blk.SetAt(1, append([]byte(nil), m.Content...))
	val := connect.NewStruct(messageValueSchema)
	val.SetAt(0, "m")
	val.SetAt(1, time.Now().UnixMilli())
	val.SetAt(2, st.source(nil, lsn))
	val.SetAt(3, blk)
	st.emit(&connect.Record{Topic: st.s.prefix + ".message", Partition: -1,
		KeySchema: messageKeySchema, Key: key, ValueSchema: messageValueSchema, Value: val}, lsn)
	if !m.Transactional {
		return st.flush()
	}
	return nil
}
