package examples

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/penstockhq/penstock/internal/brokertest"
	"github.com/penstockhq/penstock/internal/e2e"
	"github.com/penstockhq/penstock/internal/testservice"
)

// These tests run the examples end to end: the connector JSON files POSTed
// to a real worker's REST API (in process, with its broker), with only the
// addresses, paths and credentials rewritten for the servers the test
// harness starts in place of the Compose services.

// readCreate reads a connector file as a POST /connectors body.
func readCreate(t *testing.T, path string) createRequest {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var req createRequest
	if err := json.Unmarshal(data, &req); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return req
}

// TestE2EDatagenToFile runs examples/datagen-to-file: the generator's 1,000
// orders all end in the sink's file. The file path is a temp file, and the
// generator's rate (10 a second in the example, 100 s in all) is raised so
// the test runs in seconds; every other key is the example's.
func TestE2EDatagenToFile(t *testing.T) {
	b := brokertest.Start(t)
	w := e2e.StartWorker(t, b.Addr, nil)
	out := filepath.Join(t.TempDir(), "penstock-orders.txt")

	gen := readCreate(t, "datagen-to-file/connectors/orders-datagen.json")
	sink := readCreate(t, "datagen-to-file/connectors/orders-to-file.json")
	count, err := strconv.Atoi(gen.Config["count"])
	if err != nil || count <= 0 {
		t.Fatalf("orders-datagen count %q", gen.Config["count"])
	}
	gen.Config["rate"] = "2000"
	sink.Config["file"] = out
	for _, c := range []createRequest{gen, sink} {
		e2e.Expect(t, http.StatusCreated, "POST", w.URL+"/connectors", c)
	}
	e2e.WaitState(t, w.URL, gen.Name, "RUNNING", "RUNNING", 1)
	e2e.WaitState(t, w.URL, sink.Name, "RUNNING", "RUNNING", 1)

	var lines []map[string]any
	e2e.Eventually(t, 60*time.Second, "every order in the file", func() error {
		lines = lines[:0]
		f, err := os.Open(out)
		if err != nil {
			return err
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<24)
		seen := map[int]bool{}
		for sc.Scan() {
			var v map[string]any
			if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
				return fmt.Errorf("line %q: %v", sc.Text(), err)
			}
			lines = append(lines, v)
			if s, ok := v["seq"].(float64); ok {
				seen[int(s)] = true
			}
		}
		for i := 0; i < count; i++ {
			if !seen[i] {
				return fmt.Errorf("seq %d missing (%d lines, %d distinct)", i, len(lines), len(seen))
			}
		}
		return nil
	})
	// The README's line shape.
	for _, k := range []string{"seq", "task", "ts", "name"} {
		if _, ok := lines[0][k]; !ok {
			t.Errorf("line %v has no %q", lines[0], k)
		}
	}
	// The generator stopped at count; its offset says so.
	e2e.Eventually(t, 30*time.Second, "the generator's offset at the last order", func() error {
		r, err := e2e.Do("GET", w.URL+"/connectors/"+gen.Name+"/offsets", nil)
		if err != nil {
			return err
		}
		if !strings.Contains(string(r.Body), fmt.Sprintf(`"seq":%d`, count-1)) {
			return fmt.Errorf("%s", r)
		}
		return nil
	})
	if len(lines) != count {
		t.Logf("%d lines for %d orders (at-least-once)", len(lines), count)
	}
}

// pgRows returns the rows of a table as id -> column -> value, with the
// columns the test compares, through to_jsonb so the types are JSON's.
func pgRows(t *testing.T, conn *pgx.Conn, table string) map[string]map[string]any {
	t.Helper()
	rows, err := conn.Query(context.Background(), "SELECT to_jsonb(x)::text FROM "+table+" x")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]map[string]any{}
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(s), &m); err != nil {
			t.Fatal(err)
		}
		out[fmt.Sprint(m["id"])] = m
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// sameRows compares an index with a table: the same ids, and in each
// document the same values for the table's columns (numbers as numbers;
// timestamps are left out, their text differs by format).
func sameRows(want, got map[string]map[string]any) error {
	var problems []string
	for id, row := range want {
		doc, ok := got[id]
		if !ok {
			problems = append(problems, "missing "+id)
			continue
		}
		for col, v := range row {
			if strings.HasSuffix(col, "_at") {
				continue
			}
			d, ok := doc[col]
			if !ok {
				problems = append(problems, fmt.Sprintf("%s: no %s", id, col))
				continue
			}
			if !sameValue(v, d) {
				problems = append(problems, fmt.Sprintf("%s.%s = %v (%T), want %v", id, col, d, d, v))
			}
		}
	}
	for id := range got {
		if _, ok := want[id]; !ok {
			problems = append(problems, "extra "+id)
		}
	}
	sort.Strings(problems)
	if len(problems) > 0 {
		return fmt.Errorf("%d docs for %d rows: %s", len(got), len(want), strings.Join(problems, "; "))
	}
	return nil
}

func sameValue(want, got any) bool {
	wf, wnum := want.(float64)
	switch g := got.(type) {
	case float64:
		return wnum && math.Abs(wf-g) < 1e-9
	case string:
		if wnum {
			f, err := strconv.ParseFloat(g, 64)
			return err == nil && math.Abs(wf-f) < 1e-9
		}
	}
	return fmt.Sprint(want) == fmt.Sprint(got)
}

