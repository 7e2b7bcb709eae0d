package restclient

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// These tests cover what the command tests (cmd/penstock, against the real
// REST API over a fake herder) do not reach: URL forms and error bodies that
// are not Kafka Connect's.

func TestNewURL(t *testing.T) {
	for in, want := range map[string]string{
		"":                       DefaultURL,
		"localhost:8083":         "http://localhost:8083",
		"http://w1:8083/":        "http://w1:8083",
		"https://w1/connect/api": "https://w1/connect/api",
	} {
		c, err := New(in, nil)
		if err != nil {
			t.Errorf("New(%q): %v", in, err)
			continue
		}
		if c.URL() != want {
			t.Errorf("New(%q).URL() = %q, want %q", in, c.URL(), want)
		}
	}
	for _, bad := range []string{"ftp://x", "http://", "http://[::1"} {
		if _, err := New(bad, nil); err == nil {
			t.Errorf("New(%q) accepted", bad)
		}
	}
}

func TestErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.EscapedPath() == "/connectors/x%2Fy/status" {
			_, _ = w.Write([]byte(`{"name":"x/y","connector":{"state":"RUNNING","worker_id":"w"},"tasks":[],"type":"sink"}`))
			return
		}
		switch r.URL.Path {
		case "/connectors/busy/pause":
			w.Header().Set("Retry-After", "3")
			w.WriteHeader(http.StatusConflict)
			_, _ = w.Write([]byte(`{"error_code":409,"message":"Cannot complete request momentarily due to stale configuration (typically caused by a concurrent config change)"}`))
		case "/connectors/proxy/pause":
			http.Error(w, "bad gateway from the proxy", http.StatusBadGateway)
		case "/connectors/a b/status":
			_, _ = w.Write([]byte(`{"name":"a b","connector":{"state":"RUNNING","worker_id":"w"},"tasks":[],"type":"sink"}`))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	c, err := New(srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = c.Pause(t.Context(), "busy")
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != 409 || ae.RetryAfter != 3*time.Second || !strings.Contains(ae.Message, "stale configuration") {
		t.Errorf("409: %#v", err)
	}
	if !strings.Contains(err.Error(), "retry after 3s") {
		t.Errorf("409 message: %v", err)
	}
	err = c.Pause(t.Context(), "proxy")
	if !errors.As(err, &ae) || ae.Status != 502 || ae.Message != "bad gateway from the proxy" {
		t.Errorf("502 with a text body: %#v", err)
	}
	if err := c.Resume(t.Context(), "nope"); !IsNotFound(err) {
		t.Errorf("404: %v", err)
	}
	st, err := c.Status(t.Context(), "a b")
	if err != nil || st.Name != "a b" {
		t.Errorf("escaped name: %+v %v", st, err)
	}
	// A "/" in a name stays inside its path segment.
	if st, err := c.Status(t.Context(), "x/y"); err != nil || st.Name != "x/y" {
		t.Errorf("name with a slash: %+v %v", st, err)
	}
}
