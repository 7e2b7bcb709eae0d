package sink

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connectors/http/httpclient"
)

// TestSinkBatchesInPartitionOrder sends 3 partitions of records as JSON
// arrays to a templated URL with basic auth and templated headers; the
// server checks each request and the test checks every record arrived once,
// in its partition's order, and that PreCommit then commits everything.
func TestSinkBatchesInPartitionOrder(t *testing.T) {
	var rc recorder
	var bad atomic.Value
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := rc.add(r)
		u, p, ok := r.BasicAuth()
		problem := ""
		switch {
		case !ok || u != "alice" || p != "s3cret":
			problem = "basic auth " + u
		case s.method != http.MethodPut:
			problem = "method " + s.method
		case s.header.Get("Content-Type") != "application/json":
			problem = "content type " + s.header.Get("Content-Type")
		case !strings.HasPrefix(s.path, "/api/orders/"):
			problem = "path " + s.path
		case s.header.Get("X-Source") != "orders-"+strings.TrimPrefix(s.path, "/api/orders/"):
			problem = "header X-Source " + s.header.Get("X-Source") + " for " + s.path
		}
		if problem != "" {
			bad.Store(problem)
			w.WriteHeader(400)
			return
		}
		w.WriteHeader(204)
	}))
	defer srv.Close()

	tctx := &fakeTaskContext{}
	task := startTask(t, tctx, map[string]string{
		URLConfig:              srv.URL + "/api/${topic}/${partition}",
		MethodConfig:           "PUT",
		HeadersConfig:          "X-Source: ${topic}-${partition}|X-Static:yes",
		SensitiveHeadersConfig: "X-Api-Key:k-123",
		BodyFormatConfig:       "json",
		BatchMaxSizeConfig:     "7",
		BatchJSONAsArrayConfig: "true",
		"auth.type":            "BASIC",
		"connection.user":      "alice",
		"connection.password":  "s3cret",
		"max.retries":          "0",
	})
	const perPartition = 100
	given := map[connect.TopicPartition]int64{}
	for off := int64(0); off < perPartition; off += 10 {
		var batch []*connect.Record
		for p := int32(0); p < 3; p++ {
			for o := off; o < off+10; o++ {
				batch = append(batch, rec("orders", p, o, fmt.Sprintf("k%d", o), map[string]any{"p": int64(p), "seq": o}))
			}
			given[connect.TopicPartition{Topic: "orders", Partition: p}] = off + 10
		}
		if err := task.Put(context.Background(), batch); err != nil {
			t.Fatal(err)
		}
	}
	got := flushed(t, task, given)
	for tp, off := range given {
		if got[tp] != off {
			t.Errorf("PreCommit %v = %d, want %d", tp, got[tp], off)
		}
	}
	if p := bad.Load(); p != nil {
		t.Fatalf("server saw a bad request: %v", p)
	}
	next := map[int64]int64{}
	requests := 0
	for _, s := range rc.all() {
		requests++
		if s.header.Get("X-Static") != "yes" || s.header.Get("X-Api-Key") != "k-123" {
			t.Fatalf("X-Static or X-Api-Key header missing: %v", s.header)
		}
		var arr []map[string]int64
		if err := json.Unmarshal(s.body, &arr); err != nil {
			t.Fatalf("body %q is not a JSON array: %v", s.body, err)
		}
		if len(arr) == 0 || len(arr) > 7 {
			t.Fatalf("batch of %d records", len(arr))
		}
		p, _ := strconv.ParseInt(strings.TrimPrefix(s.path, "/api/orders/"), 10, 64)
		for _, v := range arr {
			if v["p"] != p || v["seq"] != next[p] {
				t.Fatalf("partition %d: got %v, want seq %d (out of order or lost)", p, v, next[p])
			}
			next[p]++
		}
	}
	for p := int64(0); p < 3; p++ {
		if next[p] != perPartition {
			t.Errorf("partition %d: %d records delivered, want %d", p, next[p], perPartition)
		}
	}
	t.Logf("%d records in %d requests", 3*perPartition, requests)
}

