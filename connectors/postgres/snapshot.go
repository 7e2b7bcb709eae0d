package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connectors/debezium"
)

// snapChunk is one COPY of a table, the whole table or a key range of it.
type snapChunk struct {
	tbl  *table
	sql  string
	prog *debezium.TableCounter
	desc string
}

// snapshot reads every captured table at the exported snapshot snapName and
// queues their rows as op=r events. With snapshot.max.threads > 1 several
// connections import the same snapshot and read chunks in parallel; a table
// with a single-column integer primary key is split into key ranges.
func (t *Task) snapshot(ctx context.Context, meta *pgx.Conn, tm *typeMap, snapName string, lsn pglogrepl.LSN) error {
	s := t.s
	started := time.Now()
	oids, _, err := s.capturedTables(ctx, meta)
	if err != nil {
		return err
	}
	var chunks []*snapChunk
	for _, oid := range oids {
		cat, err := describe(ctx, meta, oid)
		if err != nil {
			return err
		}
		tbl, err := s.buildTable(tm, oid, cat, cat.identity, cat.cols)
		if err != nil {
			return err
		}
		cs, err := t.planChunks(ctx, meta, tbl, cat)
		if err != nil {
			return err
		}
		chunks = append(chunks, cs...)
	}
	t.log.Info("snapshot started", "tables", len(oids), "chunks", len(chunks), "threads", s.snapshotThreads, "lsn", lsn)

	workers := min(s.snapshotThreads, max(len(chunks), 1))
	conns := make([]*pgx.Conn, 0, workers)
	defer func() {
		for _, c := range conns {
			c.Close(context.Background())
		}
	}()
	var xid int64
	for i := 0; i < workers; i++ {
		c, err := s.connectMeta(ctx)
		if err != nil {
			return err
		}
		conns = append(conns, c)
		if _, err := c.Exec(ctx, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"); err != nil {
			return fmt.Errorf("snapshot worker %d: begin: %w", i, err)
		}
		if _, err := c.Exec(ctx, "SET TRANSACTION SNAPSHOT '"+strings.ReplaceAll(snapName, "'", "")+"'"); err != nil {
			return fmt.Errorf("snapshot worker %d: import snapshot %s: %w", i, snapName, err)
		}
		if i == 0 {
			if err := c.QueryRow(ctx, "SELECT txid_snapshot_xmin(txid_current_snapshot())").Scan(&xid); err != nil {
				return fmt.Errorf("snapshot: read snapshot xmin: %w", err)
			}
		}
	}

	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	chunkCh := make(chan *snapChunk)
	out := make(chan []*connect.Record, workers*2)
	var wg sync.WaitGroup
	var errOnce sync.Once
	var firstErr error
	fail := func(err error) {
		errOnce.Do(func() { firstErr = err; cancel() })
	}
	shared := map[string]any{offLSN: int64(lsn), offTxID: xid, offTsUsec: started.UnixMicro(),
		offSnapshot: true, offLastSnapshotRecord: false}
	for i, c := range conns {
		wg.Add(1)
		go func(i int, c *pgx.Conn) {
			defer wg.Done()
			for ch := range chunkCh {
				if err := t.copyChunk(sctx, c, ch, lsn, xid, shared, out); err != nil {
					fail(err)
					return
				}
			}
		}(i, c)
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
	first := true
	var total int64
	lastLog := time.Now()
	for batch := range out {
		if len(batch) == 0 {
			continue
		}
		if first {
			debezium.SetSnapshot(batch[0], debezium.SnapshotFirst)
			first = false
		}
		total += int64(len(batch))
		send := batch
		if held != nil {
			send = append([]*connect.Record{held}, batch[:len(batch)-1]...)
		} else {
			send = batch[:len(batch)-1]
		}
		held = batch[len(batch)-1]
		if err := t.q.Push(sctx, send, time.Second, nil); err != nil {
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
			return nil
		}
		return firstErr
	}
	if held != nil {
		debezium.SetSnapshot(held, debezium.SnapshotLast)
		off := make(map[string]any, len(shared))
		for k, v := range shared {
			off[k] = v
		}
		off[offLastSnapshotRecord] = true
		held.SourceOffset = off
		if err := t.q.Push(ctx, []*connect.Record{held}, time.Second, nil); err != nil {
			return nil
		}
	}
	el := time.Since(started)
	t.log.Info("snapshot completed", "rows", total, "elapsed", el.Round(time.Millisecond),
		"rows_per_sec", int64(float64(total)/math.Max(el.Seconds(), 1e-3)))
	return nil
}

// planChunks splits a table into key ranges when it is large, has a
// single-column integer primary key and several threads read the snapshot.
func (t *Task) planChunks(ctx context.Context, meta *pgx.Conn, tbl *table, cat *catalogTable) ([]*snapChunk, error) {
	s := t.s
	name := cat.schema + "." + cat.name
	prog := &debezium.TableCounter{Name: name, Estimated: int64(cat.estRows)}
	t.progress.Add(prog)
	debezium.SnapshotRowsEstimated.WithLabelValues(s.prefix, name).Set(cat.estRows)
	debezium.SnapshotRowsRead.WithLabelValues(s.prefix, name).Set(0)
	cols := make([]string, len(tbl.cols))
	for i, c := range tbl.cols {
		cols[i] = pgx.Identifier{c.name}.Sanitize()
	}
	if len(cols) == 0 {
		cols = []string{"NULL"}
	}
	from := pgx.Identifier{cat.schema, cat.name}.Sanitize()
	base := "COPY (SELECT " + strings.Join(cols, ", ") + " FROM " + from
	whole := []*snapChunk{{tbl: tbl, sql: base + ") TO STDOUT", prog: prog, desc: name}}
	prog.ChunksOut.Store(1)
	if s.snapshotThreads <= 1 || len(cat.pk) != 1 {
		return whole, nil
	}
	var pkType uint32
	for _, c := range cat.cols {
		if c.name == cat.pk[0] {
			pkType = c.oid
		}
	}
	if pkType != oidInt2 && pkType != oidInt4 && pkType != oidInt8 {
		return whole, nil
	}
	pk := pgx.Identifier{cat.pk[0]}.Sanitize()
	var lo, hi *int64
	if err := meta.QueryRow(ctx, "SELECT min("+pk+")::int8, max("+pk+")::int8 FROM "+from).Scan(&lo, &hi); err != nil {
		return nil, fmt.Errorf("snapshot: key range of %s: %w", name, err)
	}
	if lo == nil || hi == nil {
		return whole, nil
	}
	span := float64(*hi) - float64(*lo) + 1
	est := cat.estRows
	if est <= 0 {
		est = span
	}
	n := int(math.Ceil(est / float64(s.chunkRows)))
	if n < 2 {
		return whole, nil
	}
	n = min(n, 10000)
	width := int64(math.Ceil(span / float64(n)))
	if width < 1 {
		width = 1
	}
	var out []*snapChunk
	for b := *lo; ; b += width {
		next := b + width
		var where string
		switch {
		case b == *lo && next > *hi:
			return whole, nil
		case b == *lo:
			where = pk + " < " + strconv.FormatInt(next, 10)
		case next > *hi:
			where = pk + " >= " + strconv.FormatInt(b, 10)
		default:
			where = pk + " >= " + strconv.FormatInt(b, 10) + " AND " + pk + " < " + strconv.FormatInt(next, 10)
		}
		out = append(out, &snapChunk{tbl: tbl, sql: base + " WHERE " + where + ") TO STDOUT", prog: prog,
			desc: name + " [" + where + "]"})
		if next > *hi {
			break
		}
	}
	prog.ChunksOut.Store(int32(len(out)))
	return out, nil
}

// copyChunk runs one chunk's COPY and sends its records in batches. Two
// goroutines share the work: this one reads the COPY data into blocks, a
// second one decodes the blocks into records, in order, so that reading from
// the connection and decoding overlap.
func (t *Task) copyChunk(ctx context.Context, conn *pgx.Conn, ch *snapChunk, lsn pglogrepl.LSN, xid int64,
	shared map[string]any, out chan<- []*connect.Record) error {
	s := t.s
	b := newSnapBuilder(t, ch.tbl, ch.desc, lsn, xid, shared)
	send := func() error {
		batch := b.take()
		if len(batch) == 0 {
			return nil
		}
		ch.prog.Read.Add(int64(len(batch)))
		debezium.SnapshotRowsRead.WithLabelValues(s.prefix, ch.prog.Name).Set(float64(ch.prog.Read.Load()))
		select {
		case out <- batch:
		case <-ctx.Done():
			return ctx.Err()
		}
		return nil
	}
	p := &copyParser{row: func(kinds []byte, data [][]byte) error {
		if err := b.row(kinds, data); err != nil {
			return err
		}
		if b.full() {
			return send()
		}
		return nil
	}}
	w := newBlockWriter()
	decoded := make(chan error, 1)
	go func() {
		var err error
		for blk := range w.full {
			if err == nil {
				if _, werr := p.Write(blk); werr != nil {
					err = p.err
					w.failed.Store(true)
				}
			}
			w.free <- blk[:0]
		}
		decoded <- err
	}()
	_, copyErr := conn.PgConn().CopyTo(ctx, w, ch.sql)
	w.close()
	// The decoder has ended: p and b are this goroutine's again.
	if err := <-decoded; err != nil {
		return err
	}
	if copyErr != nil {
		return fmt.Errorf("snapshot of %s: %w", ch.desc, copyErr)
	}
	if err := p.finish(); err != nil {
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

// Blocks of COPY data handed from the reading to the decoding goroutine.
const (
	copyBlockSize  = 64 << 10
	copyBlockCount = 4
)

// blockWriter collects COPY data into blocks for the decoding goroutine:
// full ones go out on full, and come back on free once decoded.
type blockWriter struct {
	cur    []byte
	full   chan []byte
	free   chan []byte
	failed atomic.Bool // the decoder failed: abort the COPY
}

func newBlockWriter() *blockWriter {
	w := &blockWriter{full: make(chan []byte, copyBlockCount), free: make(chan []byte, copyBlockCount+1)}
	for i := 0; i < copyBlockCount; i++ {
		w.free <- make([]byte, 0, copyBlockSize)
	}
	w.cur = make([]byte, 0, copyBlockSize)
	return w
}

func (w *blockWriter) Write(b []byte) (int, error) {
	if w.failed.Load() {
		return 0, errCopyAborted
	}
	if len(w.cur) > 0 && len(w.cur)+len(b) > cap(w.cur) {
		w.full <- w.cur
		w.cur = <-w.free
	}
	w.cur = append(w.cur, b...)
	return len(b), nil
}

// close sends the last block and ends the decoder's input.
func (w *blockWriter) close() {
	if len(w.cur) > 0 {
		w.full <- w.cur
		w.cur = nil
	}
	close(w.full)
}

// recordSlabSize is how many records are allocated together: fewer, larger
// allocations, while a record kept long after the others keeps only a small
// block alive.
const recordSlabSize = 64

// recordSlab hands out records allocated recordSlabSize at a time.
type recordSlab []connect.Record

func (s *recordSlab) next() *connect.Record {
	if len(*s) == 0 {
		*s = make([]connect.Record, recordSlabSize)
	}
	r := &(*s)[0]
	*s = (*s)[1:]
	return r
}

// snapBuilder turns the rows of one snapshot chunk into op=r records.
type snapBuilder struct {
	t      *Task
	tbl    *table
	desc   string
	lsn    pglogrepl.LSN
	xid    int64
	shared map[string]any
	batch  []*connect.Record
	slab   recordSlab
	arena  valueArena
	src    *connect.Struct // shared by the records of one batch
	now    time.Time
	times  debezium.Times
}

func newSnapBuilder(t *Task, tbl *table, desc string, lsn pglogrepl.LSN, xid int64, shared map[string]any) *snapBuilder {
	b := &snapBuilder{t: t, tbl: tbl, desc: desc, lsn: lsn, xid: xid, shared: shared}
	b.reset()
	return b
}

func (b *snapBuilder) reset() {
	b.batch = make([]*connect.Record, 0, b.size())
	b.now = time.Now()
	b.times = debezium.NewTimes(b.now)
	b.src = nil
}

// snapHandoff is how many records a snapshot reader hands on at a time (at
// most max.batch.size): small handoffs keep few records between the readers
// and the queue, so the garbage collector has less to scan in each cycle.
// Poll still returns up to max.batch.size records from the queue.
const snapHandoff = 256

func (b *snapBuilder) size() int { return min(b.t.s.maxBatch, snapHandoff) }

// full reports whether the batch is ready to hand on.
func (b *snapBuilder) full() bool { return len(b.batch) >= b.size() }

// take returns the batch and starts a new one.
func (b *snapBuilder) take() []*connect.Record {
	batch := b.batch
	if len(batch) > 0 {
		b.reset()
	}
	return batch
}

// row adds the record of one row.
func (b *snapBuilder) row(kinds []byte, data [][]byte) error {
	tbl := b.tbl
	r, err := tbl.decodeRow(kinds, data, nil, &b.arena)
	if err != nil {
		return fmt.Errorf("snapshot of %s: %w", b.desc, err)
	}
	env := b.arena.newStruct(tbl.envSchema)
	if b.src == nil {
		b.src = b.t.snapshotSource(tbl, b.times, b.lsn, b.xid)
	}
	debezium.FillEnvelope(env, debezium.OpRead, nil, r.val, b.src, b.times)
	rec := b.slab.next()
	*rec = connect.Record{Topic: tbl.topic, Partition: -1, ValueSchema: tbl.envSchema, Value: env,
		SourcePartition: b.t.partition, SourceOffset: b.shared}
	if tbl.keySchema != nil {
		rec.KeySchema, rec.Key = tbl.keySchema, r.key
	}
	b.batch = append(b.batch, rec)
	return nil
}

func (t *Task) snapshotSource(tbl *table, now debezium.Times, lsn pglogrepl.LSN, xid int64) *connect.Struct {
	src := t.s.source.New(now, debezium.SnapshotTrue, t.s.boxed.dbname)
	src.SetAt(srcSchema, tbl.schema)
	src.SetAt(srcTable, tbl.name)
	src.SetAt(srcTxID, xid)
	src.SetAt(srcLSN, int64(lsn))
	return src
}

// copyParser splits COPY text output into rows and fields, undoing COPY's
// backslash escapes; \N is NULL.
type copyParser struct {
	row     func(kinds []byte, data [][]byte) error
	partial []byte
	buf     []byte
	kinds   []byte
	data    [][]byte
	err     error
}

var errCopyAborted = errors.New("copy aborted")

// Write receives COPY data: usually one row per call, but any split works.
func (p *copyParser) Write(b []byte) (int, error) {
	n := len(b)
	if len(p.partial) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			p.partial = append(p.partial, b...)
			return n, nil
		}
		p.partial = append(p.partial, b[:i]...)
		err := p.line(p.partial)
		p.partial = p.partial[:0]
		if err != nil {
			p.err = err
			return 0, errCopyAborted
		}
		b = b[i+1:]
	}
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			p.partial = append(p.partial[:0], b...)
			break
		}
		if err := p.line(b[:i]); err != nil {
			p.err = err
			return 0, errCopyAborted
		}
		b = b[i+1:]
	}
	return n, nil
}

