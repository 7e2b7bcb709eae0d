package mysql

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	gm "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connectors/debezium"
)

// snapChunk is one SELECT of a table: the whole table or a key range of it.
type snapChunk struct {
	tbl  *table
	sql  string
	prog *debezium.TableCounter
	desc string
}

// globalLock is the brief lock under which the snapshot transactions start
// and the binlog position is read.
type globalLock struct {
	conn    *client.Conn
	release string
}

// lockForSnapshot blocks commits on the whole server: BACKUP STAGE
// BLOCK_COMMIT on MariaDB 10.4+ (it lets DML and queries run, and only
// commits wait), else FLUSH TABLES WITH READ LOCK. MySQL's LOCK INSTANCE FOR
// BACKUP does not block commits, so it cannot freeze the binlog position.
func (t *Task) lockForSnapshot(ctx context.Context, info serverInfo) (*globalLock, error) {
	conn, err := t.s.connect(ctx)
	if err != nil {
		return nil, err
	}
	if info.flavor == gm.MariaDBFlavor {
		if _, err := conn.Execute("BACKUP STAGE START"); err == nil {
			if _, err := conn.Execute("BACKUP STAGE BLOCK_COMMIT"); err == nil {
				return &globalLock{conn: conn, release: "BACKUP STAGE END"}, nil
			}
			_, _ = conn.Execute("BACKUP STAGE END")
		}
	}
	if _, err := conn.Execute("FLUSH TABLES WITH READ LOCK"); err != nil {
		conn.Close()
		return nil, fmt.Errorf("snapshot: FLUSH TABLES WITH READ LOCK (the user needs RELOAD, or set %s=none): %w",
			KeySnapshotLocking, err)
	}
	return &globalLock{conn: conn, release: "UNLOCK TABLES"}, nil
}

func (l *globalLock) unlock() {
	if l == nil || l.conn == nil {
		return
	}
	_, _ = l.conn.Execute(l.release)
	l.conn.Close()
	l.conn = nil
}

