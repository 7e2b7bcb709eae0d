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

// Signal types of the signal table (signal.data.collection), as Debezium's.
const (
	signalExecuteSnapshot = "execute-snapshot"
	signalWindowOpen      = "snapshot-window-open"
	signalWindowClose     = "snapshot-window-close"
)

// incremental is a running incremental snapshot (Debezium's execute-snapshot
// signal): tables read in primary-key chunks while streaming goes on, each
// chunk between two watermark rows written to the signal table. Changes the
// binlog shows between the watermarks supersede the chunk's rows of the
// same key, which are dropped; the rest are emitted when the closing
// watermark arrives (the DBLog algorithm). Progress is kept in the offsets
// of the records, in Debezium's fields: the tables still to read and the key
// of the last row emitted; a restarted task resumes at the next chunk.
type incremental struct {
	queue []string // db.table still to read
	tbl   *table   // the table being read
	pkIdx []int    // its primary key columns' positions
	last  []any    // the key of the last row read
	done  []any    // the key of the last row emitted (last when the chunk's window closed)
	// resume is the progress a stored offset carried, applied when its
	// table is taken from the queue.
	resume *incProgress
	// off are the progress fields every record's offset carries; nil when
	// no incremental snapshot runs.
	off     map[string]any
	window  bool // between the open and close watermarks
	openID  string
	closeID string
	rows    int // rows of the chunk read
	buffer  map[string]chunkRow
	order   []string
	seq     int
}

// Offset fields of a running incremental snapshot, named as Debezium's:
// the tables still to read, the current one first (a JSON array of
// db.table names), and the primary key of the last row emitted (a JSON
// array of its values).
const (
	offIncCollections = "incremental_snapshot_collections"
	offIncPrimaryKey  = "incremental_snapshot_primary_key"
)

// incProgress is the incremental snapshot progress of a stored offset.
type incProgress struct {
	tables []string
	key    []any
}

// incrementalFrom reads the progress of a stored offset; nil when none.
func incrementalFrom(off map[string]any) *incProgress {
	cs, _ := off[offIncCollections].(string)
	if cs == "" {
		return nil
	}
	var p incProgress
	if err := json.Unmarshal([]byte(cs), &p.tables); err != nil || len(p.tables) == 0 {
		return nil
	}
	if ks, _ := off[offIncPrimaryKey].(string); ks != "" {
		d := json.NewDecoder(strings.NewReader(ks))
		d.UseNumber() // keys keep their digits
		if err := d.Decode(&p.key); err != nil {
			p.key = nil
		}
	}
	return &p
}

