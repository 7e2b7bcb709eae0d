package worker

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/penstockhq/penstock/connect/config"
	"github.com/penstockhq/penstock/internal/brokertest"
	"github.com/penstockhq/penstock/internal/clientconfig"
	"github.com/penstockhq/penstock/internal/testcerts"
	"github.com/penstockhq/penstock/worker/rest"
)

// TestWorkerOverSASLSSL: a worker configured with Kafka Connect's client
// security keys runs a datagen-to-file pipeline against a SASL_SSL broker;
// a connector's producer.override.sasl.jaas.config logs its producer in as
// another user, and that secret is masked in the connector's config. The
// broker enforces ACLs: the worker's principals hold only the ACLs the
// README documents for workers, sources and sinks.
func TestWorkerOverSASLSSL(t *testing.T) {
	ca := testcerts.NewCA(t, "worker-test-ca")
	srv := ca.Server(t, "broker")
	b := brokertest.Start(t, brokertest.WithProps(map[string]string{
		"listeners":               "SASL_SSL://127.0.0.1:0",
		"authorizer.class.name":   "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
		"super.users":             "User:admin",
		"sasl.enabled.mechanisms": "PLAIN",
		"ssl.keystore.type":       "PEM",
		"ssl.keystore.location":   srv.File,
		"listener.name.sasl_ssl.plain.sasl.jaas.config": `org.apache.kafka.common.security.plain.PlainLoginModule required ` +
			`user_admin="admin-secret" user_connect="connect-secret" user_gen="gen-secret";`,
	}))
	grantWorkerACLs(t, b.Addr, ca.CertFile)
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

// grantWorkerACLs grants the documented minimal ACLs: the worker (User:connect)
// reads and writes its three topics and reads its group; the source's
// producer (User:gen) writes its topic; the sink (worker principal) reads its
// topic and its connect-<name> group.
func grantWorkerACLs(t *testing.T, addr, caFile string) {
	t.Helper()
	sec, err := clientconfig.Opts(clientconfig.Layers(map[string]string{"security.protocol": "SASL_SSL", "sasl.mechanism": "PLAIN",
		"ssl.truststore.location": caFile,
		"sasl.jaas.config":        `org.apache.kafka.common.security.plain.PlainLoginModule required username="admin" password="admin-secret";`}, ""))
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(addr)}, sec...)...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	lit := kadm.ACLPatternLiteral
	builders := []*kadm.ACLBuilder{
		kadm.NewACLs().Allow("User:connect").Topics("connect-configs", "connect-offsets", "connect-status").
			Operations(kadm.OpRead, kadm.OpWrite, kadm.OpCreate, kadm.OpDescribeConfigs).ResourcePatternType(lit),
		kadm.NewACLs().Allow("User:connect").Groups("connect-cluster").Operations(kadm.OpRead).ResourcePatternType(lit),
		kadm.NewACLs().Allow("User:gen").Topics("secure-events").Operations(kadm.OpWrite, kadm.OpCreate).ResourcePatternType(lit),
		kadm.NewACLs().Allow("User:connect").Topics("secure-events").Operations(kadm.OpRead).ResourcePatternType(lit),
		kadm.NewACLs().Allow("User:connect").Groups("connect-sink").Operations(kadm.OpRead).ResourcePatternType(lit),
	}
	for _, b := range builders {
		res, err := adm.CreateACLs(context.Background(), b)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			if r.Err != nil {
				t.Fatal(r.Err)
			}
		}
	}
}
