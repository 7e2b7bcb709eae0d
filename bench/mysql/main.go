// Command mysql benchmarks the MySQL/MariaDB CDC source against the
// server's own client tools, on one private MariaDB in one run:
//
//   - streaming: events/s through the connector's task (binlog rows decoded
//     and turned into Debezium records) beside mariadb-binlog reading the
//     same binlog from the server to /dev/null;
//   - snapshot: rows/s of the connector's snapshot (one thread, then
//     several on key ranges) beside mariadb --quick -e 'SELECT ...' of the
//     same table to /dev/null.
//
// Streaming runs -runs times, the tool then the task, and prints each run
// and the medians: wall-clock rates depend on what else the machine runs,
// CPU time per event (user+sys of each process) much less. It prints the
// process's peak RSS (VmHWM) per phase and for the whole run.
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"
	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connectors/mysql"
	"github.com/penstockhq/penstock/internal/gctune"
	"github.com/penstockhq/penstock/internal/testservice"
)

var (
	rowsFlag    = flag.Int("rows", 500000, "rows in the snapshot table")
	changesFlag = flag.Int("changes", 300000, "changes streamed (inserts then updates)")
	threadsFlag = flag.Int("threads", 2, "snapshot.max.threads of the parallel snapshot run")
	clientFlag  = flag.String("mariadb", "mariadb", "mariadb client binary")
	binlogFlag  = flag.String("mariadb-binlog", "mariadb-binlog", "mariadb-binlog binary")
	profFlag    = flag.String("cpuprofile", "", "write a CPU profile of the run to this file")
	memFlag     = flag.String("memprofile", "", "write an allocation profile of the run to this file")
	verboseFlag = flag.Bool("v", false, "log the tasks' progress")
	phasesFlag  = flag.String("phases", "snapshot,streaming", "phases to run: snapshot, streaming or both")
	runsFlag    = flag.Int("runs", 3, "paired streaming runs (mariadb-binlog then the task), for medians")
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
	level := slog.LevelWarn
	if *verboseFlag {
		level = slog.LevelInfo
	}
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level})))
	// testing.Benchmark gives a testing.TB for the harness; run once.
	var once sync.Once
	var runErr error
	testing.Benchmark(func(b *testing.B) {
		once.Do(func() { runErr = run(testservice.MariaDB(b)) })
	})
	if runErr != nil {
		log.Print(runErr)
		return
	}
	if *memFlag != "" {
		f, err := os.Create(*memFlag)
		if err != nil {
			log.Fatal(err)
		}
		runtime.GC() // the profile shows allocations up to the last GC
		if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
			log.Fatal(err)
		}
		f.Close()
	}
	fmt.Printf("\npeak RSS (VmHWM) of this process over the whole run (the tasks; the server and tools are other processes): %d MiB\n",
		max(runPeak, peakRSS())>>20)
}

// peakRSS returns the process's peak resident set size (VmHWM) in bytes.
func peakRSS() int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		var ru syscall.Rusage
		_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
		return ru.Maxrss << 10
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// resetPeakRSS starts a new VmHWM measurement (Linux: clear_refs 5), so
// each phase reports its own peak; the whole run's peak is printed first.
func resetPeakRSS() {
	runPeak = max(runPeak, peakRSS())
	runtime.GC()
	_ = os.WriteFile("/proc/self/clear_refs", []byte("5"), 0)
}

// runPeak is the highest VmHWM seen before a reset.
var runPeak int64

func run(srv *testservice.MariaDBServer) error {
	db, err := sql.Open("mysql", srv.DSN+"?multiStatements=true")
	if err != nil {
		return err
	}
	defer db.Close()
	setup := fmt.Sprintf(`CREATE DATABASE bench; USE bench;
SET SESSION max_recursive_iterations = 100000000;
CREATE TABLE snap (id BIGINT PRIMARY KEY, a INT NOT NULL, b VARCHAR(40), c DATETIME(6), d DECIMAL(12,2));
CREATE TABLE stream (id BIGINT PRIMARY KEY, a INT NOT NULL, b VARCHAR(40), c DATETIME(6), d DECIMAL(12,2));
INSERT INTO snap WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < %d)
  SELECT i, i %% 1000, CONCAT('row number ', i), NOW(6) - INTERVAL i SECOND, i / 100 FROM s;
ANALYZE TABLE snap;`, *rowsFlag)
	if _, err := db.Exec(setup); err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	props := map[string]string{
		mysql.KeyHostname: srv.Host, mysql.KeyPort: strconv.Itoa(srv.Port), mysql.KeyUser: srv.User,
		mysql.KeyTopicPrefix: "bench", mysql.KeyPollInterval: "20", mysql.KeySchemaChanges: "false",
	}
	fmt.Printf("MariaDB CDC benchmark (%d snapshot rows; %d streamed changes); the machine is shared, figures are indicative\n\n",
		*rowsFlag, *changesFlag/2*2)
	if strings.Contains(*phasesFlag, "snapshot") {
		resetPeakRSS()
		if err := benchSnapshot(srv, props); err != nil {
			return err
		}
		fmt.Printf("           peak RSS (VmHWM) during the snapshot runs: %d MiB\n\n", peakRSS()>>20)
	}
	if strings.Contains(*phasesFlag, "streaming") {
		resetPeakRSS()
		if err := benchStreaming(srv, db, props); err != nil {
			return err
		}
		fmt.Printf("           peak RSS (VmHWM) during the streaming runs: %d MiB\n", peakRSS()>>20)
	}
	return nil
}

