package postgres

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connectors/debezium"
)

// incrementalProps are the properties of the incremental snapshot tests:
// streaming only, items captured, dbz_signal the signal table.
func incrementalProps(e *pgEnv) map[string]string {
	return e.props(map[string]string{KeySnapshotMode: SnapshotNoData, KeySignalTable: "public.dbz_signal",
		KeyIncChunk: "500", KeyTableInclude: `public\.items`, KeyMaxBatch: "500"})
}

// waitStreaming writes a marker row (id 0) until it is streamed.
func waitStreaming(t *testing.T, e *pgEnv, task *Task, w *fakeWorker) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		for _, r := range w.records {
			if r.Topic == "srv.public.items" && r.Key != nil && r.Key.(*connect.Struct).Get("id") == int32(0) {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("streaming did not start")
		}
		e.exec(t, "INSERT INTO items (id, v) VALUES (0, 0) ON CONFLICT (id) DO UPDATE SET v = items.v + 1")
		more, err := task.Poll(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		w.records = append(w.records, more...)
	}
}

func incrementalReads(recs []*connect.Record) []*connect.Record {
	var out []*connect.Record
	for _, r := range recs {
		if r.Topic == "srv.public.items" && r.Value != nil && opOf(r) == "r" {
			out = append(out, r)
		}
	}
	return out
}

