package elasticsearch

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/penstockhq/penstock/connect"
)

// The tests in this file run the task against a fake Elasticsearch built on
// httptest, because ZincSearch (the real server of the integration tests)
// cannot produce these situations: its bulk API reports every item as 200
// with errors=false, has no version conflicts, never answers 429, and does
// not reject malformed documents. The fake answers with the response bodies
// Elasticsearch documents for the bulk API (items with status and error
// type/reason, e.g. version_conflict_engine_exception with 409,
// es_rejected_execution_exception with 429, document_parsing_exception with
// 400), so the task's handling of each is checked byte for byte against
// what a real cluster sends.

// The fake keeps its documents as Elasticsearch does, as far as the sink
// relies on it (ZincSearch has no versions, so these semantics can only be
// checked here): every document has a _version and a _seq_no; an index or
// delete with version_type=external succeeds only with a version higher
// than the stored one (a deleted document keeps its version as a tombstone,
// as within index.gc_deletes) and sets _version to it, otherwise it is
// refused with 409 version_conflict_engine_exception; an index or delete
// without a version and an update (doc merged recursively into _source,
// doc_as_upsert, noop when nothing changes as with detect_noop) raise
// _version by one; an update refuses external versions; GET _doc/id and
// _mget read the stored documents in real time. Sources:
// https://www.elastic.co/guide/en/elasticsearch/reference/current/docs-index_.html#index-versioning,
// docs-update.html, docs-delete.html, docs-multi-get.html.

// fakeDoc is a stored document; a nil source is a delete's tombstone.
type fakeDoc struct {
	version, seqNo int64
	source         map[string]any
}

// bulkItem is one operation of a bulk request the fake received.
type bulkItem struct {
	Action, Index, ID string
	Version           int64
	VersionType       string
	Body              string
}

// itemReply is the fake's answer to one item: status 0 means success.
type itemReply struct {
	status int
	errObj string // the item's "error" JSON object
}

type fakeES struct {
	srv *httptest.Server

	mu        sync.Mutex
	calls     int
	requests  [][]bulkItem
	created   map[string]string // index -> create body
	reply     func(call int, it bulkItem, attempt int) itemReply
	whole     func(call int) (status int, body string, ok bool)
	attempts  map[string]int // index/id -> times seen
	gate      chan struct{}  // when not nil, bulk requests wait for it to close
	sawHeader bool
	docs      map[string]*fakeDoc // index/id -> stored document
	indices   map[string]bool     // indices that exist (created, or by a first write)
	seqNo     int64
	gets      int // documents read by GET or _mget
}

