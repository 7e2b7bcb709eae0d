package mysql

import (
	"math/rand"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/penstockhq/penstock/connect"
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
	// no_data streams from where the binlog is when the task starts: a
	// marker written until it shows says streaming runs.
	deadline := time.Now().Add(30 * time.Second)
	for !hasKey(w.records, "srv.app.items", int32(0)) {
		if time.Now().After(deadline) {
			t.Fatal("streaming did not start")
		}
		e.exec(t, "INSERT INTO items VALUES (0, 0, 'start') ON DUPLICATE KEY UPDATE v = v + 1")
		more, err := task.Poll(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		w.records = append(w.records, more...)
	}

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
