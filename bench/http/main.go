// Command http benchmarks Penstock's HTTP connectors against a local HTTP
// server, each beside a bare Go baseline measured in the same run:
//
//   - sink: records/s from a topic through a worker's HTTP sink (JSON array
//     batches of -batch records, one request in flight per partition) into
//     a server that parses every body, beside a bare net/http client posting
//     the same bodies with the same concurrency and client settings to the
//     same server. The two alternate for -runs paired runs (the machine may
//     be shared: both sides see the same load) and the figures are medians.
//     Besides records/s (from the first body the server received to the
//     last), each side's CPU time per record: this process's (the bare
//     client; or the worker's consumer, the broker serving it and the sink)
//     and the server's, which runs in a process of its own.
//
//   - webhook: requests/s of concurrent callers (one measurement per value
//     of -callers) posting one event each, answered once the broker
//     acknowledged it, beside the same webhook listener answering at once
//     without producing; with this process's CPU per request.
//
//     go run ./bench/http [-records 200000] [-batch 100] [-runs 5] [-warmup 1] [-compression none] [-memory-limit 80MiB] [-callers 16,128] [-seconds 5] [-cpuprofile sink.prof]
//
// Penstock's broker runs in process, so the sink's and the webhook's figures
// include its CPU. Peak RSS is this process's, broker included.
//
// The sink's records are produced once, uncompressed by default as Kafka's
// producer does (-compression snappy makes the sink decompress them, about
// 100 ns a record here). A warm-up pair runs first, not counted: until this
// process's heap has grown to its working size, a run pays page faults that
// a long-running worker paid once (on this VM they cost the sink up to half
// its CPU in the first runs). The process runs with GOGC as the penstock
// binary does and, unless -memory-limit says, without its memory limit.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/penstockhq/penstock/broker"
	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connectors/http/sink"
	"github.com/penstockhq/penstock/connectors/http/webhook"
	"github.com/penstockhq/penstock/internal/gctune"
	"github.com/penstockhq/penstock/plugins/builtin"
	"github.com/penstockhq/penstock/worker"
)

var (
	records     = flag.Int("records", 200000, "records through the sink per run")
	batch       = flag.Int("batch", 100, "records per request (batch.max.size)")
	partitions  = flag.Int("partitions", 3, "partitions of the sink's topic (requests in flight)")
	runs        = flag.Int("runs", 5, "paired runs (bare, then sink) of the sink comparison")
	callers     = flag.String("callers", "16,128", "concurrent webhook callers, one measurement per value")
	seconds     = flag.Int("seconds", 5, "duration of each webhook measurement")
	linger      = flag.String("webhook-linger", "", "the webhook connector's producer.override.linger.ms (\"\": the worker's default, 5)")
	converter   = flag.String("converter", "org.apache.kafka.connect.storage.StringConverter", "the sink's value.converter")
	warmup      = flag.Int("warmup", 1, "paired runs made first and not counted: a new process's heap grows through its first runs (page faults, first collections) as a long-running worker's did once")
	compression = flag.String("compression", "none", "the codec the records are produced with: none (Kafka's producer default), gzip, snappy (franz-go's default), lz4 or zstd")
	memLimit    = flag.String("memory-limit", "", "a Go memory limit for this process, e.g. 80MiB (the penstock binary's default --memory-limit; this process also holds the bare side's bodies and the test records' producer); empty: none")
	cpuProfile  = flag.String("cpuprofile", "", "write a CPU profile of the sink comparison to this file: every run, the bare client's samples labelled side=bare (leave them out with -tagignore side=bare)")
	serve       = flag.Bool("serve", false, "internal: run the counting server and print its URL")
)