func rate(n int, d timed) float64 { return float64(n) / d.wall.Seconds() }

// run is a timed run: wall time and the client's CPU time.
type timed struct {
	wall, cpu time.Duration
	mallocs   uint64 // heap allocations of this process (tasks only)
}

func (t timed) String() string {
	return fmt.Sprintf("%v, CPU %v", t.wall.Round(time.Millisecond), t.cpu.Round(time.Millisecond))
}

// client runs a client tool to /dev/null.
func client(bin string, args ...string) (timed, error) {
	cmd := exec.Command(bin, args...)
	cmd.Stderr = os.Stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return timed{}, fmt.Errorf("%s: %w", bin, err)
	}
	return timed{wall: time.Since(start), cpu: cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime()}, nil
}

// cpuTime returns the CPU time this process used so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func benchSnapshot(srv *testservice.MariaDBServer, props map[string]string) error {
	sel, err := client("sh", "-c", fmt.Sprintf("%s --no-defaults -h %s -P %d -u %s --quick --batch -e 'SELECT id, a, b, c, d FROM bench.snap' > /dev/null",
		*clientFlag, srv.Host, srv.Port, srv.User))
	if err != nil {
		return err
	}
	p := clone(props)
	p[mysql.KeySnapshotMode] = mysql.SnapshotInitialOnly
	p[mysql.KeyTableInclude] = `bench\.snap`
	one, err := timeTask(p, *rowsFlag, "bench.bench.snap")
	if err != nil {
		return err
	}
	p[mysql.KeySnapshotThreads] = strconv.Itoa(*threadsFlag)
	p[mysql.KeySnapshotChunk] = strconv.Itoa(max(*rowsFlag/(4**threadsFlag), 1000))
	par, err := timeTask(p, *rowsFlag, "bench.bench.snap")
	if err != nil {
		return err
	}
	fmt.Printf("snapshot   mariadb --quick -e 'SELECT ...' > /dev/null  %9.0f rows/s   (%v)\n", rate(*rowsFlag, sel), sel)
	for _, r := range []struct {
		name string
		d    timed
	}{{"1 thread           ", one}, {fmt.Sprintf("%d threads (chunked)", *threadsFlag), par}} {
		fmt.Printf("snapshot   penstock task, %s        %9.0f rows/s   (%v)  %4.0f%% of the client (target 50%%)\n",
			r.name, rate(*rowsFlag, r.d), r.d, 100*sel.wall.Seconds()/r.d.wall.Seconds())
	}
	fmt.Println()
	return nil
}

