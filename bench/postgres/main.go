// Command postgres benchmarks the PostgreSQL CDC source against the
// database's own tools, on one database in one run:
//
//   - streaming: events/s through the connector's task (pgoutput decoded and
//     converted to Debezium records) beside pg_recvlogical receiving the same
//     WAL with pgoutput to /dev/null;
//   - snapshot: rows/s of the connector's snapshot beside COPY (SELECT ...)
//     TO STDOUT of the same table.
//
// With -dsn it uses that server (it needs wal_level=logical and a user with
// replication rights; it creates and drops tables, a publication and slots
// named penstock_bench*). Without, it starts a private PostgreSQL through
// internal/testservice.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"runtime/pprof"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connectors/postgres"
	"github.com/penstockhq/penstock/internal/testservice"
)

var (
	dsnFlag     = flag.String("dsn", "", "PostgreSQL URL (postgres://user@host:port/db); empty: start a private server")
	rowsFlag    = flag.Int("rows", 1000000, "rows in the snapshot table")
	changesFlag = flag.Int("changes", 500000, "changes streamed (inserts then updates)")
	threadsFlag = flag.Int("threads", 2, "snapshot.max.threads of the parallel snapshot run")
	recvFlag    = flag.String("pg_recvlogical", "pg_recvlogical", "pg_recvlogical binary")
	profFlag    = flag.String("cpuprofile", "", "write a CPU profile of the connector runs to this file")
)

type fakeCtx struct{}

func (fakeCtx) ConnectorName() string         { return "bench" }
func (fakeCtx) TaskID() int                   { return 0 }
func (fakeCtx) Offsets() connect.OffsetReader { return fakeCtx{} }
func (fakeCtx) Offset(context.Context, map[string]any) (map[string]any, error) {
	return nil, nil
}

func main() {
	testing.Init()
	flag.Parse()
	if *profFlag != "" {
		f, err := os.Create(*profFlag)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatal(err)
		}
		defer pprof.StopCPUProfile()
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if *dsnFlag != "" {
		if err := run(*dsnFlag); err != nil {
			log.Print(err)
		}
		return
	}
	// testing.Benchmark gives a testing.TB for the harness; run once.
	var once sync.Once
	var runErr error
	testing.Benchmark(func(b *testing.B) {
		once.Do(func() {
			srv := testservice.Postgres(b)
			runErr = run(srv.DSN)
		})
	})
	if runErr != nil {
		log.Print(runErr)
	}
}