func newFakeES(t *testing.T) *fakeES {
	f := &fakeES{created: map[string]string{}, attempts: map[string]int{}, docs: map[string]*fakeDoc{}, indices: map[string]bool{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

const fakeInfo = `{"name":"fake-node","cluster_name":"fake","cluster_uuid":"Zm9vYmFy","version":{"number":"8.15.0","build_flavor":"default","build_type":"tar","build_hash":"0","build_date":"2024-08-05T10:05:34.233336849Z","build_snapshot":false,"lucene_version":"9.11.1","minimum_wire_compatibility_version":"7.17.0","minimum_index_compatibility_version":"7.0.0"},"tagline":"You Know, for Search"}`

func (f *fakeES) serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Elastic-Product", "Elasticsearch")
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.Method == http.MethodGet && r.URL.Path == "/":
		io.WriteString(w, fakeInfo)
	case r.URL.Path == "/_bulk":
		f.bulk(w, r)
	case r.URL.Path == "/_mget":
		f.mget(w, r)
	case r.Method == http.MethodGet && strings.Contains(r.URL.Path, "/_doc/"):
		idx, id, _ := strings.Cut(strings.Trim(r.URL.Path, "/"), "/_doc/")
		f.mu.Lock()
		b, found := f.getLocked(idx, id)
		f.mu.Unlock()
		if !found {
			w.WriteHeader(http.StatusNotFound)
		}
		w.Write(b)
	case r.Method == http.MethodHead:
		f.mu.Lock()
		_, ok := f.created[strings.Trim(r.URL.Path, "/")]
		f.mu.Unlock()
		if !ok {
			w.WriteHeader(http.StatusNotFound)
		}
	case r.Method == http.MethodPut:
		idx := strings.Trim(r.URL.Path, "/")
		b, _ := io.ReadAll(r.Body)
		f.mu.Lock()
		f.created[idx] = string(b)
		f.indices[idx] = true
		f.mu.Unlock()
		fmt.Fprintf(w, `{"acknowledged":true,"shards_acknowledged":true,"index":%q}`, idx)
	default:
		w.WriteHeader(http.StatusNotFound)
		io.WriteString(w, `{"error":"no handler"}`)
	}
}

func (f *fakeES) bulk(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	gate := f.gate
	f.mu.Unlock()
	if gate != nil {
		<-gate
	}
	var items []bulkItem
	sc := bufio.NewScanner(r.Body)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var meta map[string]struct {
			Index       string `json:"_index"`
			ID          string `json:"_id"`
			Version     int64  `json:"version"`
			VersionType string `json:"version_type"`
		}
		if err := json.Unmarshal(sc.Bytes(), &meta); err != nil {
			http.Error(w, err.Error(), 400)
			return
		}
		for action, m := range meta {
			it := bulkItem{Action: action, Index: m.Index, ID: m.ID, Version: m.Version, VersionType: m.VersionType}
			if action != "delete" {
				sc.Scan()
				it.Body = sc.Text()
			}
			items = append(items, it)
		}
	}
	f.mu.Lock()
	f.calls++
	call := f.calls
	f.requests = append(f.requests, items)
	whole, reply := f.whole, f.reply
	replies := make([]itemReply, len(items))
	for i, it := range items {
		k := it.Index + "/" + it.ID
		f.attempts[k]++
		if reply != nil {
			replies[i] = reply(call, it, f.attempts[k])
		}
	}
	if whole != nil {
		if status, body, ok := whole(call); ok {
			f.mu.Unlock()
			w.WriteHeader(status)
			io.WriteString(w, body)
			return
		}
	}
	var out strings.Builder
	errors := false
	out.WriteString(`{"took":3,"errors":`)
	var parts []string
	for i, it := range items {
		rp := replies[i]
		var res applied
		if rp.status == 0 {
			res = f.applyLocked(it)
			rp = res.itemReply
		}
		if rp.status >= 300 && !(rp.status == 404 && it.Action == "delete") {
			errors = true
			parts = append(parts, fmt.Sprintf(`{%q:{"_index":%q,"_id":%q,"status":%d,"error":%s}}`, it.Action, it.Index, it.ID, rp.status, rp.errObj))
			continue
		}
		parts = append(parts, fmt.Sprintf(`{%q:{"_index":%q,"_id":%q,"_version":%d,"result":%q,"_shards":{"total":2,"successful":1,"failed":0},"_seq_no":%d,"_primary_term":1,"status":%d}}`,
			it.Action, it.Index, it.ID, res.version, res.result, res.seqNo, rp.status))
	}
	f.mu.Unlock()
	fmt.Fprintf(&out, "%t,\"items\":[%s]}", errors, strings.Join(parts, ","))
	io.WriteString(w, out.String())
}

// applied is the outcome of one bulk item on the stored documents.
type applied struct {
	itemReply
	result         string
	version, seqNo int64
}