func (p *copyParser) finish() error {
	if len(p.partial) > 0 {
		return fmt.Errorf("COPY output ended inside a row")
	}
	return nil
}

func indexByte(b []byte, c byte) int { return bytes.IndexByte(b, c) }

// line splits one row into its fields. A field without escapes is passed
// as it is, a slice of l; only fields with backslashes are unescaped, into
// p.buf.
func (p *copyParser) line(l []byte) error {
	p.buf = p.buf[:0]
	p.kinds = p.kinds[:0]
	p.data = p.data[:0]
	for {
		i := bytes.IndexByte(l, '\t')
		f := l
		if i >= 0 {
			f = l[:i]
		}
		switch {
		case len(f) == 2 && f[0] == '\\' && f[1] == 'N':
			p.kinds = append(p.kinds, kindNull)
			p.data = append(p.data, nil)
		case bytes.IndexByte(f, '\\') < 0:
			p.kinds = append(p.kinds, kindText)
			p.data = append(p.data, f)
		default:
			start := len(p.buf)
			p.buf = appendUnescaped(p.buf, f)
			p.kinds = append(p.kinds, kindText)
			// Full slice expression: a later append to p.buf cannot
			// overwrite this field, even when it does not reallocate.
			p.data = append(p.data, p.buf[start:len(p.buf):len(p.buf)])
		}
		if i < 0 {
			break
		}
		l = l[i+1:]
	}
	return p.row(p.kinds, p.data)
}