// An execute-snapshot signal reads a table in chunks while streaming goes on
// and writers change it: the reads and the streamed changes, applied in
// order, equal the table.
func TestIncrementalSnapshot(t *testing.T) {
	e := startPG(t)
	e.exec(t, "CREATE TABLE items (id int PRIMARY KEY, v int NOT NULL, note text)",
		"CREATE TABLE dbz_signal (id varchar(64) PRIMARY KEY, type varchar(32) NOT NULL, data varchar(2048))",
		"INSERT INTO items SELECT g, g, 'n' FROM generate_series(1, 5000) g")
	w := &fakeWorker{}
	task := startTask(t, w, incrementalProps(e))
	waitStreaming(t, e, task, w)

	stopWrites := writeItems(t, e, 1, 6000)
	e.exec(t, `INSERT INTO dbz_signal VALUES ('ad-hoc-1', 'execute-snapshot', '{"data-collections": ["public.items"], "type": "incremental"}')`)
	pollUntil(t, task, w, 60*time.Second, func(r []*connect.Record) bool { return len(incrementalReads(r)) > 2500 })
	t.Logf("%d concurrent writes", stopWrites())
	e.exec(t, "INSERT INTO items VALUES (-1, -1, 'end')")
	recs := pollUntil(t, task, w, 60*time.Second, func(r []*connect.Record) bool {
		if len(incrementalReads(r)) < 3000 {
			return false
		}
		for _, rec := range r {
			if rec.Key != nil && rec.Topic == "srv.public.items" && rec.Key.(*connect.Struct).Get("id") == int32(-1) {
				return true
			}
		}
		return false
	})
	// The snapshot has ended when a record's offset no longer carries its
	// progress: wait for that.
	for quiet := 0; quiet < 10; {
		more, err := task.Poll(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(more) == 0 {
			quiet++
		}
		w.records = append(w.records, more...)
	}
	recs = w.records
	if last := recs[len(recs)-1].SourceOffset; last[debezium.OffIncCollections] != nil {
		e.exec(t, "INSERT INTO items VALUES (-2, -2, 'end')")
		recs = pollUntil(t, task, w, 30*time.Second, func(r []*connect.Record) bool {
			return r[len(r)-1].SourceOffset[debezium.OffIncCollections] == nil
		})
	}

	state := map[int32][2]any{}
	reads := 0
	for _, r := range recs {
		if r.Topic != "srv.public.items" || opOf(r) == "tombstone" {
			continue
		}
		id := r.Key.(*connect.Struct).Get("id").(int32)
		switch opOf(r) {
		case "r":
			reads++
			src := r.Value.(*connect.Struct).Get("source").(*connect.Struct)
			if m := src.Get("snapshot"); m != debezium.SnapshotIncremental {
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
	checkItems(t, e, state)
}

// A task stopped in the middle of an incremental snapshot, restarted from
// the offset of the last record the worker stored, goes on after that
// record's key: no row is lost and the table is not read again from its
// start.
func TestIncrementalSnapshotResumesAfterRestart(t *testing.T) {
	e := startPG(t)
	e.exec(t, "CREATE TABLE items (id int PRIMARY KEY, v int NOT NULL)",
		"CREATE TABLE dbz_signal (id varchar(64) PRIMARY KEY, type varchar(32) NOT NULL, data varchar(2048))",
		"INSERT INTO items SELECT g, g FROM generate_series(1, 5000) g")
	props := incrementalProps(e)
	props[KeyPublicationMode] = "filtered" // the signal table is added to the publication
	w := &fakeWorker{}
	task := startTask(t, w, props)
	waitStreaming(t, e, task, w)
	e.exec(t, `INSERT INTO dbz_signal VALUES ('resume-1', 'execute-snapshot', '{"data-collections": ["public.items"]}')`)
	first := incrementalReads(pollUntil(t, task, w, 60*time.Second, func(r []*connect.Record) bool { return len(incrementalReads(r)) >= 1700 }))
	cut := first[1699] // in the middle of the fourth chunk
	cutID := cut.Key.(*connect.Struct).Get("id").(int32)
	off := cut.SourceOffset
	if off[debezium.OffIncCollections] != `["public.items"]` || off[debezium.OffIncPrimaryKey] != fmt.Sprintf(`["%d"]`, cutID) {
		t.Fatalf("offset of read %d lacks the progress: %v", cutID, off)
	}
	w.commit(t, task, cut)
	if err := task.Stop(); err != nil {
		t.Fatal(err)
	}

	w2 := &fakeWorker{stored: off}
	task2 := startTask(t, w2, props)
	got := pollUntil(t, task2, w2, 60*time.Second, func(r []*connect.Record) bool {
		rs := incrementalReads(r)
		return len(rs) > 0 && rs[len(rs)-1].Key.(*connect.Struct).Get("id") == int32(5000)
	})
	seen := map[int32]bool{}
	for _, r := range first[:1700] {
		seen[r.Key.(*connect.Struct).Get("id").(int32)] = true
	}
	for i, r := range incrementalReads(got) {
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
	if last := got[len(got)-1].SourceOffset; last[debezium.OffIncPrimaryKey] != `["5000"]` {
		t.Fatalf("offset of the last read: %v", last)
	}
}

// One signal names an empty table and a table with a composite text and
// integer key: the empty one ends after one chunk, and every row of the
// other is read once, the key going back to the server as text.
func TestIncrementalSnapshotEmptyAndCompositeKey(t *testing.T) {
	e := startPG(t)
	e.exec(t, "CREATE TABLE items (id int PRIMARY KEY, v int)", "CREATE TABLE empty (id int PRIMARY KEY)",
		"CREATE TABLE pairs (k text, n int, v int, PRIMARY KEY (k, n))",
		"CREATE TABLE dbz_signal (id varchar(64) PRIMARY KEY, type varchar(32) NOT NULL, data varchar(2048))",
		`INSERT INTO pairs SELECT 'k''' || (g % 7) || ' é', g, g FROM generate_series(1, 1200) g`)
	props := incrementalProps(e)
	props[KeyTableInclude] = `public\.(items|empty|pairs)`
	w := &fakeWorker{}
	task := startTask(t, w, props)
	waitStreaming(t, e, task, w)
	e.exec(t, `INSERT INTO dbz_signal VALUES ('two', 'execute-snapshot', '{"data-collections": ["public.empty", "public.pairs"]}')`)
	pollUntil(t, task, w, 60*time.Second, func(r []*connect.Record) bool {
		return len(r) > 0 && r[len(r)-1].SourceOffset[debezium.OffIncPrimaryKey] == `["k'6 é","1196"]`
	})
	// A change after the last chunk carries no progress: the snapshot ended.
	e.exec(t, "INSERT INTO items VALUES (-1, -1)")
	recs := pollUntil(t, task, w, 30*time.Second, func(r []*connect.Record) bool {
		return len(r) > 0 && r[len(r)-1].Topic == "srv.public.items"
	})
	if off := recs[len(recs)-1].SourceOffset; off[debezium.OffIncCollections] != nil {
		t.Fatalf("offset after the snapshot: %v", off)
	}
	seen := map[[2]any]bool{}
	for _, r := range recs {
		if r.Topic != "srv.public.pairs" || opOf(r) != "r" {
			continue
		}
		k := r.Key.(*connect.Struct)
		id := [2]any{k.Get("k"), k.Get("n")}
		if seen[id] {
			t.Fatalf("%v read twice", id)
		}
		seen[id] = true
	}
	if len(seen) != 1200 {
		t.Fatalf("%d rows of pairs read, want 1200", len(seen))
	}
}

// Rows inserted after an incremental snapshot began reading a table come
// by streaming only: chunks stop at the greatest key the table had then
// (Debezium's incremental_snapshot_maximum_key), so a table growing faster
// than it is read is still read to its end.
func TestIncrementalSnapshotStopsAtMaximumKey(t *testing.T) {
	e := startPG(t)
	e.exec(t, "CREATE TABLE items (id int PRIMARY KEY, v int)",
		"CREATE TABLE dbz_signal (id varchar(64) PRIMARY KEY, type varchar(32) NOT NULL, data varchar(2048))",
		"INSERT INTO items SELECT g, g FROM generate_series(1, 300) g")
	props := incrementalProps(e)
	props[KeyIncChunk] = "10"
	w := &fakeWorker{}
	task := startTask(t, w, props)
	waitStreaming(t, e, task, w)
	e.exec(t, `INSERT INTO dbz_signal VALUES ('max-1', 'execute-snapshot', '{"data-collections": ["public.items"]}')`)
	pollUntil(t, task, w, 30*time.Second, func(r []*connect.Record) bool { return len(incrementalReads(r)) > 0 })
	for i := 1001; i <= 1300; i++ { // while the table is being read
		e.exec(t, fmt.Sprintf("INSERT INTO items VALUES (%d, %d)", i, i))
	}
	// A marker row's change carries no progress once the snapshot ended
	// (the snapshot's reads may come after a marker while it runs: the
	// marker is looked for anywhere, not as the last record).
	var recs []*connect.Record
	deadline := time.Now().Add(60 * time.Second)
	for n := 0; ; n++ {
		if time.Now().After(deadline) {
			t.Fatal("the incremental snapshot did not end: records still carry its progress")
		}
		e.exec(t, fmt.Sprintf("INSERT INTO items VALUES (%d, 0)", -1-n))
		isMarker := func(r *connect.Record) bool {
			return r.Topic == "srv.public.items" && r.Key != nil && r.Key.(*connect.Struct).Get("id") == int32(-1-n)
		}
		recs = pollUntil(t, task, w, 60*time.Second, func(r []*connect.Record) bool { return slices.ContainsFunc(r, isMarker) })
		if recs[slices.IndexFunc(recs, isMarker)].SourceOffset[debezium.OffIncCollections] == nil {
			break
		}
	}
	reads, beyond := incrementalReads(recs), 0
	for _, r := range reads {
		if r.Key.(*connect.Struct).Get("id").(int32) > 300 {
			beyond++
		}
	}
	if len(reads) != 301 || beyond != 0 {
		t.Fatalf("%d reads, %d of rows inserted after the snapshot began; want the 301 rows it began with (1-300 and the marker 0)", len(reads), beyond)
	}
}

// An execute-snapshot signal in the middle of a transaction, restarted from
// the offset of a record the transaction emitted before it, still starts
// the snapshot: that offset carries no progress of it.
func TestIncrementalSignalAfterStoredOffsetInItsTransaction(t *testing.T) {
	e := startPG(t)
	e.exec(t, "CREATE TABLE items (id int PRIMARY KEY, v int NOT NULL)",
		"CREATE TABLE dbz_signal (id varchar(64) PRIMARY KEY, type varchar(32) NOT NULL, data varchar(2048))",
		"INSERT INTO items SELECT g, g FROM generate_series(1, 1000) g")
	props := incrementalProps(e)
	w := &fakeWorker{}
	task := startTask(t, w, props)
	waitStreaming(t, e, task, w)
	e.exec(t, "BEGIN", "UPDATE items SET v = -1 WHERE id = 1",
		`INSERT INTO dbz_signal VALUES ('mid-tx', 'execute-snapshot', '{"data-collections": ["public.items"]}')`,
		"UPDATE items SET v = -2 WHERE id = 2", "COMMIT")
	isFirst := func(r *connect.Record) bool { return opOf(r) == "u" && field(r, "after", "v") == int32(-1) }
	recs := pollUntil(t, task, w, 30*time.Second, func(r []*connect.Record) bool {
		for _, rec := range r {
			if isFirst(rec) {
				return true
			}
		}
		return false
	})
	var first *connect.Record
	for _, r := range recs {
		if isFirst(r) {
			first = r
		}
	}
	if first.SourceOffset[debezium.OffIncCollections] != nil {
		t.Fatalf("the change before the signal carries the snapshot's progress: %v", first.SourceOffset)
	}
	w.commit(t, task, first)
	if err := task.Stop(); err != nil {
		t.Fatal(err)
	}

	w2 := &fakeWorker{stored: first.SourceOffset}
	task2 := startTask(t, w2, props)
	pollUntil(t, task2, w2, 30*time.Second, func(r []*connect.Record) bool { return len(incrementalReads(r)) >= 1000 })
}

// A table the connector fails to describe because its connection to the
// server broke fails the task rather than being skipped: the restarted task
// resumes from offsets that still name it. (Only a table that is not found,
// not captured or without a key is skipped.)
func TestIncrementalSnapshotFailsOnBrokenConnection(t *testing.T) {
	e := startPG(t)
	e.exec(t, "CREATE TABLE items (id int PRIMARY KEY, v int)",
		"CREATE TABLE dbz_signal (id varchar(64) PRIMARY KEY, type varchar(32) NOT NULL, data varchar(2048))",
		"INSERT INTO items SELECT g, g FROM generate_series(1, 10) g")
	w := &fakeWorker{}
	task := startTask(t, w, incrementalProps(e))
	waitStreaming(t, e, task, w)
	// A signal the connector ignores, then a change it shows: the signal
	// table's relation is known before the task's other connections end.
	e.exec(t, "INSERT INTO dbz_signal VALUES ('ignored', 'log', NULL)", "INSERT INTO items VALUES (-1, -1)")
	pollUntil(t, task, w, 30*time.Second, func(r []*connect.Record) bool {
		return len(r) > 0 && r[len(r)-1].Key.(*connect.Struct).Get("id") == int32(-1)
	})
	// pg_terminate_backend returns when the backend has ended (timeout ms).
	e.exec(t, `SELECT pg_terminate_backend(pid, 30000) FROM pg_stat_activity
	  WHERE pid <> pg_backend_pid() AND backend_type = 'client backend' AND datname = current_database()`,
		`INSERT INTO dbz_signal VALUES ('broken-1', 'execute-snapshot', '{"data-collections": ["public.items"]}')`)
	if err := pollError(t, task, 30*time.Second); !strings.Contains(err.Error(), "public.items") {
		t.Fatalf("task failed with %v, want an error describing public.items", err)
	}
}