// snapshot reads every captured table in one consistent view and queues
// their rows as op=r events. It returns the binlog position the view
// matches, where streaming starts.
//
// Under a brief global lock that stops commits, each of the
// snapshot.max.threads connections starts a START TRANSACTION WITH
// CONSISTENT SNAPSHOT and the binlog position and table definitions are
// read; then the lock is released (with snapshot.locking.mode=minimal) and
// the connections read chunks of the tables in parallel.
func (t *Task) snapshot(ctx context.Context, meta *client.Conn, info serverInfo) (position, error) {
	s := t.s
	started := time.Now()
	workers := s.snapshotThreads
	if s.lockMode == LockNone {
		workers = 1
	}
	// The connections are opened before the lock, so that it is held only
	// while the transactions start and the position and tables are read.
	conns := make([]*client.Conn, 0, workers)
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i := 0; i < workers; i++ {
		c, err := s.connect(ctx)
		if err != nil {
			return position{}, err
		}
		conns = append(conns, c)
		if _, err := c.Execute("SET SESSION TRANSACTION ISOLATION LEVEL REPEATABLE READ"); err != nil {
			return position{}, fmt.Errorf("snapshot connection %d: %w", i, err)
		}
	}
	var lock *globalLock
	defer lock.unlock()
	if s.lockMode != LockNone {
		var err error
		if lock, err = t.lockForSnapshot(ctx, info); err != nil {
			return position{}, err
		}
	}
	lockedAt := time.Now()
	for i, c := range conns {
		if _, err := c.Execute("START TRANSACTION WITH CONSISTENT SNAPSHOT"); err != nil {
			return position{}, fmt.Errorf("snapshot connection %d: START TRANSACTION WITH CONSISTENT SNAPSHOT: %w", i, err)
		}
	}
	var pos position
	var err error
	if lock != nil {
		pos, err = binlogPosition(meta, info)
	} else {
		pos, err = snapshotPosition(conns[0], meta, info)
	}
	if err != nil {
		return pos, err
	}
	tables, err := s.capturedTables(meta)
	if err != nil {
		return pos, err
	}
	var built []*table
	for _, ct := range tables {
		defs, pk, err := describe(meta, ct.db, ct.name)
		if err != nil {
			return pos, err
		}
		tbl, err := s.buildTable(ct.db, ct.name, defs, pk)
		if err != nil {
			return pos, err
		}
		built = append(built, tbl)
	}
	lockHeld := time.Since(lockedAt)
	if s.lockMode != LockExtended {
		lock.unlock()
	}
	var chunks []*snapChunk
	for i, ct := range tables {
		cs, err := t.planChunks(conns[0], built[i], ct)
		if err != nil {
			return pos, err
		}
		chunks = append(chunks, cs...)
	}
	t.log.Info("snapshot started", "tables", len(tables), "chunks", len(chunks), "threads", len(conns),
		"file", pos.file, "pos", pos.pos, "gtids", pos.gtids, "lock_held", lockHeld.Round(time.Millisecond))
	if s.schemaChanges {
		if err := t.snapshotSchemaChanges(ctx, meta, built, pos); err != nil {
			return pos, err
		}
	}

	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	chunkCh := make(chan *snapChunk)
	out := make(chan snapBatch, len(conns)*2)
	var wg sync.WaitGroup
	var errOnce sync.Once
	var firstErr error
	fail := func(err error) {
		errOnce.Do(func() { firstErr = err; cancel() })
	}
	shared := map[string]any{offFile: pos.file, offPos: int64(pos.pos), offTsSec: started.Unix(),
		offSnapshot: true, offSnapshotCompleted: false}
	if pos.gtids != "" {
		shared[offGTIDs] = s.filterGTIDs(pos.gtids)
	}
	for _, c := range conns {
		wg.Add(1)
		go func(c *client.Conn) {
			defer wg.Done()
			for ch := range chunkCh {
				if err := t.readChunk(sctx, c, ch, pos, info, shared, out); err != nil {
					fail(err)
					return
				}
			}
		}(c)
	}
	go func() {
		defer close(chunkCh)
		for _, ch := range chunks {
			select {
			case chunkCh <- ch:
			case <-sctx.Done():
				return
			}
		}
	}()
	go func() { wg.Wait(); close(out) }()

	// One record is held back so that the last one can be marked.
	var held *connect.Record
	heldSize := 0
	first := true
	var total int64
	lastLog := time.Now()
	for b := range out {
		batch, sizes := b.recs, b.sizes
		if len(batch) == 0 {
			continue
		}
		if first {
			debezium.SetSnapshot(batch[0], debezium.SnapshotFirst)
			first = false
		}
		total += int64(len(batch))
		last := len(batch) - 1
		send, sendSizes := batch[:last], sizes[:last]
		if held != nil {
			send = append([]*connect.Record{held}, send...)
			sendSizes = append([]int{heldSize}, sendSizes...)
		}
		held, heldSize = batch[last], sizes[last]
		if err := t.q.PushSized(sctx, send, sendSizes, time.Second, nil); err != nil {
			fail(err)
			break
		}
		if time.Since(lastLog) > 10*time.Second {
			lastLog = time.Now()
			t.log.Info("snapshot progress", "rows", total, "elapsed", time.Since(started).Round(time.Second))
		}
	}
	for range out { // drain after a failure so the workers end
	}
	if firstErr != nil {
		if ctx.Err() != nil {
			return pos, nil
		}
		return pos, firstErr
	}
	if held != nil {
		debezium.SetSnapshot(held, debezium.SnapshotLast)
		off := make(map[string]any, len(shared))
		for k, v := range shared {
			off[k] = v
		}
		off[offSnapshotCompleted] = true
		held.SourceOffset = off
		if err := t.q.Push(ctx, []*connect.Record{held}, time.Second, nil); err != nil {
			return pos, nil
		}
	}
	el := time.Since(started)
	t.log.Info("snapshot completed", "rows", total, "elapsed", el.Round(time.Millisecond),
		"rows_per_sec", int64(float64(total)/math.Max(el.Seconds(), 1e-3)))
	return pos, nil
}

