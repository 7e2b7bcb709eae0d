package postgres

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connectors/debezium"
	names "github.com/penstockhq/penstock/internal/debeziumnames"
)

// Snapshot and stream together reproduce the table exactly while writes run
// during the snapshot: every row's history applies without a missing or
// doubled change, and the result equals the table row by row.
func TestSnapshotThenStreamUnderWrites(t *testing.T) {
	e := startPG(t)
	e.exec(t, "CREATE TABLE items (id int PRIMARY KEY, v int NOT NULL, note text)",
		"INSERT INTO items SELECT g, g, 'n' || g FROM generate_series(1, 30000) g",
		"ANALYZE items")
	w := &fakeWorker{}
	task := startTask(t, w, e.props(map[string]string{KeySnapshotThreads: "3", KeySnapshotChunk: "4000", KeyMaxBatch: "500"}))

	// Writers change rows while the snapshot runs.
	stopWrites := writeItems(t, e, 2, 40000)
	// Let writes overlap the snapshot, then stop them.
	pollUntil(t, task, w, 60*time.Second, func(r []*connect.Record) bool { return len(r) > 5000 })
	time.Sleep(300 * time.Millisecond)
	writes := stopWrites()
	t.Logf("%d concurrent writes", writes)

	// Wait for the stream to catch up: a marker row written last.
	e.exec(t, "INSERT INTO items VALUES (-1, -1, 'end')")
	recs := pollUntil(t, task, w, 60*time.Second, func(r []*connect.Record) bool {
		for i := len(r) - 1; i >= 0 && i >= len(r)-3000; i-- {
			if r[i].Key != nil && r[i].Key.(*connect.Struct).Get("id") == int32(-1) {
				return true
			}
		}
		return false
	})

	state := map[int32][2]any{}
	snapshotDone := false
	var snapMarkers []string
	for i, r := range recs {
		if r.Topic != "srv.public.items" {
			t.Fatalf("record %d: topic %s", i, r.Topic)
		}
		op := opOf(r)
		if op == "tombstone" {
			continue
		}
		id := r.Key.(*connect.Struct).Get("id").(int32)
		switch op {
		case "r":
			if snapshotDone {
				t.Fatalf("record %d: snapshot read after streaming began", i)
			}
			src := r.Value.(*connect.Struct).Get("source").(*connect.Struct)
			if m := src.Get("snapshot").(string); m != "true" {
				snapMarkers = append(snapMarkers, m)
			}
			if _, dup := state[id]; dup {
				t.Fatalf("record %d: snapshot read id %d twice", i, id)
			}
			state[id] = [2]any{field(r, "after", "v"), field(r, "after", "note")}
		case "c":
			snapshotDone = true
			if _, dup := state[id]; dup {
				t.Fatalf("record %d: create of id %d, which exists: a doubled change", i, id)
			}
			state[id] = [2]any{field(r, "after", "v"), field(r, "after", "note")}
		case "u":
			snapshotDone = true
			if _, ok := state[id]; !ok {
				t.Fatalf("record %d: update of id %d, which does not exist: a lost change", i, id)
			}
			state[id] = [2]any{field(r, "after", "v"), field(r, "after", "note")}
		case "d":
			snapshotDone = true
			if _, ok := state[id]; !ok {
				t.Fatalf("record %d: delete of id %d, which does not exist: a lost change", i, id)
			}
			delete(state, id)
		}
	}
	if !reflect.DeepEqual(snapMarkers, []string{"first", "last"}) {
		t.Errorf("snapshot markers = %v, want [first last]", snapMarkers)
	}
	checkItems(t, e, state)
	prog := task.Progress()
	if len(prog) != 1 || !prog[0].Done || prog[0].RowsRead < 30000-writes {
		t.Errorf("progress = %+v", prog)
	}
}

