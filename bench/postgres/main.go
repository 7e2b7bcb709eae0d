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
	"log"
	"log/slog"
	"net/url"
	"os"
	"os/exec"
	"runtime/pprof"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connectors/postgres"
	"github.com/penstockhq/penstock/internal/gctune"
	"github.com/penstockhq/penstock/internal/testservice"
)

var (
	dsnFlag     = flag.String("dsn", "", "PostgreSQL URL (postgres://user@host:port/db); empty: start a private server")
	rowsFlag    = flag.Int("rows", 1000000, "rows in the snapshot table")
	changesFlag = flag.Int("changes", 500000, "changes streamed (inserts then updates)")
	threadsFlag = flag.Int("threads", 2, "snapshot.max.threads of the parallel snapshot run")
	recvFlag    = flag.String("pg_recvlogical", "pg_recvlogical", "pg_recvlogical binary")
	profFlag    = flag.String("cpuprofile", "", "write a CPU profile of the connector runs to this file")
	onlyFlag    = flag.String("only", "", "run only this part: snapshot or streaming")
	repeatFlag  = flag.Int("repeat", 3, "snapshot runs of each kind (COPY, task); the fastest counts")
)

type fakeCtx struct{}

func (fakeCtx) ConnectorName() string         { return "bench" }
func (fakeCtx) TaskID() int                   { return 0 }
func (fakeCtx) Offsets() connect.OffsetReader { return fakeCtx{} }
func (fakeCtx) Offset(context.Context, map[string]any) (map[string]any, error) {
	return nil, nil
}

func main() {
	fmt.Printf("GOGC=%d, as the penstock binary runs\n", gctune.Apply())
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
		for _, s := range []string{"penstock_bench_recv", "penstock_bench_conn", "penstock_bench_recv2"} {
			_, _ = conn.Exec(context.Background(), "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1", s)
		}
	}()

	fmt.Printf("PostgreSQL CDC benchmark (%d snapshot rows, best of %d runs; %d streamed changes)\n\n", *rowsFlag, max(*repeatFlag, 1), *changesFlag/2*2)
	if *onlyFlag != "streaming" {
		if err := benchSnapshot(ctx, conn, props); err != nil {
			return err
		}
	}
	if *onlyFlag != "snapshot" {
		if err := benchStreaming(ctx, conn, dsn, props); err != nil {
			return err
		}
	}
	return nil
}

func rate(n int, d time.Duration) float64 { return float64(n) / d.Seconds() }

func ms(d time.Duration) time.Duration { return d.Round(time.Millisecond) }

func perRow(cpu time.Duration, n int) string {
	return fmt.Sprintf("client CPU %4.0f ns/row", float64(cpu.Nanoseconds())/float64(n))
}

// benchSnapshot compares the task's snapshot with COPY.
func benchSnapshot(ctx context.Context, conn *pgx.Conn, props map[string]string) error {
	// The baseline reads the rows with the same client library into the
	// program's memory (a buffer reused once full, as the task's records are
	// dropped once polled), in a transaction like the task's.
	copySQL := "COPY (SELECT id, a, b, c, d FROM public.penstock_bench_snap) TO STDOUT"
	var copyRun taskTime
	for i := 0; i < max(*repeatFlag, 1); i++ {
		if _, err := conn.Exec(ctx, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"); err != nil {
			return err
		}
		cpu0 := cpuTime()
		start := time.Now()
		if _, err := conn.PgConn().CopyTo(ctx, &memSink{buf: make([]byte, 0, 1<<20)}, copySQL); err != nil {
			return fmt.Errorf("COPY: %w", err)
		}
		copyRun = faster(copyRun, taskTime{total: time.Since(start), cpu: cpuTime() - cpu0})
		if _, err := conn.Exec(ctx, "COMMIT"); err != nil {
			return err
		}
	}
	copyDur, copyCPU := copyRun.total, copyRun.cpu
	snapProps := clone(props)
	snapProps[postgres.KeySnapshotMode] = postgres.SnapshotInitialOnly
	snapProps[postgres.KeyTableInclude] = `public\.penstock_bench_snap`
	var snap1, snapN taskTime
	for i := 0; i < max(*repeatFlag, 1); i++ {
		snapProps[postgres.KeySnapshotThreads] = "1"
		delete(snapProps, postgres.KeySnapshotChunk)
		t, err := timeTask(snapProps, *rowsFlag)
		if err != nil {
			return err
		}
		snap1 = faster(snap1, t)
		snapProps[postgres.KeySnapshotThreads] = strconv.Itoa(*threadsFlag)
		snapProps[postgres.KeySnapshotChunk] = strconv.Itoa(max(*rowsFlag/(4**threadsFlag), 1000))
		if t, err = timeTask(snapProps, *rowsFlag); err != nil {
			return err
		}
		snapN = faster(snapN, t)
	}
	fmt.Printf("snapshot   COPY (SELECT ...) TO STDOUT                %10.0f rows/s    (%v)                        %s\n",
		rate(*rowsFlag, copyDur), ms(copyDur), perRow(copyCPU, *rowsFlag))
	for _, r := range []struct {
		name string
		d    taskTime
	}{{"1 thread             ", snap1}, {fmt.Sprintf("%d threads (chunked)  ", *threadsFlag), snapN}} {
		fmt.Printf("snapshot   penstock task, %s %10.0f rows/s    (%v)  %5.0f%% of COPY        %s  (target 50%%)\n",
			r.name, rate(*rowsFlag, r.d.total), ms(r.d.total), 100*copyDur.Seconds()/r.d.total.Seconds(), perRow(r.d.cpu, *rowsFlag))
	}
	fmt.Printf("           (task times include the task's start until its first record: %v, %v)\n\n", ms(snap1.setup), ms(snapN.setup))
	return nil
}

