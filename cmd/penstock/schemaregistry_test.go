package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/penstockhq/penstock/internal/brokertest"
	"github.com/penstockhq/penstock/internal/testcerts"
)

// TestSchemaRegistrySecuredBroker: the registry of `penstock broker`
// reaches a broker whose only listener requires SASL, with the Kafka client
// keys of --schema-registry-client-config, and serves schemas.
func TestSchemaRegistrySecuredBroker(t *testing.T) {
	b := brokertest.Start(t, brokertest.WithProps(map[string]string{
		"listeners": "SASL_PLAINTEXT://127.0.0.1:0",
		"sasl.jaas.config": `org.apache.kafka.common.security.plain.PlainLoginModule required ` +
			`username="admin" password="admin-secret" user_admin="admin-secret";`,
	}))
	cfg := filepath.Join(t.TempDir(), "registry-client.properties")
	if err := os.WriteFile(cfg, []byte("bootstrap.servers="+b.Addr+"\nsecurity.protocol=SASL_PLAINTEXT\nsasl.mechanism=PLAIN\n"+
		`sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="admin-secret";`+"\n"),
		0o600); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(context.Background())
	// No broker address of its own: bootstrap.servers of the file is used.
	wait, err := startSchemaRegistry(ctx, registryFlags{addr: addr, clientConfig: cfg}, "127.0.0.1:1")
	if err != nil {
		t.Fatal(err)
	}
	defer wait()
	defer cancel()
	cl, err := sr.NewClient(sr.URLs("http://" + addr))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		rctx, rcancel := context.WithTimeout(ctx, 5*time.Second)
		_, err = cl.CreateSchema(rctx, "secured-broker-value", sr.Schema{Schema: `"string"`})
		rcancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("register through a registry on a SASL broker: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestSchemaRegistryClientCertificates: with --schema-registry-client-auth
// required, the registry's HTTPS listener refuses clients without a
// certificate signed by --schema-registry-truststore, and serves those with
// one; the flags without HTTPS are refused at start.
func TestSchemaRegistryClientCertificates(t *testing.T) {
	b := brokertest.Start(t)
	ca := testcerts.NewCA(t, "registry-mtls-ca")
	srv, client := ca.Server(t, "127.0.0.1"), ca.Client(t, "schemas-client")
	other := testcerts.NewCA(t, "other-ca").Client(t, "stranger")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	if _, err := startSchemaRegistry(context.Background(), registryFlags{addr: addr, clientAuth: "required", truststore: ca.CertFile}, b.Addr); err == nil {
		t.Fatal("client authentication without HTTPS was accepted")
	}
	ctx, cancel := context.WithCancel(context.Background())
	wait, err := startSchemaRegistry(ctx, registryFlags{addr: addr, keystore: srv.File, truststore: ca.CertFile, clientAuth: "required"}, b.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer wait()
	defer cancel()
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM([]byte(ca.CertPEM))
	get := func(p *testcerts.Pair) error {
		tc := &tls.Config{RootCAs: roots}
		if p != nil {
			cert, err := tls.X509KeyPair([]byte(p.CertPEM), []byte(p.KeyPEM))
			if err != nil {
				t.Fatal(err)
			}
			tc.Certificates = []tls.Certificate{cert}
		}
		hc := &http.Client{Transport: &http.Transport{TLSClientConfig: tc}, Timeout: 5 * time.Second}
		resp, err := hc.Get("https://" + addr + "/subjects")
		if err != nil {
			return err
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("status %d", resp.StatusCode)
		}
		return nil
	}
	deadline := time.Now().Add(30 * time.Second)
	for err := get(&client); err != nil; err = get(&client) {
		if time.Now().After(deadline) {
			t.Fatalf("a client with a certificate the truststore trusts: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err := get(nil); err == nil {
		t.Fatal("a client without a certificate was served")
	}
	if err := get(&other); err == nil {
		t.Fatal("a client with a certificate of another CA was served")
	}
}
