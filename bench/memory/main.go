// Command memory measures the peak memory and the throughput of the real
// `penstock dev` binary (broker and worker in one process, default settings)
// under full load, each case in a fresh process:
//
//   - snapshot: a PostgreSQL snapshot of each -rows count into the broker
//     (a private PostgreSQL from internal/testservice, or -dsn), then
//     -changes rows inserted and streamed;
//   - datagen: datagen -> broker -> FileStreamSink of -records records;
//   - broker: the broker alone under kcat-like produce then consume of
//     -records records from a franz-go client in this process.
//
// Peak RSS is the kernel's high-water mark of the penstock process (VmHWM of
// /proc/PID/status) for the whole case; "phase peak" is the largest VmRSS
// sampled every 20 ms during that phase. CPU/record is the penstock
// process's user+system CPU per record, steadier than records/s on a busy
// machine. Peak RSS must stay below 150 MB and
// not grow with the number of rows. The process inherits this program's
// environment, so GOGC=… or GOMEMLIMIT=… apply to it.
//
//	go run ./bench/memory [-rows 200000,1000000] [-changes 200000] [-records 1000000] [-only snapshot|datagen|broker]
//	go run ./bench/memory -rows 2000000 -changes 1000000 -records 5000000   # the figures of issue 19
//	go run ./bench/memory -only snapshot -rows 100000 -width 10000          # wide rows
//	go run ./bench/memory -only datagen -profile /tmp/prof                   # heap profiles at the peaks
//
// Of the peak RSS, 50-60 MB are the binary's mapped pages on Linux 6.x
// (RssFile in the -profile directory's smaps_rollup); the rest is the Go
// heap, which under load grows to the soft memory limit.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/penstockhq/penstock/internal/testservice"
)

var (
	binFlag     = flag.String("bin", "", "penstock binary (default: go build ./cmd/penstock into a temp dir)")
	dsnFlag     = flag.String("dsn", "", "PostgreSQL URL for the snapshot case; empty: start a private server")
	rowsFlag    = flag.String("rows", "200000,1000000", "snapshot row counts, comma separated (one process each)")
	changesFlag = flag.Int("changes", 200000, "rows inserted and streamed after each snapshot; 0 skips streaming")
	recsFlag    = flag.Int("records", 1000000, "records of the datagen and broker cases")
	sizeFlag    = flag.Int("size", 100, "value size of the datagen and broker records (bytes)")
	widthFlag   = flag.Int("width", 0, "bytes of padding added to each snapshot row's text column (wide rows)")
	onlyFlag    = flag.String("only", "", "run only this case: snapshot, datagen or broker")
	extraFlag   = flag.String("args", "", "extra arguments for penstock dev, space separated")
	connFlag    = flag.String("connector", "", "extra connector settings for every case's connectors, key=value, comma separated")
	profFlag    = flag.String("profile", "", "directory for heap profiles of penstock taken at each case's RSS peak (pprof format and debug=1 text with the runtime's MemStats)")
)

func main() {
	testing.Init()
	flag.Parse()
	if *profFlag != "" {
		if err := os.MkdirAll(*profFlag, 0o755); err != nil {
			fatal(err)
		}
	}
	bin := *binFlag
	if bin == "" {
		dir, err := os.MkdirTemp("", "penstock-bench-bin")
		if err != nil {
			fatal(err)
		}
		defer os.RemoveAll(dir)
		bin = filepath.Join(dir, "penstock")
		cmd := exec.Command("go", "build", "-o", bin, "./cmd/penstock")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			fatal(fmt.Errorf("building penstock: %w", err))
		}
	}
	fmt.Printf("penstock dev memory benchmark (GOGC=%q GOMEMLIMIT=%q in the environment; target: peak RSS < 150 MB)\n",
		os.Getenv("GOGC"), os.Getenv("GOMEMLIMIT"))
	fmt.Printf("%-34s %12s %12s %12s %12s\n", "case", "records/s", "CPU/record", "phase peak", "peak RSS")
	var failed bool
	report := func(name string, err error) {
		if err != nil {
			failed = true
			fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
		}
	}
	if *onlyFlag == "" || *onlyFlag == "broker" {
		report("broker", brokerCase(bin))
	}
	if *onlyFlag == "" || *onlyFlag == "datagen" {
		report("datagen", datagenCase(bin))
	}
	if *onlyFlag == "" || *onlyFlag == "snapshot" {
		report("snapshot", snapshotCases(bin))
	}
	if failed {
		os.Exit(1)
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "bench:", err)
	os.Exit(1)
}

