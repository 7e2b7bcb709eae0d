package postgres

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pglogrepl"

	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connectors/debezium"
)

// snapshotThenInsert starts a task, polls until it delivered the snapshot
// and the insert of id, commits that record, and stops the task once the
// slot confirmed it. It returns the records polled.
func snapshotThenInsert(t *testing.T, e *pgEnv, w *fakeWorker, props map[string]string, id int) []*connect.Record {
	t.Helper()
	task := startTask(t, w, props)
	waitSlot(t, e, "debezium")
	e.exec(t, "INSERT INTO wn VALUES ("+strconv.Itoa(id)+")")
	recs := pollUntil(t, task, w, 30*time.Second, func(rs []*connect.Record) bool {
		for _, r := range rs {
			if r.Topic == "srv.public.wn" && opOf(r) == "c" && r.Key.(*connect.Struct).Get("id") == int32(id) {
				return true
			}
		}
		return false
	})
	last := recs[len(recs)-1]
	for _, r := range recs {
		if r.Topic == "srv.public.wn" && opOf(r) == "c" && r.Key.(*connect.Struct).Get("id") == int32(id) {
			last = r
		}
	}
	w.commit(t, task, last)
	lsn, _ := debezium.OffsetInt(last.SourceOffset[offLSN])
	want := pglogrepl.LSN(lsn)
	deadline := time.Now().Add(10 * time.Second)
	for must(pglogrepl.ParseLSN(slotConfirmed(t, e, "debezium"))) < want {
		if time.Now().After(deadline) {
			t.Fatalf("slot never confirmed %s", want)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := task.Stop(); err != nil {
		t.Fatal(err)
	}
	return recs
}

func snapshotCount(recs []*connect.Record) int {
	n := 0
	for _, r := range recs {
		if r.Topic == "srv.public.wn" && opOf(r) == "r" {
			n++
		}
	}
	return n
}

// TestWhenNeededSnapshotsOnlyWhenTheSlotIsAhead is issue 14 item 10 at the
// task level: with snapshot.mode=when_needed a restart after the slot
// confirmed the stored offset's transaction does not snapshot again, but a
// slot moved past the stored offset by someone else (changes the connector
// never saw) still does.
func TestWhenNeededSnapshotsOnlyWhenTheSlotIsAhead(t *testing.T) {
	e := startPG(t)
	e.exec(t, "CREATE TABLE wn (id int PRIMARY KEY)", "INSERT INTO wn VALUES (1), (2), (3)")
	props := e.props(map[string]string{KeySnapshotMode: SnapshotWhenNeeded, KeyTableInclude: `public\.wn`})

	w := &fakeWorker{}
	if n := snapshotCount(snapshotThenInsert(t, e, w, props, 10)); n != 3 {
		t.Fatalf("first start: %d snapshot records, want 3", n)
	}
	w2 := &fakeWorker{stored: w.stored}
	if n := snapshotCount(snapshotThenInsert(t, e, w2, props, 11)); n != 0 {
		t.Fatalf("ordinary restart: %d snapshot records, want none", n)
	}

	// Changes the connector never sees: the slot is moved past them.
	// (The stopped task's walsender may hold the slot a moment longer.)
	e.exec(t, "INSERT INTO wn VALUES (12)")
	var advanced string
	deadline := time.Now().Add(15 * time.Second)
	for {
		err := e.conn.QueryRow(context.Background(),
			"SELECT end_lsn::text FROM pg_replication_slot_advance('debezium', pg_current_wal_lsn())").Scan(&advanced)
		if err == nil {
			break
		}
		if !strings.Contains(err.Error(), "is active") || time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	w3 := &fakeWorker{stored: w2.stored}
	recs := snapshotThenInsert(t, e, w3, props, 13)
	if n := snapshotCount(recs); n != 6 {
		t.Fatalf("restart with the slot advanced to %s past the stored offset: %d snapshot records, want 6 (1-3, 10-12)", advanced, n)
	}
}