// TestSinkNDJSONStringsAndDeletes checks the framing of NDJSON bodies of
// string values, and behavior.on.null.values=delete: a DELETE with the key
// in the URL, sent alone and in order.
func TestSinkNDJSONStringsAndDeletes(t *testing.T) {
	var rc recorder
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc.add(r)
	}))
	defer srv.Close()
	task := startTask(t, &fakeTaskContext{}, map[string]string{
		URLConfig:            srv.URL + "/items",
		BodyFormatConfig:     "json",
		BatchMaxSizeConfig:   "100",
		BatchLingerConfig:    "300",
		BatchSeparatorConfig: `\n`,
		BatchSuffixConfig:    `\n`,
		NullValuesConfig:     "delete",
		"max.retries":        "0",
	})
	recs := []*connect.Record{
		{Topic: "t", Offset: 0, Key: "a", Value: `{"id":"a"}`},
		{Topic: "t", Offset: 1, Key: "b", Value: "plain text"},
		{Topic: "t", Offset: 2, Key: "a/1"},
		{Topic: "t", Offset: 3, Key: "c", Value: map[string]any{"id": "c"}},
	}
	if err := task.Put(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	flushed(t, task, map[connect.TopicPartition]int64{{Topic: "t"}: 4})
	got := rc.all()
	want := []struct{ method, path, body, ctype string }{
		{"POST", "/items", "{\"id\":\"a\"}\n\"plain text\"\n", "application/x-ndjson"},
		{"DELETE", "/items/a%2F1", "", ""},
		{"POST", "/items", "{\"id\":\"c\"}\n", "application/x-ndjson"},
	}
	if len(got) != len(want) {
		t.Fatalf("%d requests, want %d: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		path := g.path
		if g.method != w.method || path != w.path || string(g.body) != w.body || g.header.Get("Content-Type") != w.ctype {
			t.Errorf("request %d: %s %s %q (%s), want %s %s %q (%s)", i, g.method, path, g.body, g.header.Get("Content-Type"), w.method, w.path, w.body, w.ctype)
		}
	}
}

// TestSinkRetriesHonourRetryAfter: the server answers 503, then 429 with
// Retry-After: 1, then 200. The record arrives after three attempts, the
// third at least a second after the second.
func TestSinkRetriesHonourRetryAfter(t *testing.T) {
	var rc recorder
	var n atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc.add(r)
		switch n.Add(1) {
		case 1:
			w.WriteHeader(503)
		case 2:
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(429)
		default:
			w.WriteHeader(200)
		}
	}))
	defer srv.Close()
	task := startTask(t, &fakeTaskContext{}, map[string]string{
		URLConfig: srv.URL, "max.retries": "5", "retry.backoff.ms": "10",
	})
	tp := connect.TopicPartition{Topic: "t"}
	if err := task.Put(context.Background(), []*connect.Record{rec("t", 0, 0, "k", map[string]any{"a": int64(1)})}); err != nil {
		t.Fatal(err)
	}
	if got := flushed(t, task, map[connect.TopicPartition]int64{tp: 1}); got[tp] != 1 {
		t.Fatalf("PreCommit %d, want 1", got[tp])
	}
	reqs := rc.all()
	if len(reqs) != 3 {
		t.Fatalf("%d attempts, want 3", len(reqs))
	}
	if gap := reqs[2].at.Sub(reqs[1].at); gap < 900*time.Millisecond {
		t.Errorf("retried %v after a 429 with Retry-After: 1", gap)
	}
	for _, r := range reqs {
		if string(r.body) != `{"a":1}` {
			t.Errorf("body %q", r.body)
		}
	}
}

