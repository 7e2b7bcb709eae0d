package mysql

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	gm "github.com/go-mysql-org/go-mysql/mysql"
	"github.com/go-mysql-org/go-mysql/replication"
	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connectors/debezium"
)

// The streamer is the debezium.IncrementalSource of its incremental
// snapshots (Debezium's execute-snapshot signal): tables read in
// primary-key chunks while streaming goes on, each chunk between two
// watermark rows written to the signal table (debezium.ChunkWindow). Key
// values are kept as the server returns them, text as strings, and go back
// into the chunk query as literals.
var _ debezium.IncrementalSource[*table] = (*streamer)(nil)

// signal handles an insert into the signal table.
func (st *streamer) signal(h *replication.EventHeader, e *replication.RowsEvent) error {
	if h.EventType != replication.WRITE_ROWS_EVENTv2 && h.EventType != replication.WRITE_ROWS_EVENTv1 &&
		h.EventType != replication.WRITE_ROWS_EVENTv0 {
		return nil
	}
	emit := func(tbl *table, rec *connect.Record) {
		src := st.source(h, tbl, 0)
		src.SetAt(debezium.SourceSnapshot, debezium.SnapshotIncremental)
		rec.Value.(*connect.Struct).SetAt(debezium.EnvSource, src)
		rec.SourcePartition, rec.SourceOffset = st.t.partition, st.txOffset(int64(h.Timestamp), st.tx.rowsEvents, 0)
		st.batch = append(st.batch, rec)
	}
	for _, row := range e.Rows {
		if len(row) < 3 {
			continue
		}
		if err := st.inc.Signal(text(row[0]), text(row[1]), text(row[2]), emit); err != nil {
			return err
		}
	}
	return nil
}

// DataCollection describes the captured table db.table with a primary key;
// a table not found, not captured or without a primary key is skipped.
func (st *streamer) DataCollection(name string) (*table, error) {
	db, tname, ok := strings.Cut(name, ".")
	if !ok {
		return nil, fmt.Errorf("%w: data collection is not <database>.<table>", debezium.ErrSkipTable)
	}
	defs, pk, err := describe(st.meta, db, tname)
	if errors.Is(err, errTableNotFound) {
		return nil, fmt.Errorf("%w: %w", debezium.ErrSkipTable, err)
	} else if err != nil { // the server failed: the progress keeps the table for a restart
		return nil, fmt.Errorf("incremental snapshot of %s: %w", name, err)
	}
	tbl, err := st.s.buildTable(db, tname, defs, pk)
	if err != nil {
		return nil, err
	}
	if len(pk) == 0 || !tbl.captured {
		return nil, fmt.Errorf("%w: not captured or without a primary key", debezium.ErrSkipTable)
	}
	return tbl, nil
}

// MaximumKey reads the greatest primary key of tbl; nil when it is empty.
func (st *streamer) MaximumKey(tbl *table) ([]any, error) {
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

// ReadChunk reads up to limit rows of tbl with keys after after and at
// most max, as read records.
func (st *streamer) ReadChunk(tbl *table, after, max []any, limit int, add func(debezium.ChunkRow)) error {
	cols := make([]string, len(tbl.cols))
	for i, c := range tbl.cols {
		cols[i] = quoteIdent(c.def.name)
	}
	keys := make([]string, len(tbl.pk))
	var pkIdx []int // the key columns' positions in tbl.cols
	for i, k := range tbl.pk {
		keys[i] = quoteIdent(k)
		for j, c := range tbl.cols {
			if c.def.name == k {
				pkIdx = append(pkIdx, j)
			}
		}
	}
	q := "SELECT " + strings.Join(cols, ", ") + " FROM " + quoteIdent(tbl.db) + "." + quoteIdent(tbl.name) +
		" WHERE (" + strings.Join(keys, ", ") + ") <= (" + sqlLiterals(max) + ")"
	if after != nil {
		q += " AND (" + strings.Join(keys, ", ") + ") > (" + sqlLiterals(after) + ")"
	}
	q += " ORDER BY " + strings.Join(keys, ", ") + " LIMIT " + strconv.Itoa(limit)
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
		key := make([]any, len(pkIdx))
		for i, p := range pkIdx {
			key[i] = keyValue(vals[p])
		}
		env := st.arena.new(tbl.envSchema)
		debezium.FillEnvelope(env, debezium.OpRead, nil, r.val, nil, debezium.NewTimes(time.Now()))
		add(debezium.ChunkRow{Key: key, Rec: &connect.Record{Topic: tbl.topic, Partition: -1,
			KeySchema: tbl.keySchema, Key: r.key, ValueSchema: tbl.envSchema, Value: env}})
		return nil
	}, nil)
	if err != nil {
		return fmt.Errorf("incremental snapshot of %s.%s: %w", tbl.db, tbl.name, err)
	}
	return nil
}

// WriteWatermark inserts a watermark row into the signal table.
func (st *streamer) WriteWatermark(id, typ string) error {
	db, name, _ := strings.Cut(st.s.signalTable, ".")
	q := "INSERT INTO " + quoteIdent(db) + "." + quoteIdent(name) + " VALUES (" + sqlLiteral(id) + ", " + sqlLiteral(typ) + ", NULL)"
	if _, err := st.meta.Execute(q); err != nil {
		return fmt.Errorf("incremental snapshot: write the %s watermark to %s (%s): %w", typ, KeySignalCollection, st.s.signalTable, err)
	}
	return nil
}

// supersede drops from the chunk being read the row a streamed change of
// tbl with key touched.
func (st *streamer) supersede(tbl *table, key *connect.Struct) {
	if cur, ok := st.inc.Table(); ok && tbl.db == cur.db && tbl.name == cur.name {
		st.inc.Supersede(key)
	}
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
