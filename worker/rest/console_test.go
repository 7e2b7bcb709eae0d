package rest

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestConsoleRoutes checks that the web console is mounted: GET / redirects
// a browser to /ui and still answers API clients with the server info.
func TestConsoleRoutes(t *testing.T) {
	h := New(newFakeHerder()).Handler()
	get := func(path, accept string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodGet, path, nil)
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	if rec := get("/", "text/html,application/xhtml+xml,*/*;q=0.8"); rec.Code != http.StatusFound || rec.Header().Get("Location") != "/ui" {
		t.Fatalf("browser GET /: %d %v", rec.Code, rec.Header())
	}
	if rec := get("/", "application/json"); rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), `"version"`) {
		t.Fatalf("API GET /: %d %s", rec.Code, rec.Body)
	}
	for _, p := range []string{"/ui", "/ui/", "/ui/app.js", "/ui/style.css"} {
		if rec := get(p, ""); rec.Code != http.StatusOK || rec.Body.Len() == 0 {
			t.Fatalf("GET %s: %d", p, rec.Code)
		}
	}
	if rec := get("/ui/nope.js", ""); rec.Code != http.StatusNotFound {
		t.Fatalf("GET /ui/nope.js: %d", rec.Code)
	}
	// Without a gatherer there are no rates to serve.
	if rec := get("/penstock/metrics/connectors", ""); rec.Code != http.StatusNotFound {
		t.Fatalf("GET rates without a gatherer: %d", rec.Code)
	}
}