// TestSinkRefusedRecordsToDLQ: the server refuses records whose value says
// bad with 400. With tolerance they are reported (to the DLQ) with the
// status and answer, the others delivered, and offsets committed past them
// only once reported. Without, the task fails naming the record.
func TestSinkRefusedRecordsToDLQ(t *testing.T) {
	var rc recorder
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s := rc.add(r)
		if bytes.Contains(s.body, []byte(`"bad":true`)) {
			w.WriteHeader(400)
			w.Write([]byte(`{"error":"bad record"}`))
			return
		}
		w.WriteHeader(201)
	}))
	defer srv.Close()
	props := map[string]string{URLConfig: srv.URL + "/r/${key}", BodyFormatConfig: "json", "max.retries": "0"}
	recs := func() []*connect.Record {
		var out []*connect.Record
		for i := int64(0); i < 20; i++ {
			out = append(out, rec("t", 0, i, fmt.Sprintf("k%d", i), map[string]any{"i": i, "bad": i%7 == 3}))
		}
		return out
	}
	tp := connect.TopicPartition{Topic: "t"}

	tctx := &fakeTaskContext{tolerate: true}
	task := startTask(t, tctx, props)
	if err := task.Put(context.Background(), recs()); err != nil {
		t.Fatal(err)
	}
	if got := flushed(t, task, map[connect.TopicPartition]int64{tp: 20}); got[tp] != 20 {
		t.Fatalf("PreCommit %d, want 20", got[tp])
	}
	rep := tctx.reports()
	if len(rep) != 3 {
		t.Fatalf("%d reported, want 3 (offsets 3, 10, 17)", len(rep))
	}
	for i, r := range rep {
		if r.rec.Offset != int64(3+7*i) {
			t.Errorf("reported offset %d", r.rec.Offset)
		}
		msg := r.err.Error()
		if !strings.Contains(msg, "answered 400") || !strings.Contains(msg, `{"error":"bad record"}`) || !strings.Contains(msg, fmt.Sprintf("k%d", 3+7*i)) {
			t.Errorf("error %q lacks the status, answer or key", msg)
		}
		var re *connect.RecordError
		if !errors.As(r.err, &re) || fmt.Sprint(re.Headers) != fmt.Sprint(connect.Headers{
			{Key: HeaderStatus, Value: "400"}, {Key: HeaderResponseBody, Value: []byte(`{"error":"bad record"}`)}}) {
			t.Errorf("error %v: no dead letter queue headers with the status and answer", r.err)
		}
	}
	if n := len(rc.all()); n != 20 {
		t.Errorf("%d requests, want 20", n)
	}

	tctx = &fakeTaskContext{}
	task = startTask(t, tctx, props)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := task.Put(ctx, recs()[:5]); err != nil {
		t.Fatal(err)
	}
	err := task.Flush(ctx, nil)
	if err == nil || !strings.Contains(err.Error(), "t-0@3 (key k3)") {
		t.Fatalf("flush: %v, want the task to fail naming record t-0@3", err)
	}
	if got, _ := task.PreCommit(ctx, map[connect.TopicPartition]int64{tp: 5}); got != nil && got[tp] > 3 {
		t.Errorf("committed %d past the failed record 3", got[tp])
	}
}

// TestRefusedBodyHeaderTruncated: a long answer's body is cut to
// MaxDLQBodyBytes in its dead letter queue header; the status is kept.
func TestRefusedBodyHeaderTruncated(t *testing.T) {
	long := bytes.Repeat([]byte("x"), 3*MaxDLQBodyBytes)
	var re *connect.RecordError
	if !errors.As(refused(errors.New("refused"), &httpclient.Response{Status: 422, Body: long}), &re) {
		t.Fatal("not a connect.RecordError")
	}
	if h, _ := re.Headers.Last(HeaderResponseBody); len(h.Value.([]byte)) != MaxDLQBodyBytes {
		t.Errorf("body header of %d bytes, want %d", len(h.Value.([]byte)), MaxDLQBodyBytes)
	}
	if h, _ := re.Headers.Last(HeaderStatus); h.Value != "422" {
		t.Errorf("status header %v", h.Value)
	}
}