func main() {
	gctune.Apply()
	flag.Parse()
	if *serve {
		serveCounting()
		return
	}
	if *memLimit != "" {
		n, err := gctune.ParseSize(*memLimit)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench: -memory-limit:", err)
			os.Exit(2)
		}
		gctune.SetMemoryLimit(n)
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// cpuNow returns this process's CPU time (user and system).
func cpuNow() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// sample is one measurement: records (or requests) per second of wall
// clock, and CPU nanoseconds per record of this process (the client side)
// and of the server process.
type sample struct{ rate, cpu, srvCPU float64 }

func median(xs []sample, f func(sample) float64) float64 {
	v := make([]float64, len(xs))
	for i, x := range xs {
		v[i] = f(x)
	}
	slices.Sort(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

func least(xs []sample, f func(sample) float64) float64 {
	m := f(xs[0])
	for _, x := range xs[1:] {
		m = min(m, f(x))
	}
	return m
}

func most(xs []sample, f func(sample) float64) float64 {
	m := f(xs[0])
	for _, x := range xs[1:] {
		m = max(m, f(x))
	}
	return m
}

func run() error {
	ctx := context.Background()
	addr, stop, err := startBroker()
	if err != nil {
		return err
	}
	defer stop()
	h, err := newHerder(ctx, addr)
	if err != nil {
		return err
	}
	defer h.Close()
	fmt.Printf("records=%d batch=%d partitions=%d runs=%d (+%d warm-up) compression=%s memory-limit=%q callers=%s seconds=%d GOMAXPROCS=%d\n",
		*records, *batch, *partitions, *runs, *warmup, *compression, *memLimit, *callers, *seconds, runtime.GOMAXPROCS(0))

	srv, err := startServer()
	if err != nil {
		return err
	}
	defer srv.close()
	if err := produce(ctx, addr); err != nil {
		return err
	}
	bodies := batches()
	if *cpuProfile != "" {
		prof, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer prof.Close()
		if err := pprof.StartCPUProfile(prof); err != nil {
			return err
		}
	}
	// Paired runs, interleaved so that both sides see the same machine
	// load; the figures are medians, and the ratio is the median of the
	// runs' ratios.
	var bare, sink []sample
	var ratios []sample
	for i := -*warmup; i < *runs; i++ {
		var b sample
		pprof.Do(ctx, pprof.Labels("side", "bare"), func(context.Context) { b, err = bareSink(srv, bodies) })
		if err != nil {
			return err
		}
		s, err := workerSink(ctx, h, srv, i+*warmup)
		if err != nil {
			return err
		}
		if i < 0 {
			fmt.Printf("  warm-up: bare %8.0f records/s   sink %8.0f records/s (not counted)\n", b.rate, s.rate)
			continue
		}
		fmt.Printf("  run %d: bare %8.0f records/s %6.0f+%4.0f ns/record   sink %8.0f records/s %6.0f+%4.0f ns/record (%.1f records/request)\n",
			i+1, b.rate, b.cpu, b.srvCPU, s.rate, s.cpu, s.srvCPU, srv.perRequest())
		bare, sink = append(bare, b), append(sink, s)
		ratios = append(ratios, sample{rate: s.rate / b.rate, cpu: (b.cpu + b.srvCPU) / (s.cpu + s.srvCPU)})
	}
	if *cpuProfile != "" {
		pprof.StopCPUProfile()
	}
	rate := func(x sample) float64 { return x.rate }
	cpu := func(x sample) float64 { return x.cpu }
	srvCPU := func(x sample) float64 { return x.srvCPU }
	row := func(what string, xs []sample) {
		fmt.Printf("%-38s %8.0f records/s (%4.0fk-%4.0fk)  %4.0f (%4.0f-%4.0f) + %4.0f ns/record\n", what,
			median(xs, rate), least(xs, rate)/1e3, most(xs, rate)/1e3, median(xs, cpu), least(xs, cpu), most(xs, cpu), median(xs, srvCPU))
	}
	fmt.Println("medians (range), CPU per record: this process (client side) + the server process:")
	row("bare Go client posting the batches", bare)
	row("worker: topic -> HTTP sink -> server", sink)
	fmt.Printf("sink/bare: %.0f%% by records/s, %.0f%% by CPU per record (bare/sink, server included; medians of the runs' ratios)\n",
		100*median(ratios, rate), 100*median(ratios, cpu))

	for _, f := range strings.Split(*callers, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return fmt.Errorf("-callers: %q is not a positive number", f)
		}
		noProduce, err := webhookAlone(n)
		if err != nil {
			return err
		}
		acked, err := webhookWorker(ctx, h, n)
		if err != nil {
			return err
		}
		fmt.Printf("webhook, %d callers:\n", n)
		fmt.Printf("  %-44s %7.0f requests/s  %6.0f ns/request\n", "listener answering without producing", noProduce.rate, noProduce.cpu)
		fmt.Printf("  %-44s %7.0f requests/s  %6.0f ns/request  (%.0f%%)\n", "worker: webhook -> broker, 2xx after the ack", acked.rate, acked.cpu, 100*acked.rate/noProduce.rate)
	}

	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	fmt.Printf("peak RSS %d MB (broker, worker and clients in one process; the server in another)\n", ru.Maxrss/1024)
	return nil
}

// stats is what the counting server reports.
type stats struct {
	Records, Requests int64
	First, Last       time.Time // arrival of the first and last body
	CPU               time.Duration
}

// serveCounting is the server process: it parses every posted body as a
// JSON array and counts its records; GET /stats reports the counts and its
// CPU time, DELETE /stats resets the counts.
func serveCounting() {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, "serve:", err)
		os.Exit(1)
	}
	fmt.Println("http://" + ln.Addr().String())
	var mu sync.Mutex
	var st stats
	http.Serve(ln, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/stats" {
			mu.Lock()
			defer mu.Unlock()
			if r.Method == http.MethodDelete {
				st = stats{}
				return
			}
			st.CPU = cpuNow()
			json.NewEncoder(w).Encode(st)
			return
		}
		body, _ := io.ReadAll(r.Body)
		var recs []json.RawMessage
		if err := json.Unmarshal(body, &recs); err != nil {
			w.WriteHeader(400)
			return
		}
		now := time.Now()
		mu.Lock()
		if st.Requests == 0 {
			st.First = now
		}
		st.Records += int64(len(recs))
		st.Requests++
		st.Last = now
		mu.Unlock()
		w.WriteHeader(200)
	}))
}

