package httpclient

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/penstockhq/penstock/connect/config"
	"github.com/penstockhq/penstock/internal/testcerts"
)

func newClient(t *testing.T, props map[string]string) *Client {
	t.Helper()
	v, err := config.NewDef(Keys()...).Parse(props)
	if err != nil {
		t.Fatal(err)
	}
	s, err := Parse(v)
	if err != nil {
		t.Fatal(err)
	}
	c, err := New(s, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// TestOAuth2ClientCredentials runs a token endpoint that checks the grant
// and the client's credentials and issues tokens valid for 2 seconds, and an
// API that accepts only the latest token. The client fetches a token once,
// reuses it, fetches a new one before it expires, and after the API
// revoked it (a 401), without failing a request.
func TestOAuth2ClientCredentials(t *testing.T) {
	var mu sync.Mutex
	issued, current := 0, ""
	problems := []string{}
	tokens := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		id, secret, ok := r.BasicAuth()
		_ = r.ParseForm()
		if r.Method != "POST" || !ok || id != "penstock" || secret != "s3cret" ||
			r.PostForm.Get("grant_type") != "client_credentials" || r.PostForm.Get("scope") != "write:events" ||
			r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
			problems = append(problems, fmt.Sprintf("token request %s %v %v", r.Method, r.Header, r.PostForm))
			w.WriteHeader(401)
			return
		}
		issued++
		current = fmt.Sprintf("tok-%d", issued)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"access_token":%q,"token_type":"bearer","expires_in":2}`, current)
	}))
	defer tokens.Close()
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer "+current {
			w.WriteHeader(401)
			return
		}
		w.WriteHeader(200)
	}))
	defer api.Close()
	c := newClient(t, map[string]string{
		AuthTypeConfig: "OAUTH2", OAuthTokenURLConfig: tokens.URL, OAuthClientIDConfig: "penstock",
		OAuthClientSecretConfig: "s3cret", OAuthScopeConfig: "write:events", MaxRetriesConfig: "0",
	})
	call := func() {
		t.Helper()
		res, err := c.Do(context.Background(), Request{Method: "POST", URL: api.URL, Body: []byte("x")})
		if err != nil || res.Status != 200 {
			t.Fatalf("call: %v %+v", err, res)
		}
	}
	count := func() int { mu.Lock(); defer mu.Unlock(); return issued }
	call()
	call()
	if n := count(); n != 1 {
		t.Fatalf("%d tokens fetched for two calls, want 1", n)
	}
	time.Sleep(1700 * time.Millisecond) // past the refresh point (4/5 of 2s), before expiry
	call()
	if n := count(); n != 2 {
		t.Fatalf("%d tokens fetched, want 2: the token was not refreshed before expiry", n)
	}
	mu.Lock()
	current = "revoked"
	mu.Unlock()
	call()
	if n := count(); n != 3 {
		t.Fatalf("%d tokens fetched, want 3: no new token after a 401", n)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(problems) > 0 {
		t.Fatal(problems)
	}
}

// TestOAuth2RefusedCredentialsFailAtOnce: a 401 from the token endpoint is
// not retried.
func TestOAuth2RefusedCredentialsFailAtOnce(t *testing.T) {
	var calls int
	tokens := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls++
		w.WriteHeader(401)
		w.Write([]byte(`{"error":"invalid_client"}`))
	}))
	defer tokens.Close()
	c := newClient(t, map[string]string{
		AuthTypeConfig: "OAUTH2", OAuthTokenURLConfig: tokens.URL, OAuthClientIDConfig: "x",
		OAuthClientSecretConfig: "wrong", MaxRetriesConfig: "5", RetryBackoffConfig: "1",
	})
	_, err := c.Do(context.Background(), Request{Method: "GET", URL: tokens.URL})
	if err == nil || !strings.Contains(err.Error(), "invalid_client") || calls != 1 {
		t.Fatalf("err %v after %d calls", err, calls)
	}
	if strings.Contains(err.Error(), "wrong") {
		t.Fatal("the secret leaked into the error")
	}
}

// mtlsServer answers 200 to a client presenting a certificate signed by the
// CA, naming the client's common name in the body.
func mtlsServer(t *testing.T, p *testcerts.PKI) *httptest.Server {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, r.TLS.PeerCertificates[0].Subject.CommonName)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{p.Server}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: p.Pool}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

// TestMutualTLS: the client trusts the server through the custom CA and
// presents its certificate; without the certificate the server refuses.
func TestMutualTLS(t *testing.T) {
	p := testcerts.New(t, true)
	srv := mtlsServer(t, p)
	c := newClient(t, map[string]string{SSLEnabledConfig: "true", SSLTruststoreLocationConfig: p.CAFile,
		SSLKeystoreLocationConfig: p.ClientFile, MaxRetriesConfig: "0"})
	res, err := c.Do(context.Background(), Request{Method: "GET", URL: srv.URL})
	if err != nil || res.Status != 200 || string(res.Body) != "penstock-client" {
		t.Fatalf("%v %+v", err, res)
	}
	noCert := newClient(t, map[string]string{SSLEnabledConfig: "true", SSLTruststoreLocationConfig: p.CAFile, MaxRetriesConfig: "0"})
	if _, err := noCert.Do(context.Background(), Request{Method: "GET", URL: srv.URL}); err == nil {
		t.Fatal("the server accepted a client without a certificate")
	}
	noCA := newClient(t, map[string]string{MaxRetriesConfig: "0"})
	if _, err := noCA.Do(context.Background(), Request{Method: "GET", URL: srv.URL}); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("a server signed by an unknown CA was trusted: %v", err)
	}
}

// TestHostVerifierDisabled: a certificate that does not name the host is
// refused unless https.host.verifier.enabled=false, which still checks the
// chain.
func TestHostVerifierDisabled(t *testing.T) {
	p := testcerts.New(t, false)
	srv := mtlsServer(t, p)
	props := map[string]string{SSLEnabledConfig: "true", SSLTruststoreLocationConfig: p.CAFile,
		SSLKeystoreLocationConfig: p.ClientFile, MaxRetriesConfig: "0"}
	if _, err := newClient(t, props).Do(context.Background(), Request{Method: "GET", URL: srv.URL}); err == nil {
		t.Fatal("a certificate without the host's IP was accepted")
	}
	props[HostVerifierConfig] = "false"
	if res, err := newClient(t, props).Do(context.Background(), Request{Method: "GET", URL: srv.URL}); err != nil || res.Status != 200 {
		t.Fatalf("%v %+v", err, res)
	}
	other := testcerts.New(t, false)
	props[SSLTruststoreLocationConfig] = other.CAFile
	if _, err := newClient(t, props).Do(context.Background(), Request{Method: "GET", URL: srv.URL}); err == nil {
		t.Fatal("with the host verifier off, a chain to another CA was accepted")
	}
}

func TestStatusSetsAndRetryAfter(t *testing.T) {
	s, err := parseStatusSet([]string{"408", "429", "5xx", "300-302", "450-"})
	if err != nil {
		t.Fatal(err)
	}
	for code, want := range map[int]bool{408: true, 429: true, 500: true, 599: true, 404: false, 301: true, 303: false, 451: true, 200: false} {
		if s.Has(code) != want {
			t.Errorf("Has(%d) = %v", code, !want)
		}
	}
	for _, bad := range []string{"abc", "600", "500-400", "6xx"} {
		if _, err := parseStatusSet([]string{bad}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	h := http.Header{}
	h.Set("Retry-After", "3")
	if d := retryAfter(h, now); d != 3*time.Second {
		t.Errorf("%v", d)
	}
	h.Set("Retry-After", now.Add(5*time.Second).Format(http.TimeFormat))
	if d := retryAfter(h, now); d != 5*time.Second {
		t.Errorf("%v", d)
	}
	if got := redact("https://user:pw@host/p?token=x"); got != "https://host/p?..." {
		t.Errorf("redact: %s", got)
	}
}

// TestProxy: with http.proxy.* the request goes to the proxy, in absolute
// form, with the proxy's credentials.
func TestProxy(t *testing.T) {
	var got string
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Method + " " + r.URL.String() + " " + r.Header.Get("Proxy-Authorization")
		w.WriteHeader(204)
	}))
	defer proxy.Close()
	host, port, _ := net.SplitHostPort(strings.TrimPrefix(proxy.URL, "http://"))
	c := newClient(t, map[string]string{ProxyHostConfig: host, ProxyPortConfig: port, ProxyUserConfig: "p",
		ProxyPasswordConfig: "pw", MaxRetriesConfig: "0"})
	res, err := c.Do(context.Background(), Request{Method: "GET", URL: "http://api.example:8080/x?y=1"})
	if err != nil || res.Status != 204 {
		t.Fatalf("%v %+v", err, res)
	}
	if want := "GET http://api.example:8080/x?y=1 Basic cDpwdw=="; got != want {
		t.Errorf("the proxy saw %q, want %q", got, want)
	}
}
