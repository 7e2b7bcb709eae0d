package mysql

import (
	"context"
	"fmt"
	"math/rand"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connectors/debezium"
)

// An execute-snapshot signal reads a table in chunks while streaming goes
// on and writes change it: the incremental reads and the streamed changes,
// applied in order, equal the table.
func TestIncrementalSnapshot(t *testing.T) {
	e := startMariaDB(t)
	e.exec(t, "CREATE TABLE items (id INT PRIMARY KEY, v INT NOT NULL, note VARCHAR(40))",
		"CREATE TABLE dbz_signal (id VARCHAR(64) PRIMARY KEY, type VARCHAR(32) NOT NULL, data VARCHAR(2048))")
	tx, _ := e.db.Begin()
	for i := 1; i <= 5000; i++ {
		if _, err := tx.Exec("INSERT INTO items VALUES (?, ?, 'n')", i, i); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	w := &fakeWorker{}
	task := startTask(t, w, e.props(map[string]string{KeySnapshotMode: SnapshotNoData, KeySchemaChanges: "false",
		KeySignalCollection: "app.dbz_signal", KeyIncrementalChunk: "500", KeyTableInclude: `app\.items`}))
	awaitStreaming(t, e, task, w, "INSERT INTO items VALUES (0, 0, 'start') ON DUPLICATE KEY UPDATE v = v + 1")

	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		rnd := rand.New(rand.NewSource(7))
		for !stop.Load() {
			id := rnd.Intn(6000) + 1
			var q string
			switch rnd.Intn(3) {
			case 0:
				q = "INSERT INTO items VALUES (?, 1, 'ins') ON DUPLICATE KEY UPDATE v = v + 1"
			case 1:
				q = "UPDATE items SET v = v + 1, note = 'upd' WHERE id = ?"
			default:
				q = "DELETE FROM items WHERE id = ?"
			}
			if _, err := e.db.Exec(q, id); err != nil {
				t.Error(err)
				return
			}
		}
	}()
	e.exec(t, `INSERT INTO dbz_signal VALUES ('ad-hoc-1', 'execute-snapshot', '{"data-collections": ["app.items"], "type": "incremental"}')`)
	pollUntil(t, task, w, 60*time.Second, func(r []*connect.Record) bool {
		n := 0
		for _, rec := range r {
			if rec.Value != nil && opOf(rec) == "r" {
				n++
			}
		}
		return n > 2500
	})
	stop.Store(true)
	wg.Wait()
	e.exec(t, "INSERT INTO items VALUES (-1, -1, 'end')")
	recs := pollUntil(t, task, w, 60*time.Second, func(r []*connect.Record) bool {
		n := 0
		for _, rec := range r {
			if rec.Value != nil && opOf(rec) == "r" {
				n++
			}
		}
		return n >= 4000 && hasKey(r, "srv.app.items", int32(-1))
	})
	// Wait for the incremental snapshot to end: no read for a while.
	for quiet := 0; quiet < 10; {
		more, err := task.Poll(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if len(more) == 0 {
			quiet++
		}
		recs = append(recs, more...)
	}
	state := map[int32][2]any{}
	reads := 0
	for _, r := range topicRecords(recs, "srv.app.items") {
		op := opOf(r)
		if op == "tombstone" {
			continue
		}
		id := r.Key.(*connect.Struct).Get("id").(int32)
		switch op {
		case "r":
			reads++
			if m := sourceField(r, "snapshot"); m != "incremental" {
				t.Fatalf("read with source.snapshot %v", m)
			}
			fallthrough
		case "c", "u":
			state[id] = [2]any{field(r, "after", "v"), field(r, "after", "note")}
		case "d":
			delete(state, id)
		}
	}
	t.Logf("%d incremental reads", reads)
	checkTable(t, e.db, state)
}

// A task stopped in the middle of an incremental snapshot, restarted from
// the offset of the last record the worker stored, goes on after that
// record's key: no row is lost, and the table is not read again from its
// start.
func TestIncrementalSnapshotResumesAfterRestart(t *testing.T) {
	e := startMariaDB(t)
	e.exec(t, "CREATE TABLE items (id INT PRIMARY KEY, v INT NOT NULL)",
		"CREATE TABLE dbz_signal (id VARCHAR(64) PRIMARY KEY, type VARCHAR(32) NOT NULL, data VARCHAR(2048))",
		"INSERT INTO items SELECT seq, seq FROM seq_1_to_5000")
	props := e.props(map[string]string{KeySnapshotMode: SnapshotNoData, KeySchemaChanges: "false",
		KeySignalCollection: "app.dbz_signal", KeyIncrementalChunk: "500", KeyTableInclude: `app\.items`})
	w := &fakeWorker{}
	task := startTask(t, w, props)
	awaitStreaming(t, e, task, w, "INSERT INTO items VALUES (0, 0) ON DUPLICATE KEY UPDATE v = v + 1")
	e.exec(t, `INSERT INTO dbz_signal VALUES ('resume-1', 'execute-snapshot', '{"data-collections": ["app.items"]}')`)
	reads := func(recs []*connect.Record) []*connect.Record {
		var out []*connect.Record
		for _, r := range recs {
			if r.Value != nil && opOf(r) == "r" {
				out = append(out, r)
			}
		}
		return out
	}
	first := reads(pollUntil(t, task, w, 60*time.Second, func(r []*connect.Record) bool { return len(reads(r)) >= 1700 }))
	cut := first[1699] // in the middle of the fourth chunk
	cutID := cut.Key.(*connect.Struct).Get("id").(int32)
	off := cut.SourceOffset
	if off[debezium.OffIncCollections] != `["app.items"]` || off[debezium.OffIncPrimaryKey] != fmt.Sprintf("[%d]", cutID) {
		t.Fatalf("offset of read %d lacks the progress: %v", cutID, off)
	}
	w.store(cut)
	if err := task.Stop(); err != nil {
		t.Fatal(err)
	}

	w2 := &fakeWorker{stored: off}
	task2 := startTask(t, w2, props)
	got := pollUntil(t, task2, w2, 60*time.Second, func(r []*connect.Record) bool {
		rs := reads(r)
		return len(rs) > 0 && rs[len(rs)-1].Key.(*connect.Struct).Get("id") == int32(5000)
	})
	seen := map[int32]bool{}
	for _, r := range first[:1700] {
		seen[r.Key.(*connect.Struct).Get("id").(int32)] = true
	}
	for i, r := range reads(got) {
		id := r.Key.(*connect.Struct).Get("id").(int32)
		if id <= cutID {
			t.Fatalf("after the restart, read %d is id %d, at or before the stored key %d", i, id, cutID)
		}
		seen[id] = true
	}
	for id := int32(1); id <= 5000; id++ {
		if !seen[id] {
			t.Fatalf("id %d never read", id)
		}
	}
	if last := got[len(got)-1].SourceOffset; last[debezium.OffIncPrimaryKey] != "[5000]" {
		t.Fatalf("offset of the last read: %v", last)
	}
}

// A signal naming an empty table and then another: the empty one ends after
// one chunk instead of reading empty chunks for ever, and the other is read.
func TestIncrementalSnapshotEmptyTable(t *testing.T) {
	e := startMariaDB(t)
	e.exec(t, "CREATE TABLE items (id INT PRIMARY KEY, v INT NOT NULL)", "CREATE TABLE empty (id INT PRIMARY KEY)",
		"CREATE TABLE dbz_signal (id VARCHAR(64) PRIMARY KEY, type VARCHAR(32) NOT NULL, data VARCHAR(2048))",
		"INSERT INTO items SELECT seq, seq FROM seq_1_to_700")
	w := &fakeWorker{}
	task := startTask(t, w, e.props(map[string]string{KeySnapshotMode: SnapshotNoData, KeySchemaChanges: "false",
		KeySignalCollection: "app.dbz_signal", KeyIncrementalChunk: "500", KeyTableInclude: `app\.(items|empty)`}))
	awaitStreaming(t, e, task, w, "INSERT INTO items VALUES (0, 0) ON DUPLICATE KEY UPDATE v = v + 1")
	e.exec(t, `INSERT INTO dbz_signal VALUES ('empty-1', 'execute-snapshot', '{"data-collections": ["app.empty", "app.items"]}')`)
	pollUntil(t, task, w, 30*time.Second, func(r []*connect.Record) bool {
		n := 0
		for _, rec := range r {
			if rec.Value != nil && opOf(rec) == "r" {
				n++
			}
		}
		return n >= 700
	})
}

// Rows inserted after an incremental snapshot began reading a table come
// by streaming only: chunks stop at the greatest key the table had then
// (Debezium's incremental_snapshot_maximum_key), so a table growing faster
// than it is read is still read to its end.
func TestIncrementalSnapshotStopsAtMaximumKey(t *testing.T) {
	logs := captureLog(t)
	e := startMariaDB(t)
	e.exec(t, "CREATE TABLE items (id INT PRIMARY KEY, v INT NOT NULL, note VARCHAR(40))",
		"CREATE TABLE dbz_signal (id VARCHAR(64) PRIMARY KEY, type VARCHAR(32) NOT NULL, data VARCHAR(2048))")
	for i := 1; i <= 300; i++ {
		e.exec(t, fmt.Sprintf("INSERT INTO items VALUES (%d, %d, 'n')", i, i))
	}
	w := &fakeWorker{}
	task := startTask(t, w, e.props(map[string]string{KeySnapshotMode: SnapshotNoData, KeySchemaChanges: "false",
		KeySignalCollection: "app.dbz_signal", KeyIncrementalChunk: "10", KeyTableInclude: `app\.items`}))
	pollUntil(t, task, w, 30*time.Second, func([]*connect.Record) bool { return strings.Contains(logs.String(), "streaming started") })
	e.exec(t, `INSERT INTO dbz_signal VALUES ('max-1', 'execute-snapshot', '{"data-collections": ["app.items"]}')`)
	reads := func(r []*connect.Record) (n, beyond int) {
		for _, rec := range topicRecords(r, "srv.app.items") {
			if opOf(rec) == "r" {
				if n++; rec.Key.(*connect.Struct).Get("id").(int32) > 300 {
					beyond++
				}
			}
		}
		return n, beyond
	}
	pollUntil(t, task, w, 30*time.Second, func(r []*connect.Record) bool { n, _ := reads(r); return n > 0 })
	for i := 1001; i <= 1300; i++ { // while the table is being read
		e.exec(t, fmt.Sprintf("INSERT INTO items VALUES (%d, %d, 'late')", i, i))
	}
	recs := pollUntil(t, task, w, 60*time.Second, func(r []*connect.Record) bool {
		return strings.Contains(logs.String(), "incremental snapshot of table done") && hasKey(r, "srv.app.items", int32(1300))
	})
	if n, beyond := reads(recs); n != 300 || beyond != 0 {
		t.Fatalf("%d reads, %d of rows inserted after the snapshot began; want the 300 rows it began with", n, beyond)
	}
}

// awaitStreaming writes id 0 of app.items with marker until its change
// event shows: no_data streams from where the binlog is when the task
// starts, so the event says streaming runs.
func awaitStreaming(t *testing.T, e *myEnv, task *Task, w *fakeWorker, marker string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !hasKey(w.records, "srv.app.items", int32(0)) {
		if time.Now().After(deadline) {
			t.Fatal("streaming did not start")
		}
		e.exec(t, marker)
		more, err := task.Poll(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		w.records = append(w.records, more...)
	}
}

// An execute-snapshot signal in a transaction resent after a restart, whose
// records after the signal were stored before it, is not acted on again:
// the stored offset carries the snapshot's progress, and each row is read
// once, not once more for a second request.
func TestIncrementalSignalResentAfterRestart(t *testing.T) {
	e := startMariaDB(t)
	e.exec(t, "CREATE TABLE items (id INT PRIMARY KEY, v INT NOT NULL)",
		"CREATE TABLE dbz_signal (id VARCHAR(64) PRIMARY KEY, type VARCHAR(32) NOT NULL, data VARCHAR(2048))",
		"INSERT INTO items SELECT seq, seq FROM seq_1_to_1000")
	props := e.props(map[string]string{KeySnapshotMode: SnapshotNoData, KeySchemaChanges: "false",
		KeySignalCollection: "app.dbz_signal", KeyIncrementalChunk: "100", KeyTableInclude: `app\.items`})
	w := &fakeWorker{}
	task := startTask(t, w, props)
	awaitStreaming(t, e, task, w, "INSERT INTO items VALUES (0, 0) ON DUPLICATE KEY UPDATE v = v + 1")
	after := commitAwaitUpdate(t, e, task, w, "UPDATE items SET v = v + 1 WHERE id = 1",
		`INSERT INTO dbz_signal VALUES ('resent-1', 'execute-snapshot', '{"data-collections": ["app.items"]}')`,
		"UPDATE items SET v = v + 1 WHERE id = 2")
	if after.SourceOffset[debezium.OffIncCollections] != `["app.items"]` {
		t.Fatalf("offset of the update after the signal lacks the progress: %v", after.SourceOffset)
	}
	w.store(after)
	if err := task.Stop(); err != nil {
		t.Fatal(err)
	}

	w2 := &fakeWorker{stored: w.stored}
	task2 := startTask(t, w2, props)
	var recs []*connect.Record
	for n := int32(2000); ; n++ { // a marker's offset carries no progress once the snapshot ended; above its greatest key
		if n == 2060 {
			t.Fatal("the incremental snapshot did not end")
		}
		e.exec(t, fmt.Sprintf("INSERT INTO items VALUES (%d, 0)", n))
		recs = pollUntil(t, task2, w2, 30*time.Second, func(r []*connect.Record) bool { return hasKey(r, "srv.app.items", n) })
		if recs[len(recs)-1].SourceOffset[debezium.OffIncCollections] == nil {
			break
		}
	}
	reads := map[any]int{}
	for _, r := range topicRecords(recs, "srv.app.items") {
		if opOf(r) == "r" {
			id := r.Key.(*connect.Struct).Get("id")
			if reads[id]++; reads[id] > 1 {
				t.Fatalf("id %v read twice after the restart: the resent signal was acted on again", id)
			}
		}
	}
	if len(reads) != 1001 {
		t.Fatalf("%d rows read after the restart, want 1001 (1-1000 and the marker 0)", len(reads))
	}
}

// commitAwaitUpdate runs qs in one transaction, the last an update of the
// row id 2 of items, and returns that update's record.
func commitAwaitUpdate(t *testing.T, e *myEnv, task *Task, w *fakeWorker, qs ...string) *connect.Record {
	t.Helper()
	tx, err := e.db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range qs {
		if _, err := tx.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	var after *connect.Record
	pollUntil(t, task, w, 30*time.Second, func(r []*connect.Record) bool {
		for _, rec := range r {
			if rec.Topic == "srv.app.items" && opOf(rec) == "u" && rec.Key.(*connect.Struct).Get("id") == int32(2) {
				after = rec
			}
		}
		return after != nil
	})
	return after
}

// Tables a signal queues while another table is being read are in the
// offsets of the records that follow it at once: a restart from one of
// those reads them too.
func TestIncrementalSignalQueuedWhileReadingInOffsets(t *testing.T) {
	e := startMariaDB(t)
	e.exec(t, "CREATE TABLE items (id INT PRIMARY KEY, v INT NOT NULL)", "CREATE TABLE other (id INT PRIMARY KEY)",
		"CREATE TABLE dbz_signal (id VARCHAR(64) PRIMARY KEY, type VARCHAR(32) NOT NULL, data VARCHAR(2048))",
		"INSERT INTO items SELECT seq, seq FROM seq_1_to_1000", "INSERT INTO other VALUES (1)")
	w := &fakeWorker{}
	task := startTask(t, w, e.props(map[string]string{KeySnapshotMode: SnapshotNoData, KeySchemaChanges: "false",
		KeySignalCollection: "app.dbz_signal", KeyIncrementalChunk: "100", KeyTableInclude: `app\.(items|other)`}))
	awaitStreaming(t, e, task, w, "INSERT INTO items VALUES (0, 0) ON DUPLICATE KEY UPDATE v = v + 1")
	// The first signal starts reading items, whose first chunk's watermarks
	// commit after this transaction; the second queues other meanwhile.
	after := commitAwaitUpdate(t, e, task, w,
		`INSERT INTO dbz_signal VALUES ('queued-1', 'execute-snapshot', '{"data-collections": ["app.items"]}')`,
		`INSERT INTO dbz_signal VALUES ('queued-2', 'execute-snapshot', '{"data-collections": ["app.other"]}')`,
		"UPDATE items SET v = v + 1 WHERE id = 2")
	if got := after.SourceOffset[debezium.OffIncCollections]; got != `["app.items","app.other"]` {
		t.Fatalf("offset of the update after the signals names %v as the tables to read, want both", got)
	}
}

// A table the connector fails to describe because its connection to the
// server broke fails the task rather than being skipped: the restarted task
// resumes from offsets that still name it. (Only a table that is not found,
// not captured or without a primary key is skipped.)
func TestIncrementalSnapshotFailsOnBrokenConnection(t *testing.T) {
	e := startMariaDB(t)
	e.exec(t, "CREATE TABLE items (id INT PRIMARY KEY, v INT NOT NULL)",
		"CREATE TABLE dbz_signal (id VARCHAR(64) PRIMARY KEY, type VARCHAR(32) NOT NULL, data VARCHAR(2048))",
		"INSERT INTO items SELECT seq, seq FROM seq_1_to_10")
	w := &fakeWorker{}
	task := startTask(t, w, e.props(map[string]string{KeySnapshotMode: SnapshotNoData, KeySchemaChanges: "false",
		KeySignalCollection: "app.dbz_signal", KeyIncrementalChunk: "100", KeyTableInclude: `app\.items`}))
	awaitStreaming(t, e, task, w, "INSERT INTO items VALUES (0, 0) ON DUPLICATE KEY UPDATE v = v + 1")
	// Kill every idle connection but this one: the task's metadata
	// connection among them (the binlog dump is not idle; the test's pool
	// reconnects).
	ctx := context.Background()
	c, err := e.db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := c.QueryContext(ctx, "SELECT ID FROM information_schema.PROCESSLIST WHERE ID <> CONNECTION_ID() AND COMMAND = 'Sleep'")
	if err != nil {
		t.Fatal(err)
	}
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	rows.Close()
	for _, id := range ids {
		if _, err := c.ExecContext(ctx, fmt.Sprintf("KILL CONNECTION %d", id)); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(30 * time.Second); ; { // KILL returns before the connection ends
			var n int
			if err := c.QueryRowContext(ctx, "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = ?", id).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("connection %d not ended", id)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	if _, err := c.ExecContext(ctx, `INSERT INTO dbz_signal VALUES ('broken-1', 'execute-snapshot', '{"data-collections": ["app.items"]}')`); err != nil {
		t.Fatal(err)
	}
	c.Close()
	if err := pollError(t, task); !strings.Contains(err.Error(), "app.items") {
		t.Fatalf("task failed with %v, want an error describing app.items", err)
	}
}
