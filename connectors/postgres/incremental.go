package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connectors/debezium"
)

// incremental is a running incremental snapshot (Debezium's execute-snapshot
// signal): tables read in primary-key chunks while streaming goes on, each
// chunk between two watermark rows inserted into the signal table
// (debezium.ChunkWindow). The watermarks are rows of the signal table, as
// Debezium writes them, rather than pg_logical_emit_message: the signal
// table must be published anyway for the execute-snapshot request to be
// streamed, rows work on every server version (messages in pgoutput need
// PostgreSQL 14), and a committed insert is streamed at its commit, in the
// same order as the changes it must be compared with.
//
// Progress is kept in the offsets of the records (debezium.IncrementalProgress,
// with the table's greatest key when its reading began, where chunks stop);
// key values are kept as PostgreSQL's text of them, which the chunk query
// takes back as parameters of the key columns' types.
type incremental struct {
	queue  []string // schema.table still to read
	tbl    *table   // the table being read
	keyPos []int    // positions in tbl.cols of its key columns, in key order
	last   []any    // the key of the last row read
	done   []any    // the key of the last row emitted
	max    []any    // the table's greatest key when its reading began: chunks stop there
	rows   int      // rows of the chunk read
	chunks int      // chunks of the table read
	// resume is the progress a stored offset carried, applied when its
	// table is taken from the queue.
	resume *debezium.IncrementalProgress
	// off are the progress fields every record's offset carries; nil when
	// no incremental snapshot runs.
	off map[string]any
	win debezium.ChunkWindow
}

// resumeIncremental restarts the incremental snapshot a stored offset was
// in the middle of, at the chunk after the last row emitted.
func (st *streamer) resumeIncremental(p *debezium.IncrementalProgress) error {
	st.t.log.Info("resuming the incremental snapshot", "tables", p.Tables, "after_key", p.Key)
	st.inc.queue = append([]string(nil), p.Tables...)
	st.inc.resume = p
	return st.nextChunk()
}

// updateProgress refreshes the offset fields of the progress.
func (st *streamer) updateProgress() {
	inc := &st.inc
	var p debezium.IncrementalProgress
	if inc.tbl != nil {
		p.Tables, p.Key, p.Max = append(p.Tables, inc.tbl.schema+"."+inc.tbl.name), inc.done, inc.max
	}
	p.Tables = append(p.Tables, inc.queue...)
	inc.off = p.Fields()
}

// signal handles a row inserted into the signal table (columns id, type,
// data), streamed at lsn.
func (st *streamer) signal(row *walTuple, lsn pglogrepl.LSN) error {
	col := func(i int) string {
		if i < len(row.kinds) && row.kinds[i] == kindText {
			return string(row.data[i])
		}
		return ""
	}
	id, typ, data := col(0), col(1), col(2)
	inc := &st.inc
	if typ != debezium.SignalExecuteSnapshot {
		if inc.win.Watermark(id, typ) {
			st.closeWindow(lsn)
			return st.nextChunk()
		}
		return nil
	}
	if st.tx.events < st.tx.skip {
		// Sent again after a restart, with records of its transaction
		// emitted after it before the restart: the stored offset, one of
		// those or later, carries the progress of the snapshot it asked for.
		return nil
	}
	tables, err := debezium.ParseExecuteSnapshot(data)
	if err != nil {
		st.t.log.Warn("ignoring execute-snapshot signal", "id", id, "err", err)
		return nil
	}
	st.t.log.Info("incremental snapshot requested", "id", id, "tables", tables)
	idle := inc.tbl == nil && len(inc.queue) == 0
	inc.queue = append(inc.queue, tables...)
	if idle {
		return st.nextChunk()
	}
	st.updateProgress()
	return nil
}

