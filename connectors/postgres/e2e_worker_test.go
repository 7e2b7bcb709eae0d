package postgres_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/penstockhq/penstock/internal/brokertest"
	"github.com/penstockhq/penstock/internal/e2e"
	"github.com/penstockhq/penstock/internal/testservice"
)

// tutorialConnector is the example configuration of Debezium's PostgreSQL
// connector documentation, with plugin.name=pgoutput as its tutorial sets
// it (Debezium's default is decoderbufs). Only database.hostname and
// database.port are changed by the test.
const tutorialConnector = `{
  "name": "fulfillment-connector",
  "config": {
    "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
    "database.hostname": "192.168.99.100",
    "database.port": "5432",
    "database.user": "postgres",
    "database.password": "postgres",
    "database.dbname" : "postgres",
    "topic.prefix": "fulfillment",
    "table.include.list": "public.inventory",
    "plugin.name": "pgoutput"
  }
}`

// envelope is the JSON a JsonConverter with schemas writes for a Debezium
// change event (only what the test reads).
type envelope struct {
	Payload *struct {
		Before map[string]any `json:"before"`
		After  map[string]any `json:"after"`
		Op     string         `json:"op"`
		Source struct {
			LSN *int64 `json:"lsn"`
		} `json:"source"`
	} `json:"payload"`
}