// snapshotPosition reads the binlog position of conn's consistent snapshot
// without a lock: MariaDB reports it as binlog_snapshot_file and
// binlog_snapshot_position. Other servers report the current position,
// which commits made meanwhile may have passed (as Debezium's
// snapshot.locking.mode=none).
func snapshotPosition(snap, meta *client.Conn, info serverInfo) (position, error) {
	if info.flavor == gm.MariaDBFlavor {
		r, err := snap.Execute("SHOW STATUS LIKE 'binlog_snapshot_%'")
		if err == nil {
			defer r.Close()
			var p position
			for i := 0; i < r.RowNumber(); i++ {
				k := getString(r, i, 0)
				v := getString(r, i, 1)
				switch k {
				case "Binlog_snapshot_file":
					p.file = v
				case "Binlog_snapshot_position":
					p.pos, _ = strconv.ParseUint(v, 10, 64)
				}
			}
			if p.file != "" {
				return p, nil
			}
		}
	}
	return binlogPosition(meta, info)
}

// planChunks splits a table into key ranges when it is large, has a
// single-column integer primary key and several threads read the snapshot.
func (t *Task) planChunks(conn *client.Conn, tbl *table, ct capturedTable) ([]*snapChunk, error) {
	s := t.s
	name := ct.db + "." + ct.name
	prog := &debezium.TableCounter{Name: name, Estimated: ct.estRows}
	t.progress.Add(prog)
	snapshotRowsEstimated.WithLabelValues(s.prefix, name).Set(float64(ct.estRows))
	snapshotRowsRead.WithLabelValues(s.prefix, name).Set(0)
	cols := make([]string, len(tbl.cols))
	for i, c := range tbl.cols {
		cols[i] = quoteIdent(c.def.name)
	}
	from := quoteIdent(ct.db) + "." + quoteIdent(ct.name)
	base := "SELECT " + strings.Join(cols, ", ") + " FROM " + from
	whole := []*snapChunk{{tbl: tbl, sql: base, prog: prog, desc: name}}
	prog.ChunksOut.Store(1)
	if s.snapshotThreads <= 1 || len(tbl.pk) != 1 || ct.estRows < s.chunkRows {
		return whole, nil
	}
	var pkCol *column
	for _, c := range tbl.cols {
		if c.def.name == tbl.pk[0] {
			pkCol = c
		}
	}
	if pkCol == nil || pkCol.codec.kind != kInt || (pkCol.def.unsigned && pkCol.codec.bits == 64) {
		return whole, nil
	}
	pk := quoteIdent(tbl.pk[0])
	r, err := conn.Execute("SELECT MIN(" + pk + "), MAX(" + pk + ") FROM " + from)
	if err != nil {
		return nil, fmt.Errorf("snapshot: key range of %s: %w", name, err)
	}
	defer r.Close()
	if null, _ := r.IsNull(0, 0); null {
		return whole, nil
	}
	lo, _ := r.GetInt(0, 0)
	hi, _ := r.GetInt(0, 1)
	span := float64(hi) - float64(lo) + 1
	n := min(int(math.Ceil(float64(ct.estRows)/float64(s.chunkRows))), 10000)
	if n < 2 {
		return whole, nil
	}
	width := max(int64(math.Ceil(span/float64(n))), 1)
	var out []*snapChunk
	for b := lo; ; b += width {
		next := b + width
		var where string
		switch {
		case b == lo && next > hi:
			return whole, nil
		case b == lo:
			where = pk + " < " + strconv.FormatInt(next, 10)
		case next > hi:
			where = pk + " >= " + strconv.FormatInt(b, 10)
		default:
			where = pk + " >= " + strconv.FormatInt(b, 10) + " AND " + pk + " < " + strconv.FormatInt(next, 10)
		}
		out = append(out, &snapChunk{tbl: tbl, sql: base + " WHERE " + where, prog: prog, desc: name + " [" + where + "]"})
		if next > hi {
			break
		}
	}
	prog.ChunksOut.Store(int32(len(out)))
	return out, nil
}

// snapBatch is records a snapshot reader hands on, with their size
// estimates for the queue.
type snapBatch struct {
	recs  []*connect.Record
	sizes []int
}

// snapHandoff is how many records a snapshot reader hands on at a time.
const snapHandoff = 256