// applyLocked applies a bulk item to the stored documents as Elasticsearch
// does (see the comment at the top of the file).
func (f *fakeES) applyLocked(it bulkItem) applied {
	k := it.Index + "/" + it.ID
	cur := f.docs[k]
	live := cur != nil && cur.source != nil
	external := it.VersionType == "external"
	fail := func(status int, obj string) applied { return applied{itemReply: itemReply{status, obj}} }
	conflict := func() applied {
		return fail(409, fmt.Sprintf(errVersionConflict, it.ID, cur.version, it.Version, it.Index))
	}
	if it.Version != 0 && !external {
		return fail(400, `{"type":"action_request_validation_exception","reason":"Validation Failed: 1: internal versioning can not be used for optimistic concurrency control. Please use `+"`if_seq_no` and `if_primary_term`"+` instead;"}`)
	}
	next := int64(1)
	if cur != nil {
		next = cur.version + 1
	}
	store := func(version int64, source map[string]any, status int, result string) applied {
		f.seqNo++
		f.docs[k] = &fakeDoc{version: version, seqNo: f.seqNo, source: source}
		f.indices[it.Index] = true
		return applied{itemReply: itemReply{status: status}, result: result, version: version, seqNo: f.seqNo}
	}
	switch it.Action {
	case "index", "create":
		var src map[string]any
		if err := json.Unmarshal([]byte(it.Body), &src); err != nil {
			return fail(400, fmt.Sprintf(`{"type":"document_parsing_exception","reason":%q}`, err.Error()))
		}
		if it.Action == "create" && live {
			return fail(409, fmt.Sprintf(`{"type":"version_conflict_engine_exception","reason":"[%s]: version conflict, document already exists (current version [%d])"}`, it.ID, cur.version))
		}
		if external {
			if cur != nil && cur.version >= it.Version {
				return conflict()
			}
			next = it.Version
		}
		if live {
			return store(next, src, 200, "updated")
		}
		return store(next, src, 201, "created")
	case "delete":
		if external {
			if cur != nil && cur.version >= it.Version {
				return conflict()
			}
			next = it.Version
		}
		if !live {
			if !external {
				return applied{itemReply: itemReply{status: 404}, result: "not_found", version: next}
			}
			r := store(next, nil, 404, "not_found")
			return r
		}
		return store(next, nil, 200, "deleted")
	case "update":
		if external {
			return fail(400, `{"type":"action_request_validation_exception","reason":"Validation Failed: 1: version type [EXTERNAL] is not supported by the update API;"}`)
		}
		var req struct {
			Doc         map[string]any `json:"doc"`
			DocAsUpsert bool           `json:"doc_as_upsert"`
			Upsert      map[string]any `json:"upsert"`
		}
		if err := json.Unmarshal([]byte(it.Body), &req); err != nil {
			return fail(400, fmt.Sprintf(`{"type":"x_content_parse_exception","reason":%q}`, err.Error()))
		}
		if !live {
			switch {
			case req.Upsert != nil:
				return store(next, req.Upsert, 201, "created")
			case req.DocAsUpsert:
				return store(next, req.Doc, 201, "created")
			}
			return fail(404, fmt.Sprintf(`{"type":"document_missing_exception","reason":"[%s]: document missing","index":%q}`, it.ID, it.Index))
		}
		merged := deepMerge(cur.source, req.Doc)
		if reflect.DeepEqual(merged, cur.source) {
			return applied{itemReply: itemReply{status: 200}, result: "noop", version: cur.version, seqNo: cur.seqNo}
		}
		return store(next, merged, 200, "updated")
	}
	return fail(400, fmt.Sprintf(`{"type":"illegal_argument_exception","reason":"unknown action [%s]"}`, it.Action))
}

// deepMerge returns base with changes merged in as an update's doc is:
// objects present in both are merged recursively, anything else replaced.
func deepMerge(base, changes map[string]any) map[string]any {
	out := make(map[string]any, len(base)+len(changes))
	for k, v := range base {
		out[k] = v
	}
	for k, v := range changes {
		if bm, ok := out[k].(map[string]any); ok {
			if cm, ok := v.(map[string]any); ok {
				out[k] = deepMerge(bm, cm)
				continue
			}
		}
		out[k] = v
	}
	return out
}

// getLocked renders the GET _doc answer for a document.
func (f *fakeES) getLocked(index, id string) ([]byte, bool) {
	f.gets++
	if !f.indices[index] {
		return []byte(fmt.Sprintf(`{"error":{"root_cause":[{"type":"index_not_found_exception","reason":"no such index [%s]","index":%q}],"type":"index_not_found_exception","reason":"no such index [%s]","index":%q},"status":404}`, index, index, index, index)), false
	}
	d := f.docs[index+"/"+id]
	if d == nil || d.source == nil {
		return []byte(fmt.Sprintf(`{"_index":%q,"_id":%q,"found":false}`, index, id)), false
	}
	src, _ := json.Marshal(d.source)
	return []byte(fmt.Sprintf(`{"_index":%q,"_id":%q,"_version":%d,"_seq_no":%d,"_primary_term":1,"found":true,"_source":%s}`, index, id, d.version, d.seqNo, src)), true
}

