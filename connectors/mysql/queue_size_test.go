package mysql

import (
	"context"
	"testing"
	"time"

	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connectors/debezium"
)

// The streamer estimates the queue size of a rows event's records from the
// first one's and their images' lengths instead of walking each: for rows
// that differ only in a string's length the estimate is the walked one.
func TestStreamQueueSizeEstimate(t *testing.T) {
	e := startMariaDB(t)
	e.exec(t, "CREATE TABLE w (id INT PRIMARY KEY, s TEXT, d DECIMAL(8,2))", "INSERT INTO w VALUES (0, 'snapshot', 0)")
	w := &fakeWorker{}
	task := startTask(t, w, e.props(map[string]string{KeySchemaChanges: "false"}))
	pollUntil(t, task, w, 30*time.Second, func(r []*connect.Record) bool { return len(r) >= 1 }) // past the snapshot's position
	e.exec(t, "INSERT INTO w VALUES (1, REPEAT('a', 10), 1), (2, REPEAT('b', 3000), 2), (3, NULL, 3), (4, REPEAT('d', 2000), NULL)",
		"UPDATE w SET s = REPEAT('e', 1500) WHERE id IN (1, 3)")
	recs, estimated, walked := queuedSizes(t, task, 6)
	// A NULL counts 16 bytes walked and its absent image bytes: a few
	// dozen bytes of difference at most.
	if len(recs) != 6 || estimated < walked-100 || estimated > walked+100 {
		t.Fatalf("%d records: estimated %d bytes, walked %d", len(recs), estimated, walked)
	}
	t.Logf("6 records: estimated %d bytes, walked %d", estimated, walked)
}

// The snapshot estimates the queue size of a chunk's records from the
// first one's and their variable-length values' lengths instead of walking
// each: for rows that differ in strings' lengths and NULLs the estimate is
// close to the walked one.
func TestSnapshotQueueSizeEstimate(t *testing.T) {
	e := startMariaDB(t)
	e.exec(t, "CREATE TABLE w (id INT PRIMARY KEY, s TEXT, b VARBINARY(4000), d DECIMAL(8,2))",
		"INSERT INTO w VALUES (1, REPEAT('a', 10), 'x', 1), (2, REPEAT('b', 3000), NULL, 2), (3, NULL, REPEAT('y', 2000), 3),"+
			" (4, REPEAT('d', 2000), '', NULL), (5, 'e', 'z', 5.5), (6, REPEAT('f', 700), REPEAT('w', 90), 6)")
	w := &fakeWorker{}
	task := startTask(t, w, e.props(map[string]string{KeySchemaChanges: "false"}))
	recs, estimated, walked := queuedSizes(t, task, 6)
	if len(recs) != 6 || estimated < walked-32 || estimated > walked+32 {
		t.Fatalf("%d records: estimated %d bytes, walked %d", len(recs), estimated, walked)
	}
	t.Logf("6 records: estimated %d bytes, walked %d", estimated, walked)
}

// queuedSizes waits for n records in task's queue, then takes them and
// returns them with the queue's size estimate of them and their walked size
// (debezium.RecordSize).
func queuedSizes(t *testing.T, task *Task, n int) (recs []*connect.Record, estimated, walked int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		if q, _ := task.q.Size(); q >= n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %d queued records", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	_, estimated = task.q.Size()
	recs, err := task.q.Take(context.Background(), 100, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		walked += debezium.RecordSize(r)
	}
	return recs, estimated, walked
}