// readChunk runs one chunk's SELECT on a snapshot connection, streaming
// its rows, and sends their records in batches.
func (t *Task) readChunk(ctx context.Context, conn *client.Conn, ch *snapChunk, pos position, info serverInfo,
	shared map[string]any, out chan<- snapBatch) error {
	tbl := ch.tbl
	size := min(t.s.maxBatch, snapHandoff)
	batch := make([]*connect.Record, 0, size)
	sizes := make([]int, 0, size)
	var est sizeEstimator // the chunk's records are of one shape
	src := t.snapshotSource(tbl, pos)
	arena := newStructArena()
	times := debezium.NewTimes(time.Now())
	send := func() error {
		if len(batch) == 0 {
			return nil
		}
		ch.prog.Read.Add(int64(len(batch)))
		snapshotRowsRead.WithLabelValues(t.s.prefix, ch.prog.Name).Set(float64(ch.prog.Read.Load()))
		select {
		case out <- snapBatch{batch, sizes}:
		case <-ctx.Done():
			return ctx.Err()
		}
		batch = make([]*connect.Record, 0, size)
		sizes = make([]int, 0, size)
		src = t.snapshotSource(tbl, pos)
		times = debezium.NewTimes(time.Now())
		return nil
	}
	var result gm.Result
	err := conn.ExecuteSelectStreaming(ch.sql, &result, func(row []gm.FieldValue) error {
		r, err := tbl.decodeText(row, arena)
		if err != nil {
			return fmt.Errorf("snapshot of %s: %w", ch.desc, err)
		}
		env := arena.new(tbl.envSchema)
		debezium.FillEnvelope(env, debezium.OpRead, nil, r.val, src, times)
		rec := &connect.Record{Topic: tbl.topic, Partition: -1, ValueSchema: tbl.envSchema, Value: env,
			SourcePartition: t.partition, SourceOffset: shared}
		if tbl.keySchema != nil {
			rec.KeySchema, rec.Key = tbl.keySchema, r.key
		}
		batch = append(batch, rec)
		sizes = append(sizes, est.size(rec, r.bytes))
		if len(batch) >= size {
			return send()
		}
		return nil
	}, nil)
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return fmt.Errorf("snapshot of %s: %w", ch.desc, err)
	}
	if err := send(); err != nil {
		return err
	}
	if ch.prog.ChunksOut.Add(-1) == 0 {
		ch.prog.Done.Store(true)
		t.log.Info("snapshot of table done", "table", ch.prog.Name, "rows", ch.prog.Read.Load())
	}
	return nil
}

// decodeText is decodeRow of a text-protocol row. Its bytes are what
// debezium.RecordSize counts for its values, estimated from their text.
func (t *table) decodeText(row []gm.FieldValue, a *structArena) (rowValues, error) {
	var r rowValues
	r.val = a.new(t.valSchema)
	if t.keySchema != nil {
		r.key = a.new(t.keySchema)
	}
	for i, c := range t.cols {
		if c.valuePos < 0 && c.keyPos < 0 {
			continue
		}
		var v any
		if i < len(row) {
			f := &row[i]
			var err error
			if v, err = c.codec.convertText(f, a); err != nil {
				return r, fmt.Errorf("%s.%s column %s: %w", t.db, t.name, c.def.name, err)
			}
			n := c.codec.textSize(f)
			if c.valuePos >= 0 && c.keyPos >= 0 {
				n *= 2
			}
			r.bytes += n
		}
		if c.valuePos >= 0 {
			r.val.SetAt(c.valuePos, v)
		}
		if c.keyPos >= 0 {
			r.key.SetAt(c.keyPos, v)
		}
	}
	return r, nil
}

// textSize estimates what debezium.RecordSize counts for the Connect value
// of a text-protocol value: nothing for NULL, the boxed copy and the bytes
// of a string or byte slice, a decimal's fixed estimate, else a scalar box.
func (c *codec) textSize(f *gm.FieldValue) int {
	if f.Type == gm.FieldValueTypeNull {
		return 0
	}
	switch c.kind {
	case kString, kJSON, kEnum, kSet:
		return 16 + len(f.AsString())
	case kBytes, kGeometry:
		return 24 + len(f.AsString())
	case kDecimal:
		switch c.schema.Type {
		case connect.TypeString:
			return 16 + len(f.AsString())
		case connect.TypeBytes:
			return 64
		}
	}
	return 16
}