// TestE2EPostgresToElasticsearch runs examples/postgres-to-elasticsearch
// with the harness's PostgreSQL and ZincSearch in place of the Compose
// services: shop.sql loaded into a database "shop", both connector files
// POSTed with database.hostname/port and connection.url (plus ZincSearch's
// basic-auth user and password) rewritten, the database password left as the
// example's ${env:SHOP_DB_PASSWORD} for the worker to resolve. The three
// indexes must follow the tables through the snapshot, changes.sql (updates,
// inserts, a multi-row update, a delete) and a later insert and delete.
func TestE2EPostgresToElasticsearch(t *testing.T) {
	pg := testservice.Postgres(t)
	es := testservice.Elasticsearch(t)
	ctx := context.Background()

	admin, err := pgx.Connect(ctx, pg.DSN)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec(ctx, "CREATE DATABASE shop"); err != nil {
		t.Fatal(err)
	}
	admin.Close(ctx)
	conn, err := pgx.Connect(ctx, pg.DSNFor("shop"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	execFile := func(path string) {
		t.Helper()
		sql, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		// No arguments: the simple protocol, which runs a whole script.
		if _, err := conn.Exec(ctx, string(sql)); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
	}
	execFile("postgres-to-elasticsearch/shop.sql")

	// The worker resolves ${env:SHOP_DB_PASSWORD}; the harness's server
	// trusts loopback connections, so any password does.
	t.Setenv("SHOP_DB_PASSWORD", "example-password")
	b := brokertest.Start(t)
	w := e2e.StartWorker(t, b.Addr, nil)

	src := readCreate(t, "postgres-to-elasticsearch/connectors/shop-postgres.json")
	sink := readCreate(t, "postgres-to-elasticsearch/connectors/shop-elasticsearch.json")
	if src.Config["database.password"] != "${env:SHOP_DB_PASSWORD}" {
		t.Fatalf("shop-postgres.json's password is %q; the test relies on the env provider", src.Config["database.password"])
	}
	src.Config["database.hostname"] = pg.Host
	src.Config["database.port"] = strconv.Itoa(pg.Port)
	src.Config["database.user"] = pg.User
	sink.Config["connection.url"] = es.URL
	sink.Config["connection.username"] = es.Username
	sink.Config["connection.password"] = es.Password
	tables := []string{"customers", "products", "orders"}
	e2e.Expect(t, http.StatusCreated, "POST", w.URL+"/connectors", src)
	e2e.WaitState(t, w.URL, src.Name, "RUNNING", "RUNNING", 1)
	// The sink goes second, once the source's topics exist: its
	// topics.regex consumer finds topics created after it started only at
	// its next metadata refresh, franz-go's default 5 minutes, which the
	// worker does not lower (worker/sink.go).
	e2e.Eventually(t, 30*time.Second, "the source's topics", func() error {
		return e2e.TopicsExist(b.Addr, "shop.public.customers", "shop.public.products", "shop.public.orders")
	})
	r := e2e.Expect(t, http.StatusCreated, "POST", w.URL+"/connectors", sink)
	if strings.Contains(string(r.Body), es.Password) {
		t.Errorf("the create response shows the password: %s", r.Body)
	}
	e2e.WaitState(t, w.URL, sink.Name, "RUNNING", "RUNNING", 1)

	follow := func(what string) {
		t.Helper()
		for _, table := range tables {
			want := pgRows(t, conn, table)
			index := "shop.public." + table
			e2e.Eventually(t, 45*time.Second, fmt.Sprintf("%s: index %s equal to the table", what, index), func() error {
				st, err := e2e.Do("GET", w.URL+"/connectors?expand=status", nil)
				if err == nil && strings.Contains(string(st.Body), `"FAILED"`) {
					t.Fatalf("a connector failed: %s", st.Body)
				}
				got, err := es.Documents(index)
				if err != nil {
					return err
				}
				return sameRows(want, got)
			})
		}
	}
	follow("after the snapshot")
	docs, _ := es.Documents("shop.public.products")
	if doc := docs["1"]; doc["__op"] != "r" {
		t.Errorf("products/1 after the snapshot: __op %v, want r (%v)", doc["__op"], doc)
	}

	// changes.sql: the deleted order was indexed at the snapshot, long
	// before its delete, so ZincSearch's lost-delete window does not apply.
	execFile("postgres-to-elasticsearch/changes.sql")
	follow("after changes.sql")
	docs, _ = es.Documents("shop.public.products")
	if doc := docs["1"]; doc["__op"] != "u" || !sameValue(34.9, doc["price"]) || !sameValue(24.0, doc["in_stock"]) {
		t.Errorf("products/1 after changes.sql: %v, want price 34.90, in_stock 24, __op u", doc)
	}
	if docs, _ := es.Documents("shop.public.orders"); docs["7"] != nil {
		t.Errorf("orders/7 still indexed after its delete: %v", docs["7"])
	}

	// An insert, and once it is indexed (and a ZincSearch WAL sync later),
	// its delete.
	if _, err := conn.Exec(ctx, "INSERT INTO customers (email, name, city) VALUES ('ken@example.com', 'Ken Thompson', 'Murray Hill')"); err != nil {
		t.Fatal(err)
	}
	follow("after an insert")
	time.Sleep(600 * time.Millisecond) // ZincSearch loses a delete within one WAL sync of the index
	if _, err := conn.Exec(ctx, "DELETE FROM customers WHERE email = 'ken@example.com'"); err != nil {
		t.Fatal(err)
	}
	follow("after a delete")
}