// dev is a running `penstock dev` process.
type dev struct {
	cmd        *exec.Cmd
	dir        string
	broker     string
	rest       string
	stopSample chan struct{}
	sampled    sync.WaitGroup
	phasePeak  atomic.Int64 // largest VmRSS sampled since the phase began, in kB
	pprof      string       // address of penstock's /debug/pprof, with -profile
	mu         sync.Mutex   // guards the fields below
	profiled   int64        // VmRSS of the last profile taken, in kB
	profAt     time.Time
	name       string // the phase's name, for profile file names
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func startDev(bin string) (*dev, error) {
	dir, err := os.MkdirTemp("", "penstock-bench-mem")
	if err != nil {
		return nil, err
	}
	d := &dev{dir: dir, stopSample: make(chan struct{})}
	if d.broker, err = freeAddr(); err != nil {
		return nil, err
	}
	if d.rest, err = freeAddr(); err != nil {
		return nil, err
	}
	registry, err := freeAddr() // the schema registry runs, as by default, but not on a port another process may hold
	if err != nil {
		return nil, err
	}
	args := []string{"dev", "--data", filepath.Join(dir, "data"), "--broker", d.broker, "--rest", d.rest, "--schema-registry", registry}
	args = append(args, strings.Fields(*extraFlag)...)
	d.cmd = exec.Command(bin, args...)
	if *profFlag != "" {
		if d.pprof, err = freeAddr(); err != nil {
			return nil, err
		}
		d.cmd.Env = append(os.Environ(), "PENSTOCK_PPROF_ADDR="+d.pprof)
	}
	logf, err := os.Create(filepath.Join(dir, "penstock.log"))
	if err != nil {
		return nil, err
	}
	d.cmd.Stdout, d.cmd.Stderr = logf, logf
	if err := d.cmd.Start(); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get("http://" + d.rest + "/connectors")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "penstock.log"))
			d.stop()
			return nil, fmt.Errorf("penstock dev not ready after 60s; its log:\n%s", log)
		}
		time.Sleep(100 * time.Millisecond)
	}
	d.sampled.Add(1)
	go func() {
		defer d.sampled.Done()
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-d.stopSample:
				return
			case <-t.C:
				if rss := d.status("VmRSS"); rss > d.phasePeak.Load() {
					d.phasePeak.Store(rss)
					d.profile(rss)
				}
			}
		}
	}()
	return d, nil
}

// profile saves penstock's heap profile when the RSS is a new peak (by 1 MB
// and at most twice a second), so the last one saved is the peak's.
func (d *dev) profile(rss int64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.pprof == "" || rss < d.profiled+1024 || time.Since(d.profAt) < 500*time.Millisecond {
		return
	}
	d.profiled, d.profAt = rss, time.Now()
	base := filepath.Join(*profFlag, strings.ReplaceAll(d.name, " ", "_"))
	for suffix, q := range map[string]string{"-heap.pb.gz": "", "-heap.txt": "?debug=1"} {
		resp, err := http.Get("http://" + d.pprof + "/debug/pprof/heap" + q)
		if err != nil {
			continue
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err == nil {
			_ = os.WriteFile(base+suffix, b, 0o644)
		}
	}
	smaps, _ := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", d.cmd.Process.Pid))
	_ = os.WriteFile(base+"-status.txt", fmt.Appendf(nil, "VmRSS at profile: %d kB\n%s", rss, smaps), 0o644)
}

// status returns a kB field of /proc/PID/status.
func (d *dev) status(field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", d.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			return n
		}
	}
	return 0
}

func (d *dev) stop() {
	close(d.stopSample)
	d.sampled.Wait()
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = d.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = d.cmd.Process.Kill()
		<-done
	}
	os.RemoveAll(d.dir)
}