// convertText is convert of a text-protocol value. The common kinds are
// read from f directly: an integer is boxed once, as the schema's type, and
// temporal and decimal text is parsed from the row's bytes instead of a
// string copy of them. The others go through fieldValue and convert.
func (c *codec) convertText(f *gm.FieldValue, a *structArena) (any, error) {
	switch f.Type {
	case gm.FieldValueTypeNull:
		return nil, nil
	case gm.FieldValueTypeSigned:
		if c.kind == kInt && !c.unsigned {
			n := f.AsInt64()
			switch c.intType {
			case connect.TypeInt16:
				return int16(n), nil
			case connect.TypeInt32:
				return int32(n), nil
			}
			return n, nil
		}
	case gm.FieldValueTypeString:
		b := f.AsString()
		switch c.kind {
		case kString:
			return string(b), nil
		case kDecimal:
			return decimalValue(c, b, a)
		case kDate:
			days, zero, err := parseDate(b)
			if err != nil {
				return nil, err
			}
			if zero {
				return c.zero(), nil
			}
			return c.date(int32(days)), nil
		case kTime:
			us, err := parseTimeMicros(b)
			if err != nil {
				return nil, err
			}
			return c.micros(us), nil
		case kDatetime:
			us, zero, err := parseDatetimeMicros(b)
			if err != nil {
				return nil, err
			}
			if zero {
				return c.zero(), nil
			}
			return c.micros(us), nil
		case kTimestamp:
			us, zero, err := parseDatetimeMicros(b)
			if err != nil {
				return nil, err
			}
			if zero {
				return c.zeroTimestamp(), nil
			}
			return formatZoned(us, c.fsp), nil
		}
	}
	return c.convert(fieldValue(f), false, a)
}

// fieldValue returns a text-protocol value as convert expects it.
func fieldValue(f *gm.FieldValue) any {
	switch f.Type {
	case gm.FieldValueTypeNull:
		return nil
	case gm.FieldValueTypeSigned:
		return f.AsInt64()
	case gm.FieldValueTypeUnsigned:
		return f.AsUint64()
	case gm.FieldValueTypeFloat:
		return f.AsFloat64()
	}
	return f.AsString()
}

func (t *Task) snapshotSource(tbl *table, pos position) *connect.Struct {
	src := t.source.New(debezium.NewTimes(time.Now()), debezium.SnapshotTrue, tbl.db)
	src.SetAt(srcTable, tbl.name)
	src.SetAt(srcServerID, int64(0))
	src.SetAt(srcFile, pos.file)
	src.SetAt(srcPos, int64(pos.pos))
	src.SetAt(srcRow, int32(0))
	return src
}

// snapshotSchemaChanges publishes each snapshotted table's CREATE TABLE to
// the schema change topic, as Debezium does while snapshotting.
func (t *Task) snapshotSchemaChanges(ctx context.Context, meta *client.Conn, tables []*table, pos position) error {
	var recs []*connect.Record
	for _, tbl := range tables {
		r, err := meta.Execute("SHOW CREATE TABLE " + quoteIdent(tbl.db) + "." + quoteIdent(tbl.name))
		if err != nil {
			return fmt.Errorf("snapshot: SHOW CREATE TABLE %s.%s: %w", tbl.db, tbl.name, err)
		}
		ddl := getString(r, 0, 1)
		r.Close()
		src := t.snapshotSource(tbl, pos)
		recs = append(recs, t.schemaChangeRecord(src, tbl.db, ddl, []*connect.Struct{tableChange("CREATE", tbl)},
			map[string]any{offFile: pos.file, offPos: int64(pos.pos), offSnapshot: true, offSnapshotCompleted: false}))
	}
	if err := t.q.Push(ctx, recs, time.Second, nil); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return nil
}

// schemaChangeRecord builds an event of the schema change topic <prefix>.
func (t *Task) schemaChangeRecord(src *connect.Struct, db, ddl string, changes []*connect.Struct, off map[string]any) *connect.Record {
	key := connect.NewStruct(schemaChangeKeySchema)
	key.SetAt(0, db)
	val := connect.NewStruct(schemaChangeValueSchema)
	val.SetAt(0, src)
	val.SetAt(1, time.Now().UnixMilli())
	val.SetAt(2, db)
	val.SetAt(3, nil)
	val.SetAt(4, ddl)
	list := make([]any, len(changes))
	for i, c := range changes {
		list[i] = c
	}
	val.SetAt(5, list)
	return &connect.Record{Topic: t.s.prefix, Partition: 0, KeySchema: schemaChangeKeySchema, Key: key,
		ValueSchema: schemaChangeValueSchema, Value: val, SourcePartition: t.partition, SourceOffset: off}
}