// Every mapped type arrives the same through the snapshot (COPY) and the
// stream (pgoutput).
func TestTypesRoundTrip(t *testing.T) {
	e := startPG(t)
	e.exec(t, "CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')",
		`CREATE TABLE types (id int PRIMARY KEY, i2 int2, i4 int4, i8 int8, f4 float4, f8 float8, b bool,
		  t text, vc varchar(10), c char(3), by bytea, n numeric(10,3), nu numeric, d date, tm time, tm3 time(3),
		  ts timestamp, ts3 timestamp(3), tstz timestamptz, ttz timetz, iv interval, u uuid, j json, jb jsonb,
		  m mood, ai int[], at text[], x xml, inet inet)`)
	insert := `INSERT INTO types VALUES ($1, -2, 40000, 5000000000, 1.5, -2.25, true, 'tab	and "q"', 'vc', 'ab',
	  '\x00ff'::bytea, 1234.5, -0.000123, '2024-02-29', '23:59:59.999999', '01:02:03.456',
	  '2024-02-29 12:00:00.123456', '2024-02-29 12:00:00.5', '2024-02-29 12:00:00+02', '10:00:00-01:30', '1 day 1 hour',
	  'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '{"a":[1,2]}', '{"b": null}', 'happy', '{1,NULL,3}', '{"x y",z}',
	  '<a>b</a>', '10.0.0.1/8')`
	if _, err := e.conn.Exec(context.Background(), insert, 1); err != nil {
		t.Fatal(err)
	}
	w := &fakeWorker{}
	task := startTask(t, w, e.props(nil))
	pollUntil(t, task, w, 30*time.Second, func(r []*connect.Record) bool { return len(r) >= 1 })
	if _, err := e.conn.Exec(context.Background(), insert, 2); err != nil {
		t.Fatal(err)
	}
	recs := pollUntil(t, task, w, 30*time.Second, func(r []*connect.Record) bool { return len(r) >= 2 })
	want := map[string]any{
		"i2": int16(-2), "i4": int32(40000), "i8": int64(5000000000), "f4": float32(1.5), "f8": -2.25, "b": true,
		"t": "tab\tand \"q\"", "vc": "vc", "c": "ab ", "by": []byte{0, 0xff},
		"d": int32(19782), "tm": int64(86399999999), "tm3": int32(3723456),
		"ts": int64(1709208000123456), "ts3": int64(1709208000500), "tstz": "2024-02-29T10:00:00Z", "ttz": "11:30:00Z",
		"iv": int64(25 * 3600 * 1e6), "u": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "j": `{"a":[1,2]}`, "jb": `{"b": null}`,
		"m": "happy", "ai": []any{int32(1), nil, int32(3)}, "at": []any{"x y", "z"}, "x": "<a>b</a>", "inet": "10.0.0.1/8",
	}
	for i, r := range recs[:2] {
		wantOp := []string{"r", "c"}[i]
		if op := opOf(r); op != wantOp {
			t.Fatalf("record %d op %s, want %s", i, op, wantOp)
		}
		env := r.Value.(*connect.Struct)
		if err := env.Validate(); err != nil {
			t.Errorf("%s: envelope invalid: %v", wantOp, err)
		}
		after := env.Get("after").(*connect.Struct)
		for k, v := range want {
			if got := after.Get(k); !reflect.DeepEqual(got, v) {
				t.Errorf("%s: %s = %#v, want %#v", wantOp, k, got, v)
			}
		}
		if d := after.Get("n").(connect.Decimal); d.String() != "1234.500" {
			t.Errorf("%s: numeric(10,3) = %s", wantOp, d)
		}
		if u, sc := unscaledBig(after.Get("nu").(*connect.Struct)); u.Int64() != -123 || sc != 6 {
			t.Errorf("%s: numeric = %v scale %d", wantOp, u, sc)
		}
		vs := env.Schema().Fields[envAfter].Schema
		if f, _ := vs.Field("m"); f.Schema.Parameters["allowed"] != "sad,ok,happy" || f.Schema.Name != names.Enum {
			t.Errorf("enum schema %+v", f.Schema)
		}
		if f, _ := vs.Field("tstz"); f.Schema.Name != names.ZonedTimestamp {
			t.Errorf("timestamptz schema %+v", f.Schema)
		}
		if vs.Name != "srv.public.types.Value" || env.Schema().Name != "srv.public.types.Envelope" || r.KeySchema.Name != "srv.public.types.Key" {
			t.Errorf("schema names %s %s %s", vs.Name, env.Schema().Name, r.KeySchema.Name)
		}
	}
}

