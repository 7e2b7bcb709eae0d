package tlsconfig

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"software.sslmate.com/src/go-pkcs12"

	"github.com/penstockhq/penstock/internal/testcerts"
)

func TestConfigErrors(t *testing.T) {
	ca := testcerts.NewCA(t, "ca")
	pair := ca.Server(t, "s")
	get := func(kv ...string) Getter {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return Prefixed(m, "", false)
	}
	for _, c := range []struct {
		get  Getter
		want string
	}{
		{get(), "needs ssl.keystore.location"},
		{get(KeyKeystoreType, "JKS", KeyKeystoreLocation, pair.File), "PEM or PKCS12"},
		{get(KeyKeystoreLocation, "/nonexistent.pem"), "ssl.keystore.location"},
		{get(KeyKeystoreLocation, pair.File, KeyClientAuth, "required"), "needs a truststore"},
		{get(KeyKeystoreLocation, pair.File, KeyClientAuth, "maybe"), "none, requested or required"},
		{get(KeyKeystoreChain, pair.CertPEM, KeyKeystoreKey, "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n"), "encrypted private keys"},
	} {
		if _, err := Server(c.get); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v, want an error containing %q", err, c.want)
		}
	}
	if _, err := Server(get(KeyKeystoreChain, pair.CertPEM, KeyKeystoreKey, pair.KeyPEM, KeyClientAuth, "requested",
		KeyTruststoreCerts, ca.CertPEM)); err != nil {
		t.Fatal(err)
	}
	if _, err := Client(get(KeyTruststoreCerts, "not pem"), false); err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Fatalf("bad truststore: %v", err)
	}
}

// TestPKCS12: a PKCS12 keystore serves and a PKCS12 truststore verifies, as
// Java tools write them (modern encryption, passwords).
func TestPKCS12(t *testing.T) {
	ca := testcerts.NewCA(t, "ca")
	pair := ca.Server(t, "localhost")
	kp, err := tls.X509KeyPair([]byte(pair.CertPEM), []byte(pair.KeyPEM))
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(kp.Certificate[0])
	blk, _ := pem.Decode([]byte(ca.CertPEM))
	caCert, _ := x509.ParseCertificate(blk.Bytes)
	ks, err := pkcs12.Modern.Encode(kp.PrivateKey, leaf, nil, "ks-pass")
	if err != nil {
		t.Fatal(err)
	}
	ts, err := pkcs12.Modern.EncodeTrustStore([]*x509.Certificate{caCert}, "ts-pass")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	ksPath, tsPath := filepath.Join(dir, "ks.p12"), filepath.Join(dir, "ts.p12")
	os.WriteFile(ksPath, ks, 0o600)
	os.WriteFile(tsPath, ts, 0o600)
	srv, err := Server(Prefixed(map[string]string{KeyKeystoreType: "PKCS12", KeyKeystoreLocation: ksPath, KeyKeystorePassword: "ks-pass"}, "", false))
	if err != nil {
		t.Fatal(err)
	}
	cli, err := Client(Prefixed(map[string]string{KeyTruststoreType: "PKCS12", KeyTruststoreLoc: tsPath, KeyTruststorePass: "ts-pass"}, "", false), false)
	if err != nil {
		t.Fatal(err)
	}
	cli.ServerName = "localhost"
	ln, err := tls.Listen("tcp", "127.0.0.1:0", srv)
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		if c, err := ln.Accept(); err == nil {
			c.(*tls.Conn).Handshake()
			c.Close()
		}
	}()
	c, err := tls.Dial("tcp", ln.Addr().String(), cli)
	if err != nil {
		t.Fatalf("handshake with PKCS12 stores: %v", err)
	}
	c.Close()
	if _, err := Server(Prefixed(map[string]string{KeyKeystoreType: "PKCS12", KeyKeystoreLocation: ksPath, KeyKeystorePassword: "wrong"}, "", false)); err == nil {
		t.Fatal("wrong keystore password accepted")
	}
}