// TestSinkServerDownForAWhile: the API's port refuses connections, then a
// server comes up on it. Nothing is committed meanwhile; then everything
// is, each record delivered.
func TestSinkServerDownForAWhile(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	task := startTask(t, &fakeTaskContext{}, map[string]string{
		URLConfig: "http://" + addr + "/in", "max.retries": "100", "retry.backoff.ms": "20", "retry.backoff.max.ms": "200",
		BatchMaxSizeConfig: "3", BatchLingerConfig: "200",
	})
	tp := connect.TopicPartition{Topic: "t"}
	var recs []*connect.Record
	for i := int64(0); i < 10; i++ {
		recs = append(recs, rec("t", 0, i, nil, map[string]any{"i": i}))
	}
	if err := task.Put(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	got, err := task.PreCommit(context.Background(), map[connect.TopicPartition]int64{tp: 10})
	if err != nil || got[tp] != 0 {
		t.Fatalf("while down: PreCommit %v %v, want 0", got, err)
	}
	var rc recorder
	ln2, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("port %s taken meanwhile: %v", addr, err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { rc.add(r) })}
	go srv.Serve(ln2)
	defer srv.Close()
	if got := flushed(t, task, map[connect.TopicPartition]int64{tp: 10}); got[tp] != 10 {
		t.Fatalf("PreCommit %d, want 10", got[tp])
	}
	var all []string
	for _, s := range rc.all() {
		all = append(all, string(s.body))
	}
	if want := `{"i":0},{"i":1},{"i":2}|{"i":3},{"i":4},{"i":5}|{"i":6},{"i":7},{"i":8}|{"i":9}`; strings.Join(all, "|") != want {
		t.Errorf("bodies %q, want %q", strings.Join(all, "|"), want)
	}
}

// TestSinkFieldTemplatesAndBadRecords: ${value.id} in the URL; a record
// without the field is reported without a request.
func TestSinkFieldTemplatesAndBadRecords(t *testing.T) {
	var rc recorder
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { rc.add(r) }))
	defer srv.Close()
	tctx := &fakeTaskContext{tolerate: true}
	task := startTask(t, tctx, map[string]string{URLConfig: srv.URL + "/c/${value.customer.id}/o", BodyFormatConfig: "string"})
	recs := []*connect.Record{
		rec("t", 0, 0, nil, map[string]any{"customer": map[string]any{"id": "x y"}, "n": int64(1)}),
		rec("t", 0, 1, nil, map[string]any{"n": int64(2)}),
	}
	if err := task.Put(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	flushed(t, task, map[connect.TopicPartition]int64{{Topic: "t"}: 2})
	reqs := rc.all()
	if len(reqs) != 1 || reqs[0].path != "/c/x%20y/o" || reqs[0].header.Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Fatalf("requests %+v", reqs)
	}
	rep := tctx.reports()
	if len(rep) != 1 || rep[0].rec.Offset != 1 || !strings.Contains(rep[0].err.Error(), `no field "customer"`) {
		t.Fatalf("reports %+v", rep)
	}
}

// TestSinkTimeoutRetried: the first attempt outlasts http.request.timeout.ms
// and is abandoned; the retry is answered and the record committed.
func TestSinkTimeoutRetried(t *testing.T) {
	var n atomic.Int32
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 1 {
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		w.WriteHeader(200)
	}))
	defer srv.Close()
	defer close(release) // before srv.Close, which waits for the handler
	task := startTask(t, &fakeTaskContext{}, map[string]string{URLConfig: srv.URL, "http.request.timeout.ms": "200",
		"max.retries": "3", "retry.backoff.ms": "10"})
	tp := connect.TopicPartition{Topic: "t"}
	if err := task.Put(context.Background(), []*connect.Record{rec("t", 0, 0, nil, map[string]any{"a": int64(1)})}); err != nil {
		t.Fatal(err)
	}
	if got := flushed(t, task, map[connect.TopicPartition]int64{tp: 1}); got[tp] != 1 || n.Load() != 2 {
		t.Fatalf("PreCommit %d after %d attempts", got[tp], n.Load())
	}
}