// phase runs f (which returns the records it moved), and prints its rate
// and the process's peaks.
func (d *dev) phase(name string, f func() (int, error)) error {
	d.phasePeak.Store(d.status("VmRSS"))
	d.mu.Lock()
	d.name, d.profiled = name, 0
	d.mu.Unlock()
	start, cpu := time.Now(), d.cpu()
	n, err := f()
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	el := time.Since(start)
	fmt.Printf("%-34s %12.0f %9.0f ns %9.1f MB %9.1f MB\n", name, float64(n)/el.Seconds(),
		float64((d.cpu()-cpu).Nanoseconds())/float64(n), float64(d.phasePeak.Load())/1024, float64(d.status("VmHWM"))/1024)
	return nil
}

// cpu returns the CPU time (user+system) the process has used so far.
func (d *dev) cpu() time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", d.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	// The fields after the command name (which may hold spaces): state is
	// field 3, utime and stime fields 14 and 15, in clock ticks (100/s).
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond
}

func (d *dev) putConnector(name string, cfg map[string]string) error {
	for _, kv := range strings.Split(*connFlag, ",") {
		if k, v, ok := strings.Cut(kv, "="); ok {
			cfg[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	body, _ := json.Marshal(cfg)
	req, _ := http.NewRequest(http.MethodPut, "http://"+d.rest+"/connectors/"+name+"/config", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("PUT connector %s: %s: %s", name, resp.Status, b)
	}
	return nil
}

// waitEnd waits until the end offsets of topic sum to n.
func (d *dev) waitEnd(ctx context.Context, topic string, n int64) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(d.broker))
	if err != nil {
		return err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	deadline := time.Now().Add(30 * time.Minute)
	for time.Now().Before(deadline) {
		ends, err := adm.ListEndOffsets(ctx, topic)
		if err == nil {
			var sum int64
			ends.Each(func(o kadm.ListedOffset) {
				if o.Err == nil {
					sum += o.Offset
				}
			})
			if sum >= n {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("topic %s did not reach %d records", topic, n)
}

func brokerCase(bin string) error {
	d, err := startDev(bin)
	if err != nil {
		return err
	}
	defer d.stop()
	ctx := context.Background()
	const topic = "bench-broker"
	n := *recsFlag
	value := bytes.Repeat([]byte("x"), *sizeFlag)
	// kcat's defaults: librdkafka's linger of 5 ms, 1 MB batches, acks=all.
	pcl, err := kgo.NewClient(kgo.SeedBrokers(d.broker), kgo.DefaultProduceTopic(topic), kgo.AllowAutoTopicCreation(),
		kgo.ProducerLinger(5*time.Millisecond))
	if err != nil {
		return err
	}
	defer pcl.Close()
	if err := d.phase(fmt.Sprintf("broker produce %d", n), func() (int, error) {
		var failed atomic.Pointer[error]
		var wg sync.WaitGroup
		for i := 0; i < n; i++ {
			wg.Add(1)
			pcl.Produce(ctx, &kgo.Record{Value: value}, func(_ *kgo.Record, err error) {
				if err != nil {
					failed.Store(&err)
				}
				wg.Done()
			})
		}
		wg.Wait()
		if e := failed.Load(); e != nil {
			return 0, *e
		}
		return n, nil
	}); err != nil {
		return err
	}
	ccl, err := kgo.NewClient(kgo.SeedBrokers(d.broker), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		return err
	}
	defer ccl.Close()
	return d.phase(fmt.Sprintf("broker consume %d", n), func() (int, error) {
		got := 0
		for got < n {
			fs := ccl.PollFetches(ctx)
			if err := fs.Err0(); err != nil {
				return got, err
			}
			got += fs.NumRecords()
		}
		return got, nil
	})
}

func datagenCase(bin string) error {
	d, err := startDev(bin)
	if err != nil {
		return err
	}
	defer d.stop()
	n := *recsFlag
	out := filepath.Join(d.dir, "sink.txt")
	return d.phase(fmt.Sprintf("datagen -> broker -> file %d", n), func() (int, error) {
		if err := d.putConnector("gen", map[string]string{"connector.class": "datagen", "topic": "bench-gen",
			"count": strconv.Itoa(n), "keys": "1000", "value.size": strconv.Itoa(*sizeFlag)}); err != nil {
			return 0, err
		}
		if err := d.putConnector("file", map[string]string{"connector.class": "FileStreamSink", "topics": "bench-gen",
			"file": out}); err != nil {
			return 0, err
		}
		return n, waitLines(out, n)
	})
}

// waitLines waits until the file has n lines, reading only what was added.
func waitLines(path string, n int) error {
	var f *os.File
	deadline := time.Now().Add(30 * time.Minute)
	for f == nil {
		var err error
		if f, err = os.Open(path); err != nil {
			if time.Now().After(deadline) {
				return err
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	defer f.Close()
	r := bufio.NewReaderSize(f, 1<<20)
	buf := make([]byte, 1<<20)
	lines := 0
	for lines < n {
		k, err := r.Read(buf)
		lines += bytes.Count(buf[:k], []byte{'\n'})
		if errors.Is(err, io.EOF) {
			if time.Now().After(deadline) {
				return fmt.Errorf("%s has %d of %d lines", path, lines, n)
			}
			time.Sleep(50 * time.Millisecond)
		} else if err != nil {
			return err
		}
	}
	return nil
}

func snapshotCases(bin string) error {
	if *dsnFlag != "" {
		return snapshotRun(bin, *dsnFlag)
	}
	var runErr error
	var once sync.Once
	testing.Benchmark(func(b *testing.B) { // for a testing.TB: the server's lifetime
		once.Do(func() { runErr = snapshotRun(bin, testservice.Postgres(b).DSN) })
	})
	return runErr
}

func snapshotRun(bin, dsn string) error {
	for _, s := range strings.Split(*rowsFlag, ",") {
		rows, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return fmt.Errorf("-rows: %w", err)
		}
		if err := snapshotCase(bin, dsn, rows); err != nil {
			return err
		}
	}
	return nil
}

func snapshotCase(bin, dsn string, rows int) error {
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	cleanup := []string{
		"DROP TABLE IF EXISTS penstock_mem",
		"DROP PUBLICATION IF EXISTS penstock_mem_pub",
		"SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = 'penstock_mem' AND NOT active",
	}
	for _, q := range append(cleanup,
		`CREATE TABLE penstock_mem (id bigint PRIMARY KEY, a int NOT NULL, b text, c timestamptz, d numeric(12,2))`,
		fmt.Sprintf(`INSERT INTO penstock_mem SELECT g, g %% 1000, 'row number ' || g || repeat('x', %d), now() - g * interval '1 second', g / 100.0
		   FROM generate_series(1, %d) g`, *widthFlag, rows),
		"VACUUM ANALYZE penstock_mem") {
		if _, err := conn.Exec(ctx, q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	d, err := startDev(bin)
	if err != nil {
		return err
	}
	defer func() {
		d.stop()
		for _, q := range cleanup {
			_, _ = conn.Exec(context.Background(), q)
		}
	}()
	u, err := url.Parse(dsn)
	if err != nil {
		return err
	}
	cfg := map[string]string{
		"connector.class": "PostgresConnector", "database.hostname": u.Hostname(), "database.port": u.Port(),
		"database.user": u.User.Username(), "database.dbname": strings.TrimPrefix(u.Path, "/"),
		"database.sslmode": "disable", "topic.prefix": "mem", "table.include.list": "public.penstock_mem",
		"slot.name": "penstock_mem", "publication.name": "penstock_mem_pub", "publication.autocreate.mode": "filtered",
	}
	if p, ok := u.User.Password(); ok {
		cfg["database.password"] = p
	}
	const topic = "mem.public.penstock_mem"
	name := fmt.Sprintf("postgres snapshot %d", rows)
	if *widthFlag > 0 {
		name += fmt.Sprintf(" (+%d B)", *widthFlag)
	}
	if err := d.phase(name, func() (int, error) {
		if err := d.putConnector("pg", cfg); err != nil {
			return 0, err
		}
		return rows, d.waitEnd(ctx, topic, int64(rows))
	}); err != nil || *changesFlag == 0 {
		return err
	}
	n := *changesFlag
	return d.phase(fmt.Sprintf("postgres streaming %d", n), func() (int, error) {
		if _, err := conn.Exec(ctx, fmt.Sprintf(`INSERT INTO penstock_mem SELECT g, g %% 1000, 'row number ' || g,
			now(), g / 100.0 FROM generate_series(%d, %d) g`, rows+1, rows+n)); err != nil {
			return 0, err
		}
		return n, d.waitEnd(ctx, topic, int64(rows+n))
	})
}