// nextChunk reads the next chunk of the incremental snapshot; it moves to
// the next table when one is done.
func (st *streamer) nextChunk() error {
	inc := &st.inc
	for {
		if inc.tbl != nil && inc.chunks > 0 && inc.rows < st.s.incrementalChunk {
			st.t.log.Info("incremental snapshot of table done", "table", inc.tbl.schema+"."+inc.tbl.name)
			inc.tbl = nil
		}
		if inc.tbl == nil {
			if len(inc.queue) == 0 {
				st.updateProgress()
				return nil
			}
			name := inc.queue[0]
			inc.queue = inc.queue[1:]
			tbl, err := st.incrementalTable(name)
			if err != nil {
				if st.ctx.Err() != nil {
					return nil
				}
				st.t.log.Warn("incremental snapshot: table skipped", "table", name, "err", err)
				continue
			}
			inc.tbl, inc.last, inc.done, inc.max, inc.rows, inc.chunks = tbl, nil, nil, nil, 0, 0
			if r := inc.resume; r != nil && r.Tables[0] == name {
				inc.last, inc.done, inc.max = r.Key, r.Key, r.Max
			}
			inc.resume = nil
			inc.keyPos = make([]int, tbl.keyCount)
			for i, c := range tbl.cols {
				if c.keyPos >= 0 {
					inc.keyPos[c.keyPos] = i
				}
			}
			if inc.max == nil {
				if inc.max, err = st.maxKey(); err != nil {
					return err
				}
				if inc.max == nil {
					st.t.log.Info("incremental snapshot of table done (empty)", "table", name)
					inc.tbl = nil
					continue
				}
			}
		}
		st.updateProgress()
		return st.readChunk()
	}
}

// incrementalTable describes the captured, keyed table schema.table.
func (st *streamer) incrementalTable(name string) (*table, error) {
	schema, rel, ok := strings.Cut(name, ".")
	if !ok {
		return nil, errors.New("data collection is not <schema>.<table>")
	}
	ctx, cancel := context.WithTimeout(st.ctx, 30*time.Second)
	defer cancel()
	var oid uint32
	err := st.meta.QueryRow(ctx, `SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	  WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')`, schema, rel).Scan(&oid)
	if err != nil {
		return nil, fmt.Errorf("find table: %w", err)
	}
	cat, err := describe(ctx, st.meta, oid)
	if err != nil {
		return nil, err
	}
	tbl, err := st.s.buildTable(st.tm, oid, cat, cat.identity, cat.cols)
	if err != nil {
		return nil, err
	}
	if !tbl.captured || tbl.keySchema == nil {
		return nil, errors.New("not captured or without a primary key (or message.key.columns)")
	}
	return tbl, nil
}

// maxKey reads the greatest key of the table being read, as text; nil when
// it is empty.
func (st *streamer) maxKey() ([]any, error) {
	inc := &st.inc
	tbl := inc.tbl
	keys, order := make([]string, len(inc.keyPos)), make([]string, len(inc.keyPos))
	for i, p := range inc.keyPos {
		keys[i] = quoteIdent(tbl.cols[p].name)
		order[i] = keys[i] + " DESC"
	}
	ctx, cancel := context.WithTimeout(st.ctx, time.Minute)
	defer cancel()
	rr := st.meta.PgConn().ExecParams(ctx, "SELECT "+strings.Join(keys, ", ")+" FROM "+pgx.Identifier{tbl.schema, tbl.name}.Sanitize()+
		" ORDER BY "+strings.Join(order, ", ")+" LIMIT 1", nil, nil, nil, nil)
	var max []any
	for rr.NextRow() {
		for _, v := range rr.Values() {
			max = append(max, string(v))
		}
	}
	if _, err := rr.Close(); err != nil {
		return nil, fmt.Errorf("incremental snapshot of %s.%s: reading its greatest key: %w", tbl.schema, tbl.name, err)
	}
	return max, nil
}

