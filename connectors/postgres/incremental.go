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

// The streamer is the debezium.IncrementalSource of its incremental
// snapshots (Debezium's execute-snapshot signal): tables read in
// primary-key chunks while streaming goes on, each chunk between two
// watermark rows inserted into the signal table (debezium.ChunkWindow). The
// watermarks are rows of the signal table, as Debezium writes them, rather
// than pg_logical_emit_message: the signal table must be published anyway
// for the execute-snapshot request to be streamed, rows work on every
// server version (messages in pgoutput need PostgreSQL 14), and a committed
// insert is streamed at its commit, in the same order as the changes it
// must be compared with.
//
// Key values are kept as PostgreSQL's text of them, which the chunk query
// takes back as parameters of the key columns' types.
var _ debezium.IncrementalSource[*table] = (*streamer)(nil)

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
	if typ == debezium.SignalExecuteSnapshot && st.tx.events < st.tx.skip {
		// Sent again after a restart, with records of its transaction
		// emitted after it before the restart: the stored offset, one of
		// those or later, carries the progress of the snapshot it asked for.
		return nil
	}
	return st.inc.Signal(id, typ, data, func(tbl *table, rec *connect.Record) {
		src := st.source(tbl, lsn)
		src.SetAt(srcSnapshot, debezium.SnapshotIncremental)
		rec.Value.(*connect.Struct).SetAt(envSource, src)
		st.emit(rec, lsn)
	})
}

// DataCollection describes the captured, keyed table schema.table. A
// table not found, not captured, without a key or whose columns the
// connector cannot map is skipped; a failed query (a broken connection, the
// task stopping) fails the snapshot, whose progress the offsets keep.
func (st *streamer) DataCollection(name string) (*table, error) {
	schema, rel, ok := strings.Cut(name, ".")
	if !ok {
		return nil, fmt.Errorf("%w: data collection is not <schema>.<table>", debezium.ErrSkipTable)
	}
	ctx, cancel := context.WithTimeout(st.ctx, 30*time.Second)
	defer cancel()
	var oid uint32
	err := st.meta.QueryRow(ctx, `SELECT c.oid FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
	  WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p')`, schema, rel).Scan(&oid)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("%w: table not found", debezium.ErrSkipTable)
	} else if err != nil {
		return nil, fmt.Errorf("incremental snapshot of %s: find table: %w", name, err)
	}
	cat, err := describe(ctx, st.meta, oid)
	if err != nil {
		return nil, fmt.Errorf("incremental snapshot of %s: %w", name, err)
	}
	tbl, err := st.s.buildTable(st.tm, oid, cat, cat.identity, cat.cols)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", debezium.ErrSkipTable, err)
	}
	if !tbl.captured || tbl.keySchema == nil {
		return nil, fmt.Errorf("%w: not captured or without a primary key (or message.key.columns)", debezium.ErrSkipTable)
	}
	return tbl, nil
}

// keyColumns returns the positions in tbl.cols of its key columns, in key
// order, and their quoted names.
func keyColumns(tbl *table) (pos []int, names []string) {
	pos, names = make([]int, tbl.keyCount), make([]string, tbl.keyCount)
	for i, c := range tbl.cols {
		if c.keyPos >= 0 {
			pos[c.keyPos], names[c.keyPos] = i, quoteIdent(c.name)
		}
	}
	return pos, names
}

// MaximumKey reads the greatest key of tbl, as text; nil when it is empty.
func (st *streamer) MaximumKey(tbl *table) ([]any, error) {
	_, keys := keyColumns(tbl)
	order := make([]string, len(keys))
	for i, k := range keys {
		order[i] = k + " DESC"
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

// ReadChunk reads up to limit rows of tbl with keys after after and at
// most max, as read records.
func (st *streamer) ReadChunk(tbl *table, after, max []any, limit int, add func(debezium.ChunkRow)) error {
	cols := make([]string, len(tbl.cols))
	for i, c := range tbl.cols {
		cols[i] = quoteIdent(c.name)
	}
	keyPos, keys := keyColumns(tbl)
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
		" WHERE (" + strings.Join(keys, ", ") + ") <= (" + placeholders(max) + ")"
	if after != nil {
		q += " AND (" + strings.Join(keys, ", ") + ") > (" + placeholders(after) + ")"
	}
	q += " ORDER BY " + strings.Join(keys, ", ") + " LIMIT " + strconv.Itoa(limit)
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
		key := make([]any, len(keyPos))
		for i, p := range keyPos {
			key[i] = string(vals[p])
		}
		env := st.arena.newStruct(tbl.envSchema)
		debezium.FillEnvelope(env, debezium.OpRead, nil, r.val, nil, now)
		add(debezium.ChunkRow{Key: key, Rec: &connect.Record{Topic: tbl.topic, Partition: -1,
			KeySchema: tbl.keySchema, Key: r.key, ValueSchema: tbl.envSchema, Value: env}})
	}
	if _, err := rr.Close(); err != nil || decodeErr != nil {
		return fmt.Errorf("incremental snapshot of %s.%s: %w", tbl.schema, tbl.name, errors.Join(decodeErr, err))
	}
	return nil
}

// WriteWatermark inserts a watermark row into the signal table; it commits
// at once and is streamed in commit order with the table's changes.
func (st *streamer) WriteWatermark(id, typ string) error {
	schema, name, _ := strings.Cut(st.s.signalTable, ".")
	ctx, cancel := context.WithTimeout(st.ctx, 30*time.Second)
	defer cancel()
	_, err := st.meta.Exec(ctx, "INSERT INTO "+pgx.Identifier{schema, name}.Sanitize()+" (id, type, data) VALUES ($1, $2, NULL)", id, typ)
	if err != nil {
		return fmt.Errorf("incremental snapshot: insert the %s watermark into %s (%s): %w", typ, KeySignalTable, st.s.signalTable, err)
	}
	return nil
}

// supersede drops from the chunk being read the row a streamed change of
// tbl with key touched.
func (st *streamer) supersede(tbl *table, key *connect.Struct) {
	if cur, ok := st.inc.Table(); ok && cur.relID == tbl.relID {
		st.inc.Supersede(key)
	}
}