// server is the counting server process, seen from this one.
type server struct {
	cmd  *exec.Cmd
	url  string
	last stats
}

func startServer() (*server, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, "-serve")
	cmd.Stderr = os.Stderr
	// The server dies with this process, even when it is killed.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		cmd.Process.Kill()
		return nil, fmt.Errorf("server: %w", err)
	}
	return &server{cmd: cmd, url: strings.TrimSpace(line)}, nil
}

func (s *server) stats() (stats, error) {
	res, err := http.Get(s.url + "/stats")
	if err != nil {
		return stats{}, err
	}
	defer res.Body.Close()
	var st stats
	err = json.NewDecoder(res.Body).Decode(&st)
	s.last = st
	return st, err
}

func (s *server) reset() error {
	req, _ := http.NewRequest(http.MethodDelete, s.url+"/stats", nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	return res.Body.Close()
}

func (s *server) perRequest() float64 { return float64(s.last.Records) / float64(s.last.Requests) }

func (s *server) close() {
	s.cmd.Process.Kill()
	s.cmd.Wait()
}

// measure turns a run's server stats and this process's CPU time since
// from (the server's stats when that time began) into a sample: the rate
// from the first body the server received to the last, the CPU per record
// counted since from.
func measure(st, from stats, cpu time.Duration) sample {
	n := float64(st.Records - from.Records)
	return sample{rate: float64(st.Records) / st.Last.Sub(st.First).Seconds(), cpu: float64(cpu) / n, srvCPU: float64(st.CPU-from.CPU) / n}
}

func value(i int) []byte {
	return fmt.Appendf(nil, `{"id":%d,"name":"record %d","amount":%d.25,"tags":["a","b"]}`, i, i, i%1000)
}

// batches builds the bare client's bodies, per partition: JSON arrays of
// -batch records, the same bytes the sink sends.
func batches() [][][]byte {
	per := *records / *partitions
	bodies := make([][][]byte, *partitions)
	for p := range bodies {
		for i := 0; i < per; i += *batch {
			var body bytes.Buffer
			body.WriteByte('[')
			for j := i; j < min(i+*batch, per); j++ {
				if j > i {
					body.WriteByte(',')
				}
				body.Write(value(p*per + j))
			}
			body.WriteByte(']')
			bodies[p] = append(bodies[p], body.Bytes())
		}
	}
	return bodies
}

// bareSink posts the bodies from one goroutine per partition, each request
// after the previous one, as the sink sends them, with the client settings
// of the sink's (keep-alive, 64 idle connections per host, a 64 KiB write
// buffer so that a request goes out in one write) and the same Content-Type.
func bareSink(srv *server, bodies [][][]byte) (sample, error) {
	if err := srv.reset(); err != nil {
		return sample{}, err
	}
	st0, err := srv.stats()
	if err != nil {
		return sample{}, err
	}
	tr := &http.Transport{MaxIdleConnsPerHost: 64, IdleConnTimeout: 90 * time.Second, WriteBufferSize: 64 << 10}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr}
	var wg sync.WaitGroup
	var failed atomic.Value
	cpu0 := cpuNow()
	for p := range bodies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for _, b := range bodies[p] {
				req, _ := http.NewRequest("POST", srv.url+"/in", bytes.NewReader(b))
				req.Header.Set("Content-Type", "application/json")
				res, err := client.Do(req)
				if err != nil {
					failed.Store(err)
					return
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
			}
		}()
	}
	wg.Wait()
	cpu := cpuNow() - cpu0
	if err, _ := failed.Load().(error); err != nil {
		return sample{}, err
	}
	st, err := srv.stats()
	if err != nil {
		return sample{}, err
	}
	return measure(st, st0, cpu), nil
}