// mget answers a multi get: one entry per requested document, in order; a
// missing index is an error entry, as Elasticsearch reports it.
func (f *fakeES) mget(w http.ResponseWriter, r *http.Request) {
	var req struct {
		Docs []struct {
			Index string `json:"_index"`
			ID    string `json:"_id"`
		} `json:"docs"`
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, err.Error(), 400)
		return
	}
	f.mu.Lock()
	parts := make([]string, len(req.Docs))
	for i, d := range req.Docs {
		b, _ := f.getLocked(d.Index, d.ID)
		if !f.indices[d.Index] {
			b = []byte(fmt.Sprintf(`{"_index":%q,"_id":%q,"error":{"root_cause":[{"type":"index_not_found_exception","reason":"no such index [%s]"}],"type":"index_not_found_exception","reason":"no such index [%s]","index":%q}}`, d.Index, d.ID, d.Index, d.Index, d.Index))
		}
		parts[i] = string(b)
	}
	f.mu.Unlock()
	fmt.Fprintf(w, `{"docs":[%s]}`, strings.Join(parts, ","))
}

// doc returns the stored source of a live document, nil when there is none.
func (f *fakeES) doc(index, id string) (map[string]any, int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	d := f.docs[index+"/"+id]
	if d == nil || d.source == nil {
		return nil, 0
	}
	return d.source, d.version
}

func (f *fakeES) allItems() []bulkItem {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []bulkItem
	for _, r := range f.requests {
		out = append(out, r...)
	}
	return out
}

// Error objects as Elasticsearch 8 writes them in bulk responses.
const (
	errVersionConflict = `{"type":"version_conflict_engine_exception","reason":"[%s]: version conflict, current version [%d] is higher or equal to the one provided [%d]","index_uuid":"5nX7Vq3xQ6uJ0YbYt8cQ3w","shard":"0","index":"%s"}`
	errRejected        = `{"type":"es_rejected_execution_exception","reason":"rejected execution of coordinating operation [coordinating_and_primary_bytes=0, replica_bytes=0, all_bytes=0, coordinating_operation_bytes=1048576, max_coordinating_and_primary_bytes=107374182]"}`
	errParsing         = `{"type":"document_parsing_exception","reason":"[1:9] failed to parse field [qty] of type [long] in document with id '%s'. Preview of field's value: 'many'","caused_by":{"type":"illegal_argument_exception","reason":"For input string: \"many\""}}`
	wholeRejected      = `{"error":{"root_cause":[{"type":"es_rejected_execution_exception","reason":"rejected execution of coordinating operation [coordinating_and_primary_bytes=107374100, replica_bytes=0, all_bytes=107374100, coordinating_operation_bytes=2048, max_coordinating_and_primary_bytes=107374182]"}],"type":"es_rejected_execution_exception","reason":"rejected execution of coordinating operation [coordinating_and_primary_bytes=107374100, replica_bytes=0, all_bytes=107374100, coordinating_operation_bytes=2048, max_coordinating_and_primary_bytes=107374182]"},"status":429}`
)

func startTask(t *testing.T, url string, tctx *fakeTaskContext, extra map[string]string) *Task {
	t.Helper()
	props := map[string]string{
		ConnectionURLConfig: url, RetryBackoffConfig: "1", SchemaIgnoreConfig: "true",
		ReadTimeoutConfig: "10000",
	}
	for k, v := range extra {
		props[k] = v
	}
	task := &Task{}
	if err := task.Start(context.Background(), tctx, props); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = task.Stop() })
	return task
}

func flatRecord(topic string, offset int64, key string, value map[string]any) *connect.Record {
	return &connect.Record{Topic: topic, Partition: 0, Offset: offset, Key: key, Value: value}
}

