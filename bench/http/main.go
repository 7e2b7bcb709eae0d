// Command http benchmarks Penstock's HTTP connectors against a local HTTP
// server, each beside a bare Go baseline measured in the same run:
//
//   - sink: records/s from a topic through a worker's HTTP sink (JSON array
//     batches of -batch records, one request in flight per partition) into
//     a server that parses every body, beside a bare net/http client posting
//     the same batches with the same concurrency to the same server;
//
//   - webhook: requests/s of -callers concurrent callers posting one event
//     each, answered once the broker acknowledged it, beside the same webhook
//     listener answering at once without producing.
//
//     go run ./bench/http [-records 200000] [-batch 100] [-callers 16] [-seconds 5]
//
// Penstock's broker runs in process, so the figures include its CPU on the
// same cores. Peak RSS is the process's, broker included.
package main

import (
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
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/penstockhq/penstock/broker"
	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connectors/http/webhook"
	"github.com/penstockhq/penstock/internal/gctune"
	"github.com/penstockhq/penstock/plugins/builtin"
	"github.com/penstockhq/penstock/worker"
)

var (
	records    = flag.Int("records", 200000, "records through the sink")
	batch      = flag.Int("batch", 100, "records per request (batch.max.size)")
	partitions = flag.Int("partitions", 3, "partitions of the sink's topic (requests in flight)")
	callers    = flag.Int("callers", 16, "concurrent webhook callers")
	seconds    = flag.Int("seconds", 5, "duration of each webhook measurement")
)

func main() {
	gctune.Apply()
	flag.Parse()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
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
	fmt.Printf("records=%d batch=%d partitions=%d callers=%d seconds=%d\n", *records, *batch, *partitions, *callers, *seconds)

	srv, err := startServer()
	if err != nil {
		return err
	}
	defer srv.close()
	bare, err := bareSink(srv)
	if err != nil {
		return err
	}
	sink, err := workerSink(ctx, h, addr, srv)
	if err != nil {
		return err
	}
	perRequest := float64(srv.count.Load()) / float64(srv.reqs.Load())
	fmt.Printf("%-46s %9.0f records/s\n", "bare Go client posting the batches", bare)
	fmt.Printf("%-46s %9.0f records/s  (%.0f%% of bare; %.0f records per request)\n", "worker: topic -> HTTP sink -> server", sink, 100*sink/bare, perRequest)

	noProduce, err := webhookAlone()
	if err != nil {
		return err
	}
	acked, err := webhookWorker(ctx, h)
	if err != nil {
		return err
	}
	fmt.Printf("%-46s %9.0f requests/s\n", "webhook listener answering without producing", noProduce)
	fmt.Printf("%-46s %9.0f requests/s  (%.0f%%)\n", "worker: webhook -> broker, 2xx after the ack", acked, 100*acked/noProduce)

	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	fmt.Printf("peak RSS %d MB (broker, worker, server and clients in one process)\n", ru.Maxrss/1024)
	return nil
}

// server counts the records of the JSON array bodies posted to it.
type server struct {
	srv   *http.Server
	url   string
	count atomic.Int64
	reqs  atomic.Int64
	first atomic.Pointer[time.Time]
	last  atomic.Pointer[time.Time]
}

func startServer() (*server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &server{url: "http://" + ln.Addr().String()}
	s.srv = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var recs []json.RawMessage
		if err := json.Unmarshal(body, &recs); err != nil {
			w.WriteHeader(400)
			return
		}
		now := time.Now()
		s.first.CompareAndSwap(nil, &now)
		s.count.Add(int64(len(recs)))
		s.reqs.Add(1)
		s.last.Store(&now)
		w.WriteHeader(200)
	})}
	go s.srv.Serve(ln)
	return s, nil
}

func (s *server) reset() {
	s.count.Store(0)
	s.reqs.Store(0)
	s.first.Store(nil)
	s.last.Store(nil)
}

func (s *server) close() { s.srv.Close() }

func value(i int) []byte {
	return fmt.Appendf(nil, `{"id":%d,"name":"record %d","amount":%d.25,"tags":["a","b"]}`, i, i, i%1000)
}