// TestE2EWorkerKill9 is issue 8: the Postgres connector in a `penstock
// worker` subprocess, configured with Debezium's tutorial JSON through the
// REST API, keeps every change while writes run across a kill -9 of the
// worker and its restart: each row version is in the topic at least once,
// none is missing. Afterwards the slot's confirmed_flush_lsn reaches the
// last change, so PostgreSQL can release the WAL.
func TestE2EWorkerKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the penstock binary")
	}
	pg := testservice.Postgres(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pg.DSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	if _, err := conn.Exec(ctx, `CREATE TABLE public.inventory (id int PRIMARY KEY, name text NOT NULL, qty int NOT NULL);
		CREATE TABLE public.other (id int PRIMARY KEY);
		INSERT INTO public.inventory SELECT i, 'item-' || i, 0 FROM generate_series(1, 20) i`); err != nil {
		t.Fatal(err)
	}

	b := brokertest.Start(t)
	bin := e2e.BuildPenstock(t)
	dir := t.TempDir()
	port := e2e.FreePort(t)
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	props := e2e.WorkerProps(b.Addr, map[string]string{
		"listeners":                        url,
		"group.id":                         "pg-kill9",
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

	w := e2e.StartProc(t, bin, cfgFile, url, logFile)
	var create map[string]any
	if err := json.Unmarshal([]byte(tutorialConnector), &create); err != nil {
		t.Fatal(err)
	}
	cfg := create["config"].(map[string]any)
	cfg["database.hostname"] = pg.Host
	cfg["database.port"] = strconv.Itoa(pg.Port)
	e2e.Expect(t, 201, "POST", url+"/connectors", create)
	e2e.WaitState(t, url, "fulfillment-connector", "RUNNING", "RUNNING", 1)
	const topic = "fulfillment.public.inventory"
	var firstRestart string
	e2e.Eventually(t, 30*time.Second, "the slot debezium", func() error {
		return conn.QueryRow(ctx, "SELECT restart_lsn::text FROM pg_replication_slots WHERE slot_name = 'debezium'").Scan(&firstRestart)
	})

	// The writer: each transaction inserts a row, updates a few, sometimes
	// deletes one; versions[id] lists every qty the row had, -1 for its
	// delete.
	var (
		mu       sync.Mutex
		versions = map[int][]int{}
		txs      int
	)
	for i := 1; i <= 20; i++ {
		versions[i] = []int{0}
	}
	wctx, stopWrites := context.WithCancel(ctx)
	writerDone := make(chan error, 1)
	go func() {
		wconn, err := pgx.Connect(ctx, pg.DSN)
		if err != nil {
			writerDone <- err
			return
		}
		defer wconn.Close(context.Background())
		rng := rand.New(rand.NewPCG(1, 2))
		next := 21
		for wctx.Err() == nil {
			mu.Lock()
			live := make([]int, 0, len(versions))
			for id, v := range versions {
				if v[len(v)-1] >= 0 {
					live = append(live, id)
				}
			}
			mu.Unlock()
			sort.Ints(live)
			tx, err := wconn.Begin(ctx)
			if err != nil {
				writerDone <- err
				return
			}
			changes := map[int][]int{}
			if _, err := tx.Exec(ctx, "INSERT INTO public.inventory VALUES ($1, $2, 0)", next, fmt.Sprintf("item-%d", next)); err != nil {
				writerDone <- err
				return
			}
			changes[next] = []int{0}
			next++
			for k := 0; k < 3 && len(live) > 0; k++ {
				id := live[rng.IntN(len(live))]
				var qty int
				if err := tx.QueryRow(ctx, "UPDATE public.inventory SET qty = qty + 1 WHERE id = $1 RETURNING qty", id).Scan(&qty); err != nil {
					writerDone <- err
					return
				}
				changes[id] = append(changes[id], qty)
			}
			if rng.IntN(4) == 0 && len(live) > 5 {
				id := live[rng.IntN(len(live))]
				if _, err := tx.Exec(ctx, "DELETE FROM public.inventory WHERE id = $1", id); err != nil {
					writerDone <- err
					return
				}
				changes[id] = append(changes[id], -1)
			}
			if _, err := tx.Exec(ctx, "UPDATE public.other SET id = id"); err != nil { // a table not captured
				writerDone <- err
				return
			}
			if err := tx.Commit(ctx); err != nil {
				writerDone <- err
				return
			}
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
	stopWriter := func() {
		t.Helper()
		stopWrites()
		if err := <-writerDone; err != nil {
			t.Fatalf("writer: %v", err)
		}
	}
	defer stopWrites()

	// Kill -9 mid-stream, once the source flushed an offset (so the
	// restart resumes from it rather than from scratch).
	e2e.Eventually(t, 30*time.Second, "streamed changes and a flushed offset", func() error {
		r, err := e2e.Do("GET", url+"/connectors/fulfillment-connector/offsets", nil)
		if err != nil {
			return err
		}
		if !strings.Contains(string(r.Body), `"lsn"`) {
			return fmt.Errorf("offsets %s", r)
		}
		mu.Lock()
		n := txs
		mu.Unlock()
		if n < 100 {
			return fmt.Errorf("%d transactions written", n)
		}
		return nil
	})
	w.Kill()
	mu.Lock()
	t.Logf("killed the worker after %d transactions", txs)
	mu.Unlock()
	time.Sleep(500 * time.Millisecond) // writes go on while the worker is down

	e2e.StartProc(t, bin, cfgFile, url, logFile)
	e2e.WaitState(t, url, "fulfillment-connector", "RUNNING", "RUNNING", 1)
	mu.Lock()
	atRestart := txs
	mu.Unlock()
	e2e.Eventually(t, 30*time.Second, "more writes after the restart", func() error {
		mu.Lock()
		defer mu.Unlock()
		if txs < atRestart+100 {
			return fmt.Errorf("%d transactions since the restart", txs-atRestart)
		}
		return nil
	})
	stopWriter()
	// A checkpoint logs the running transactions, the point to which
	// PostgreSQL can move the slot's restart_lsn once the connector confirms
	// a position past it; one more change gives it one to confirm.
	if _, err := conn.Exec(ctx, "CHECKPOINT"); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "INSERT INTO public.inventory VALUES (1000000, 'last', 0)"); err != nil {
		t.Fatal(err)
	}
	versions[1000000] = []int{0}
	var lastLSN string
	if err := conn.QueryRow(ctx, "SELECT pg_current_wal_lsn()::text").Scan(&lastLSN); err != nil {
		t.Fatal(err)
	}

	// Every row version is in the topic at least once.
	var maxLSN int64
	e2e.Eventually(t, 45*time.Second, "every row version in the topic", func() error {
		seen := map[int]map[int]bool{}
		maxLSN = 0
		for _, rec := range e2e.ReadTopic(t, b.Addr, topic) {
			if len(rec.Value) == 0 {
				continue // the tombstone after a delete
			}
			var env envelope
			if err := json.Unmarshal(rec.Value, &env); err != nil || env.Payload == nil {
				t.Fatalf("record %d: not a JSON envelope: %q (%v)", rec.Offset, rec.Value, err)
			}
			p := env.Payload
			if p.Source.LSN != nil && *p.Source.LSN > maxLSN {
				maxLSN = *p.Source.LSN
			}
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

	// The slot's confirmed position reaches the last change once offsets
	// are flushed: the WAL before it can go.
	if maxLSN == 0 {
		t.Fatal("no source.lsn in the change events")
	}
	last := fmt.Sprintf("%X/%X", uint64(maxLSN)>>32, uint64(maxLSN)&0xffffffff)
	e2e.Eventually(t, 45*time.Second, "the slot's confirmed_flush_lsn at the last change "+last+" and its restart_lsn moved", func() error {
		var confirmed, restart string
		var reached, released bool
		err := conn.QueryRow(ctx, `SELECT confirmed_flush_lsn::text, restart_lsn::text, confirmed_flush_lsn >= $1::pg_lsn, restart_lsn > $2::pg_lsn
			FROM pg_replication_slots WHERE slot_name = 'debezium'`, last, firstRestart).Scan(&confirmed, &restart, &reached, &released)
		if err != nil {
			return err
		}
		if !reached || !released {
			return fmt.Errorf("confirmed_flush_lsn %s, restart_lsn %s (at start %s; WAL now at %s)", confirmed, restart, firstRestart, lastLSN)
		}
		t.Logf("slot confirmed_flush_lsn %s >= last change %s; restart_lsn %s, from %s at start; WAL at %s", confirmed, last, restart, firstRestart, lastLSN)
		return nil
	})
	_ = os.Remove(cfgFile)
}
