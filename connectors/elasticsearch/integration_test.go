package elasticsearch

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/internal/testservice"
)

// These tests run the task against ZincSearch, started by the harness.
// What they are designed around (see shared/scripts/install-zincsearch.sh):
//   - writes become visible only after Zinc applies its WAL (every 100ms,
//     later on a loaded machine): tests call srv.Settle, which waits until
//     a marker written after them is searchable, before reading;
//   - Zinc has no GET _doc/id: the index is read with a match_all _search;
//   - Zinc loses a delete of a document indexed in the same bulk request,
//     and, as its source shows (DeleteDocument looks the id up in the
//     WAL-synced index, and the item still reports 200), a delete of a
//     document whose write is still in the WAL. The task never puts two
//     operations on one document into one request (a second waits for the
//     first's acknowledgement, later ones collapse into it); for the WAL
//     the streams are cut into rounds in which each key changes at most
//     once, and each round is settled (srv.Settle) before the next. A fixed
//     pause is not enough: on a loaded machine Zinc applied its WAL more
//     than 600ms late and lost deletes. On Elasticsearch no wait is needed;
//   - Zinc's bulk "update" replaces the whole document with the data line,
//     so partial (TOAST) updates are tested against the fake server
//     instead, and the streams here carry full rows only;
//   - Zinc ignores external versions (every _version is 1): redelivery
//     after a restart is correct here because it replays in order.

