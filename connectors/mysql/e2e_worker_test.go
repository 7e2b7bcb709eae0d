package mysql_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"

	"github.com/penstockhq/penstock/internal/brokertest"
	"github.com/penstockhq/penstock/internal/e2e"
	"github.com/penstockhq/penstock/internal/testservice"
)

// tutorialConnector is the connector registration of Debezium's tutorial
// (https://debezium.io/documentation/reference/tutorial.html), verbatim but
// for database.hostname and database.port, which the test sets. Its schema
// history keys are accepted and unused: Penstock needs no history topic.
const tutorialConnector = `{
  "name": "inventory-connector",
  "config": {
    "connector.class": "io.debezium.connector.mysql.MySqlConnector",
    "tasks.max": "1",
    "database.hostname": "mysql",
    "database.port": "3306",
    "database.user": "debezium",
    "database.password": "dbz",
    "database.server.id": "184054",
    "topic.prefix": "dbserver1",
    "database.include.list": "inventory",
    "schema.history.internal.kafka.bootstrap.servers": "kafka:9092",
    "schema.history.internal.kafka.topic": "schemahistory.inventory"
  }
}`

// envelope is the JSON a JsonConverter with schemas writes for a Debezium
// change event (only what the test reads).
type envelope struct {
	Payload *struct {
		Before map[string]any `json:"before"`
		After  map[string]any `json:"after"`
		Op     string         `json:"op"`
	} `json:"payload"`
}

// TestE2EWorkerKill9 runs the MySQL connector in a `penstock worker`
// subprocess on a private MariaDB, registered with Debezium's tutorial JSON
// through the REST API and the tutorial's user and grants. Writes run
// once streaming started; the worker is killed with SIGKILL during the
// snapshot and again while streaming, and restarted each time. Every row
// version must be in the topic at least once.
func TestE2EWorkerKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the penstock binary")
	}
	srv := testservice.MariaDB(t)
	root, err := sql.Open("mysql", srv.DSN+"?multiStatements=true")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { root.Close() })
	const rows = 60000
	if _, err := root.Exec(`CREATE DATABASE inventory;
		CREATE USER 'debezium'@'127.0.0.1' IDENTIFIED BY 'dbz';
		GRANT SELECT, RELOAD, SHOW DATABASES, REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO 'debezium'@'127.0.0.1';
		CREATE TABLE inventory.products (id INT PRIMARY KEY, name VARCHAR(64) NOT NULL, qty INT NOT NULL);
		CREATE TABLE inventory.other (id INT PRIMARY KEY);
		INSERT INTO inventory.other VALUES (1);
		SET SESSION max_recursive_iterations = 1000000;
		INSERT INTO inventory.products WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < ` + strconv.Itoa(rows) + `)
		  SELECT i, CONCAT('item-', i), 0 FROM s`); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("mysql", srv.DSNFor("inventory"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })

	b := brokertest.Start(t)
	bin := e2e.BuildPenstock(t)
	dir := t.TempDir()
	port := e2e.FreePort(t)
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	props := e2e.WorkerProps(b.Addr, map[string]string{
		"listeners":                        url,
		"group.id":                         "mysql-kill9",
		"offset.flush.interval.ms":         "300",
		"session.timeout.ms":               "6000",
		"heartbeat.interval.ms":            "1000",
		"scheduled.rebalance.max.delay.ms": "1000",
		"consumer.session.timeout.ms":      "6000",
	})
	cfgFile := e2e.WriteProps(t, dir, props)
	logFile := filepath.Join(dir, "worker.log")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("worker log:\n%s", e2e.LogTail(logFile))
		}
	})

	// The writer: each transaction inserts a row, updates a few, sometimes
	// deletes one; versions[id] lists every qty the row had, -1 for its
	// delete.
	var (
		mu       sync.Mutex
		versions = map[int][]int{}
		txs      int
	)
	for i := 1; i <= rows; i++ {
		versions[i] = []int{0}
	}
	waitTxs := func(n int, what string) {
		mu.Lock()
		from := txs
		mu.Unlock()
		e2e.Eventually(t, 60*time.Second, what, func() error {
			mu.Lock()
			defer mu.Unlock()
			if txs < from+n {
				return fmt.Errorf("%d transactions", txs-from)
			}
			return nil
		})
	}

	ctx := context.Background()
	wctx, stopWrites := context.WithCancel(ctx)
	defer stopWrites()
	writerDone := make(chan error, 1)
	startWriter := func() {
		go func() {
			rng := rand.New(rand.NewPCG(1, 2))
			next := rows + 1
			for wctx.Err() == nil {
				mu.Lock()
				live := make([]int, 0, 64)
				for len(live) < 64 {
					id := 1 + rng.IntN(next-1)
					if v := versions[id]; len(v) > 0 && v[len(v)-1] >= 0 {
						live = append(live, id)
					}
				}
				mu.Unlock()
				changes, err := writeTx(db, rng, next, live)
				if err != nil {
					writerDone <- err
					return
				}
				next++
				mu.Lock()
				for id, vs := range changes {
					versions[id] = append(versions[id], vs...)
				}
				txs++
				mu.Unlock()
				time.Sleep(5 * time.Millisecond)
			}
			writerDone <- nil
		}()
	}

	var create map[string]any
	if err := json.Unmarshal([]byte(tutorialConnector), &create); err != nil {
		t.Fatal(err)
	}
	cfg := create["config"].(map[string]any)
	cfg["database.hostname"] = srv.Host
	cfg["database.port"] = strconv.Itoa(srv.Port)

	// Kill -9 during the snapshot.
	w := e2e.StartProc(t, bin, cfgFile, url, logFile)
	e2e.Expect(t, 201, "POST", url+"/connectors", create)
	e2e.WaitState(t, url, "inventory-connector", "RUNNING", "RUNNING", 1)
	time.Sleep(300 * time.Millisecond)
	w.Kill()
	t.Log("killed during the snapshot")

	// Restart, then kill -9 while streaming.
	w = e2e.StartProc(t, bin, cfgFile, url, logFile)
	e2e.WaitState(t, url, "inventory-connector", "RUNNING", "RUNNING", 1)
	e2e.Eventually(t, 90*time.Second, "the snapshot's last offset flushed", func() error {
		r, err := e2e.Do("GET", url+"/connectors/inventory-connector/offsets", nil)
		if err != nil {
			return err
		}
		if !strings.Contains(string(r.Body), `"snapshot_completed":true`) {
			return fmt.Errorf("offsets %s", r)
		}
		return nil
	})
	// The writes start once streaming does: a snapshot taken again after a
	// kill reads the rows as they are then, so versions written between two
	// snapshots are not all in the topic (as with Debezium); the test checks
	// that none written after the snapshot is lost.
	startWriter()
	waitTxs(50, "writes while streaming")
	e2e.Eventually(t, 60*time.Second, "a flushed streaming offset", func() error {
		r, err := e2e.Do("GET", url+"/connectors/inventory-connector/offsets", nil)
		if err != nil {
			return err
		}
		if !strings.Contains(string(r.Body), `"event"`) {
			return fmt.Errorf("offsets %s", r)
		}
		return nil
	})
	w.Kill()
	t.Log("killed while streaming")
	time.Sleep(500 * time.Millisecond) // writes go on while the worker is down

	e2e.StartProc(t, bin, cfgFile, url, logFile)
	e2e.WaitState(t, url, "inventory-connector", "RUNNING", "RUNNING", 1)
	waitTxs(50, "writes after the restart")
	stopWrites()
	if err := <-writerDone; err != nil {
		t.Fatalf("writer: %v", err)
	}

	const topic = "dbserver1.inventory.products"
	e2e.Eventually(t, 90*time.Second, "every row version in the topic", func() error {
		seen := map[int]map[int]bool{}
		for _, rec := range e2e.ReadTopic(t, b.Addr, topic) {
			if len(rec.Value) == 0 {
				continue // the tombstone after a delete
			}
			var env envelope
			if err := json.Unmarshal(rec.Value, &env); err != nil || env.Payload == nil {
				t.Fatalf("record %d: not a JSON envelope: %q (%v)", rec.Offset, rec.Value, err)
			}
			p := env.Payload
			var id, qty int
			switch p.Op {
			case "r", "c", "u":
				id, qty = int(p.After["id"].(float64)), int(p.After["qty"].(float64))
			case "d":
				id, qty = int(p.Before["id"].(float64)), -1
			default:
				t.Fatalf("record %d: op %q", rec.Offset, p.Op)
			}
			if seen[id] == nil {
				seen[id] = map[int]bool{}
			}
			seen[id][qty] = true
		}
		mu.Lock()
		defer mu.Unlock()
		var missing []string
		total := 0
		for id, vs := range versions {
			for _, v := range vs {
				total++
				if !seen[id][v] {
					missing = append(missing, fmt.Sprintf("%d@%d", id, v))
				}
			}
		}
		if len(missing) > 0 {
			sort.Strings(missing)
			if len(missing) > 10 {
				missing = append(missing[:10], "...")
			}
			return fmt.Errorf("%d of %d row versions missing: %s", len(missing), total, strings.Join(missing, " "))
		}
		t.Logf("all %d row versions of %d transactions in the topic", total, txs)
		return nil
	})
}

