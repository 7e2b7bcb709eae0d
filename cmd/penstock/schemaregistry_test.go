package main

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/penstockhq/penstock/internal/brokertest"
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