// produce writes the sink's records, once for every run.
func produce(ctx context.Context, addr string) error {
	codec, ok := map[string]kgo.CompressionCodec{"none": kgo.NoCompression(), "gzip": kgo.GzipCompression(),
		"snappy": kgo.SnappyCompression(), "lz4": kgo.Lz4Compression(), "zstd": kgo.ZstdCompression()}[*compression]
	if !ok {
		return fmt.Errorf("-compression: %q is not none, gzip, snappy, lz4 or zstd", *compression)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ProducerLinger(5*time.Millisecond), kgo.ProducerBatchCompression(codec))
	if err != nil {
		return err
	}
	defer cl.Close()
	if resp, err := kadm.NewClient(cl).CreateTopic(ctx, int32(*partitions), 1, nil, "bench-sink"); err != nil || resp.Err != nil {
		return fmt.Errorf("create topic: %v %v", err, resp.Err)
	}
	per := *records / *partitions
	var failed atomic.Value
	for p := 0; p < *partitions; p++ {
		for j := 0; j < per; j++ {
			cl.Produce(ctx, &kgo.Record{Topic: "bench-sink", Partition: int32(p), Value: value(p*per + j)}, func(_ *kgo.Record, err error) {
				if err != nil {
					failed.Store(err)
				}
			})
		}
	}
	if err := cl.Flush(ctx); err != nil {
		return err
	}
	if err, _ := failed.Load().(error); err != nil {
		return err
	}
	return nil
}

// workerSink runs an HTTP sink connector of its own (a consumer group of
// its own, from the earliest offset) over the records until the server
// counted them all. The CPU is this process's: the worker's consumer, the
// broker serving it, and the sink.
func workerSink(ctx context.Context, h *worker.Herder, srv *server, i int) (sample, error) {
	if err := srv.reset(); err != nil {
		return sample{}, err
	}
	name := fmt.Sprintf("bench-http-sink-%d", i)
	if _, _, err := h.PutConnectorConfig(ctx, name, map[string]string{
		"connector.class": "http-sink", "topics": "bench-sink", sink.URLConfig: srv.url + "/in",
		"value.converter": *converter, sink.BodyFormatConfig: sink.FormatJSON,
		sink.BatchMaxSizeConfig: fmt.Sprint(*batch), sink.BatchJSONAsArrayConfig: "true", sink.MaxInFlightConfig: fmt.Sprint(*partitions),
	}, "", false); err != nil {
		return sample{}, err
	}
	defer h.DeleteConnector(ctx, name)
	// The CPU is counted from the first poll of the server that saw
	// records, the steady state (the connector's start and its consumer
	// group's join are not part of a record's cost, as building the bare
	// client's bodies is not), and divided by the records counted since.
	want := int64(*records / *partitions * *partitions)
	deadline := time.Now().Add(10 * time.Minute)
	var st, from stats
	var cpu0 time.Duration
	var err error
	for st.Records < want {
		if time.Now().After(deadline) {
			return sample{}, fmt.Errorf("sink: %d of %d records after 10 minutes", st.Records, want)
		}
		time.Sleep(50 * time.Millisecond)
		if st, err = srv.stats(); err != nil {
			return sample{}, err
		}
		if from.Records == 0 && st.Records > 0 {
			from, cpu0 = st, cpuNow()
		}
	}
	cpu := cpuNow() - cpu0
	if 2*(st.Records-from.Records) < want {
		return sample{}, fmt.Errorf("sink: the server counted %d of %d records at its first poll: use more -records", from.Records, want)
	}
	return measure(st, from, cpu), nil
}