// waitCommitted polls PreCommit until the partition's safe offset reaches want.
func waitCommitted(t *testing.T, task *Task, tp connect.TopicPartition, want int64) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		got, err := task.PreCommit(context.Background(), map[connect.TopicPartition]int64{tp: want})
		if err != nil {
			t.Fatalf("PreCommit: %v", err)
		}
		if got[tp] == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("offset of %v stuck at %d, want %d", tp, got[tp], want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

var tp0 = connect.TopicPartition{Topic: "orders", Partition: 0}

func TestFakeVersionConflictIsSuccess(t *testing.T) {
	f := newFakeES(t)
	f.reply = func(_ int, it bulkItem, _ int) itemReply {
		if it.ID == "k1" {
			return itemReply{409, fmt.Sprintf(errVersionConflict, it.ID, it.Version+5, it.Version, it.Index)}
		}
		return itemReply{}
	}
	tctx := &fakeTaskContext{}
	task := startTask(t, f.srv.URL, tctx, nil)
	if err := task.Put(context.Background(), []*connect.Record{
		flatRecord("orders", 40, "k1", map[string]any{"qty": 1.0}),
		flatRecord("orders", 41, "k2", map[string]any{"qty": 2.0}),
	}); err != nil {
		t.Fatal(err)
	}
	waitCommitted(t, task, tp0, 42)
	if r := tctx.reports(); len(r) != 0 {
		t.Fatalf("reported: %v", r[0].err)
	}
	for _, it := range f.allItems() {
		want := map[string]int64{"k1": 40, "k2": 41}[it.ID]
		if it.Action != "index" || it.VersionType != "external" || it.Version != want || it.Index != "orders" {
			t.Errorf("item %+v: want index with external version %d", it, want)
		}
	}
}

func TestFakeItem429IsRetried(t *testing.T) {
	f := newFakeES(t)
	f.reply = func(_ int, it bulkItem, attempt int) itemReply {
		if it.ID == "k2" && attempt <= 2 {
			return itemReply{429, errRejected}
		}
		return itemReply{}
	}
	tctx := &fakeTaskContext{}
	task := startTask(t, f.srv.URL, tctx, nil)
	if err := task.Put(context.Background(), []*connect.Record{
		flatRecord("orders", 0, "k1", map[string]any{"qty": 1.0}),
		flatRecord("orders", 1, "k2", map[string]any{"qty": 2.0}),
		flatRecord("orders", 2, "k3", map[string]any{"qty": 3.0}),
	}); err != nil {
		t.Fatal(err)
	}
	waitCommitted(t, task, tp0, 3)
	f.mu.Lock()
	n := f.attempts["orders/k2"]
	f.mu.Unlock()
	if n != 3 {
		t.Errorf("k2 sent %d times, want 3 (two 429s then success)", n)
	}
	if len(tctx.reports()) != 0 {
		t.Error("a retried document was reported")
	}
}

func TestFakeItem429GivesUpAfterMaxRetries(t *testing.T) {
	f := newFakeES(t)
	f.reply = func(int, bulkItem, int) itemReply { return itemReply{429, errRejected} }
	task := startTask(t, f.srv.URL, &fakeTaskContext{}, map[string]string{MaxRetriesConfig: "2"})
	if err := task.Put(context.Background(), []*connect.Record{flatRecord("orders", 0, "k1", map[string]any{"a": 1.0})}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := task.PreCommit(context.Background(), map[connect.TopicPartition]int64{tp0: 1})
		if err != nil {
			if !strings.Contains(err.Error(), "orders/0@0") || !strings.Contains(err.Error(), `"k1"`) {
				t.Errorf("error does not name the record and document: %v", err)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("no error after max.retries 429s")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestFakeRequest429ThenSuccess(t *testing.T) {
	f := newFakeES(t)
	f.whole = func(call int) (int, string, bool) {
		if call <= 2 {
			return 429, wholeRejected, true
		}
		return 0, "", false
	}
	tctx := &fakeTaskContext{}
	task := startTask(t, f.srv.URL, tctx, nil)
	if err := task.Put(context.Background(), []*connect.Record{flatRecord("orders", 5, "k1", map[string]any{"a": 1.0})}); err != nil {
		t.Fatal(err)
	}
	waitCommitted(t, task, tp0, 6)
	f.mu.Lock()
	calls := f.calls
	f.mu.Unlock()
	if calls != 3 {
		t.Errorf("%d bulk calls, want 3 (two 429s, then success)", calls)
	}
}

func TestFakeMalformedDocuments(t *testing.T) {
	reply := func(_ int, it bulkItem, _ int) itemReply {
		if it.ID == "bad" {
			return itemReply{400, fmt.Sprintf(errParsing, it.ID)}
		}
		return itemReply{}
	}
	recs := func() []*connect.Record {
		return []*connect.Record{
			flatRecord("orders", 0, "bad", map[string]any{"qty": "many"}),
			flatRecord("orders", 1, "good", map[string]any{"qty": 1.0}),
		}
	}
	t.Run("FAIL reports to the dead letter queue", func(t *testing.T) {
		f := newFakeES(t)
		f.reply = reply
		tctx := &fakeTaskContext{tolerate: true}
		task := startTask(t, f.srv.URL, tctx, nil)
		if err := task.Put(context.Background(), recs()); err != nil {
			t.Fatal(err)
		}
		waitCommitted(t, task, tp0, 2)
		r := tctx.reports()
		if len(r) != 1 || r[0].rec.Offset != 0 || !strings.Contains(r[0].err.Error(), "document_parsing_exception") ||
			!strings.Contains(r[0].err.Error(), `orders/0@0 (document "bad"`) {
			t.Fatalf("reports: %+v", r)
		}
	})
	t.Run("FAIL without tolerance fails the task", func(t *testing.T) {
		f := newFakeES(t)
		f.reply = reply
		task := startTask(t, f.srv.URL, &fakeTaskContext{}, nil)
		if err := task.Put(context.Background(), recs()); err != nil {
			t.Fatal(err)
		}
		err := task.Flush(context.Background(), nil)
		if err == nil || !strings.Contains(err.Error(), "document_parsing_exception") {
			t.Fatalf("Flush: %v", err)
		}
	})
	t.Run("IGNORE skips", func(t *testing.T) {
		f := newFakeES(t)
		f.reply = reply
		tctx := &fakeTaskContext{}
		task := startTask(t, f.srv.URL, tctx, map[string]string{MalformedDocsConfig: "ignore"})
		if err := task.Put(context.Background(), recs()); err != nil {
			t.Fatal(err)
		}
		if err := task.Flush(context.Background(), nil); err != nil {
			t.Fatal(err)
		}
		waitCommitted(t, task, tp0, 2)
		if len(tctx.reports()) != 0 {
			t.Fatal("ignored document reported")
		}
	})
}

func TestFakeOffsetsWaitForAcknowledgement(t *testing.T) {
	f := newFakeES(t)
	f.gate = make(chan struct{})
	task := startTask(t, f.srv.URL, &fakeTaskContext{}, nil)
	if err := task.Put(context.Background(), []*connect.Record{
		flatRecord("orders", 10, "a", map[string]any{"x": 1.0}),
		flatRecord("orders", 11, "b", map[string]any{"x": 1.0}),
	}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	got, err := task.PreCommit(context.Background(), map[connect.TopicPartition]int64{tp0: 12})
	if err != nil || got[tp0] != 10 {
		t.Fatalf("before acknowledgement: %v %v, want 10", got, err)
	}
	f.mu.Lock()
	close(f.gate)
	f.gate = nil
	f.mu.Unlock()
	waitCommitted(t, task, tp0, 12)
}

// TestFakeOneOperationPerDocumentPerRequest checks that operations on one
// document are serialised (never two in one bulk request) and collapsed,
// and that the last one wins.
func TestFakeOneOperationPerDocumentPerRequest(t *testing.T) {
	f := newFakeES(t)
	task := startTask(t, f.srv.URL, &fakeTaskContext{}, map[string]string{NullValuesConfig: "DELETE", MaxInFlightConfig: "3"})
	var recs []*connect.Record
	for i := range 300 {
		key := fmt.Sprintf("k%d", i%7)
		if i%5 == 4 {
			recs = append(recs, flatRecord("orders", int64(i), key, nil))
			continue
		}
		recs = append(recs, flatRecord("orders", int64(i), key, map[string]any{"i": float64(i)}))
	}
	for i := 0; i < len(recs); i += 50 {
		if err := task.Put(context.Background(), recs[i:i+50]); err != nil {
			t.Fatal(err)
		}
	}
	waitCommitted(t, task, tp0, 300)
	f.mu.Lock()
	defer f.mu.Unlock()
	last := map[string]bulkItem{}
	sent := 0
	for n, req := range f.requests {
		seen := map[string]bool{}
		for _, it := range req {
			sent++
			if seen[it.ID] {
				t.Errorf("request %d has two operations on %s", n, it.ID)
			}
			seen[it.ID] = true
			if prev, ok := last[it.ID]; ok && prev.Version >= it.Version {
				t.Errorf("%s: version %d sent after %d", it.ID, it.Version, prev.Version)
			}
			last[it.ID] = it
		}
	}
	for i := 293; i < 300; i++ {
		key := fmt.Sprintf("k%d", i%7)
		it := last[key]
		if it.Version != int64(i) {
			t.Errorf("%s: last operation has version %d, want %d", key, it.Version, i)
		}
		if wantDelete := i%5 == 4; wantDelete != (it.Action == "delete") {
			t.Errorf("%s: last action %s", key, it.Action)
		}
	}
	if sent >= 300 {
		t.Logf("no collapsing happened (%d operations for 300 records)", sent)
	}
}

func TestFakeToastPartialUpdateAndMapping(t *testing.T) {
	f := newFakeES(t)
	task := startTask(t, f.srv.URL, &fakeTaskContext{}, map[string]string{SchemaIgnoreConfig: "false"})
	first := envelopeRecord(0, "c", 1, "a", "big")
	toast := envelopeRecord(1, "u", 1, "b", UnavailableValuePlaceholder)
	if err := task.Put(context.Background(), []*connect.Record{first}); err != nil {
		t.Fatal(err)
	}
	waitCommitted(t, task, connect.TopicPartition{Topic: "srv.public.t"}, 1)
	if err := task.Put(context.Background(), []*connect.Record{toast}); err != nil {
		t.Fatal(err)
	}
	waitCommitted(t, task, connect.TopicPartition{Topic: "srv.public.t"}, 2)
	items := f.allItems()
	// The partial update is sent as the stored document with the new
	// values merged in, versioned like every other write.
	if len(items) != 2 || items[1].Action != "index" || items[1].VersionType != "external" || items[1].Version != 1 ||
		items[1].Body != `{"id":1,"name":"b","note":"big"}` {
		t.Fatalf("items: %+v", items)
	}
	f.mu.Lock()
	mapping := f.created["srv.public.t"]
	f.mu.Unlock()
	want := `{"mappings":{"properties":{"id":{"type":"integer"},"name":{"fields":{"keyword":{"ignore_above":256,"type":"keyword"}},"type":"text"},"note":{"fields":{"keyword":{"ignore_above":256,"type":"keyword"}},"type":"text"}}}}`
	if mapping != want {
		t.Errorf("mapping %s\nwant    %s", mapping, want)
	}
}

func TestFakeConnectionFailureFailsTask(t *testing.T) {
	f := newFakeES(t)
	f.whole = func(int) (int, string, bool) {
		return 503, `{"error":{"root_cause":[{"type":"unavailable_shards_exception","reason":"primary shard is not active"}],"type":"unavailable_shards_exception","reason":"primary shard is not active"},"status":503}`, true
	}
	task := startTask(t, f.srv.URL, &fakeTaskContext{}, map[string]string{MaxRetriesConfig: "1"})
	if err := task.Put(context.Background(), []*connect.Record{flatRecord("orders", 0, "k", map[string]any{"a": 1.0})}); err != nil {
		t.Fatal(err)
	}
	err := task.Flush(context.Background(), nil)
	if err == nil || !strings.Contains(err.Error(), "503") {
		t.Fatalf("Flush: %v", err)
	}
}