// Updates and deletes under each replica identity, key changes, tombstones,
// truncates, logical decoding messages and schema changes.
func TestReplicaIdentitiesAndEvents(t *testing.T) {
	e := startPG(t)
	e.exec(t, "CREATE TABLE def (id int PRIMARY KEY, v text NOT NULL, w text)",
		"CREATE TABLE full_t (id int PRIMARY KEY, v text NOT NULL, w text)",
		"ALTER TABLE full_t REPLICA IDENTITY FULL",
		"CREATE TABLE nothing_t (id int PRIMARY KEY, v text)",
		"ALTER TABLE nothing_t REPLICA IDENTITY NOTHING")
	w := &fakeWorker{}
	task := startTask(t, w, e.props(map[string]string{KeySnapshotMode: "no_data", KeySkippedOps: "none"}))
	// Wait until streaming runs (slot created) before writing.
	waitSlot(t, e, "debezium")
	e.exec(t,
		"INSERT INTO def VALUES (1, 'a', 'x')", "UPDATE def SET v = 'b' WHERE id = 1", "UPDATE def SET id = 2 WHERE id = 1", "DELETE FROM def WHERE id = 2",
		"INSERT INTO full_t VALUES (1, 'a', 'x')", "UPDATE full_t SET v = 'b' WHERE id = 1", "DELETE FROM full_t WHERE id = 1",
		"INSERT INTO nothing_t VALUES (1, 'a')",
		"TRUNCATE full_t",
		"SELECT pg_logical_emit_message(true, 'pfx', 'hello')",
		"ALTER TABLE def ADD COLUMN extra int", "INSERT INTO def VALUES (3, 'c', NULL, 42)",
		"ALTER TABLE def DROP COLUMN w", "INSERT INTO def VALUES (4, 'd', 43)",
	)
	recs := pollUntil(t, task, w, 30*time.Second, func(r []*connect.Record) bool { return len(r) >= 16 })
	var got []string
	for _, r := range recs {
		got = append(got, strings.TrimPrefix(r.Topic, "srv.")+":"+opOf(r))
	}
	want := []string{
		"public.def:c", "public.def:u", "public.def:d", "public.def:tombstone", "public.def:c", "public.def:d", "public.def:tombstone",
		"public.full_t:c", "public.full_t:u", "public.full_t:d", "public.full_t:tombstone",
		"public.nothing_t:c", "public.full_t:t", "message:m", "public.def:c", "public.def:c",
	}
	if !reflect.DeepEqual(got[:len(want)], want) {
		t.Fatalf("events\n got %v\nwant %v", got, want)
	}
	// DEFAULT: an update without key change has no before; the delete's before has the key only.
	if b := recs[1].Value.(*connect.Struct).Get("before"); b != nil {
		t.Errorf("default update before = %v", b)
	}
	if field(recs[2], "before", "id") != int32(1) {
		t.Errorf("key change delete before id = %v", field(recs[2], "before", "id"))
	}
	if field(recs[5], "before", "id") != int32(2) || field(recs[5], "before", "v") != nil {
		t.Errorf("default delete before = %v", recs[5].Value.(*connect.Struct).Get("before"))
	}
	// FULL: before has every column.
	if field(recs[8], "before", "v") != "a" || field(recs[8], "before", "w") != "x" || field(recs[8], "after", "v") != "b" {
		t.Errorf("full update = %v", recs[8].Value)
	}
	if field(recs[9], "before", "w") != "x" {
		t.Errorf("full delete = %v", recs[9].Value)
	}
	// Message.
	msg := recs[13].Value.(*connect.Struct).Get("message").(*connect.Struct)
	if msg.Get("prefix") != "pfx" || string(msg.Get("content").([]byte)) != "hello" {
		t.Errorf("message = %v", msg)
	}
	// Schema changes without restart.
	if field(recs[14], "after", "extra") != int32(42) {
		t.Errorf("added column = %v", recs[14].Value)
	}
	vs := recs[15].Value.(*connect.Struct).Get("after").(*connect.Struct)
	if _, has := vs.Schema().Field("w"); has || vs.Get("extra") != int32(43) {
		t.Errorf("dropped column still there: %v", vs)
	}
	for i, r := range recs {
		if r.Value != nil {
			if err := r.Value.(*connect.Struct).Validate(); err != nil {
				t.Errorf("record %d invalid: %v", i, err)
			}
		}
	}
	// NOTHING: PostgreSQL itself refuses published updates.
	if _, err := e.conn.Exec(context.Background(), "UPDATE nothing_t SET v = 'b'"); err == nil {
		t.Error("update of a REPLICA IDENTITY NOTHING table succeeded")
	}
}

