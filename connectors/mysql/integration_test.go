package mysql

import (
	"database/sql"
	"math/rand"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/penstockhq/penstock/connect"
)

// Snapshot and stream together reproduce the table exactly while writes run
// during the snapshot: every row's history applies without a missing or
// doubled change, and the result equals the table row by row.
func TestSnapshotThenStreamUnderWrites(t *testing.T) {
	e := startMariaDB(t)
	e.exec(t, "CREATE TABLE items (id INT PRIMARY KEY, v INT NOT NULL, note VARCHAR(40))")
	tx, _ := e.db.Begin()
	for i := 1; i <= 20000; i++ {
		if _, err := tx.Exec("INSERT INTO items VALUES (?, ?, ?)", i, i, "n"); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	e.exec(t, "ANALYZE TABLE items")
	w := &fakeWorker{}
	task := startTask(t, w, e.props(map[string]string{KeySnapshotThreads: "3", KeySnapshotChunk: "3000", KeyMaxBatch: "500"}))

	var stop atomic.Bool
	var wg sync.WaitGroup
	var writes atomic.Int64
	for g := 0; g < 2; g++ {
		wg.Add(1)
		go func(seed int64) {
			defer wg.Done()
			rnd := rand.New(rand.NewSource(seed))
			for !stop.Load() {
				id := rnd.Intn(25000) + 1
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
				writes.Add(1)
			}
		}(int64(g))
	}
	pollUntil(t, task, w, 60*time.Second, func(r []*connect.Record) bool { return len(r) > 3000 })
	time.Sleep(300 * time.Millisecond)
	stop.Store(true)
	wg.Wait()
	t.Logf("%d concurrent writes", writes.Load())

	e.exec(t, "INSERT INTO items VALUES (-1, -1, 'end')")
	recs := pollUntil(t, task, w, 60*time.Second, func(r []*connect.Record) bool { return hasKey(r, "srv.app.items", int32(-1)) })
	state := replay(t, recs, "srv.app.items")
	checkTable(t, e.db, state)
	prog := task.Progress()
	if len(prog) != 1 || !prog[0].Done || prog[0].RowsRead < 15000 {
		t.Errorf("progress = %+v", prog)
	}
	// Streaming read binlog events: the lag behind them is known, in time.
	if lag := task.SourceLag(); lag.Behind < 0 || lag.Behind > time.Minute || lag.Bytes != -1 {
		t.Errorf("source lag = %+v", lag)
	}
}

// replay applies the change events of topic in order and fails on a change
// that does not fit (a lost or doubled event). It returns id -> (v, note).
func replay(t *testing.T, recs []*connect.Record, topic string) map[int32][2]any {
	t.Helper()
	state := map[int32][2]any{}
	snapshotDone := false
	var snapMarkers []string
	for i, r := range recs {
		if r.Topic != topic {
			continue
		}
		op := opOf(r)
		if op == "tombstone" {
			continue
		}
		if err := r.Value.(*connect.Struct).Validate(); err != nil {
			t.Fatalf("record %d: %v", i, err)
		}
		id := r.Key.(*connect.Struct).Get("id").(int32)
		switch op {
		case "r":
			if snapshotDone {
				t.Fatalf("record %d: snapshot read after streaming began", i)
			}
			if m := sourceField(r, "snapshot").(string); m != "true" {
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
	if len(snapMarkers) > 0 && !reflect.DeepEqual(snapMarkers, []string{"first", "last"}) {
		t.Errorf("snapshot markers = %v, want [first last]", snapMarkers)
	}
	return state
}

// checkTable compares the replayed state with the items table.
func checkTable(t *testing.T, db *sql.DB, state map[int32][2]any) {
	t.Helper()
	rows, err := db.Query("SELECT id, v, note FROM items")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var id, v int32
		var note sql.NullString
		if err := rows.Scan(&id, &v, &note); err != nil {
			t.Fatal(err)
		}
		n++
		got, ok := state[id]
		if !ok {
			t.Fatalf("row %d missing from the events", id)
		}
		var wantNote any
		if note.Valid {
			wantNote = note.String
		}
		if got[0] != v || got[1] != wantNote {
			t.Fatalf("row %d: events say %v, table says (%d, %v)", id, got, v, wantNote)
		}
	}
	if n != len(state) {
		t.Fatalf("table has %d rows, events %d", n, len(state))
	}
}