// resumeIncremental restarts the incremental snapshot a stored offset was
// in the middle of, at the chunk after the last one emitted.
func (st *streamer) resumeIncremental(p *incProgress) error {
	st.t.log.Info("resuming the incremental snapshot", "tables", p.tables, "after_key", p.key)
	st.inc.queue = append([]string(nil), p.tables...)
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
	var tables []string
	if inc.tbl != nil {
		tables = append(tables, inc.tbl.db+"."+inc.tbl.name)
	}
	tables = append(tables, inc.queue...)
	cs, _ := json.Marshal(tables)
	inc.off = map[string]any{offIncCollections: string(cs)}
	if inc.tbl != nil && inc.done != nil {
		ks, _ := json.Marshal(inc.done)
		inc.off[offIncPrimaryKey] = string(ks)
	}
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
		case signalExecuteSnapshot:
			var req struct {
				Collections []string `json:"data-collections"`
				Type        string   `json:"type"`
			}
			if err := json.Unmarshal([]byte(data), &req); err != nil {
				st.t.log.Warn("ignoring execute-snapshot signal with invalid data", "id", id, "err", err)
				continue
			}
			if req.Type != "" && !strings.EqualFold(req.Type, "incremental") {
				st.t.log.Warn("ignoring execute-snapshot signal: only incremental snapshots run while streaming", "id", id, "type", req.Type)
				continue
			}
			st.t.log.Info("incremental snapshot requested", "id", id, "tables", req.Collections)
			idle := inc.tbl == nil && len(inc.queue) == 0
			inc.queue = append(inc.queue, req.Collections...)
			if idle {
				if err := st.nextChunk(); err != nil {
					return err
				}
			}
		case signalWindowOpen:
			if id == inc.openID {
				inc.window = true
			}
		case signalWindowClose:
			if id == inc.closeID {
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
		if inc.tbl != nil && inc.last != nil && inc.rows == 0 {
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
			inc.tbl, inc.last, inc.done, inc.pkIdx = tbl, nil, nil, nil
			if r := inc.resume; r != nil && r.tables[0] == name {
				inc.last, inc.done = r.key, r.key
			}
			inc.resume = nil
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

// readChunk writes the opening watermark, reads up to
// incremental.snapshot.chunk.size rows after the last key into the buffer,
// and writes the closing watermark.
func (st *streamer) readChunk() error {
	inc := &st.inc
	tbl := inc.tbl
	inc.seq++
	inc.openID = fmt.Sprintf("penstock-%d-%d-open", time.Now().UnixNano(), inc.seq)
	inc.closeID = strings.TrimSuffix(inc.openID, "open") + "close"
	inc.buffer, inc.order, inc.rows, inc.window = map[string]chunkRow{}, nil, 0, false
	if err := st.writeSignal(inc.openID, signalWindowOpen); err != nil {
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
	q := "SELECT " + strings.Join(cols, ", ") + " FROM " + quoteIdent(tbl.db) + "." + quoteIdent(tbl.name)
	if inc.last != nil {
		lits := make([]string, len(inc.last))
		for i, v := range inc.last {
			lits[i] = sqlLiteral(v)
		}
		q += " WHERE (" + strings.Join(keys, ", ") + ") > (" + strings.Join(lits, ", ") + ")"
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
			if b, ok := vals[p].([]byte); ok {
				last[i] = string(b)
			} else {
				last[i] = vals[p]
			}
		}
		inc.last = last
		inc.rows++
		k := keyString(r.key)
		if _, dup := inc.buffer[k]; !dup {
			inc.order = append(inc.order, k)
		}
		env := st.arena.new(tbl.envSchema)
		debezium.FillEnvelope(env, debezium.OpRead, nil, r.val, nil, debezium.NewTimes(time.Now()))
		inc.buffer[k] = chunkRow{key: last, rec: &connect.Record{Topic: tbl.topic, Partition: -1, KeySchema: tbl.keySchema, Key: r.key,
			ValueSchema: tbl.envSchema, Value: env}}
		return nil
	}, nil)
	if err != nil {
		return fmt.Errorf("incremental snapshot of %s.%s: %w", tbl.db, tbl.name, err)
	}
	return st.writeSignal(inc.closeID, signalWindowClose)
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
	inc.window = false
	for _, k := range inc.order {
		row, ok := inc.buffer[k]
		if !ok {
			continue
		}
		inc.done = row.key
		st.updateProgress()
		rec := row.rec
		src := st.source(h, inc.tbl, 0)
		src.SetAt(debezium.SourceSnapshot, debezium.SnapshotIncremental)
		rec.Value.(*connect.Struct).SetAt(debezium.EnvSource, src)
		rec.SourcePartition, rec.SourceOffset = st.t.partition, st.txOffset(int64(h.Timestamp), st.tx.rowsEvents, 0)
		st.batch = append(st.batch, rec)
	}
	inc.done = inc.last
	st.updateProgress()
	inc.buffer, inc.order = nil, nil
}

// chunkRow is a row of the chunk being read, with its key values.
type chunkRow struct {
	key []any
	rec *connect.Record
}

// supersede drops from the open window's buffer the row a streamed change
// of tbl with key touched.
func (st *streamer) supersede(tbl *table, key *connect.Struct) {
	inc := &st.inc
	if !inc.window || inc.tbl == nil || key == nil || tbl.db != inc.tbl.db || tbl.name != inc.tbl.name {
		return
	}
	delete(inc.buffer, keyString(key))
}

// keyString identifies a key struct's values.
func keyString(k *connect.Struct) string {
	if k == nil {
		return ""
	}
	var b strings.Builder
	for i := range k.Schema().Fields {
		fmt.Fprintf(&b, "%v\x00", k.GetAt(i))
	}
	return b.String()
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
