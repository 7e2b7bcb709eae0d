package schemaregistry_test

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/penstockhq/penstock/broker/schemaregistry"
	"github.com/penstockhq/penstock/internal/brokertest"
)

// startRegistry serves a registry over the broker at addr on a free port
// and returns its URL.
func startRegistry(t *testing.T, addr string) (string, *schemaregistry.Store) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	store, err := schemaregistry.Open(ctx, []string{addr}, schemaregistry.DefaultTopic, log)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: schemaregistry.Handler(store)}
	go srv.Serve(ln)
	t.Cleanup(func() {
		srv.Close()
		store.Close()
	})
	return "http://" + ln.Addr().String(), store
}

// debianPython returns Debian's python3 when it has the confluent_kafka and
// avro modules (scripts/deps.sh installs them); the test skips without it,
// and fails in CI.
func debianPython(t *testing.T) string {
	t.Helper()
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import confluent_kafka.schema_registry, avro").Run(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("python3-confluent-kafka and python3-avro missing (run scripts/deps.sh): %v", err)
		}
		t.Skipf("python3-confluent-kafka and python3-avro missing (run scripts/deps.sh): %v", err)
	}
	return py
}

// TestConformance drives the registry with confluent-kafka-python's
// SchemaRegistryClient: register, look up, compatibility at every level,
// references, deletes.
func TestConformance(t *testing.T) {
	py := debianPython(t)
	b := brokertest.Start(t)
	url, _ := startRegistry(t, b.Addr)
	out, err := exec.Command(py, "testdata/conformance.py", url).CombinedOutput()
	t.Logf("%s", out)
	if err != nil {
		t.Fatalf("conformance.py: %v", err)
	}
}
