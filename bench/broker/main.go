// Command broker benchmarks Penstock's broker against franz-go's in-memory
// kfake cluster and against the disk itself, all in one run:
//
//	go run ./bench/broker [-mb 256] [-partitions 6] [-rate 2000] [-latency 5s] [-dir DIR]
//
// It prints acks=all produce MB/s (1 KiB records, franz-go), consume MB/s,
// produce p50/p99 latency at a fixed moderate rate, the same numbers for
// kfake, and the disk's sequential write+fsync bandwidth for the same bytes
// written in as many fsync rounds as the broker's group commit made.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/penstockhq/penstock/broker"
)

var (
	totalMB    = flag.Int("mb", 256, "megabytes to produce and consume")
	recordSize = flag.Int("record", 1024, "record value size in bytes")
	partitions = flag.Int("partitions", 6, "partitions of the benchmark topic")
	rate       = flag.Int("rate", 2000, "records per second for the latency run")
	latencyDur = flag.Duration("latency", 5*time.Second, "duration of the latency run")
	dataDir    = flag.String("dir", "", "data directory (default: a temp dir, removed after)")
)

type result struct {
	produceMBs, consumeMBs float64
	p50, p99               time.Duration
}

const topic = "bench"

func main() {
	flag.Parse()
	dir := *dataDir
	if dir == "" {
		d, err := os.MkdirTemp("", "penstock-bench-")
		if err != nil {
			fail(err)
		}
		defer os.RemoveAll(d)
		dir = d
	}
	n := *totalMB << 20 / *recordSize

	// Penstock broker, in process.
	cfg := broker.DefaultConfig()
	cfg.DataDir = filepath.Join(dir, "broker")
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	srv, err := broker.New(cfg)
	if err != nil {
		fail(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fail(err)
	}
	go srv.Serve(ln)
	if err := srv.CreateTopic(topic, int32(*partitions), nil); err != nil {
		fail(err)
	}
	var rounds, fsyncs int64
	var syncTime time.Duration
	before := srv.SyncStats()
	pen := run(ln.Addr().String(), n, func() {
		st := srv.SyncStats()
		rounds, fsyncs, syncTime = st.Rounds-before.Rounds, st.Fsyncs-before.Fsyncs, st.SyncTime-before.SyncTime
	})
	srv.Close()

	// kfake, in memory.
	fake, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(int32(*partitions), topic))
	if err != nil {
		fail(err)
	}
	kf := run(fake.ListenAddrs()[0], n, func() {})
	fake.Close()

	// The disk: same bytes, same number of fsync rounds.
	diskMBs := diskBandwidth(filepath.Join(dir, "disk.bin"), int64(n)*int64(*recordSize), rounds)

	fmt.Printf("records: %d x %d B over %d partitions (%d MiB); latency run %d rec/s for %s\n",
		n, *recordSize, *partitions, *totalMB, *rate, *latencyDur)
	fmt.Printf("%-28s %14s %14s %10s %10s\n", "", "produce MB/s", "consume MB/s", "p50", "p99")
	fmt.Printf("%-28s %14.1f %14.1f %10s %10s\n", "penstock (acks=all, fsync)", pen.produceMBs, pen.consumeMBs, pen.p50.Round(10*time.Microsecond), pen.p99.Round(10*time.Microsecond))
	fmt.Printf("%-28s %14.1f %14.1f %10s %10s\n", "kfake (in memory)", kf.produceMBs, kf.consumeMBs, kf.p50.Round(10*time.Microsecond), kf.p99.Round(10*time.Microsecond))
	fmt.Printf("%-28s %14.1f\n", "disk write+fsync", diskMBs)
	fmt.Printf("group commit: %d rounds, %d file fsyncs, %s in fsync for the produce run (%.1f KiB per round)\n",
		rounds, fsyncs, syncTime.Round(time.Millisecond), float64(int64(n)*int64(*recordSize))/float64(max(rounds, 1))/1024)
	fmt.Printf("penstock produce / disk bandwidth: %.0f%%\n", 100*pen.produceMBs/diskMBs)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench:", err)
	os.Exit(1)
}

func run(addr string, n int, produced func()) result {
	var r result
	value := make([]byte, *recordSize)
	for i := range value {
		value[i] = byte('a' + i%26)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic(topic),
		kgo.ProducerBatchMaxBytes(1<<20), kgo.MaxBufferedRecords(64<<10), kgo.ProducerLinger(0))
	if err != nil {
		fail(err)
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	start := time.Now()
	for range n {
		wg.Add(1)
		cl.Produce(ctx, &kgo.Record{Value: value}, func(_ *kgo.Record, err error) {
			if err != nil {
				fail(err)
			}
			wg.Done()
		})
	}
	wg.Wait()
	r.produceMBs = mbs(int64(n)*int64(*recordSize), time.Since(start))
	produced()

	// Latency at a fixed rate.
	var (
		mu   sync.Mutex
		lats []time.Duration
	)
	interval := time.Second / time.Duration(*rate)
	deadline := time.Now().Add(*latencyDur)
	next := time.Now()
	for time.Now().Before(deadline) {
		if d := time.Until(next); d > 0 {
			time.Sleep(d)
		}
		next = next.Add(interval)
		wg.Add(1)
		sent := time.Now()
		cl.Produce(ctx, &kgo.Record{Value: value}, func(_ *kgo.Record, err error) {
			if err != nil {
				fail(err)
			}
			mu.Lock()
			lats = append(lats, time.Since(sent))
			mu.Unlock()
			wg.Done()
		})
	}
	wg.Wait()
	cl.Close()
	slices.Sort(lats)
	if len(lats) > 0 {
		r.p50 = lats[len(lats)/2]
		r.p99 = lats[len(lats)*99/100]
	}

	// Consume the produce run's records from the start.
	cons, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxBytes(64<<20), kgo.FetchMaxPartitionBytes(16<<20))
	if err != nil {
		fail(err)
	}
	total := n + len(lats)
	got := 0
	start = time.Now()
	for got < total {
		fs := cons.PollFetches(ctx)
		fs.EachError(func(_ string, _ int32, err error) { fail(err) })
		got += fs.NumRecords()
	}
	r.consumeMBs = mbs(int64(total)*int64(*recordSize), time.Since(start))
	cons.Close()
	return r
}

// diskBandwidth writes size bytes sequentially to path in rounds equal
// chunks, fsyncing after each, and returns MB/s.
func diskBandwidth(path string, size, rounds int64) float64 {
	rounds = max(rounds, 1)
	chunk := make([]byte, max(size/rounds, 4096))
	for i := range chunk {
		chunk[i] = byte(i)
	}
	f, err := os.Create(path)
	if err != nil {
		fail(err)
	}
	defer os.Remove(path)
	defer f.Close()
	start := time.Now()
	var written int64
	for written < size {
		b := chunk[:min(int64(len(chunk)), size-written)]
		if _, err := f.Write(b); err != nil {
			fail(err)
		}
		if err := f.Sync(); err != nil {
			fail(err)
		}
		written += int64(len(b))
	}
	return mbs(size, time.Since(start))
}

func mbs(bytes int64, d time.Duration) float64 {
	return float64(bytes) / 1e6 / d.Seconds()
}