// TestSinkPutWaitsForRoom: with max.buffered.records=2, a Put that would
// leave more than two records waiting behind a request the API holds waits
// (here until its context is cancelled: it cannot return nil without room);
// once the API answers, every record is delivered, in order.
func TestSinkPutWaitsForRoom(t *testing.T) {
	putWaitsForRoom(t, 3, "Put with two records waiting")
}

// putWaitsForRoom runs a task with max.buffered.records=2 whose API holds
// the first request (record 0) until told to answer: records 1 to queuedTo
// are put, then a Put of the records from queuedTo to 3 must wait for room
// until it is cancelled (what names it in the failure); once the API
// answers, record 3 is put again and every record is delivered once, in
// order.
func putWaitsForRoom(t *testing.T, queuedTo int64, what string) {
	t.Helper()
	var rc recorder
	arrived := make(chan struct{}, 10)
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc.add(r)
		arrived <- struct{}{}
		<-release
	}))
	defer srv.Close()
	var once sync.Once
	answer := func() { once.Do(func() { close(release) }) }
	defer answer() // a failed test does not wait on the held request in srv.Close
	task := startTask(t, &fakeTaskContext{}, map[string]string{URLConfig: srv.URL, BatchMaxSizeConfig: "1", MaxBufferedConfig: "2"})
	tp := connect.TopicPartition{Topic: "t"}
	put := func(ctx context.Context, from, to int64) error {
		var recs []*connect.Record
		for i := from; i < to; i++ {
			recs = append(recs, rec("t", 0, i, nil, map[string]any{"i": i}))
		}
		return task.Put(ctx, recs)
	}
	if err := put(context.Background(), 0, 1); err != nil {
		t.Fatal(err)
	}
	<-arrived // record 0 is in flight, held by the API
	if queuedTo > 1 {
		if err := put(context.Background(), 1, queuedTo); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- put(ctx, queuedTo, 4) }()
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("%s: %v, want it to wait for room until cancelled", what, err)
	}
	answer()
	if err := put(context.Background(), 3, 4); err != nil {
		t.Fatal(err)
	}
	if got := flushed(t, task, map[connect.TopicPartition]int64{tp: 4}); got[tp] != 4 {
		t.Fatalf("PreCommit %d, want 4", got[tp])
	}
	var all []string
	for _, s := range rc.all() {
		all = append(all, string(s.body))
	}
	if want := `{"i":0}|{"i":1}|{"i":2}|{"i":3}`; strings.Join(all, "|") != want {
		t.Errorf("bodies %q, want %q", strings.Join(all, "|"), want)
	}
}

// TestSinkUnencodableValueInOrder: a value request.body.format=bytes cannot
// encode (its lane encodes it) is reported in its partition's order, naming
// the record and the format, and ends the batch before it; with a templated
// header that fails too, the encoding error is the one reported, as the
// value is encoded first. Without tolerance it fails the task.
func TestSinkUnencodableValueInOrder(t *testing.T) {
	for _, headers := range []string{"", "X-K:${value.k}"} {
		t.Run(headers, func(t *testing.T) {
			var rc recorder
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { rc.add(r) }))
			defer srv.Close()
			props := map[string]string{URLConfig: srv.URL, BodyFormatConfig: "bytes", BatchMaxSizeConfig: "10",
				BatchSeparatorConfig: ",", HeadersConfig: headers}
			recs := func() []*connect.Record {
				var out []*connect.Record
				for i := int64(0); i < 8; i++ {
					r := &connect.Record{Topic: "t", Offset: i, Key: fmt.Sprintf("k%d", i), Value: []byte(fmt.Sprint(i))}
					if i == 4 {
						r.Value = int64(4)
					}
					out = append(out, r)
				}
				return out
			}
			tp := connect.TopicPartition{Topic: "t"}
			tctx := &fakeTaskContext{tolerate: true}
			task := startTask(t, tctx, props)
			if err := task.Put(context.Background(), recs()); err != nil {
				t.Fatal(err)
			}
			if headers != "" {
				flushed(t, task, map[connect.TopicPartition]int64{tp: 8})
				rep := tctx.reports()
				if len(rep) != 8 || !strings.Contains(rep[4].err.Error(), "request.body.format=bytes") {
					t.Fatalf("reports %+v, want all 8 (no field k), offset 4's for its format", rep)
				}
				return
			}
			if got := flushed(t, task, map[connect.TopicPartition]int64{tp: 8}); got[tp] != 8 {
				t.Fatalf("PreCommit %d, want 8", got[tp])
			}
			var bodies []string
			for _, r := range rc.all() {
				bodies = append(bodies, string(r.body))
			}
			if fmt.Sprint(bodies) != "[0,1,2,3 5,6,7]" {
				t.Errorf("bodies %q, want the records before and after offset 4", bodies)
			}
			rep := tctx.reports()
			if len(rep) != 1 || rep[0].rec.Offset != 4 || !strings.Contains(rep[0].err.Error(), "t-0@4 (key k4)") ||
				!strings.Contains(rep[0].err.Error(), "request.body.format=bytes") {
				t.Fatalf("reports %+v", rep)
			}

			task = startTask(t, &fakeTaskContext{}, props)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := task.Put(ctx, recs()); err != nil {
				t.Fatal(err)
			}
			if err := task.Flush(ctx, nil); err == nil || !strings.Contains(err.Error(), "t-0@4 (key k4)") {
				t.Fatalf("flush: %v, want the task to fail naming record t-0@4", err)
			}
		})
	}
}

