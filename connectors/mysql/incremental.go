package mysql

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	gm "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connectors/debezium"
)

// incremental is a running incremental snapshot (Debezium's execute-snapshot
// signal): tables read in primary-key chunks while streaming goes on, each
// chunk between two watermark rows written to the signal table. Changes the
// binlog shows between the watermarks supersede the chunk's rows of the
// same key, which are dropped; the rest are emitted when the closing
// watermark arrives (the DBLog algorithm). Progress is kept in the offsets
// of the records, in Debezium's fields: the tables still to read, the key
// of the last row emitted and the greatest key of the table when its reading
// began, where chunks stop; a restarted task resumes at the next chunk.
type incremental struct {
	queue []string // db.table still to read
	tbl   *table   // the table being read
	pkIdx []int    // its primary key columns' positions
	last  []any    // the key of the last row read
	done  []any    // the key of the last row emitted (last when the chunk's window closed)
	max   []any    // the table's greatest key when its reading began: chunks stop there
	// resume is the progress a stored offset carried, applied when its
	// table is taken from the queue.
	resume *debezium.IncrementalProgress
	// off are the progress fields every record's offset carries; nil when
	// no incremental snapshot runs.
	off    map[string]any
	rows   int // rows of the chunk read
	chunks int // chunks of the table read
	win    debezium.ChunkWindow
}

// resumeIncremental restarts the incremental snapshot a stored offset was
// in the middle of, at the chunk after the last one emitted.
func (st *streamer) resumeIncremental(p *debezium.IncrementalProgress) error {
	st.t.log.Info("resuming the incremental snapshot", "tables", p.Tables, "after_key", p.Key)
	st.inc.queue = append([]string(nil), p.Tables...)
	st.inc.resume = p
	return st.nextChunk()
}

// updateProgress refreshes the offset fields of the progress.
func (st *streamer) updateProgress() {
	inc := &st.inc
	if inc.tbl == nil && len(inc.queue) == 0 {
		inc.off = nil
		return
	}
	var p debezium.IncrementalProgress
	if inc.tbl != nil {
		p.Tables, p.Key, p.Max = append(p.Tables, inc.tbl.db+"."+inc.tbl.name), inc.done, inc.max
	}
	p.Tables = append(p.Tables, inc.queue...)
	inc.off = p.Fields()
}