// waitForIndex polls until the index holds exactly want.
func waitForIndex(t *testing.T, srv *testservice.ElasticsearchServer, index string, want map[string]map[string]any) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var got map[string]map[string]any
	var err error
	for time.Now().Before(deadline) {
		got, err = srv.Documents(index)
		if err == nil && reflect.DeepEqual(got, want) {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	var missing, extra, differ []string
	for id, w := range want {
		g, ok := got[id]
		switch {
		case !ok:
			missing = append(missing, id)
		case !reflect.DeepEqual(g, w):
			differ = append(differ, fmt.Sprintf("%s: got %v want %v", id, g, w))
		}
	}
	for id := range got {
		if _, ok := want[id]; !ok {
			extra = append(extra, id)
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	t.Fatalf("index %s: %d docs, want %d; missing %v; extra %v; different %v", index, len(got), len(want), missing, extra, differ)
}

// sourceStream is a table changing over time, as CDC records: Debezium
// envelopes on one topic and the same changes unwrapped (flat values,
// tombstones for deletes) on another, in rounds in which each key changes at
// most once, with the expected final table.
type sourceStream struct {
	envelopes, flat [][]*connect.Record // per round
	final           map[string]map[string]any
}

func makeStream(rounds, keys int, seed uint64) sourceStream {
	rng := rand.New(rand.NewPCG(seed, 1))
	var s sourceStream
	rows := map[int32]map[string]any{}
	keySchema, _, envSchema := envelopeSchema()
	afterF, _ := envSchema.Field("after")
	off := int64(0)
	for round := range rounds {
		var envs, flats []*connect.Record
		for _, k := range rng.Perm(keys)[:keys*2/3] {
			id := int32(k)
			_, exists := rows[id]
			op := "u"
			switch r := rng.IntN(10); {
			case !exists:
				op = "c"
			case r < 2:
				op = "d"
			}
			key := connect.NewStruct(keySchema)
			_ = key.Set("id", id)
			env := connect.NewStruct(envSchema)
			_ = env.Set("op", op)
			flat := &connect.Record{Topic: "items_flat", Offset: off, Key: map[string]any{"id": float64(id)}}
			if op == "d" {
				delete(rows, id)
			} else {
				name := fmt.Sprintf("name-%d-%d", id, round)
				note := fmt.Sprintf("note %d", rng.IntN(1000))
				after := connect.NewStruct(afterF.Schema)
				_ = after.Set("id", id)
				_ = after.Set("name", name)
				_ = after.Set("note", note)
				_ = env.Set("after", after)
				rows[id] = map[string]any{"id": float64(id), "name": name, "note": note}
				flat.Value = map[string]any{"id": float64(id), "name": name, "note": note}
			}
			envs = append(envs, &connect.Record{Topic: "srv.public.items", Offset: off,
				KeySchema: keySchema, Key: key, ValueSchema: envSchema, Value: env})
			flats = append(flats, flat)
			off++
		}
		s.envelopes = append(s.envelopes, envs)
		s.flat = append(s.flat, flats)
	}
	s.final = map[string]map[string]any{}
	for id, row := range rows {
		s.final[fmt.Sprint(id)] = row
	}
	return s
}

// putRound puts a round of records in batches, waits for Elasticsearch to
// acknowledge them and for Zinc to apply them to indices (see the top of
// this file).
func putRound(t *testing.T, srv *testservice.ElasticsearchServer, task *Task, recs []*connect.Record, indices ...string) {
	t.Helper()
	putInBatches(t, task, recs, 37)
	if err := task.Flush(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	for _, index := range indices {
		if err := srv.Settle(index); err != nil {
			t.Fatal(err)
		}
	}
}

func zincProps(srv *testservice.ElasticsearchServer) map[string]string {
	return map[string]string{
		ConnectionURLConfig:      srv.URL,
		ConnectionUsernameConfig: srv.Username,
		ConnectionPasswordConfig: srv.Password,
		NullValuesConfig:         "DELETE",
		ReadTimeoutConfig:        "30000",
		// The flat topic is schemaless: create its index with an explicit mapping.
		TopicIndexMapConfig: "items_flat:items-flat",
	}
}

func createFlatIndex(t *testing.T, srv *testservice.ElasticsearchServer) {
	t.Helper()
	body := `{"mappings":{"properties":{"id":{"type":"long"},"name":{"type":"keyword"},"note":{"type":"text"}}}}`
	req, _ := http.NewRequest(http.MethodPut, srv.URL+"/items-flat", bytes.NewBufferString(body))
	req.SetBasicAuth(srv.Username, srv.Password)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("create index: %s %s", res.Status, b)
	}
}

func putInBatches(t *testing.T, task *Task, recs []*connect.Record, batch int) {
	t.Helper()
	for i := 0; i < len(recs); i += batch {
		if err := task.Put(context.Background(), recs[i:min(i+batch, len(recs))]); err != nil {
			t.Fatal(err)
		}
	}
}

func TestZincStreamEndsAsSource(t *testing.T) {
	srv := testservice.Elasticsearch(t)
	createFlatIndex(t, srv)
	stream := makeStream(12, 120, 1)
	tctx := &fakeTaskContext{}
	task := startTaskProps(t, tctx, zincProps(srv))
	total := int64(0)
	for i := range stream.envelopes {
		putInBatches(t, task, stream.envelopes[i], 37)
		putRound(t, srv, task, stream.flat[i], "srv.public.items", "items-flat")
		total += int64(len(stream.flat[i]))
	}
	waitCommitted(t, task, connect.TopicPartition{Topic: "srv.public.items"}, total)
	waitCommitted(t, task, connect.TopicPartition{Topic: "items_flat"}, total)
	if r := tctx.reports(); len(r) > 0 {
		t.Fatalf("%d records reported, first: %v", len(r), r[0].err)
	}
	// The envelope topic's index was created by the task from the schema.
	waitForIndex(t, srv, "srv.public.items", stream.final)
	waitForIndex(t, srv, "items-flat", stream.final)
}

func TestZincRestartResumesFromCommittedOffsets(t *testing.T) {
	srv := testservice.Elasticsearch(t)
	createFlatIndex(t, srv)
	stream := makeStream(10, 100, 2)
	tp := connect.TopicPartition{Topic: "items_flat"}
	var all []*connect.Record
	for _, r := range stream.flat {
		all = append(all, r...)
	}

	// First task: write rounds 0-4, then commit what it acknowledged in the
	// middle of round 5, write the rest of round 5 and round 6, and stop
	// without committing again (a crash or rebalance).
	first := startTaskProps(t, &fakeTaskContext{}, zincProps(srv))
	for _, r := range stream.flat[:5] {
		putRound(t, srv, first, r, "items-flat")
	}
	half := len(stream.flat[5]) / 2
	putInBatches(t, first, stream.flat[5][:half], 37)
	next := stream.flat[5][half].Offset
	committed, err := first.PreCommit(context.Background(), map[connect.TopicPartition]int64{tp: next})
	if err != nil {
		t.Fatal(err)
	}
	putRound(t, srv, first, stream.flat[5][half:], "items-flat")
	putRound(t, srv, first, stream.flat[6], "items-flat")
	if err := first.Stop(); err != nil {
		t.Fatal(err)
	}
	resume := committed[tp]
	if resume > next {
		t.Fatalf("committed %d beyond what was put (%d)", resume, next)
	}
	t.Logf("first task committed offset %d of %d put; the second redelivers from there", resume, stream.flat[6][len(stream.flat[6])-1].Offset+1)

	// Second task: a new instance, fed from the committed offset on, round
	// by round as the records were produced.
	second := startTaskProps(t, &fakeTaskContext{}, zincProps(srv))
	for _, r := range stream.flat {
		var rest []*connect.Record
		for _, rec := range r {
			if rec.Offset >= resume {
				rest = append(rest, rec)
			}
		}
		if len(rest) > 0 {
			putRound(t, srv, second, rest, "items-flat")
		}
	}
	waitCommitted(t, second, tp, all[len(all)-1].Offset+1)
	waitForIndex(t, srv, "items-flat", stream.final)
}

func startTaskProps(t *testing.T, tctx *fakeTaskContext, props map[string]string) *Task {
	t.Helper()
	task := &Task{}
	if err := task.Start(context.Background(), tctx, props); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = task.Stop() })
	return task
}
