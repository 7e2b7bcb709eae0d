package postgres_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/penstockhq/penstock/internal/brokertest"
	"github.com/penstockhq/penstock/internal/e2e"
	"github.com/penstockhq/penstock/internal/testservice"
)

// TestE2ERestartKeepsSnapshotAndSlot is issue 14 item 10: after a stop, the
// stored offset of a transaction's last record resumes at the end of the
// transaction before it while the slot has confirmed (at least) that
// transaction's commit. Before the fix, snapshot.mode=when_needed saw "slot
// ahead of the stored offset" and snapshotted again on every ordinary
// restart, and snapshot.mode=initial logged that changes were lost. Both
// modes run side by side in a `penstock worker` subprocess, across a
// graceful stop (SIGTERM) and a kill -9: neither snapshots again nor warns,
// and every change arrives.
func TestE2ERestartKeepsSnapshotAndSlot(t *testing.T) {
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
	if _, err := conn.Exec(ctx, `CREATE TABLE public.t (id int PRIMARY KEY, v int NOT NULL);
		INSERT INTO public.t SELECT i, 0 FROM generate_series(1, 5) i`); err != nil {
		t.Fatal(err)
	}

	b := brokertest.Start(t)
	bin := e2e.BuildPenstock(t)
	dir := t.TempDir()
	url := fmt.Sprintf("http://127.0.0.1:%d", e2e.FreePort(t))
	cfgFile := e2e.WriteProps(t, dir, e2e.WorkerProps(b.Addr, map[string]string{
		"listeners":                        url,
		"group.id":                         "pg-restart",
		"offset.flush.interval.ms":         "300",
		"session.timeout.ms":               "6000",
		"heartbeat.interval.ms":            "1000",
		"scheduled.rebalance.max.delay.ms": "1000",
	}))
	logFile := filepath.Join(dir, "worker.log")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("worker log:\n%s", e2e.LogTail(logFile))
		}
		_ = os.Remove(cfgFile)
	})
	w := e2e.StartProc(t, bin, cfgFile, url, logFile)

	modes := map[string]string{"pi": "initial", "pw": "when_needed"} // topic prefix -> snapshot.mode
	for prefix, mode := range modes {
		e2e.Expect(t, 201, "POST", url+"/connectors", map[string]any{"name": "pg-" + prefix, "config": map[string]string{
			"connector.class":   "io.debezium.connector.postgresql.PostgresConnector",
			"database.hostname": pg.Host, "database.port": fmt.Sprint(pg.Port),
			"database.user": pg.User, "database.dbname": pg.Database,
			"topic.prefix": prefix, "table.include.list": "public.t", "plugin.name": "pgoutput",
			"slot.name": "slot_" + prefix, "publication.name": "pub_" + prefix, "snapshot.mode": mode,
		}})
	}
	for prefix := range modes {
		e2e.WaitState(t, url, "pg-"+prefix, "RUNNING", "RUNNING", 1)
	}

	// events returns, per op, the ids of the topic's change events, and the
	// highest change LSN.
	events := func(prefix string) (map[string][]int, int64) {
		out := map[string][]int{}
		var maxLSN int64
		for _, rec := range e2e.ReadTopic(t, b.Addr, prefix+".public.t") {
			if len(rec.Value) == 0 {
				continue
			}
			var env envelope
			if err := json.Unmarshal(rec.Value, &env); err != nil || env.Payload == nil {
				t.Fatalf("%s record %d: not a JSON envelope: %q (%v)", prefix, rec.Offset, rec.Value, err)
			}
			p := env.Payload
			if p.Source.LSN != nil && *p.Source.LSN > maxLSN {
				maxLSN = *p.Source.LSN
			}
			out[p.Op] = append(out[p.Op], int(p.After["id"].(float64)))
		}
		return out, maxLSN
	}
	// insert adds row id in a transaction of its own and waits until both
	// connectors delivered it and their slots confirmed a position at or
	// past it (so the stored offset is the transaction's last record).
	insert := func(id int) {
		t.Helper()
		if _, err := conn.Exec(ctx, "INSERT INTO public.t VALUES ($1, 0)", id); err != nil {
			t.Fatal(err)
		}
		for prefix := range modes {
			e2e.Eventually(t, 60*time.Second, fmt.Sprintf("row %d in %s and slot_%s confirmed past it", id, prefix, prefix), func() error {
				ev, maxLSN := events(prefix)
				found := false
				for _, got := range append(ev["c"], ev["r"]...) { // r: a snapshot again, which check reports
					found = found || got == id
				}
				if !found {
					return fmt.Errorf("no event for id %d: %v", id, ev)
				}
				var reached bool
				lsn := fmt.Sprintf("%X/%X", uint64(maxLSN)>>32, uint64(maxLSN)&0xffffffff)
				if err := conn.QueryRow(ctx, `SELECT confirmed_flush_lsn >= $1::pg_lsn FROM pg_replication_slots WHERE slot_name = $2`,
					lsn, "slot_"+prefix).Scan(&reached); err != nil {
					return err
				}
				if !reached {
					return fmt.Errorf("slot not yet confirmed at %s", lsn)
				}
				return nil
			})
		}
	}
	check := func(when string, created []int) {
		t.Helper()
		for prefix, mode := range modes {
			ev, _ := events(prefix)
			if len(ev["r"]) != 5 {
				t.Errorf("%s: snapshot.mode=%s: %d snapshot (op r) events, want the 5 of the one snapshot: %v", when, mode, len(ev["r"]), ev["r"])
			}
			seen := map[int]bool{}
			for _, id := range ev["c"] {
				seen[id] = true
			}
			for _, id := range created {
				if !seen[id] {
					t.Errorf("%s: snapshot.mode=%s: insert of id %d missing: %v", when, mode, id, ev["c"])
				}
			}
		}
		log, _ := os.ReadFile(logFile)
		if strings.Contains(string(log), "lost to this connector") {
			t.Errorf("%s: the worker log says changes were lost:\n%s", when, e2e.LogTail(logFile))
		}
		if t.Failed() {
			t.FailNow()
		}
	}

	for prefix := range modes {
		e2e.Eventually(t, 60*time.Second, "the snapshot of "+prefix, func() error {
			if ev, _ := events(prefix); len(ev["r"]) != 5 {
				return fmt.Errorf("snapshot events: %v", ev["r"])
			}
			return nil
		})
	}
	insert(100)
	if !w.Stop(60 * time.Second) {
		t.Fatal("the worker did not stop within 60s of SIGTERM")
	}
	w = e2e.StartProc(t, bin, cfgFile, url, logFile)
	for prefix := range modes {
		e2e.WaitState(t, url, "pg-"+prefix, "RUNNING", "RUNNING", 1)
	}
	insert(101)
	check("after a graceful restart", []int{100, 101})

	w.Kill()
	w = e2e.StartProc(t, bin, cfgFile, url, logFile)
	for prefix := range modes {
		e2e.WaitState(t, url, "pg-"+prefix, "RUNNING", "RUNNING", 1)
	}
	insert(102)
	check("after kill -9", []int{100, 101, 102})
	w.Stop(30 * time.Second)
}
