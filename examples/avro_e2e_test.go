package examples

import (
	"context"
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

	"github.com/jackc/pgx/v5"

	"github.com/penstockhq/penstock/internal/brokertest"
	"github.com/penstockhq/penstock/internal/e2e"
	"github.com/penstockhq/penstock/internal/registrytest"
	"github.com/penstockhq/penstock/internal/testservice"
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
	lines := decodeAvro(t, py, url, in.String())
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

// TestE2EPostgresAvro captures one table twice, with AvroConverter for keys
// and values and with JsonConverter: the Avro records, decoded by
// python3-avro with the registry's schemas, equal the JSON ones. Adding a
// nullable column registers a new version; changing a column's type in an
// incompatible way is refused by the registry and fails the task with the
// reason in its trace.
func TestE2EPostgresAvro(t *testing.T) {
	py := "/usr/bin/python3"
	if err := exec.Command(py, "-c", "import avro").Run(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("python3-avro missing (run scripts/deps.sh): %v", err)
		}
		t.Skipf("python3-avro missing (run scripts/deps.sh): %v", err)
	}
	pg := testservice.Postgres(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pg.DSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	if _, err := conn.Exec(ctx, `CREATE TABLE items (id serial PRIMARY KEY, name text NOT NULL, price numeric(10,2),
		qty int2, big int8, score float8, active boolean, day date, at timestamptz, data bytea);
		INSERT INTO items (name, price, qty, big, score, active, day, at, data) VALUES
		('a', 12.50, 3, 1099511627776, 0.25, true, '2024-02-29', '2024-01-02 03:04:05+00', '\x00ff'),
		('b', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL)`); err != nil {
		t.Fatal(err)
	}
	b := brokertest.Start(t)
	url := registrytest.On(t, b.Addr)
	w := e2e.StartWorker(t, b.Addr, nil)
	source := func(name string, extra map[string]string) {
		cfg := map[string]string{
			"connector.class": "io.debezium.connector.postgresql.PostgresConnector", "tasks.max": "1",
			"database.hostname": pg.Host, "database.port": strconv.Itoa(pg.Port), "database.user": pg.User,
			"database.password": "x", "database.dbname": "postgres", "topic.prefix": name,
			"table.include.list": "public.items", "plugin.name": "pgoutput", "slot.name": name,
			"publication.name": name + "_pub", "publication.autocreate.mode": "filtered",
			"decimal.handling.mode": "precise",
		}
		for k, v := range extra {
			cfg[k] = v
		}
		e2e.Expect(t, http.StatusCreated, "POST", w.URL+"/connectors", createRequest{Name: name, Config: cfg})
		e2e.WaitState(t, w.URL, name, "RUNNING", "RUNNING", 1)
	}
	source("avro", map[string]string{
		"key.converter": "io.confluent.connect.avro.AvroConverter", "key.converter.schema.registry.url": url,
		"value.converter": "io.confluent.connect.avro.AvroConverter", "value.converter.schema.registry.url": url,
	})
	source("json", map[string]string{
		"key.converter": "org.apache.kafka.connect.json.JsonConverter", "key.converter.schemas.enable": "false",
		"value.converter": "org.apache.kafka.connect.json.JsonConverter", "value.converter.schemas.enable": "false",
		"value.converter.decimal.format": "NUMERIC",
	})
	// rows returns each topic's records as {key, op, after}.
	rows := func(n int) (avroRows, jsonRows []map[string]any) {
		t.Helper()
		e2e.Eventually(t, 60*time.Second, "change events in both topics", func() error {
			for _, topic := range []string{"avro.public.items", "json.public.items"} {
				if got := len(e2e.ReadTopic(t, b.Addr, topic)); got < n {
					return fmt.Errorf("%s: %d of %d records", topic, got, n)
				}
			}
			return nil
		})
		var in strings.Builder
		for _, r := range e2e.ReadTopic(t, b.Addr, "avro.public.items") {
			fmt.Fprintf(&in, "%s\n%s\n", hex.EncodeToString(r.Key), hex.EncodeToString(r.Value))
		}
		lines := decodeAvro(t, py, url, in.String())
		for i := 0; i+1 < len(lines); i += 2 {
			avroRows = append(avroRows, change(pair(t, lines[i], lines[i+1])))
		}
		for _, r := range e2e.ReadTopic(t, b.Addr, "json.public.items") {
			jsonRows = append(jsonRows, change(pair(t, string(r.Key), string(r.Value))))
		}
		return avroRows, jsonRows
	}
	a, j := rows(2)
	if !reflect.DeepEqual(a, j) || len(a) != 2 {
		t.Fatalf("snapshot differs:\nAvro %v\nJSON %v", a, j)
	}

	// A nullable column: a new compatible version of the value schema.
	if _, err := conn.Exec(ctx, `ALTER TABLE items ADD COLUMN note text; INSERT INTO items (name, note) VALUES ('c', 'new')`); err != nil {
		t.Fatal(err)
	}
	a, j = rows(3)
	if !reflect.DeepEqual(a, j) || len(a) != 3 {
		t.Fatalf("after ADD COLUMN:\nAvro %v\nJSON %v", a, j)
	}
	var versions []int
	e2e.Expect(t, http.StatusOK, "GET", url+"/subjects/avro.public.items-value/versions", nil).JSON(t, &versions)
	if len(versions) != 2 {
		t.Fatalf("value subject versions %v, want 2", versions)
	}

	// The Elasticsearch sink reads the Avro topic back.
	es := testservice.Elasticsearch(t)
	e2e.Expect(t, http.StatusCreated, "POST", w.URL+"/connectors", createRequest{Name: "es", Config: map[string]string{
		"connector.class": "io.confluent.connect.elasticsearch.ElasticsearchSinkConnector", "tasks.max": "1",
		"topics": "avro.public.items", "connection.url": es.URL, "connection.username": es.Username,
		"connection.password": es.Password, "key.ignore": "false",
		// ZincSearch has no binary mapping type (bytea column): no mappings.
		"schema.ignore": "true",
		"key.converter": "io.confluent.connect.avro.AvroConverter", "key.converter.schema.registry.url": url,
		"value.converter": "io.confluent.connect.avro.AvroConverter", "value.converter.schema.registry.url": url,
		"transforms": "unwrap", "transforms.unwrap.type": "io.debezium.transforms.ExtractNewRecordState",
	}})
	e2e.Eventually(t, 60*time.Second, "the Avro rows indexed", func() error {
		docs, err := es.Documents("avro.public.items")
		if err != nil {
			st, _ := e2e.Do("GET", w.URL+"/connectors/es/status", nil)
			return fmt.Errorf("%v; sink status %s", err, st.Body)
		}
		if len(docs) != 3 || docs["3"]["note"] != "new" || !sameValue(12.5, docs["1"]["price"]) {
			return fmt.Errorf("documents %v", docs)
		}
		return nil
	})

	// An incompatible change (int2 to text) is refused; the task fails saying why.
	if _, err := conn.Exec(ctx, `ALTER TABLE items ALTER COLUMN qty TYPE text; INSERT INTO items (name, qty) VALUES ('d', 'many')`); err != nil {
		t.Fatal(err)
	}
	e2e.Eventually(t, 60*time.Second, "the Avro task failed with the registry's reason", func() error {
		var st struct {
			Tasks []struct {
				State string `json:"state"`
				Trace string `json:"trace"`
			} `json:"tasks"`
		}
		e2e.Expect(t, http.StatusOK, "GET", w.URL+"/connectors/avro/status", nil).JSON(t, &st)
		if len(st.Tasks) != 1 || st.Tasks[0].State != "FAILED" || !strings.Contains(st.Tasks[0].Trace, "incompatible") {
			return fmt.Errorf("status %+v", st)
		}
		return nil
	})
}

// change keeps what two captures of one table share: the key, op and after.
func change(rec map[string]any) map[string]any {
	v, _ := rec["value"].(map[string]any)
	return map[string]any{"key": rec["key"], "op": v["op"], "after": v["after"]}
}

// decodeAvro runs decode_avro.py (python3-avro) over hex records, one a
// line, and returns its JSON lines.
func decodeAvro(t *testing.T, py, url, hexLines string) []string {
	t.Helper()
	cmd := exec.Command(py, "datagen-avro/decode_avro.py", url)
	cmd.Stdin = strings.NewReader(hexLines)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		for i := 1; i < 5; i++ {
			r, _ := e2e.Do("GET", fmt.Sprintf("%s/schemas/ids/%d", url, i), nil)
			t.Logf("schema %d: %s", i, r.Body)
		}
		t.Fatalf("decode_avro.py: %v\n%s", err, stderr.String())
	}
	return strings.Split(strings.TrimSpace(string(out)), "\n")
}
