package schemaregistry_test

import (
	"os"
	"os/exec"
	"testing"

	"github.com/penstockhq/penstock/internal/brokertest"
	"github.com/penstockhq/penstock/internal/registrytest"
)

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
	url := registrytest.On(t, b.Addr)
	out, err := exec.Command(py, "testdata/conformance.py", url).CombinedOutput()
	t.Logf("%s", out)
	if err != nil {
		t.Fatalf("conformance.py: %v", err)
	}
}