// signal handles an insert into the signal table.
func (st *streamer) signal(h *replication.EventHeader, e *replication.RowsEvent) error {
	if h.EventType != replication.WRITE_ROWS_EVENTv2 && h.EventType != replication.WRITE_ROWS_EVENTv1 &&
		h.EventType != replication.WRITE_ROWS_EVENTv0 {
		return nil
	}
	for _, row := range e.Rows {
		if len(row) < 3 {
			continue
		}
		id, typ, data := text(row[0]), text(row[1]), text(row[2])
		inc := &st.inc
		switch typ {
		case debezium.SignalExecuteSnapshot:
			tables, err := debezium.ParseExecuteSnapshot(data)
			if err != nil {
				st.t.log.Warn("ignoring execute-snapshot signal", "id", id, "err", err)
				continue
			}
			st.t.log.Info("incremental snapshot requested", "id", id, "tables", tables)
			idle := inc.tbl == nil && len(inc.queue) == 0
			inc.queue = append(inc.queue, tables...)
			if idle {
				if err := st.nextChunk(); err != nil {
					return err
				}
			}
		default:
			if inc.win.Watermark(id, typ) {
				st.closeWindow(h)
				if err := st.nextChunk(); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// nextChunk reads the next chunk of the incremental snapshot between two
// watermark rows; it moves to the next table when one is done.
func (st *streamer) nextChunk() error {
	inc := &st.inc
	for {
		if inc.tbl != nil && inc.chunks > 0 && inc.rows == 0 {
			st.t.log.Info("incremental snapshot of table done", "table", inc.tbl.db+"."+inc.tbl.name)
			inc.tbl = nil
		}
		if inc.tbl == nil {
			if len(inc.queue) == 0 {
				st.updateProgress()
				return nil
			}
			name := inc.queue[0]
			inc.queue = inc.queue[1:]
			db, tname, ok := strings.Cut(name, ".")
			if !ok {
				st.t.log.Warn("incremental snapshot: data collection is not <database>.<table>", "name", name)
				continue
			}
			defs, pk, err := describe(st.meta, db, tname)
			if err != nil {
				st.t.log.Warn("incremental snapshot: table skipped", "table", name, "err", err)
				continue
			}
			tbl, err := st.s.buildTable(db, tname, defs, pk)
			if err != nil {
				return err
			}
			if len(pk) == 0 || !tbl.captured {
				st.t.log.Warn("incremental snapshot: table skipped (not captured or without a primary key)", "table", name)
				continue
			}
			inc.tbl, inc.last, inc.done, inc.max, inc.pkIdx, inc.chunks = tbl, nil, nil, nil, nil, 0
			if r := inc.resume; r != nil && r.Tables[0] == name {
				inc.last, inc.done, inc.max = r.Key, r.Key, r.Max
			}
			inc.resume = nil
			if inc.max == nil {
				if inc.max, err = st.maxKey(tbl); err != nil {
					return err
				}
				if inc.max == nil {
					st.t.log.Info("incremental snapshot of table done (empty)", "table", name)
					inc.tbl = nil
					continue
				}
			}
			for _, k := range pk {
				for i, c := range tbl.cols {
					if c.def.name == k {
						inc.pkIdx = append(inc.pkIdx, i)
					}
				}
			}
		}
		st.updateProgress()
		return st.readChunk()
	}
}

// maxKey reads the greatest primary key of tbl; nil when it is empty.
func (st *streamer) maxKey(tbl *table) ([]any, error) {
	cols, order := make([]string, len(tbl.pk)), make([]string, len(tbl.pk))
	for i, k := range tbl.pk {
		cols[i] = quoteIdent(k)
		order[i] = cols[i] + " DESC"
	}
	q := "SELECT " + strings.Join(cols, ", ") + " FROM " + quoteIdent(tbl.db) + "." + quoteIdent(tbl.name) +
		" ORDER BY " + strings.Join(order, ", ") + " LIMIT 1"
	var max []any
	var result gm.Result
	err := st.meta.ExecuteSelectStreaming(q, &result, func(row []gm.FieldValue) error {
		max = make([]any, len(row))
		for i := range row {
			max[i] = keyValue(fieldValue(&row[i]))
		}
		return nil
	}, nil)
	if err != nil {
		return nil, fmt.Errorf("incremental snapshot of %s.%s: reading its greatest key: %w", tbl.db, tbl.name, err)
	}
	return max, nil
}

// keyValue is a key column's value as progress keeps it: text as a string.
func keyValue(v any) any {
	if b, ok := v.([]byte); ok {
		return string(b)
	}
	return v
}

// readChunk writes the opening watermark, reads up to
// incremental.snapshot.chunk.size rows after the last key into the buffer,
// and writes the closing watermark.
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
		cols[i] = quoteIdent(c.def.name)
	}
	keys := make([]string, len(tbl.pk))
	for i, k := range tbl.pk {
		keys[i] = quoteIdent(k)
	}
	q := "SELECT " + strings.Join(cols, ", ") + " FROM " + quoteIdent(tbl.db) + "." + quoteIdent(tbl.name) +
		" WHERE (" + strings.Join(keys, ", ") + ") <= (" + sqlLiterals(inc.max) + ")"
	if inc.last != nil {
		q += " AND (" + strings.Join(keys, ", ") + ") > (" + sqlLiterals(inc.last) + ")"
	}
	q += " ORDER BY " + strings.Join(keys, ", ") + " LIMIT " + strconv.Itoa(st.s.incrementalChunk)
	vals := make([]any, len(tbl.cols))
	var result gm.Result
	err := st.meta.ExecuteSelectStreaming(q, &result, func(row []gm.FieldValue) error {
		for i := range vals {
			vals[i] = fieldValue(&row[i])
		}
		r, err := tbl.decodeRow(vals, false, st.arena)
		if err != nil {
			return fmt.Errorf("incremental snapshot of %s.%s: %w", tbl.db, tbl.name, err)
		}
		last := make([]any, len(inc.pkIdx))
		for i, p := range inc.pkIdx {
			last[i] = keyValue(vals[p])
		}
		inc.last = last
		inc.rows++
		env := st.arena.new(tbl.envSchema)
		debezium.FillEnvelope(env, debezium.OpRead, nil, r.val, nil, debezium.NewTimes(time.Now()))
		inc.win.Add(debezium.KeyString(r.key), debezium.ChunkRow{Key: last, Rec: &connect.Record{Topic: tbl.topic, Partition: -1,
			KeySchema: tbl.keySchema, Key: r.key, ValueSchema: tbl.envSchema, Value: env}})
		return nil
	}, nil)
	if err != nil {
		return fmt.Errorf("incremental snapshot of %s.%s: %w", tbl.db, tbl.name, err)
	}
	return st.writeSignal(closeID, debezium.SignalWindowClose)
}

// writeSignal inserts a watermark row into the signal table.
func (st *streamer) writeSignal(id, typ string) error {
	db, name, _ := strings.Cut(st.s.signalTable, ".")
	q := "INSERT INTO " + quoteIdent(db) + "." + quoteIdent(name) + " VALUES (" + sqlLiteral(id) + ", " + sqlLiteral(typ) + ", NULL)"
	if _, err := st.meta.Execute(q); err != nil {
		return fmt.Errorf("incremental snapshot: write the %s watermark to %s (%s): %w", typ, KeySignalCollection, st.s.signalTable, err)
	}
	return nil
}

// closeWindow emits the chunk's rows no change superseded. Each record's
// offset names its own key as the last emitted, so a restart from it reads
// the rest of the chunk again; the records after the chunk name its last.
func (st *streamer) closeWindow(h *replication.EventHeader) {
	inc := &st.inc
	for _, row := range inc.win.Close() {
		inc.done = row.Key
		st.updateProgress()
		rec := row.Rec
		src := st.source(h, inc.tbl, 0)
		src.SetAt(debezium.SourceSnapshot, debezium.SnapshotIncremental)
		rec.Value.(*connect.Struct).SetAt(debezium.EnvSource, src)
		rec.SourcePartition, rec.SourceOffset = st.t.partition, st.txOffset(int64(h.Timestamp), st.tx.rowsEvents, 0)
		st.batch = append(st.batch, rec)
	}
	inc.done = inc.last
	st.updateProgress()
}

// supersede drops from the open window's buffer the row a streamed change
// of tbl with key touched.
func (st *streamer) supersede(tbl *table, key *connect.Struct) {
	inc := &st.inc
	if !inc.win.Open() || inc.tbl == nil || key == nil || tbl.db != inc.tbl.db || tbl.name != inc.tbl.name {
		return
	}
	inc.win.Supersede(debezium.KeyString(key))
}

// sqlLiterals is a key's values as a comma-separated list of literals.
func sqlLiterals(key []any) string {
	lits := make([]string, len(key))
	for i, v := range key {
		lits[i] = sqlLiteral(v)
	}
	return strings.Join(lits, ", ")
}

// sqlLiteral renders a key value as a MySQL literal.
func sqlLiteral(v any) string {
	switch x := v.(type) {
	case nil:
		return "NULL"
	case int64:
		return strconv.FormatInt(x, 10)
	case uint64:
		return strconv.FormatUint(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case json.Number: // a key read back from a stored offset
		if _, err := strconv.ParseFloat(string(x), 64); err == nil {
			return string(x)
		}
		return "NULL"
	case string:
		r := strings.NewReplacer(`\`, `\\`, `'`, `\'`, "\x00", `\0`)
		return "'" + r.Replace(x) + "'"
	}
	return sqlLiteral(fmt.Sprint(v))
}