// TestSinkLargePutWaitsForRoom: with max.buffered.records=2, a Put of three
// records of a partition whose lane has nothing waiting (its one record is
// in flight, held by the API) queues two and waits for room for the third,
// rather than leaving all three waiting; once the API answers, every record
// is delivered once, in order.
func TestSinkLargePutWaitsForRoom(t *testing.T) {
	putWaitsForRoom(t, 1, "Put of three records with room for two")
}

// TestGrowItems: a lane's buffer grows to what its records need, doubling
// up to the bound (max.buffered.records), and past it only for records that
// need it, so a lane of a partition with few records (a sink of many such
// partitions) holds no more items than it was given.
func TestGrowItems(t *testing.T) {
	full := func(n int) []item { return make([]item, n) }
	for _, c := range []struct {
		name          string
		buf           []item
		n, most, want int // want: the grown capacity
	}{
		{"a first record", nil, 1, 2000, 1},
		{"a first run", nil, 166, 2000, 166},
		{"room enough", make([]item, 1, 8), 7, 2000, 8},
		{"doubled", full(100), 1, 2000, 200},
		{"doubled to the bound", full(1500), 1, 2000, 2000},
		{"past the bound for what is needed", full(1500), 600, 2000, 2100},
	} {
		got := growItems(c.buf, c.n, c.most)
		if cap(got) != c.want || len(got) != len(c.buf) {
			t.Errorf("%s: len %d cap %d, want len %d cap %d", c.name, len(got), cap(got), len(c.buf), c.want)
		}
	}
}

// TestSinkPutWaitingForRoomFailsWithItsLane: the API answers 503 to every
// request, so the partition's lane gives up after max.retries and fails
// the task, while a Put waits for room in that lane (max.buffered.records
// reached): the Put returns the lane's error rather than waiting for room
// that never comes.
func TestSinkPutWaitingForRoomFailsWithItsLane(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	task := startTask(t, &fakeTaskContext{}, map[string]string{URLConfig: srv.URL, BatchMaxSizeConfig: "1", MaxBufferedConfig: "2",
		"max.retries": "2", "retry.backoff.ms": "10", "retry.backoff.max.ms": "10"})
	var recs []*connect.Record
	for i := int64(0); i < 10; i++ {
		recs = append(recs, rec("t", 0, i, nil, map[string]any{"i": i}))
	}
	done := make(chan error, 1)
	go func() { done <- task.Put(context.Background(), recs) }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "giving up") {
			t.Fatalf("Put returned %v, want the lane's error (giving up after its retries)", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Put still waits for room in a lane that failed")
	}
}
