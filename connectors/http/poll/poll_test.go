package poll

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"

	"github.com/penstockhq/penstock/connect"
)

type fakeContext struct{ stored map[string]any }

func (f fakeContext) ConnectorName() string         { return "poll" }
func (f fakeContext) TaskID() int                   { return 0 }
func (f fakeContext) Offsets() connect.OffsetReader { return f }
func (f fakeContext) Offset(context.Context, map[string]any) (map[string]any, error) {
	return f.stored, nil
}

// api serves items 1..n in three styles: /inc?from=N&limit=L (from an
// index), /chain?after=ID (ids greater than ID, 4 at a time) and
// /cursor?c=C (pages of 4 with meta.next); /since?since=ID is /chain
// including ID itself. It checks the bearer token.
type api struct {
	mu    sync.Mutex
	n     int
	calls []string
	t     *testing.T
}

func (a *api) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.calls = append(a.calls, r.URL.RequestURI())
	if r.Method != "GET" || r.Header.Get("Authorization") != "Bearer t0k" || r.Header.Get("X-Tenant") != "acme" {
		a.t.Errorf("request %s %s %v", r.Method, r.URL, r.Header)
		w.WriteHeader(403)
		return
	}
	item := func(i int) map[string]any { return map[string]any{"id": i, "name": fmt.Sprintf("item-%d", i)} }
	var items []map[string]any
	out := map[string]any{}
	q := r.URL.Query()
	switch r.URL.Path {
	case "/inc":
		from, _ := strconv.Atoi(q.Get("from"))
		limit, _ := strconv.Atoi(q.Get("limit"))
		for i := from + 1; i <= a.n && i <= from+limit; i++ {
			items = append(items, item(i))
		}
	case "/chain":
		after, _ := strconv.Atoi(q.Get("after"))
		for i := after + 1; i <= a.n && i <= after+4; i++ {
			items = append(items, item(i))
		}
	case "/since": // inclusive: the record at the offset comes again
		since, _ := strconv.Atoi(q.Get("since"))
		for i := max(since, 1); i <= a.n && i < since+4; i++ {
			items = append(items, item(i))
		}
	case "/cursor":
		page, _ := strconv.Atoi(q.Get("c"))
		for i := page*4 + 1; i <= a.n && i <= page*4+4; i++ {
			items = append(items, item(i))
		}
		if (page+1)*4 < a.n {
			out["meta"] = map[string]any{"next": strconv.Itoa(page + 1)}
		} else {
			out["meta"] = map[string]any{"next": nil}
		}
	}
	out["data"] = items
	json.NewEncoder(w).Encode(out)
}

// drain polls until a poll returns nothing, and returns the ids taken and
// the last record's offset.
func drain(t *testing.T, task *Task) ([]int, map[string]any) {
	t.Helper()
	var ids []int
	var last map[string]any
	for {
		recs, err := task.Poll(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) == 0 {
			if task.due.IsZero() {
				continue
			}
			return ids, last
		}
		for _, r := range recs {
			var v struct{ ID int }
			if err := json.Unmarshal(r.Value.([]byte), &v); err != nil {
				t.Fatal(err)
			}
			if r.Key != strconv.Itoa(v.ID) {
				t.Errorf("key %v for id %d", r.Key, v.ID)
			}
			ids = append(ids, v.ID)
			last = r.SourceOffset
		}
	}
}

func seq(from, to int) []int {
	var out []int
	for i := from; i <= to; i++ {
		out = append(out, i)
	}
	return out
}

// TestPollModes runs each offset mode over 10 items, adds 5 more, and
// checks every item is taken once, in order; then a new task started from
// the offset of the 7th record (as after a restart) continues at the 8th.
func TestPollModes(t *testing.T) {
	for _, c := range []struct {
		mode, url string
		extra     map[string]string
	}{
		{ModeIncrementing, "/inc?from=${offset}", map[string]string{ParametersConfig: "limit=3"}},
		{ModeChaining, "/chain?after=${offset}", map[string]string{OffsetPointer: "/id", InitialOffset: "0"}},
		{ModeChaining, "/since?since=${offset}", map[string]string{OffsetPointer: "/id", InitialOffset: "0"}},
		{ModeCursor, "/cursor?c=${offset}", map[string]string{NextPagePointer: "/meta/next", InitialOffset: "0"}},
	} {
		t.Run(c.mode, func(t *testing.T) {
			a := &api{n: 10, t: t}
			srv := httptest.NewServer(a)
			defer srv.Close()
			props := map[string]string{URLConfig: srv.URL + c.url, OffsetModeConfig: c.mode, DataPointerConfig: "/data",
				TopicConfig: "items", KeyPointerConfig: "/id", "auth.type": "BEARER", "bearer.token": "t0k",
				HeadersConfig: "X-Tenant: acme", PollIntervalConfig: "3600000"}
			for k, v := range c.extra {
				props[k] = v
			}
			start := func(stored map[string]any) *Task {
				task := &Task{}
				if err := task.Start(context.Background(), fakeContext{stored}, props); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { task.Stop() })
				return task
			}
			task := start(nil)
			ids, _ := drain(t, task)
			if fmt.Sprint(ids) != fmt.Sprint(seq(1, 10)) {
				t.Fatalf("first pass: %v (calls %v)", ids, a.calls)
			}
			a.mu.Lock()
			a.n = 15
			a.mu.Unlock()
			task.due = task.due.AddDate(-1, 0, 0) // the interval passed
			ids, _ = drain(t, task)
			if fmt.Sprint(ids) != fmt.Sprint(seq(11, 15)) {
				t.Fatalf("after growth: %v (calls %v)", ids, a.calls)
			}

			// A restart from the 7th record's offset.
			again := start(nil)
			var seventh map[string]any
			for seventh == nil {
				recs, err := again.Poll(context.Background())
				if err != nil {
					t.Fatal(err)
				}
				for _, r := range recs {
					if string(r.Value.([]byte)) == `{"id":7,"name":"item-7"}` {
						seventh = r.SourceOffset
					}
				}
			}
			b, _ := json.Marshal(seventh)
			var stored map[string]any
			json.Unmarshal(b, &stored) // as the offset store gives it back
			ids, _ = drain(t, start(stored))
			if fmt.Sprint(ids) != fmt.Sprint(seq(8, 15)) {
				t.Fatalf("resumed from %v: %v", stored, ids)
			}
		})
	}
}

// TestPollBackoffOn429 answers 429 with Retry-After 0 twice, then data.
func TestPollBackoffOn429(t *testing.T) {
	var n int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n++
		if n <= 2 {
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(429)
			return
		}
		w.Write([]byte(`[{"a":1},{"a":2}]`))
	}))
	defer srv.Close()
	task := &Task{}
	if err := task.Start(context.Background(), fakeContext{}, map[string]string{URLConfig: srv.URL, TopicConfig: "t",
		"retry.backoff.ms": "1"}); err != nil {
		t.Fatal(err)
	}
	recs, err := task.Poll(context.Background())
	if err != nil || len(recs) != 2 || n != 3 {
		t.Fatalf("%d records, %v, %d calls", len(recs), err, n)
	}
	if recs[1].SourceOffset[OffsetField] != "2" {
		t.Errorf("offset %v", recs[1].SourceOffset)
	}
}