func waitSlot(t *testing.T, e *pgEnv, slot string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		var active bool
		err := e.conn.QueryRow(context.Background(), "SELECT active AND confirmed_flush_lsn IS NOT NULL FROM pg_replication_slots WHERE slot_name=$1", slot).Scan(&active)
		if err == nil && active {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("slot never became active")
}

// An unchanged TOASTed value is never emitted as data: the placeholder and
// the header under DEFAULT, the real value under FULL.
func TestUnchangedToast(t *testing.T) {
	e := startPG(t)
	e.exec(t, "CREATE TABLE doc (id int PRIMARY KEY, body text, n int)",
		"CREATE TABLE doc_full (id int PRIMARY KEY, body text, n int)", "ALTER TABLE doc_full REPLICA IDENTITY FULL")
	w := &fakeWorker{}
	task := startTask(t, w, e.props(map[string]string{KeySnapshotMode: "no_data"}))
	waitSlot(t, e, "debezium")
	big := "SELECT string_agg(md5(g::text), '') FROM generate_series(1, 400) g" // 12.8 kB, incompressible
	e.exec(t, "INSERT INTO doc SELECT 1, ("+big+"), 0", "UPDATE doc SET n = 1",
		"INSERT INTO doc_full SELECT 1, ("+big+"), 0", "UPDATE doc_full SET n = 1")
	recs := pollUntil(t, task, w, 30*time.Second, func(r []*connect.Record) bool { return len(r) >= 4 })
	upd := recs[1]
	if field(upd, "after", "body") != "__debezium_unavailable_value" || field(upd, "after", "n") != int32(1) {
		t.Errorf("default update after = %v", upd.Value)
	}
	if h, ok := upd.Headers.Last(UnavailableColumnsHeader); !ok || h.Value != "body" {
		t.Errorf("header = %v %v", h, ok)
	}
	full := recs[3]
	if body, _ := field(full, "after", "body").(string); len(body) != 12800 {
		t.Errorf("full update body has %d chars", len(body))
	}
	if _, ok := full.Headers.Last(UnavailableColumnsHeader); ok {
		t.Error("full update has the unavailable header")
	}
}

// A restart from a stored offset taken in the middle of a transaction
// neither loses nor repeats a change; the slot's confirmed LSN moves only
// with Commit.
func TestRestartAndCommit(t *testing.T) {
	e := startPG(t)
	e.exec(t, "CREATE TABLE r (id int PRIMARY KEY)")
	w := &fakeWorker{}
	props := e.props(map[string]string{KeySnapshotMode: "initial", KeyMaxBatch: "3", KeyHeartbeatMs: "100", KeyTableExclude: `public\.other`})
	task := startTask(t, w, props)
	waitSlot(t, e, "debezium")
	before := slotConfirmed(t, e, "debezium")
	e.exec(t, "BEGIN", "INSERT INTO r SELECT generate_series(1, 10)", "COMMIT",
		"INSERT INTO r VALUES (11)")
	isRow := func(r *connect.Record) bool { return r.Topic == "srv.public.r" }
	recs := pollUntil(t, task, w, 30*time.Second, func(rs []*connect.Record) bool {
		n := 0
		for _, r := range rs {
			if isRow(r) {
				n++
			}
		}
		return n >= 11
	})
	var rows []*connect.Record
	for _, r := range recs {
		if isRow(r) {
			rows = append(rows, r)
		}
	}
	// Nothing committed yet: the slot has not moved (heartbeats are not committed either).
	time.Sleep(500 * time.Millisecond)
	if got := slotConfirmed(t, e, "debezium"); got != before {
		t.Fatalf("slot moved from %s to %s without Commit", before, got)
	}
	// Flush up to the 4th row of the 10-row transaction.
	w.commit(t, task, rows[3])
	// Mid-transaction: only the position before the transaction may be confirmed.
	time.Sleep(300 * time.Millisecond)
	mid := slotConfirmed(t, e, "debezium")
	if got := must(pglogrepl.ParseLSN(mid)); uint64(got) > uint64(rows[3].SourceOffset[offLSNCommit].(int64)) {
		t.Fatalf("confirmed %s beyond the partly flushed transaction's commit", mid)
	}
	if err := task.Stop(); err != nil {
		t.Fatal(err)
	}
	e.exec(t, "INSERT INTO r VALUES (12)")

	// Restart with the stored offset: rows 5..12 exactly once.
	w2 := &fakeWorker{stored: w.stored}
	task2 := startTask(t, w2, props)
	recs2 := pollUntil(t, task2, w2, 30*time.Second, func(rs []*connect.Record) bool {
		for _, r := range rs {
			if isRow(r) && r.Key.(*connect.Struct).Get("id") == int32(12) {
				return true
			}
		}
		return false
	})
	var ids []int32
	var last *connect.Record
	for _, r := range recs2 {
		if isRow(r) {
			ids = append(ids, r.Key.(*connect.Struct).Get("id").(int32))
			last = r
		}
	}
	if !reflect.DeepEqual(ids, []int32{5, 6, 7, 8, 9, 10, 11, 12}) {
		t.Fatalf("after restart ids = %v, want 5..12", ids)
	}
	// Commit the last record: the slot moves past it.
	w2.commit(t, task2, last)
	deadline := time.Now().Add(5 * time.Second)
	for {
		got := must(pglogrepl.ParseLSN(slotConfirmed(t, e, "debezium")))
		if uint64(got) > uint64(last.SourceOffset[offLSN].(int64)) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("slot at %s never passed committed LSN %d", got, last.SourceOffset[offLSN])
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Idle captured tables: heartbeats carry newer positions; committing one
	// releases WAL written by other tables.
	e.exec(t, "CREATE TABLE other (x int)", "INSERT INTO other SELECT generate_series(1, 1000)")
	var cur pglogrepl.LSN
	if err := e.conn.QueryRow(context.Background(), "SELECT pg_current_wal_lsn()::text").Scan(&cur); err != nil {
		t.Fatal(err)
	}
	hb := pollUntil(t, task2, w2, 10*time.Second, func(rs []*connect.Record) bool {
		r := rs[len(rs)-1]
		p, _ := debezium.OffsetInt(r.SourceOffset[offLSNProc])
		if testing.Verbose() {
			t.Logf("%d records; last %s lsn_proc %s, want %s", len(rs), r.Topic, pglogrepl.LSN(p), cur)
		}
		return r.Topic == "__debezium-heartbeat.srv" && p >= int64(cur)
	})
	w2.commit(t, task2, hb[len(hb)-1])
	deadline = time.Now().Add(5 * time.Second)
	for must(pglogrepl.ParseLSN(slotConfirmed(t, e, "debezium"))) < cur {
		if time.Now().After(deadline) {
			t.Fatalf("heartbeat commit did not advance the slot to %s", cur)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Clear errors: an active slot, a user without replication rights.
func TestSetupErrors(t *testing.T) {
	e := startPG(t)
	e.exec(t, "CREATE TABLE x (id int PRIMARY KEY)", "CREATE ROLE norepl LOGIN", "GRANT SELECT ON x TO norepl")
	w := &fakeWorker{}
	task := startTask(t, w, e.props(map[string]string{KeySnapshotMode: "no_data"}))
	waitSlot(t, e, "debezium")
	_ = task

	t2 := NewTask()
	if err := t2.Start(context.Background(), &fakeWorker{}, e.props(map[string]string{KeySnapshotMode: "no_data"})); err != nil {
		t.Fatal(err)
	}
	defer t2.Stop()
	err := pollError(t, t2, 30*time.Second)
	if !strings.Contains(err.Error(), "is active") {
		t.Errorf("active slot error = %v", err)
	}

	t3 := NewTask()
	p := e.props(map[string]string{KeySlotName: "other"})
	p[KeyUser] = "norepl"
	if err := t3.Start(context.Background(), &fakeWorker{}, p); err != nil {
		t.Fatal(err)
	}
	defer t3.Stop()
	err = pollError(t, t3, 10*time.Second)
	if !strings.Contains(err.Error(), "lacks replication rights") {
		t.Errorf("replication rights error = %v", err)
	}
}

func pollError(t *testing.T, task *Task, timeout time.Duration) error {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if _, err := task.Poll(context.Background()); err != nil {
			return err
		}
	}
	t.Fatal("no error")
	return nil
}
