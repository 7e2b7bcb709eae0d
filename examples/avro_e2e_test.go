package examples

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/penstockhq/penstock/internal/brokertest"
	"github.com/penstockhq/penstock/internal/e2e"
	"github.com/penstockhq/penstock/internal/registrytest"
)

// TestE2EDatagenAvro runs examples/datagen-avro beside the same generator
// with JsonConverter: the Avro records, decoded by Debian's python3-avro
// with the schemas fetched from Penstock's registry, equal the JSON
// pipeline's records, keys and values.
func TestE2EDatagenAvro(t *testing.T) {
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import avro").Run(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("python3-avro missing (run scripts/deps.sh): %v", err)
		}
		t.Skipf("python3-avro missing (run scripts/deps.sh): %v", err)
	}
	b := brokertest.Start(t)
	url := registrytest.On(t, b.Addr)
	w := e2e.StartWorker(t, b.Addr, nil)

	gen := readCreate(t, "datagen-avro/connectors/orders-datagen-avro.json")
	for k := range gen.Config {
		if strings.HasSuffix(k, "schema.registry.url") {
			gen.Config[k] = url
		}
	}
	gen.Config["rate"] = "0"
	gen.Config["count"] = "300"
	plain := createRequest{Name: "orders-datagen-json", Config: map[string]string{}}
	for k, v := range gen.Config {
		if !strings.Contains(k, "converter") {
			plain.Config[k] = v
		}
	}
	plain.Config["topic"] = "orders-json"
	plain.Config["key.converter"] = "org.apache.kafka.connect.json.JsonConverter"
	plain.Config["key.converter.schemas.enable"] = "false"
	plain.Config["value.converter"] = "org.apache.kafka.connect.json.JsonConverter"
	plain.Config["value.converter.schemas.enable"] = "false"
	for _, c := range []createRequest{gen, plain} {
		e2e.Expect(t, http.StatusCreated, "POST", w.URL+"/connectors", c)
	}
	count, _ := strconv.Atoi(gen.Config["count"])
	topics := map[string][]map[string]any{}
	for _, topic := range []string{"orders-avro", "orders-json"} {
		e2e.Eventually(t, 60*time.Second, topic+" complete", func() error {
			if n := len(e2e.ReadTopic(t, b.Addr, topic)); n < count {
				return fmt.Errorf("%d of %d records", n, count)
			}
			return nil
		})
	}
	// Decode the Avro topic with python3-avro.
	var in strings.Builder
	for _, r := range e2e.ReadTopic(t, b.Addr, "orders-avro") {
		fmt.Fprintf(&in, "%s\n%s\n", hex.EncodeToString(r.Key), hex.EncodeToString(r.Value))
	}
	cmd := exec.Command(py, "datagen-avro/decode_avro.py", url)
	cmd.Stdin = strings.NewReader(in.String())
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("decode_avro.py: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	for i := 0; i+1 < len(lines); i += 2 {
		topics["orders-avro"] = append(topics["orders-avro"], pair(t, lines[i], lines[i+1]))
	}
	for _, r := range e2e.ReadTopic(t, b.Addr, "orders-json") {
		topics["orders-json"] = append(topics["orders-json"], pair(t, string(r.Key), string(r.Value)))
	}
	a, j := topics["orders-avro"], topics["orders-json"]
	for _, l := range [][]map[string]any{a, j} {
		sort.Slice(l, func(x, y int) bool {
			return l[x]["value"].(map[string]any)["seq"].(float64) < l[y]["value"].(map[string]any)["seq"].(float64)
		})
	}
	if len(a) != count || len(j) != count {
		t.Fatalf("%d Avro and %d JSON records, want %d", len(a), len(j), count)
	}
	for i := range a {
		// The generator's timestamps are the wall clock; the rest is seeded.
		delete(a[i]["value"].(map[string]any), "ts")
		delete(j[i]["value"].(map[string]any), "ts")
		if !reflect.DeepEqual(a[i], j[i]) {
			t.Fatalf("record %d differs:\nAvro %v\nJSON %v", i, a[i], j[i])
		}
	}
}

func pair(t *testing.T, key, value string) map[string]any {
	t.Helper()
	var k, v any
	if err := json.Unmarshal([]byte(key), &k); err != nil {
		t.Fatalf("key %q: %v", key, err)
	}
	if err := json.Unmarshal([]byte(value), &v); err != nil {
		t.Fatalf("value %q: %v", value, err)
	}
	return map[string]any{"key": k, "value": v}
}