// readChunk inserts the opening watermark, reads up to
// incremental.snapshot.chunk.size rows after the last key into the window's
// buffer, and inserts the closing watermark.
func (st *streamer) readChunk() error {
	inc := &st.inc
	tbl := inc.tbl
	openID, closeID := inc.win.Begin()
	inc.rows = 0
	inc.chunks++
	if err := st.writeSignal(openID, debezium.SignalWindowOpen); err != nil {
		return err
	}
	cols := make([]string, len(tbl.cols))
	for i, c := range tbl.cols {
		cols[i] = quoteIdent(c.name)
	}
	keys := make([]string, len(inc.keyPos))
	for i, p := range inc.keyPos {
		keys[i] = quoteIdent(tbl.cols[p].name)
	}
	var params [][]byte
	placeholders := func(key []any) string { // key's values as the next parameters
		ph := make([]string, len(key))
		for i, v := range key {
			params = append(params, []byte(fmt.Sprint(v)))
			ph[i] = "$" + strconv.Itoa(len(params))
		}
		return strings.Join(ph, ", ")
	}
	q := "SELECT " + strings.Join(cols, ", ") + " FROM " + pgx.Identifier{tbl.schema, tbl.name}.Sanitize() +
		" WHERE (" + strings.Join(keys, ", ") + ") <= (" + placeholders(inc.max) + ")"
	if inc.last != nil {
		q += " AND (" + strings.Join(keys, ", ") + ") > (" + placeholders(inc.last) + ")"
	}
	q += " ORDER BY " + strings.Join(keys, ", ") + " LIMIT " + strconv.Itoa(st.s.incrementalChunk)
	ctx, cancel := context.WithTimeout(st.ctx, 5*time.Minute)
	defer cancel()
	rr := st.meta.PgConn().ExecParams(ctx, q, params, nil, nil, nil) // text in and out
	kinds := make([]byte, len(tbl.cols))
	now := debezium.NewTimes(time.Now())
	var decodeErr error
	for rr.NextRow() {
		vals := rr.Values()
		for i, v := range vals {
			kinds[i] = kindText
			if v == nil {
				kinds[i] = kindNull
			}
		}
		r, err := tbl.decodeRow(kinds, vals, nil, &st.arena)
		if err != nil {
			decodeErr = err
			break
		}
		last := make([]any, len(inc.keyPos))
		for i, p := range inc.keyPos {
			last[i] = string(vals[p])
		}
		inc.last = last
		inc.rows++
		env := st.arena.newStruct(tbl.envSchema)
		debezium.FillEnvelope(env, debezium.OpRead, nil, r.val, nil, now)
		inc.win.Add(debezium.KeyString(r.key), debezium.ChunkRow{Key: last, Rec: &connect.Record{Topic: tbl.topic, Partition: -1,
			KeySchema: tbl.keySchema, Key: r.key, ValueSchema: tbl.envSchema, Value: env}})
	}
	if _, err := rr.Close(); err != nil || decodeErr != nil {
		return fmt.Errorf("incremental snapshot of %s.%s: %w", tbl.schema, tbl.name, errors.Join(decodeErr, err))
	}
	return st.writeSignal(closeID, debezium.SignalWindowClose)
}

// writeSignal inserts a watermark row into the signal table; it commits at
// once and is streamed in commit order with the table's changes.
func (st *streamer) writeSignal(id, typ string) error {
	schema, name, _ := strings.Cut(st.s.signalTable, ".")
	ctx, cancel := context.WithTimeout(st.ctx, 30*time.Second)
	defer cancel()
	_, err := st.meta.Exec(ctx, "INSERT INTO "+pgx.Identifier{schema, name}.Sanitize()+" (id, type, data) VALUES ($1, $2, NULL)", id, typ)
	if err != nil {
		return fmt.Errorf("incremental snapshot: insert the %s watermark into %s (%s): %w", typ, KeySignalTable, st.s.signalTable, err)
	}
	return nil
}

// closeWindow emits the chunk's rows no change superseded, as reads. Each
// record's offset names its own key as the last emitted, so a restart from
// it reads the rest of the chunk again; the records after the chunk name
// its last.
func (st *streamer) closeWindow(lsn pglogrepl.LSN) {
	inc := &st.inc
	for _, row := range inc.win.Close() {
		inc.done = row.Key
		st.updateProgress()
		src := st.source(inc.tbl, lsn)
		src.SetAt(srcSnapshot, debezium.SnapshotIncremental)
		row.Rec.Value.(*connect.Struct).SetAt(envSource, src)
		st.emit(row.Rec, lsn)
	}
	inc.done = inc.last
	st.updateProgress()
}

// supersede drops from the open window's buffer the row a streamed change
// of tbl with key touched (ChunkWindow.Supersede does nothing while the
// window is shut).
func (st *streamer) supersede(tbl *table, key *connect.Struct) {
	inc := &st.inc
	if inc.tbl == nil || key == nil || tbl.relID != inc.tbl.relID {
		return
	}
	inc.win.Supersede(debezium.KeyString(key))
}