// hammer posts single events from n goroutines for -seconds and returns
// the rate of 2xx answers and this process's CPU per answer.
func hammer(url string, n int) (sample, error) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: n}}
	defer client.CloseIdleConnections()
	var ok, bad atomic.Int64
	stop := time.Now().Add(time.Duration(*seconds) * time.Second)
	var wg sync.WaitGroup
	cpu0 := cpuNow()
	start := time.Now()
	for c := 0; c < n; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; time.Now().Before(stop); i++ {
				res, err := client.Post(url, "application/json", bytes.NewReader(value(c*1e9+i)))
				if err != nil {
					bad.Add(1)
					continue
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode/100 == 2 {
					ok.Add(1)
				} else {
					bad.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	elapsed, cpu := time.Since(start), cpuNow()-cpu0
	if b := bad.Load(); b > ok.Load()/100 {
		return sample{}, fmt.Errorf("%d requests failed (%d succeeded)", b, ok.Load())
	}
	return sample{rate: float64(ok.Load()) / elapsed.Seconds(), cpu: float64(cpu) / float64(ok.Load())}, nil
}

type benchContext struct{}

func (benchContext) ConnectorName() string         { return "bench" }
func (benchContext) TaskID() int                   { return 0 }
func (benchContext) Offsets() connect.OffsetReader { return nil }

// webhookAlone runs the webhook task with a loop that polls it and settles
// each record at once, as if the broker acknowledged it instantly.
func webhookAlone(n int) (sample, error) {
	port, err := freePort()
	if err != nil {
		return sample{}, err
	}
	task := &webhook.Task{}
	if err := task.Start(context.Background(), benchContext{}, map[string]string{webhook.ListenerConfig: port, webhook.TopicConfig: "x", webhook.PathConfig: "/events"}); err != nil {
		return sample{}, err
	}
	defer task.Stop()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		for ctx.Err() == nil {
			recs, _ := task.Poll(ctx)
			for _, r := range recs {
				task.CommitRecord(r, nil)
			}
		}
	}()
	return hammer("http://"+port+"/events", n)
}

// webhookWorker runs the webhook connector in the worker.
func webhookWorker(ctx context.Context, h *worker.Herder, n int) (sample, error) {
	port, err := freePort()
	if err != nil {
		return sample{}, err
	}
	name := fmt.Sprintf("bench-webhook-%d", n)
	cfg := map[string]string{"connector.class": "http-webhook",
		webhook.ListenerConfig: port, webhook.PathConfig: "/events", webhook.TopicConfig: "bench-hooks",
		"value.converter": "org.apache.kafka.connect.storage.StringConverter"}
	if *linger != "" {
		cfg["producer.override.linger.ms"] = *linger
	}
	if _, _, err := h.PutConnectorConfig(ctx, name, cfg, "", false); err != nil {
		return sample{}, err
	}
	defer h.DeleteConnector(ctx, name)
	deadline := time.Now().Add(time.Minute)
	for {
		res, err := http.Post("http://"+port+"/events", "application/json", bytes.NewReader(value(0)))
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				break
			}
		}
		if time.Now().After(deadline) {
			return sample{}, fmt.Errorf("the webhook did not answer 200 within a minute: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return hammer("http://"+port+"/events", n)
}

func freePort() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func startBroker() (string, func(), error) {
	dir, err := os.MkdirTemp("", "penstock-bench-http-")
	if err != nil {
		return "", nil, err
	}
	cfg := broker.DefaultConfig()
	cfg.DataDir = dir
	cfg.Listen = "127.0.0.1:0"
	cfg.Logger = slog.New(slog.DiscardHandler)
	srv, err := broker.New(cfg)
	if err != nil {
		return "", nil, err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		srv.Close()
		return "", nil, err
	}
	go srv.Serve(ln)
	return ln.Addr().String(), func() { srv.Close(); os.RemoveAll(dir) }, nil
}

func newHerder(ctx context.Context, addr string) (*worker.Herder, error) {
	props := worker.DevProps(addr)
	props[worker.KeyGroupID] = "bench-http"
	props[worker.KeyOffsetFlushInterval] = "1000"
	cfg, err := worker.ParseConfig(props)
	if err != nil {
		return nil, err
	}
	return worker.New(ctx, cfg, worker.Options{Registry: builtin.Registry(), Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
}
