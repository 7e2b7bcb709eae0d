package schemaregistry_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/penstockhq/penstock/internal/e2e"
	"github.com/penstockhq/penstock/internal/registrytest"
)

// TestModesConfigAndErrors covers what confluent-kafka-python's client does
// not call: /mode, deleting /config, IMPORT with ids, error bodies and the
// content type.
func TestModesConfigAndErrors(t *testing.T) {
	url, _ := registrytest.Start(t)
	avro := `{"type":"record","name":"r","fields":[{"name":"a","type":"int"}]}`
	expectErr := func(status, code int, method, path string, body any) {
		t.Helper()
		r := e2e.Expect(t, status, method, url+path, body)
		var e struct {
			Code    int    `json:"error_code"`
			Message string `json:"message"`
		}
		r.JSON(t, &e)
		if e.Code != code || e.Message == "" {
			t.Errorf("%s %s: %s, want error_code %d", method, path, r.Body, code)
		}
	}
	r := e2e.Expect(t, http.StatusOK, "GET", url+"/mode", nil)
	if ct := r.Header.Get("Content-Type"); ct != "application/vnd.schemaregistry.v1+json" || !strings.Contains(string(r.Body), `"READWRITE"`) {
		t.Errorf("GET /mode: %s %s", ct, r.Body)
	}
	e2e.Expect(t, http.StatusOK, "PUT", url+"/mode/ro", map[string]string{"mode": "READONLY"})
	expectErr(422, 42205, "POST", "/subjects/ro/versions", map[string]string{"schema": avro})
	expectErr(422, 42204, "PUT", "/mode", map[string]string{"mode": "SIDEWAYS"})
	expectErr(404, 40409, "GET", "/mode/other", nil)

	// IMPORT keeps the given id and version.
	e2e.Expect(t, http.StatusOK, "PUT", url+"/mode/imp", map[string]string{"mode": "IMPORT"})
	e2e.Expect(t, http.StatusOK, "POST", url+"/subjects/imp/versions", map[string]any{"schema": avro, "id": 100, "version": 5})
	r = e2e.Expect(t, http.StatusOK, "GET", url+"/subjects/imp/versions/5", nil)
	if !strings.Contains(string(r.Body), `"id":100`) {
		t.Errorf("imported version: %s", r.Body)
	}
	e2e.Expect(t, http.StatusOK, "PUT", url+"/mode/imp", map[string]string{"mode": "READWRITE"})
	// A new schema after an import gets an id above the imported one.
	r = e2e.Expect(t, http.StatusOK, "POST", url+"/subjects/after/versions", map[string]string{"schema": `"string"`})
	if !strings.Contains(string(r.Body), `"id":101`) {
		t.Errorf("id after import: %s", r.Body)
	}

	// Per-subject config: set, read, delete, fall back to the global one.
	e2e.Expect(t, http.StatusOK, "PUT", url+"/config/after", map[string]string{"compatibility": "full"})
	r = e2e.Expect(t, http.StatusOK, "GET", url+"/config/after", nil)
	if !strings.Contains(string(r.Body), `"FULL"`) {
		t.Errorf("GET /config/after: %s", r.Body)
	}
	e2e.Expect(t, http.StatusOK, "DELETE", url+"/config/after", nil)
	expectErr(404, 40408, "GET", "/config/after", nil)
	r = e2e.Expect(t, http.StatusOK, "GET", url+"/config/after?defaultToGlobal=true", nil)
	if !strings.Contains(string(r.Body), `"BACKWARD"`) {
		t.Errorf("GET /config/after?defaultToGlobal=true: %s", r.Body)
	}

	expectErr(422, 42202, "GET", "/subjects/after/versions/zero", nil)
	expectErr(404, 40402, "GET", "/subjects/after/versions/9", nil)
	expectErr(404, 40401, "GET", "/subjects/none/versions", nil)
	expectErr(404, 40403, "GET", "/schemas/ids/999", nil)
	expectErr(422, 42201, "POST", "/subjects/bad/versions", map[string]string{"schema": `{"type":"record"`})
	// Hard delete needs a soft delete first; soft-deleted versions show with ?deleted=true.
	expectErr(404, 40407, "DELETE", "/subjects/after/versions/1?permanent=true", nil)
	e2e.Expect(t, http.StatusOK, "DELETE", url+"/subjects/after/versions/1", nil)
	r = e2e.Expect(t, http.StatusOK, "GET", url+"/subjects/after/versions?deleted=true", nil)
	if strings.TrimSpace(string(r.Body)) != "[1]" {
		t.Errorf("deleted versions: %s", r.Body)
	}
	e2e.Expect(t, http.StatusOK, "DELETE", url+"/subjects/after/versions/1?permanent=true", nil)
	expectErr(404, 40401, "GET", "/subjects/after/versions?deleted=true", nil)
	r = e2e.Expect(t, http.StatusOK, "GET", url+"/schemas/types", nil)
	if !strings.Contains(string(r.Body), "PROTOBUF") {
		t.Errorf("types: %s", r.Body)
	}
}
