package worker

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/penstockhq/penstock/connect/config"
	"github.com/penstockhq/penstock/internal/brokertest"
	"github.com/penstockhq/penstock/internal/testcerts"
	"github.com/penstockhq/penstock/worker/rest"
)

// TestWorkerOverSASLSSL: a worker configured with Kafka Connect's client
// security keys runs a datagen-to-file pipeline against a SASL_SSL broker;
// a connector's producer.override.sasl.jaas.config logs its producer in as
// another user, and that secret is masked in the connector's config.
func TestWorkerOverSASLSSL(t *testing.T) {
	ca := testcerts.NewCA(t, "worker-test-ca")
	srv := ca.Server(t, "broker")
	b := brokertest.Start(t, brokertest.WithProps(map[string]string{
		"listeners":               "SASL_SSL://127.0.0.1:0",
		"sasl.enabled.mechanisms": "PLAIN",
		"ssl.keystore.type":       "PEM",
		"ssl.keystore.location":   srv.File,
		"listener.name.sasl_ssl.plain.sasl.jaas.config": `org.apache.kafka.common.security.plain.PlainLoginModule required ` +
			`user_connect="connect-secret" user_gen="gen-secret";`,
	}))
	cfg := testConfig(t, b.Addr, map[string]string{
		"security.protocol":       "SASL_SSL",
		"sasl.mechanism":          "PLAIN",
		"sasl.jaas.config":        `org.apache.kafka.common.security.plain.PlainLoginModule required username="connect" password="connect-secret";`,
		"ssl.truststore.type":     "PEM",
		"ssl.truststore.location": ca.CertFile,
	})
	h := startHerder(t, cfg, Options{Version: "test"})
	ctx := context.Background()
	out := filepath.Join(t.TempDir(), "sink.txt")
	const n = 200
	gen := datagenConfig("secure-events", n)
	gen["producer.override.sasl.jaas.config"] = `org.apache.kafka.common.security.plain.PlainLoginModule required username="gen" password="gen-secret";`
	info, _, err := h.PutConnectorConfig(ctx, "gen", gen, "", false)
	if err != nil {
		t.Fatal(err)
	}
	if v := info.Config["producer.override.sasl.jaas.config"]; v != config.HiddenValue {
		t.Fatalf("override secret shown as %q, want %s", v, config.HiddenValue)
	}
	if _, _, err := h.PutConnectorConfig(ctx, "sink", fileSinkConfig("secure-events", out), "", false); err != nil {
		t.Fatal(err)
	}
	waitState(t, h, "gen", rest.StateRunning, rest.StateRunning, 1)
	eventually(t, 60*time.Second, "every record in the sink file", func() error {
		if got := len(seqsInFile(t, out)); got != n {
			return fmt.Errorf("%d of %d records", got, n)
		}
		return nil
	})

}