func run(dsn string) error {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	u, err := url.Parse(dsn)
	if err != nil {
		return err
	}
	props := map[string]string{
		postgres.KeyHostname: u.Hostname(), postgres.KeyPort: u.Port(), postgres.KeyUser: u.User.Username(),
		postgres.KeyDBName: u.Path[1:], postgres.KeySSLMode: "disable", postgres.KeyTopicPrefix: "bench",
		postgres.KeyPublicationName: "penstock_bench_pub", postgres.KeyPublicationMode: "disabled",
		postgres.KeyPollInterval: "20",
	}
	if p, ok := u.User.Password(); ok {
		props[postgres.KeyPassword] = p
	}
	if props[postgres.KeyPort] == "" {
		props[postgres.KeyPort] = "5432"
	}
	setup := []string{
		"DROP TABLE IF EXISTS penstock_bench_snap, penstock_bench_stream",
		"DROP PUBLICATION IF EXISTS penstock_bench_pub",
		`CREATE TABLE penstock_bench_snap (id bigint PRIMARY KEY, a int NOT NULL, b text, c timestamptz, d numeric(12,2))`,
		`CREATE TABLE penstock_bench_stream (id bigint PRIMARY KEY, a int NOT NULL, b text, c timestamptz, d numeric(12,2))`,
		"CREATE PUBLICATION penstock_bench_pub FOR TABLE penstock_bench_snap, penstock_bench_stream",
		fmt.Sprintf(`INSERT INTO penstock_bench_snap SELECT g, g %% 1000, 'row number ' || g, now() - g * interval '1 second', g / 100.0
		   FROM generate_series(1, %d) g`, *rowsFlag),
		"VACUUM ANALYZE penstock_bench_snap",
	}
	for _, q := range setup {
		if _, err := conn.Exec(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	defer func() {
		for _, q := range []string{"DROP TABLE IF EXISTS penstock_bench_snap, penstock_bench_stream", "DROP PUBLICATION IF EXISTS penstock_bench_pub"} {
			_, _ = conn.Exec(context.Background(), q)
		}
		for _, s := range []string{"penstock_bench_recv", "penstock_bench_conn"} {
			_, _ = conn.Exec(context.Background(), "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1", s)
		}
	}()

	// --- Snapshot ---
	copySQL := "COPY (SELECT id, a, b, c, d FROM public.penstock_bench_snap) TO STDOUT"
	start := time.Now()
	if _, err := conn.PgConn().CopyTo(ctx, io.Discard, copySQL); err != nil {
		return fmt.Errorf("COPY: %w", err)
	}
	copyDur := time.Since(start)
	snapProps := clone(props)
	snapProps[postgres.KeySnapshotMode] = postgres.SnapshotInitialOnly
	snapProps[postgres.KeyTableInclude] = `public\.penstock_bench_snap`
	snap1, err := timeTask(snapProps, *rowsFlag)
	if err != nil {
		return err
	}
	snapProps[postgres.KeySnapshotThreads] = strconv.Itoa(*threadsFlag)
	snapProps[postgres.KeySnapshotChunk] = strconv.Itoa(max(*rowsFlag/(4**threadsFlag), 1000))
	snapN, err := timeTask(snapProps, *rowsFlag)
	if err != nil {
		return err
	}

	// --- Streaming: two slots, then the WAL both decode ---
	for _, s := range []string{"penstock_bench_recv", "penstock_bench_conn"} {
		if _, err := conn.Exec(ctx, "SELECT pg_create_logical_replication_slot($1, 'pgoutput')", s); err != nil {
			return fmt.Errorf("create slot %s: %w", s, err)
		}
	}
	half := *changesFlag / 2
	for i := 0; i < half; i += 1000 {
		if _, err := conn.Exec(ctx, fmt.Sprintf(`INSERT INTO penstock_bench_stream SELECT g, g %% 1000, 'row number ' || g,
		  now(), g / 100.0 FROM generate_series(%d, %d) g`, i+1, min(i+1000, half))); err != nil {
			return err
		}
	}
	for i := 0; i < half; i += 1000 {
		if _, err := conn.Exec(ctx, fmt.Sprintf(`UPDATE penstock_bench_stream SET a = a + 1 WHERE id BETWEEN %d AND %d`, i+1, min(i+1000, half))); err != nil {
			return err
		}
	}
	var endLSN string
	if err := conn.QueryRow(ctx, "SELECT pg_current_wal_lsn()::text").Scan(&endLSN); err != nil {
		return err
	}
	changes := 2 * half

	start = time.Now()
	cmd := exec.Command(*recvFlag, "-d", dsn, "--slot", "penstock_bench_recv", "--start", "--endpos", endLSN,
		"-o", "proto_version=1", "-o", "publication_names=penstock_bench_pub", "--no-loop", "-f", "/dev/null")
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("pg_recvlogical: %w", err)
	}
	recvDur := time.Since(start)

	streamProps := clone(props)
	streamProps[postgres.KeySnapshotMode] = postgres.SnapshotNoData
	streamProps[postgres.KeySlotName] = "penstock_bench_conn"
	streamDur, err := timeTask(streamProps, changes)
	if err != nil {
		return err
	}

	rate := func(n int, d time.Duration) float64 { return float64(n) / d.Seconds() }
	fmt.Printf("PostgreSQL CDC benchmark (%d snapshot rows, %d streamed changes)\n\n", *rowsFlag, changes)
	fmt.Printf("streaming  pg_recvlogical (pgoutput -> /dev/null)  %10.0f events/s  (%v)\n", rate(changes, recvDur), recvDur.Round(time.Millisecond))
	fmt.Printf("streaming  penstock task (Debezium records)        %10.0f events/s  (%v)  %5.0f%% of pg_recvlogical (target 80%%)\n",
		rate(changes, streamDur), streamDur.Round(time.Millisecond), 100*recvDur.Seconds()/streamDur.Seconds())
	fmt.Printf("snapshot   COPY (SELECT ...) TO STDOUT             %10.0f rows/s    (%v)\n", rate(*rowsFlag, copyDur), copyDur.Round(time.Millisecond))
	fmt.Printf("snapshot   penstock task, 1 thread                 %10.0f rows/s    (%v)  %5.0f%% of COPY (target 50%%)\n",
		rate(*rowsFlag, snap1), snap1.Round(time.Millisecond), 100*copyDur.Seconds()/snap1.Seconds())
	fmt.Printf("snapshot   penstock task, %d threads (chunked)      %10.0f rows/s    (%v)  %5.0f%% of COPY\n",
		*threadsFlag, rate(*rowsFlag, snapN), snapN.Round(time.Millisecond), 100*copyDur.Seconds()/snapN.Seconds())
	return nil
}

func clone(m map[string]string) map[string]string {
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// timeTask starts a task and polls until want data records arrived.
func timeTask(props map[string]string, want int) (time.Duration, error) {
	task := postgres.NewTask()
	start := time.Now()
	if err := task.Start(context.Background(), fakeCtx{}, props); err != nil {
		return 0, err
	}
	defer task.Stop()
	got := 0
	deadline := time.Now().Add(10 * time.Minute)
	for got < want {
		recs, err := task.Poll(context.Background())
		if err != nil {
			return 0, err
		}
		for _, r := range recs {
			if r.Value != nil && r.Topic != "" && r.Topic[:len("bench.public")] == "bench.public" {
				got++
			}
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("timed out with %d of %d records", got, want)
		}
	}
	return time.Since(start), nil
}