// appendUnescaped appends the COPY text field f with escapes resolved.
func appendUnescaped(dst, f []byte) []byte {
	if indexByte(f, '\\') < 0 {
		return append(dst, f...)
	}
	for i := 0; i < len(f); i++ {
		c := f[i]
		if c != '\\' || i+1 >= len(f) {
			dst = append(dst, c)
			continue
		}
		i++
		switch e := f[i]; e {
		case 'b':
			dst = append(dst, '\b')
		case 'f':
			dst = append(dst, '\f')
		case 'n':
			dst = append(dst, '\n')
		case 'r':
			dst = append(dst, '\r')
		case 't':
			dst = append(dst, '\t')
		case 'v':
			dst = append(dst, '\v')
		case 'x':
			v, k := 0, 0
			for k < 2 && i+1 < len(f) && isHex(f[i+1]) {
				i++
				v = v*16 + hexVal(f[i])
				k++
			}
			dst = append(dst, byte(v))
		default:
			if e >= '0' && e <= '7' {
				v := int(e - '0')
				for k := 0; k < 2 && i+1 < len(f) && f[i+1] >= '0' && f[i+1] <= '7'; k++ {
					i++
					v = v*8 + int(f[i]-'0')
				}
				dst = append(dst, byte(v))
			} else {
				dst = append(dst, e)
			}
		}
	}
	return dst
}

func isHex(c byte) bool {
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')
}

func hexVal(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	}
	return int(c-'A') + 10
}