func benchStreaming(srv *testservice.MariaDBServer, db *sql.DB, props map[string]string) error {
	var file string
	var pos int64
	if err := db.QueryRow("SHOW MASTER STATUS").Scan(&file, &pos, new(any), new(any)); err != nil {
		return err
	}
	half := *changesFlag / 2
	for i := 0; i < half; i += 1000 {
		if _, err := db.Exec(fmt.Sprintf(`INSERT INTO bench.stream SELECT id + %d, a, b, c, d FROM bench.snap WHERE id <= %d`,
			i, min(1000, half-i))); err != nil {
			return err
		}
	}
	for i := 0; i < half; i += 1000 {
		if _, err := db.Exec(fmt.Sprintf(`UPDATE bench.stream SET a = a + 1 WHERE id BETWEEN %d AND %d`, i+1, min(i+1000, half))); err != nil {
			return err
		}
	}
	var endFile string
	var endPos int64
	if err := db.QueryRow("SHOW MASTER STATUS").Scan(&endFile, &endPos, new(any), new(any)); err != nil {
		return err
	}
	changes := 2 * half
	args := []string{"--no-defaults", "--read-from-remote-server", "-h", srv.Host, "-P", strconv.Itoa(srv.Port), "-u", srv.User,
		"--start-position=" + strconv.FormatInt(pos, 10), "--stop-position=" + strconv.FormatInt(endPos, 10), "--verbose",
		"--result-file=/dev/null", file}
	p := clone(props)
	p[mysql.KeySnapshotMode] = mysql.SnapshotNoData
	p[mysql.KeyTableInclude] = `bench\.stream`
	perEvent := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1000 / float64(changes) }
	var wallRatios, cpuRatios, toolRates, taskRates, toolCPU, taskCPU, allocs []float64
	for run := 1; run <= *runsFlag; run++ {
		tool, err := client(*binlogFlag, args...)
		if err != nil {
			return err
		}
		// no_data streams from the current position: the task reads the binlog
		// from the recorded start through a stored offset instead.
		task, err := timeTaskFrom(p, changes, "bench.bench.stream", map[string]any{"file": file, "pos": pos})
		if err != nil {
			return err
		}
		fmt.Printf("streaming  run %d: mariadb-binlog --verbose > /dev/null %9.0f events/s (%v = %.2f µs/event)\n",
			run, rate(changes, tool), tool, perEvent(tool.cpu))
		fmt.Printf("           run %d: penstock task (Debezium records)  %9.0f events/s (%v = %.2f µs/event, %.1f allocs/event)\n",
			run, rate(changes, task), task, perEvent(task.cpu), float64(task.mallocs)/float64(changes))
		wallRatios = append(wallRatios, tool.wall.Seconds()/task.wall.Seconds())
		cpuRatios = append(cpuRatios, tool.cpu.Seconds()/task.cpu.Seconds())
		toolRates, taskRates = append(toolRates, rate(changes, tool)), append(taskRates, rate(changes, task))
		toolCPU, taskCPU = append(toolCPU, perEvent(tool.cpu)), append(taskCPU, perEvent(task.cpu))
		allocs = append(allocs, float64(task.mallocs)/float64(changes))
	}
	fmt.Printf("\nstreaming  medians of %d paired runs (%d events each):\n", *runsFlag, changes)
	fmt.Printf("           mariadb-binlog --verbose > /dev/null  %9.0f events/s, CPU %.2f µs/event\n", median(toolRates), median(toolCPU))
	fmt.Printf("           penstock task (Debezium records)     %9.0f events/s, CPU %.2f µs/event, %.1f heap allocations/event\n",
		median(taskRates), median(taskCPU), median(allocs))
	fmt.Printf("           wall-clock: task at %.0f%% of mariadb-binlog's events/s (target 80%%); CPU per event: mariadb-binlog's is %.0f%% of the task's\n",
		100*median(wallRatios), 100*median(cpuRatios))
	if file != endFile {
		fmt.Printf("           (the binlog rotated from %s to %s; mariadb-binlog read %s only)\n", file, endFile, file)
	}
	return nil
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func clone(m map[string]string) map[string]string {
	c := make(map[string]string, len(m))
	for k, v := range m {
		c[k] = v
	}
	return c
}

// storedCtx serves one stored offset.
type storedCtx struct {
	fakeCtx
	off map[string]any
}

func (s storedCtx) Offsets() connect.OffsetReader { return s }
func (s storedCtx) Offset(context.Context, map[string]any) (map[string]any, error) {
	return s.off, nil
}

func timeTask(props map[string]string, want int, topic string) (timed, error) {
	return timeTaskFrom(props, want, topic, nil)
}

// timeTaskFrom starts a task (resuming from off when set) and polls until
// want records of topic arrived.
func timeTaskFrom(props map[string]string, want int, topic string, off map[string]any) (timed, error) {
	task := mysql.NewTask()
	var tctx connect.SourceTaskContext = fakeCtx{}
	if off != nil {
		tctx = storedCtx{off: off}
	}
	start, cpu0, mallocs0 := time.Now(), cpuTime(), mallocs()
	if err := task.Start(context.Background(), tctx, props); err != nil {
		return timed{}, err
	}
	defer task.Stop()
	got := 0
	deadline := time.Now().Add(10 * time.Minute)
	for got < want {
		recs, err := task.Poll(context.Background())
		if err != nil {
			return timed{}, err
		}
		for _, r := range recs {
			if r.Value != nil && strings.HasPrefix(r.Topic, topic) {
				got++
			}
		}
		if time.Now().After(deadline) {
			return timed{}, fmt.Errorf("timed out with %d of %d records", got, want)
		}
	}
	return timed{wall: time.Since(start), cpu: cpuTime() - cpu0, mallocs: mallocs() - mallocs0}, nil
}

// mallocs returns the heap allocations this process made so far.
func mallocs() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.Mallocs
}