// bareSink posts the records as JSON arrays of -batch, one goroutine per
// partition, each request after the previous one, as the sink sends them.
// The bodies are built before the clock starts.
func bareSink(srv *server) (float64, error) {
	srv.reset()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
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
	var wg sync.WaitGroup
	var failed atomic.Value
	start := time.Now()
	for p := 0; p < *partitions; p++ {
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
	if err, _ := failed.Load().(error); err != nil {
		return 0, err
	}
	return float64(srv.count.Load()) / time.Since(start).Seconds(), nil
}

// workerSink produces the records, then runs the HTTP sink over them,
// timed from the first record the server received to the last.
func workerSink(ctx context.Context, h *worker.Herder, addr string, srv *server) (float64, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ProducerLinger(5*time.Millisecond))
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	if resp, err := kadm.NewClient(cl).CreateTopic(ctx, int32(*partitions), 1, nil, "bench-sink"); err != nil || resp.Err != nil {
		return 0, fmt.Errorf("create topic: %v %v", err, resp.Err)
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
		return 0, err
	}
	if err, _ := failed.Load().(error); err != nil {
		return 0, err
	}
	srv.reset()
	if _, _, err := h.PutConnectorConfig(ctx, "bench-http-sink", map[string]string{
		"connector.class": "http-sink", "topics": "bench-sink", "http.api.url": srv.url + "/in",
		"value.converter": "org.apache.kafka.connect.storage.StringConverter", "request.body.format": "json",
		"batch.max.size": fmt.Sprint(*batch), "batch.json.as.array": "true", "max.in.flight.requests": fmt.Sprint(*partitions),
	}, "", false); err != nil {
		return 0, err
	}
	defer h.DeleteConnector(ctx, "bench-http-sink")
	want := int64(per * *partitions)
	deadline := time.Now().Add(10 * time.Minute)
	for srv.count.Load() < want {
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("sink: %d of %d records after 10 minutes", srv.count.Load(), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return float64(want) / srv.last.Load().Sub(*srv.first.Load()).Seconds(), nil
}

// hammer posts single events from -callers goroutines for -seconds and
// returns the rate of 2xx answers.
func hammer(url string) (float64, error) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *callers}}
	var ok, bad atomic.Int64
	stop := time.Now().Add(time.Duration(*seconds) * time.Second)
	var wg sync.WaitGroup
	start := time.Now()
	for c := 0; c < *callers; c++ {
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
	if n := bad.Load(); n > ok.Load()/100 {
		return 0, fmt.Errorf("%d requests failed (%d succeeded)", n, ok.Load())
	}
	return float64(ok.Load()) / time.Since(start).Seconds(), nil
}

type benchContext struct{}

func (benchContext) ConnectorName() string         { return "bench" }
func (benchContext) TaskID() int                   { return 0 }
func (benchContext) Offsets() connect.OffsetReader { return nil }

// webhookAlone runs the webhook task with a loop that polls it and settles
// each record at once, as if the broker acknowledged it instantly.
func webhookAlone() (float64, error) {
	port, err := freePort()
	if err != nil {
		return 0, err
	}
	task := &webhook.Task{}
	if err := task.Start(context.Background(), benchContext{}, map[string]string{"listener": port, "topic": "x", "path": "/events"}); err != nil {
		return 0, err
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
	return hammer("http://" + port + "/events")
}

// webhookWorker runs the webhook connector in the worker.
func webhookWorker(ctx context.Context, h *worker.Herder) (float64, error) {
	port, err := freePort()
	if err != nil {
		return 0, err
	}
	if _, _, err := h.PutConnectorConfig(ctx, "bench-webhook", map[string]string{"connector.class": "http-webhook",
		"listener": port, "path": "/events", "topic": "bench-hooks",
		"value.converter": "org.apache.kafka.connect.storage.StringConverter"}, "", false); err != nil {
		return 0, err
	}
	defer h.DeleteConnector(ctx, "bench-webhook")
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
			return 0, fmt.Errorf("the webhook did not answer 200 within a minute: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return hammer("http://" + port + "/events")
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
