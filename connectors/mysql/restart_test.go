package mysql

import (
	"maps"
	"testing"
	"time"

	"github.com/penstockhq/penstock/connect"
)

// A task stopped in the middle of a large transaction, restarted from the
// offset of the last record the worker stored, continues with the next row:
// nothing lost, nothing repeated. Both restart paths are covered: from the
// GTID set, and from file and position when the offset has no GTIDs.
func TestRestartInsideLargeTransaction(t *testing.T) {
	for _, mode := range []string{"gtid", "filepos"} {
		t.Run(mode, func(t *testing.T) {
			e := startMariaDB(t)
			e.exec(t, "CREATE TABLE items (id INT PRIMARY KEY, v INT NOT NULL, note VARCHAR(40))")
			w := &fakeWorker{}
			props := e.props(map[string]string{KeyMaxBatch: "100", KeyMaxQueue: "100", KeySchemaChanges: "false"})
			task := startTask(t, w, props)
			// An empty snapshot, then the stream is running: a marker shows it.
			e.exec(t, "INSERT INTO items VALUES (0, 0, 'm')")
			pollUntil(t, task, w, 30*time.Second, func(r []*connect.Record) bool { return hasKey(r, "srv.app.items", int32(0)) })

			const n = 6000
			tx, _ := e.db.Begin()
			for i := 1; i <= n; i++ {
				if _, err := tx.Exec("INSERT INTO items VALUES (?, ?, 'big')", i, i); err != nil {
					t.Fatal(err)
				}
			}
			if err := tx.Commit(); err != nil {
				t.Fatal(err)
			}
			before := len(w.records)
			recs := pollUntil(t, task, w, 30*time.Second, func(r []*connect.Record) bool { return len(r) >= before+2345 })
			cut := recs[before+2344]
			off := maps.Clone(cut.SourceOffset)
			if mode == "filepos" {
				delete(off, offGTIDs)
			}
			w.mu.Lock()
			w.stored = off
			w.mu.Unlock()
			if err := task.Stop(); err != nil {
				t.Fatal(err)
			}
			t.Logf("restart from %v", off)

			w2 := &fakeWorker{stored: off}
			task2 := startTask(t, w2, props)
			got := pollUntil(t, task2, w2, 30*time.Second, func(r []*connect.Record) bool { return hasKey(r, "srv.app.items", int32(n)) })
			seen := map[int32]int{}
			for _, r := range recs[before : before+2345] {
				seen[r.Key.(*connect.Struct).Get("id").(int32)]++
			}
			for _, r := range got {
				if r.Topic != "srv.app.items" {
					continue
				}
				if op := opOf(r); op != "c" {
					t.Fatalf("after restart: op %s", op)
				}
				seen[r.Key.(*connect.Struct).Get("id").(int32)]++
			}
			for i := int32(1); i <= n; i++ {
				if seen[i] != 1 {
					t.Fatalf("id %d seen %d times", i, seen[i])
				}
			}
			if len(seen) != n {
				t.Fatalf("%d ids, want %d", len(seen), n)
			}
			if first := got[0].Key.(*connect.Struct).Get("id").(int32); first != 2346 {
				t.Fatalf("first record after restart is id %d, want 2346", first)
			}
		})
	}
}
