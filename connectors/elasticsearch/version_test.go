package elasticsearch

import (
	"context"
	"reflect"
	"testing"

	"github.com/penstockhq/penstock/connect"
)

// The tests of issue 14 item 8: every write of a document agrees on one
// version scheme, so neither a delete nor a full write is ever refused for
// a version that partial updates or upserts inflated. They run against the
// fake (fake_test.go), which keeps _version as Elasticsearch does:
// ZincSearch, the real server of the integration tests, has no versions.

func putAndWait(t *testing.T, task *Task, tp connect.TopicPartition, recs ...*connect.Record) {
	t.Helper()
	if err := task.Put(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	waitCommitted(t, task, tp, recs[len(recs)-1].Offset+1)
}

// In upsert mode a delete must land even when upserts came before it.
// Before the fix upserts raised _version by one each (internal
// versioning), so after three of them _version was 3 and the delete at
// offset 3 (external version 3) was refused with 409, which the task
// counted as success: the document stayed.
func TestFakeUpsertModeDeleteLands(t *testing.T) {
	f := newFakeES(t)
	task := startTask(t, f.srv.URL, &fakeTaskContext{}, map[string]string{WriteMethodConfig: "upsert", NullValuesConfig: "delete"})
	for off := range int64(3) {
		putAndWait(t, task, tp0, flatRecord("orders", off, "k", map[string]any{"qty": float64(off)}))
	}
	if doc, _ := f.doc("orders", "k"); doc == nil || doc["qty"] != 2.0 {
		t.Fatalf("after the upserts: %v", doc)
	}
	putAndWait(t, task, tp0, flatRecord("orders", 3, "k", nil))
	if doc, v := f.doc("orders", "k"); doc != nil {
		t.Fatalf("the delete at offset 3 did not land: document %v at _version %d", doc, v)
	}
}

// An upsert merges into the stored document, and a redelivered older
// upsert does not take it back in time. Before the fix upserts carried no
// version at all.
func TestFakeUpsertModeNeverGoesBack(t *testing.T) {
	f := newFakeES(t)
	task := startTask(t, f.srv.URL, &fakeTaskContext{}, map[string]string{WriteMethodConfig: "upsert"})
	putAndWait(t, task, tp0, flatRecord("orders", 4, "k", map[string]any{"qty": 1.0, "note": "a"}))
	putAndWait(t, task, tp0, flatRecord("orders", 5, "k", map[string]any{"qty": 2.0}))
	want := map[string]any{"qty": 2.0, "note": "a"}
	if doc, _ := f.doc("orders", "k"); !reflect.DeepEqual(doc, want) {
		t.Fatalf("after the upserts: %v, want %v", doc, want)
	}
	// A redelivery (a rewind, or a restart before the commit) of offset 4.
	putAndWait(t, task, tp0, flatRecord("orders", 4, "k", map[string]any{"qty": 1.0, "note": "a"}))
	if doc, v := f.doc("orders", "k"); !reflect.DeepEqual(doc, want) || v != 5 {
		t.Fatalf("after redelivering offset 4: %v at _version %d, want %v at 5", doc, v, want)
	}
}

// After a redelivery of TOAST partial updates the next full write still
// lands. Before the fix each partial update raised _version by one, so the
// redelivered ones pushed it past the next record's offset, and its full
// write was refused with 409 and counted as success.
func TestFakeFullWriteAfterRedeliveredPartialUpdates(t *testing.T) {
	f := newFakeES(t)
	task := startTask(t, f.srv.URL, &fakeTaskContext{}, nil)
	tp := connect.TopicPartition{Topic: "srv.public.t"}
	putAndWait(t, task, tp, envelopeRecord(10, "c", 1, "a", "big"))
	partials := []*connect.Record{
		envelopeRecord(11, "u", 1, "b", UnavailableValuePlaceholder),
		envelopeRecord(12, "u", 1, "c", UnavailableValuePlaceholder),
	}
	for _, r := range partials {
		putAndWait(t, task, tp, r)
	}
	want := map[string]any{"id": 1.0, "name": "c", "note": "big"}
	if doc, _ := f.doc("srv.public.t", "1"); !reflect.DeepEqual(doc, want) {
		t.Fatalf("after the partial updates: %v, want %v", doc, want)
	}
	for _, r := range partials { // redelivered
		putAndWait(t, task, tp, r)
	}
	if doc, _ := f.doc("srv.public.t", "1"); !reflect.DeepEqual(doc, want) {
		t.Fatalf("after redelivering the partial updates: %v, want %v", doc, want)
	}
	putAndWait(t, task, tp, envelopeRecord(13, "u", 1, "d", "new"))
	want = map[string]any{"id": 1.0, "name": "d", "note": "new"}
	if doc, v := f.doc("srv.public.t", "1"); !reflect.DeepEqual(doc, want) {
		t.Fatalf("the full write at offset 13 was discarded: %v at _version %d, want %v", doc, v, want)
	}
}

// A partial write older than a delete stays refused: the delete's version
// lives on in its tombstone (as within index.gc_deletes), the 409 counts as
// success, and the document stays deleted.
func TestFakePartialWriteAfterNewerDelete(t *testing.T) {
	f := newFakeES(t)
	task := startTask(t, f.srv.URL, &fakeTaskContext{}, nil)
	tp := connect.TopicPartition{Topic: "srv.public.t"}
	putAndWait(t, task, tp, envelopeRecord(10, "c", 1, "a", "big"))
	putAndWait(t, task, tp, envelopeRecord(20, "d", 1, "", ""))
	putAndWait(t, task, tp, envelopeRecord(15, "u", 1, "b", UnavailableValuePlaceholder)) // redelivered
	if doc, v := f.doc("srv.public.t", "1"); doc != nil {
		t.Fatalf("the delete at offset 20 was undone by offset 15: %v at _version %d", doc, v)
	}
}
