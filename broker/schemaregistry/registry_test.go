package schemaregistry_test

import (
	"os"
	"os/exec"
	"strings"
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

// TestConformanceAuth: confluent-kafka-python's SchemaRegistryClient with
// basic.auth.user.info and ssl.ca.location against a registry serving
// HTTPS with credentials.
func TestConformanceAuth(t *testing.T) {
	py := debianPython(t)
	reg := registrytest.StartSecure(t)
	cmd := exec.Command(py, "testdata/auth.py", reg.URL, reg.CAFile,
		registrytest.AdminUser+":"+registrytest.AdminPassword, registrytest.ViewerUser+":"+registrytest.ViewerPassword)
	// requests prefers $REQUESTS_CA_BUNDLE and $CURL_CA_BUNDLE over the
	// session's CA (ssl.ca.location) when they are set.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "REQUESTS_CA_BUNDLE=") && !strings.HasPrefix(kv, "CURL_CA_BUNDLE=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	out, err := cmd.CombinedOutput()
	t.Logf("%s", out)
	if err != nil {
		t.Fatalf("auth.py: %v", err)
	}
}
