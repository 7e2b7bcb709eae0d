package rest

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

type fakeCluster struct {
	mu        sync.Mutex
	leader    string
	self      bool
	owner     string
	ownerSelf bool
	got       []string
}

func (f *fakeCluster) Leader() (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.leader, f.self
}

func (f *fakeCluster) TaskOwner(string, int) (string, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.owner, f.ownerSelf
}

func (f *fakeCluster) PutTaskConfigs(_ context.Context, c string, body []byte, sig, alg string) error {
	if sig != "good" {
		return &Error{Status: http.StatusForbidden, Message: "Internal request has an invalid signature"}
	}
	f.mu.Lock()
	f.got = append(f.got, c+":"+string(body))
	f.mu.Unlock()
	return nil
}

func TestForwarding(t *testing.T) {
	// The "leader": records what reaches it.
	var mu sync.Mutex
	var seen []string
	leader := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		seen = append(seen, r.Method+" "+r.URL.RequestURI()+" "+string(b))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Location", "http://leader/connectors/x")
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, `{"name":"x"}`)
	}))
	defer leader.Close()
	fc := &fakeCluster{}
	f, s := newTestServer(WithCluster(fc))
	f.add("a", map[string]string{"connector.class": "FileStreamSource"})
	h := s.Handler()

	// No leader known: 409 with Retry-After.
	got := send(t, h, "POST", "/connectors", `{"name":"x","config":{"connector.class":"FileStreamSource"}}`)
	if got.code != http.StatusConflict || got.hdr.Get("Retry-After") == "" || !strings.Contains(got.body, "no known leader") {
		t.Fatalf("no leader: %d %v %s", got.code, got.hdr, got.body)
	}
	// GETs are answered locally all the same.
	if got := send(t, h, "GET", "/connectors", ""); got.code != 200 {
		t.Fatalf("GET without a leader: %d %s", got.code, got.body)
	}

	// A non-leader forwards with ?forward=true, body, status and Location kept.
	fc.leader = leader.URL + "/"
	got = send(t, h, "POST", "/connectors", `{"name":"x","config":{"connector.class":"FileStreamSource"}}`)
	if got.code != http.StatusCreated || got.body != `{"name":"x"}` || got.hdr.Get("Location") == "" {
		t.Fatalf("forwarded create: %d %v %s", got.code, got.hdr, got.body)
	}
	mu.Lock()
	if len(seen) != 1 || seen[0] != `POST /connectors?forward=true {"name":"x","config":{"connector.class":"FileStreamSource"}}` {
		t.Fatalf("leader saw %q", seen)
	}
	mu.Unlock()

	// A request already forwarded once is not forwarded again.
	got = send(t, h, "PUT", "/connectors/a/stop?forward=true", "")
	if got.code != http.StatusConflict {
		t.Fatalf("second hop: %d %s", got.code, got.body)
	}

	// Pause is served locally.
	if got := send(t, h, "PUT", "/connectors/a/pause", ""); got.code != http.StatusAccepted {
		t.Fatalf("pause on a non-leader: %d %s", got.code, got.body)
	}

	// Task restarts go to the task's owner; served here when it is this worker.
	fc.owner = leader.URL + "/"
	send(t, h, "POST", "/connectors/a/tasks/0/restart", "")
	mu.Lock()
	if len(seen) != 2 || !strings.HasPrefix(seen[1], "POST /connectors/a/tasks/0/restart?forward=true") {
		t.Fatalf("owner saw %q", seen)
	}
	mu.Unlock()
	fc.owner, fc.ownerSelf = "", true
	if got := send(t, h, "POST", "/connectors/a/tasks/0/restart", ""); got.code != http.StatusNoContent {
		t.Fatalf("restart of an own task: %d %s", got.code, got.body)
	}

	// On the leader, writes are served here.
	fc.leader, fc.self = "", true
	if got := send(t, h, "PUT", "/connectors/a/stop", ""); got.code != http.StatusNoContent {
		t.Fatalf("stop on the leader: %d %s", got.code, got.body)
	}

	// The internal task-configs endpoint checks the signature.
	req := httptest.NewRequest("POST", "/connectors/a/tasks?forward=true", strings.NewReader(`[{"k":"v"}]`))
	req.Header.Set(SignatureHeader, "bad")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusForbidden {
		t.Fatalf("bad signature: %d %s", rec.Code, rec.Body)
	}
	req = httptest.NewRequest("POST", "/connectors/a/tasks?forward=true", strings.NewReader(`[{"k":"v"}]`))
	req.Header.Set(SignatureHeader, "good")
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusNoContent || len(fc.got) != 1 || fc.got[0] != `a:[{"k":"v"}]` {
		t.Fatalf("good signature: %d %s %q", rec.Code, rec.Body, fc.got)
	}

	// Without WithCluster there is no internal endpoint.
	_, plain := newTestServer()
	if got := send(t, plain.Handler(), "POST", "/connectors/a/tasks", `[]`); got.code == http.StatusNoContent {
		t.Fatalf("internal endpoint without a cluster: %d", got.code)
	}
}
