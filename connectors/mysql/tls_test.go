package mysql

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"database/sql"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/internal/testservice"
	"software.sslmate.com/src/go-pkcs12"
)

// testCA is a certificate authority made for a test.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t *testing.T, name string) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// issue makes a server certificate for the given DNS names and IPs.
func (ca *testCA) issue(t *testing.T, dns []string, ips []net.IP) testservice.MariaDBTLS {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "mariadb"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		DNSNames: dns, IPAddresses: ips, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return testservice.MariaDBTLS{CertPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		KeyPEM: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder})}
}

// tlsCipher connects as the connector does and returns the session's TLS
// cipher ("" for a plain connection).
func tlsCipher(t *testing.T, props map[string]string) (string, error) {
	t.Helper()
	s, err := parseSettings(props)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := s.connect(context.Background())
	if err != nil {
		return "", err
	}
	defer conn.Close()
	r, err := conn.Execute("SHOW SESSION STATUS LIKE 'Ssl_cipher'")
	if err != nil {
		t.Fatal(err)
	}
	v, _ := r.GetString(0, 1)
	return v, nil
}

// database.ssl.mode behaves as Debezium defines it, against a MariaDB with
// TLS whose certificate a test CA signed for another host name, then for
// 127.0.0.1, and against one without TLS.
func TestSSLModes(t *testing.T) {
	ca, other := newTestCA(t, "penstock test CA"), newTestCA(t, "someone else's CA")
	srv := testservice.MariaDBWithTLS(t, ca.issue(t, []string{"db.invalid"}, nil))
	dir := t.TempDir()
	caFile, otherFile, p12File := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "other.pem"), filepath.Join(dir, "ca.p12")
	p12, err := pkcs12.Modern.EncodeTrustStore([]*x509.Certificate{ca.cert}, "secret")
	if err != nil {
		t.Fatal(err)
	}
	for f, b := range map[string][]byte{caFile: ca.pem, otherFile: other.pem, p12File: p12} {
		if err := os.WriteFile(f, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	props := func(srv *testservice.MariaDBServer, extra ...string) map[string]string {
		p := map[string]string{KeyHostname: srv.Host, KeyPort: strconv.Itoa(srv.Port), KeyUser: srv.User, KeyTopicPrefix: "srv"}
		for i := 0; i+1 < len(extra); i += 2 {
			p[extra[i]] = extra[i+1]
		}
		return p
	}
	cases := []struct {
		name  string
		props []string
		tls   bool   // the session is encrypted
		err   string // or the connection fails naming this
	}{
		{"disabled", []string{KeySSLMode, "disabled"}, false, ""},
		{"preferred", []string{KeySSLMode, "preferred"}, true, ""},
		{"required", []string{KeySSLMode, "required"}, true, ""},
		{"verify_ca", []string{KeySSLMode, "verify_ca", KeySSLTruststore, caFile}, true, ""},
		{"verify_ca PKCS12", []string{KeySSLMode, "verify_ca", KeySSLTruststore, p12File, KeySSLTruststorePw, "secret"}, true, ""},
		{"verify_ca system CAs", []string{KeySSLMode, "verify_ca"}, false, "not signed by a CA of the system's CAs"},
		{"verify_ca untrusted CA", []string{KeySSLMode, "verify_ca", KeySSLTruststore, otherFile}, false,
			"not signed by a CA of " + KeySSLTruststore + " " + otherFile},
		{"verify_identity wrong name", []string{KeySSLMode, "verify_identity", KeySSLTruststore, caFile}, false,
			"does not name " + KeyHostname + "=127.0.0.1"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cipher, err := tlsCipher(t, props(srv, c.props...))
			switch {
			case c.err != "":
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("error %v, want one saying %q", err, c.err)
				}
				t.Log(err)
			case err != nil:
				t.Fatal(err)
			case (cipher != "") != c.tls:
				t.Fatalf("TLS cipher %q, want TLS %v", cipher, c.tls)
			}
		})
	}

	// A certificate naming 127.0.0.1 passes verify_identity; streaming
	// runs over TLS too.
	id := ca.issue(t, nil, []net.IP{net.ParseIP("127.0.0.1")})
	if err := os.WriteFile(srv.TLSCert, id.CertPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(srv.TLSKey, id.KeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("mysql", srv.DSN+"?multiStatements=true")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec("FLUSH SSL; CREATE DATABASE app; CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(10))"); err != nil {
		t.Fatal(err)
	}
	p := props(srv, KeySSLMode, "verify_identity", KeySSLTruststore, caFile, KeyDBInclude, "app", KeyPollInterval, "50", KeySchemaChanges, "false")
	if cipher, err := tlsCipher(t, p); err != nil || cipher == "" {
		t.Fatalf("verify_identity with the host's certificate: cipher %q, %v", cipher, err)
	}
	if _, err := tlsCipher(t, props(srv, KeySSLMode, "verify_identity", KeySSLTruststore, otherFile)); err == nil ||
		!strings.Contains(err.Error(), "not signed by a CA of "+KeySSLTruststore) {
		t.Fatalf("verify_identity with an untrusted CA: %v", err)
	}
	if _, err := db.Exec("INSERT INTO app.t VALUES (1, 'snapshot')"); err != nil {
		t.Fatal(err)
	}
	w := &fakeWorker{}
	task := startTask(t, w, p)
	pollUntil(t, task, w, 30*time.Second, func(r []*connect.Record) bool { return len(topicRecords(r, "srv.app.t")) >= 1 })
	if _, err := db.Exec("INSERT INTO app.t VALUES (2, 'tls')"); err != nil {
		t.Fatal(err)
	}
	recs := pollUntil(t, task, w, 30*time.Second, func(r []*connect.Record) bool { return len(topicRecords(r, "srv.app.t")) >= 2 })
	if r := topicRecords(recs, "srv.app.t")[1]; opOf(r) != "c" || field(r, "after", "v") != "tls" {
		t.Fatalf("streamed %s %v", opOf(r), field(r, "after", "v"))
	}

	// Without TLS on the server: preferred falls back to a plain
	// connection, required fails saying the server offers none.
	plain := testservice.MariaDB(t)
	if cipher, err := tlsCipher(t, props(plain, KeySSLMode, "preferred")); err != nil || cipher != "" {
		t.Fatalf("preferred without server TLS: cipher %q, %v", cipher, err)
	}
	if _, err := tlsCipher(t, props(plain, KeySSLMode, "required")); err == nil || !strings.Contains(err.Error(), "the server offers no TLS") {
		t.Fatalf("required without server TLS: %v", err)
	}
}

// A truststore that cannot be read fails the configuration naming the
// database.ssl.* key to fix: the file, or its password for a PKCS12 one
// (not for a PEM file without certificates: no password opens it).
func TestSSLTruststoreErrors(t *testing.T) {
	ca := newTestCA(t, "penstock test CA")
	dir := t.TempDir()
	p12File, junkFile := filepath.Join(dir, "ca.p12"), filepath.Join(dir, "junk.pem")
	p12, err := pkcs12.Modern.EncodeTrustStore([]*x509.Certificate{ca.cert}, "secret")
	if err != nil {
		t.Fatal(err)
	}
	for f, b := range map[string][]byte{p12File: p12, junkFile: []byte("-----BEGIN nothing\n")} {
		if err := os.WriteFile(f, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		props []string
		want  string
	}{
		{[]string{KeySSLTruststore, filepath.Join(dir, "missing.pem")}, KeySSLTruststore + ": open "},
		{[]string{KeySSLTruststore, junkFile}, KeySSLTruststore + ": " + junkFile + ": no PEM certificate"},
		{[]string{KeySSLTruststore, p12File, KeySSLTruststorePw, "wrong"}, KeySSLTruststorePw},
	} {
		props := map[string]string{KeyHostname: "localhost", KeyUser: "u", KeyTopicPrefix: "srv", KeySSLMode: "verify_ca"}
		for i := 0; i+1 < len(c.props); i += 2 {
			props[c.props[i]] = c.props[i+1]
		}
		if _, err := parseSettings(props); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want an error containing %q", c.props, err, c.want)
		}
	}
	if s, err := parseSettings(map[string]string{KeyHostname: "localhost", KeyUser: "u", KeyTopicPrefix: "srv", KeySSLMode: "verify_ca",
		KeySSLTruststore: p12File, KeySSLTruststorePw: "secret"}); err != nil || s.roots == nil {
		t.Fatalf("a PKCS12 truststore: %v", err)
	}
}
