package schemaregistry_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/penstockhq/penstock/broker/schemaregistry"
	"github.com/penstockhq/penstock/internal/registrytest"
)

// TestAuthentication: without or with bad credentials every request gets
// 401 with a Confluent error body; the admin user and the bearer token
// register schemas through franz-go's sr client; the read-only user reads,
// looks schemas up and checks compatibility, and gets 403 (error_code
// 40301) on register, delete and config changes.
func TestAuthentication(t *testing.T) {
	reg := registrytest.StartSecure(t)
	url, hc := reg.URL, reg.Client
	ctx := context.Background()
	avro := `{"type":"record","name":"r","fields":[{"name":"a","type":"int"}]}`
	call := func(method, path, body string, auth func(*http.Request)) (int, int) {
		t.Helper()
		req, err := http.NewRequest(method, url+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", schemaregistry.ContentType)
		if auth != nil {
			auth(req)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var e struct {
			Code int `json:"error_code"`
		}
		if resp.StatusCode >= 400 {
			if err := json.Unmarshal(b, &e); err != nil || resp.Header.Get("Content-Type") != schemaregistry.ContentType {
				t.Fatalf("%s %s: error body %q (%v)", method, path, b, err)
			}
		}
		return resp.StatusCode, e.Code
	}
	basic := func(u, p string) func(*http.Request) { return func(r *http.Request) { r.SetBasicAuth(u, p) } }
	bearer := func(tok string) func(*http.Request) {
		return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }
	}
	for name, auth := range map[string]func(*http.Request){"none": nil, "wrong password": basic(registrytest.AdminUser, "nope"),
		"unknown user": basic("mallory", registrytest.AdminPassword), "bad token": bearer("tok-999")} {
		if st, code := call("GET", "/subjects", "", auth); st != 401 || code != 401 {
			t.Errorf("%s: GET /subjects: %d %d, want 401", name, st, code)
		}
	}

	client := func(opt sr.ClientOpt) *sr.Client {
		cl, err := sr.NewClient(sr.URLs(url), sr.HTTPClient(hc), opt)
		if err != nil {
			t.Fatal(err)
		}
		return cl
	}
	admin, ci, viewer := client(sr.BasicAuth(registrytest.AdminUser, registrytest.AdminPassword)), client(sr.BearerToken(registrytest.Token)),
		client(sr.BasicAuth(registrytest.ViewerUser, registrytest.ViewerPassword))
	ss, err := admin.CreateSchema(ctx, "auth-value", sr.Schema{Schema: avro})
	if err != nil {
		t.Fatalf("admin registers: %v", err)
	}
	if _, err := ci.CreateSchema(ctx, "ci-value", sr.Schema{Schema: `"string"`}); err != nil {
		t.Fatalf("token registers: %v", err)
	}
	if got, err := viewer.SchemaByID(ctx, ss.ID); err != nil || got.Schema == "" {
		t.Fatalf("viewer reads schema %d: %v", ss.ID, err)
	}
	if got, err := viewer.LookupSchema(ctx, "auth-value", sr.Schema{Schema: avro}); err != nil || got.ID != ss.ID {
		t.Fatalf("viewer looks up: %+v %v", got, err)
	}
	if res, err := viewer.CheckCompatibility(ctx, "auth-value", -1, sr.Schema{Schema: avro}); err != nil || !res.Is {
		t.Fatalf("viewer checks compatibility: %+v %v", res, err)
	}
	_, err = viewer.CreateSchema(ctx, "auth-value", sr.Schema{Schema: `"int"`})
	var re *sr.ResponseError
	if !errors.As(err, &re) || re.StatusCode != 403 || re.ErrorCode != 40301 {
		t.Fatalf("viewer registers: %v, want 403 40301", err)
	}
	for _, c := range []struct{ method, path, body string }{
		{"DELETE", "/subjects/auth-value", ""},
		{"PUT", "/config", `{"compatibility":"NONE"}`},
		{"PUT", "/mode", `{"mode":"READONLY"}`},
	} {
		if st, code := call(c.method, c.path, c.body, basic(registrytest.ViewerUser, registrytest.ViewerPassword)); st != 403 || code != 40301 {
			t.Errorf("viewer %s %s: %d %d, want 403 40301", c.method, c.path, st, code)
		}
	}
}
