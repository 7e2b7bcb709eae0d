// The CA below, unlike PKI, issues any number of server and client
// certificates (named as the test wants, PEM inline too) and works outside
// tests (Generate, Issue), for the security tests and bench/tls.

package testcerts

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// CA is a test certificate authority.
type CA struct {
	// CertFile is the CA certificate in PEM (a truststore).
	CertFile string
	// CertPEM is the same, inline.
	CertPEM string
	cert    *x509.Certificate
	key     *ecdsa.PrivateKey
	dir     string
	serial  int64
}

// Pair is a signed certificate and its key.
type Pair struct {
	// File holds the private key and certificate chain in PEM: a Kafka
	// PEM keystore (ssl.keystore.location).
	File string
	// CertFile and KeyFile hold them apart (REST and kcat options).
	CertFile, KeyFile string
	// CertPEM and KeyPEM are the same, inline.
	CertPEM, KeyPEM string
}

// NewCA creates a CA whose files go to a temp dir of t.
func NewCA(t testing.TB, name string) *CA {
	t.Helper()
	ca, err := Generate(t.TempDir(), name)
	if err != nil {
		t.Fatal(err)
	}
	return ca
}

// Generate creates a CA whose files go to dir (benchmarks; tests use NewCA).
func Generate(dir, name string) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	cert, _ := x509.ParseCertificate(der)
	ca := &CA{cert: cert, key: key, dir: dir, serial: 1}
	ca.CertPEM = string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	ca.CertFile = filepath.Join(ca.dir, "ca.pem")
	return ca, os.WriteFile(ca.CertFile, []byte(ca.CertPEM), 0o600)
}

// Server issues a certificate for localhost and 127.0.0.1 named cn.
func (ca *CA) Server(t testing.TB, cn string) Pair { return ca.mustIssue(t, cn, true) }

// Client issues a client certificate with common name cn.
func (ca *CA) Client(t testing.TB, cn string) Pair { return ca.mustIssue(t, cn, false) }

func (ca *CA) mustIssue(t testing.TB, cn string, server bool) Pair {
	t.Helper()
	p, err := ca.Issue(cn, server)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// Issue signs a certificate named cn: a server's (for localhost and the
// loopback addresses) or a client's.
func (ca *CA) Issue(cn string, server bool) (Pair, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return Pair{}, err
	}
	ca.serial++
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(ca.serial),
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	if server {
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		tmpl.DNSNames = []string{"localhost"}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return Pair{}, err
	}
	kd, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return Pair{}, err
	}
	p := Pair{
		CertPEM: string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		KeyPEM:  string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd})),
	}
	base := filepath.Join(ca.dir, cn+"-"+big.NewInt(ca.serial).String())
	p.File, p.CertFile, p.KeyFile = base+".pem", base+".crt", base+".key"
	for path, data := range map[string]string{p.File: p.KeyPEM + p.CertPEM, p.CertFile: p.CertPEM, p.KeyFile: p.KeyPEM} {
		if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
			return Pair{}, err
		}
	}
	return p, nil
}
