package rest

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/penstockhq/penstock/internal/httpauth"
	"github.com/penstockhq/penstock/internal/testcerts"
	"github.com/penstockhq/penstock/internal/tlsconfig"
)

func writeCreds(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "users.properties")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestAuthAndHTTPS: two workers serve HTTPS with basic users and tokens.
// No or bad credentials get Kafka Connect's 401 body, a read-only user gets
// 403 on writes, and the follower forwards a write to the leader over HTTPS
// with the caller's credentials.
func TestAuthAndHTTPS(t *testing.T) {
	ca := testcerts.NewCA(t, "rest-ca")
	pair := ca.Server(t, "worker")
	serverTLS, err := tlsconfig.Server(tlsconfig.Prefixed(map[string]string{"listeners.https.ssl.keystore.location": pair.File},
		"listeners.https.", true))
	if err != nil {
		t.Fatal(err)
	}
	users := writeCreds(t, "# users\nadmin: admin-secret\nviewer: view-secret,read-only\n")
	tokens := writeCreds(t, "ci: tok-123\n")
	creds, err := httpauth.Load(users, tokens)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM([]byte(ca.CertPEM))
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}

	start := func(fc *fakeCluster) (string, *fakeHerder) {
		f, s := newTestServer(WithCluster(fc), WithCredentials(creds), WithTLS(serverTLS), WithHTTPClient(client))
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go s.Serve(ln)
		t.Cleanup(func() { s.Shutdown(t.Context()) })
		return "https://" + ln.Addr().String(), f
	}
	leaderURL, leader := start(&fakeCluster{self: true})
	followerURL, _ := start(&fakeCluster{leader: leaderURL + "/"})

	do := func(base, method, path, auth, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	basic := func(u, p string) string {
		r, _ := http.NewRequest("GET", "/", nil)
		r.SetBasicAuth(u, p)
		return r.Header.Get("Authorization")
	}
	const unauthorized = `{"error_code":401,"message":"Credentials are required to access this resource."}`
	if code, body := do(followerURL, "GET", "/connectors", "", ""); code != 401 || body != unauthorized {
		t.Fatalf("no credentials: %d %s", code, body)
	}
	if code, body := do(followerURL, "GET", "/connectors", basic("admin", "wrong"), ""); code != 401 || body != unauthorized {
		t.Fatalf("bad password: %d %s", code, body)
	}
	if code, _ := do(followerURL, "GET", "/connectors", "Bearer nope", ""); code != 401 {
		t.Fatalf("bad token: %d", code)
	}
	if code, body := do(followerURL, "GET", "/connectors", basic("viewer", "view-secret"), ""); code != 200 {
		t.Fatalf("read-only GET: %d %s", code, body)
	}
	if code, _ := do(followerURL, "GET", "/connectors", "Bearer tok-123", ""); code != 200 {
		t.Fatalf("token GET: %d", code)
	}
	create := `{"name":"x","config":{"connector.class":"FileStreamSource"}}`
	if code, body := do(followerURL, "POST", "/connectors", basic("viewer", "view-secret"), create); code != 403 || !strings.Contains(body, `"error_code":403`) {
		t.Fatalf("read-only POST: %d %s", code, body)
	}
	// The follower forwards the admin's create to the leader over HTTPS.
	if code, body := do(followerURL, "POST", "/connectors", basic("admin", "admin-secret"), create); code != 201 {
		t.Fatalf("admin create through the follower: %d %s", code, body)
	}
	if _, err := leader.conn("x"); err != nil {
		t.Fatalf("the leader did not get the connector: %v", err)
	}
	// Internal signed task configs need no user credentials.
	fc := &fakeCluster{self: true}
	_, s := newTestServer(WithCluster(fc), WithCredentials(creds))
	req, _ := http.NewRequest("POST", "/connectors/x/tasks", strings.NewReader(`[]`))
	req.Header.Set(SignatureHeader, "good")
	req.Header.Set(SignatureAlgorithmHeader, "HmacSHA256")
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	s.Handler().ServeHTTP(rec, req)
	if rec.Code/100 != 2 {
		t.Fatalf("signed internal request: %d %s", rec.Code, rec.Body.String())
	}
}