// writeTx inserts row next, adds one to the qty of a few live rows and
// sometimes deletes one, in one transaction; it returns the new versions.
func writeTx(db *sql.DB, rng *rand.Rand, next int, live []int) (map[int][]int, error) {
	tx, err := db.Begin()
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	changes := map[int][]int{}
	if _, err := tx.Exec("INSERT INTO products VALUES (?, ?, 0)", next, fmt.Sprintf("item-%d", next)); err != nil {
		return nil, err
	}
	changes[next] = []int{0}
	done := map[int]bool{}
	for k := 0; k < 3; k++ {
		id := live[rng.IntN(len(live))]
		if done[id] {
			continue
		}
		done[id] = true
		if _, err := tx.Exec("UPDATE products SET qty = qty + 1 WHERE id = ?", id); err != nil {
			return nil, err
		}
		var qty int
		if err := tx.QueryRow("SELECT qty FROM products WHERE id = ?", id).Scan(&qty); err != nil {
			return nil, err
		}
		changes[id] = append(changes[id], qty)
	}
	if rng.IntN(4) == 0 {
		id := live[rng.IntN(len(live))]
		if !done[id] {
			if _, err := tx.Exec("DELETE FROM products WHERE id = ?", id); err != nil {
				return nil, err
			}
			changes[id] = append(changes[id], -1)
		}
	}
	if _, err := tx.Exec("UPDATE other SET id = id"); err != nil { // a table of the database with no change
		return nil, err
	}
	return changes, tx.Commit()
}
