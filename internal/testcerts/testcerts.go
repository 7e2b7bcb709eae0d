// Package testcerts makes, for tests, a certificate authority with a server
// and a client certificate signed by it, written as PEM files: what tests of
// TLS and mutual TLS against loopback servers need.
package testcerts

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
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

// PKI is a CA with a server and a client certificate.
type PKI struct {
	// CAFile is the CA certificate, PEM.
	CAFile string
	// ClientFile holds the client certificate (common name
	// "penstock-client") and its unencrypted PKCS#8 key, PEM.
	ClientFile string
	// ServerFile holds the server certificate and its key, PEM.
	ServerFile string
	// Server is the server certificate, for a tls.Config.
	Server tls.Certificate
	// Pool holds the CA, for a tls.Config's RootCAs or ClientCAs.
	Pool *x509.CertPool
}

// New makes a PKI in a temporary directory of the test. With serverIP the
// server certificate names 127.0.0.1; without, it names no host at all.
func New(t testing.TB, serverIP bool) *PKI {
	t.Helper()
	dir := t.TempDir()
	key := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	caKey := key()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true,
		KeyUsage: x509.KeyUsageCertSign, BasicConstraintsValid: true}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	issue := func(cn string, usage x509.ExtKeyUsage, ip bool) []byte {
		k := key()
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage}}
		if ip {
			tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &k.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kb, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
			pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb})...)
	}
	p := &PKI{CAFile: filepath.Join(dir, "ca.pem"), ClientFile: filepath.Join(dir, "client.pem"),
		ServerFile: filepath.Join(dir, "server.pem"), Pool: x509.NewCertPool()}
	p.Pool.AddCert(ca)
	write := func(path string, b []byte) {
		if err := os.WriteFile(path, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write(p.CAFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}))
	write(p.ClientFile, issue("penstock-client", x509.ExtKeyUsageClientAuth, false))
	server := issue("api", x509.ExtKeyUsageServerAuth, serverIP)
	write(p.ServerFile, server)
	if p.Server, err = tls.X509KeyPair(server, server); err != nil {
		t.Fatal(err)
	}
	return p
}