// benchStreaming compares the task's streaming with pg_recvlogical on the
// same WAL.
func benchStreaming(ctx context.Context, conn *pgx.Conn, dsn string, props map[string]string) error {
	// pg_recvlogical reads the WAL before and after the task (the first
	// reader may find it colder); the faster run counts.
	for _, s := range []string{"penstock_bench_recv", "penstock_bench_conn", "penstock_bench_recv2"} {
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

	recv := func(slot string) (taskTime, error) {
		start := time.Now()
		cmd := exec.Command(*recvFlag, "-d", dsn, "--slot", slot, "--start", "--endpos", endLSN,
			"-o", "proto_version=1", "-o", "publication_names=penstock_bench_pub", "--no-loop", "-f", "/dev/null")
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			return taskTime{}, fmt.Errorf("pg_recvlogical: %w", err)
		}
		t := taskTime{total: time.Since(start)}
		if ps := cmd.ProcessState; ps != nil {
			t.cpu = ps.UserTime() + ps.SystemTime()
		}
		return t, nil
	}
	recv1, err := recv("penstock_bench_recv")
	if err != nil {
		return err
	}
	streamProps := clone(props)
	streamProps[postgres.KeySnapshotMode] = postgres.SnapshotNoData
	streamProps[postgres.KeySlotName] = "penstock_bench_conn"
	streamDur, err := timeTask(streamProps, changes)
	if err != nil {
		return err
	}
	recv2, err := recv("penstock_bench_recv2")
	if err != nil {
		return err
	}
	recvRun := faster(recv1, recv2)
	recvDur, recvCPU := recvRun.total, recvRun.cpu
	fmt.Printf("streaming  pg_recvlogical (pgoutput -> /dev/null)     %10.0f events/s  (%v)                        %s\n",
		rate(changes, recvDur), ms(recvDur), perRow(recvCPU, changes))
	fmt.Printf("streaming  penstock task (Debezium records)           %10.0f events/s  (%v)  %5.0f%% of pg_recvlogical  %s  (target 80%%)\n",
		rate(changes, streamDur.total), ms(streamDur.total), 100*recvDur.Seconds()/streamDur.total.Seconds(), perRow(streamDur.cpu, changes))
	fmt.Printf("           (pg_recvlogical before and after the task: %v, %v; task time includes its start until its first record: %v)\n",
		ms(recv1.total), ms(recv2.total), ms(streamDur.setup))
	return nil
}

// memSink keeps COPY data in memory, reusing its buffer once full.
type memSink struct{ buf []byte }

func (m *memSink) Write(b []byte) (int, error) {
	if len(m.buf)+len(b) > cap(m.buf) {
		m.buf = m.buf[:0]
	}
	m.buf = append(m.buf, b...)
	return len(b), nil
}

// cpuTime returns the CPU time this process used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// faster returns the faster run; a zero run counts as slowest.
func faster(a, b taskTime) taskTime {
	if a.total == 0 || (b.total != 0 && b.total < a.total) {
		return b
	}
	return a
}

// taskTime is a timed task run: wall time from Start to the last record,
// the part of it until the first record, and the process's CPU time.
type taskTime struct{ total, setup, cpu time.Duration }

func clone(m map[string]string) map[string]string {
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// timeTask starts a task and polls until want data records arrived.
func timeTask(props map[string]string, want int) (taskTime, error) {
	task := postgres.NewTask()
	cpu0 := cpuTime()
	start := time.Now()
	if err := task.Start(context.Background(), fakeCtx{}, props); err != nil {
		return taskTime{}, err
	}
	defer task.Stop()
	var tt taskTime
	got := 0
	deadline := time.Now().Add(10 * time.Minute)
	for got < want {
		recs, err := task.Poll(context.Background())
		if err != nil {
			return taskTime{}, err
		}
		for _, r := range recs {
			if r.Value != nil && r.Topic != "" && r.Topic[:len("bench.public")] == "bench.public" {
				if got == 0 {
					tt.setup = time.Since(start)
				}
				got++
			}
		}
		if time.Now().After(deadline) {
			return taskTime{}, fmt.Errorf("timed out with %d of %d records", got, want)
		}
	}
	tt.total = time.Since(start)
	tt.cpu = cpuTime() - cpu0
	return tt, nil
}
