// Package registrytest starts Penstock's schema registry in process for
// tests, over a broker from internal/brokertest (or a given one), on a free
// loopback port, stopped when the test ends.
package registrytest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/penstockhq/penstock/broker/schemaregistry"
	"github.com/penstockhq/penstock/internal/brokertest"
	"github.com/penstockhq/penstock/internal/httpauth"
	"github.com/penstockhq/penstock/internal/testcerts"
	"github.com/penstockhq/penstock/internal/tlsconfig"
)

// Start starts a broker and a registry on it and returns the registry's
// URL and the broker.
func Start(t testing.TB) (string, *brokertest.Broker) {
	t.Helper()
	b := brokertest.Start(t)
	return On(t, b.Addr), b
}

// On starts a registry over the broker at addr and returns its URL.
func On(t testing.TB, addr string, opts ...schemaregistry.Option) string {
	t.Helper()
	return serve(t, addr, nil, opts)
}

// OnTLS starts a registry over the broker at addr serving HTTPS with tc,
// and returns its https URL.
func OnTLS(t testing.TB, addr string, tc *tls.Config, opts ...schemaregistry.Option) string {
	t.Helper()
	return serve(t, addr, tc, opts)
}

func serve(t testing.TB, addr string, tc *tls.Config, opts []schemaregistry.Option) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	log := slog.New(slog.DiscardHandler)
	store, err := schemaregistry.Open(ctx, []string{addr}, schemaregistry.DefaultTopic, log)
	if err != nil {
		t.Fatalf("registrytest: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		store.Close()
		t.Fatalf("registrytest: %v", err)
	}
	url := "http://" + ln.Addr().String()
	if tc != nil {
		ln = tls.NewListener(ln, tc)
		url = "https://" + ln.Addr().String()
	}
	srv := &http.Server{Handler: schemaregistry.Handler(store, opts...), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln) //nolint:errcheck // ErrServerClosed at cleanup
	t.Cleanup(func() {
		srv.Close()
		store.Close()
	})
	return url
}

// Secured is a registry serving HTTPS with credentials (StartSecure).
type Secured struct {
	// URL is the registry's https URL.
	URL string
	// CAFile is the PEM file of the CA that signed its certificate.
	CAFile string
	// Client is an HTTP client trusting that CA.
	Client *http.Client
}

// The credentials of a Secured registry: an admin user, a read-only user
// and an admin bearer token.
const (
	AdminUser, AdminPassword   = "admin", "admin-secret"
	ViewerUser, ViewerPassword = "viewer", "view-secret"
	Token                      = "tok-123"
)

// StartSecure starts a broker and a registry on it serving HTTPS (a
// certificate from a CA made for the test) with basic users and a bearer
// token read from files, as `penstock broker --schema-registry-users-file`
// does.
func StartSecure(t testing.TB) Secured {
	t.Helper()
	dir := t.TempDir()
	users, tokens := filepath.Join(dir, "users"), filepath.Join(dir, "tokens")
	for p, body := range map[string]string{
		users:  AdminUser + ": " + AdminPassword + "\n" + ViewerUser + ": " + ViewerPassword + ",read-only\n",
		tokens: "ci: " + Token + "\n",
	} {
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	creds, err := httpauth.Load(users, tokens)
	if err != nil {
		t.Fatal(err)
	}
	ca := testcerts.NewCA(t, "registry-ca")
	tc, err := tlsconfig.Server(tlsconfig.Prefixed(map[string]string{tlsconfig.KeyKeystoreLocation: ca.Server(t, "registry").File}, "", false))
	if err != nil {
		t.Fatal(err)
	}
	url := OnTLS(t, brokertest.Start(t).Addr, tc, schemaregistry.WithCredentials(creds))
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM([]byte(ca.CertPEM))
	return Secured{URL: url, CAFile: ca.CertFile,
		Client: &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}}
}
