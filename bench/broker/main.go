// Command broker benchmarks Penstock's broker against franz-go's in-memory
// kfake cluster and against the disk itself, all in one run:
//
//	go run ./bench/broker [-mb 256] [-partitions 6] [-rate 2000] [-latency 5s] [-dir DIR]
//
// It prints acks=all produce MB/s (1 KiB records, franz-go), consume MB/s
// (with the broker's zero-copy fetch path off and on, same data, same run),
// produce p50/p99 latency at a fixed moderate rate, end-to-end (produce to
// consume) latency with the broker's default penstock.visibility=synced
// (consumers see records once fsynced) beside Kafka's behaviour
// (penstock.visibility=written), the same numbers for kfake, and two disk
// baselines for the same bytes:
//
//   - pipelined: one goroutine writes sequentially while another fsyncs
//     whatever was written so far, in a loop, as the broker's group commit
//     does; this is the disk's write+fsync bandwidth at full overlap and the
//     headline "% of disk";
//   - serial: write then fsync in one goroutine, in as many rounds as the
//     broker's group commit made (shows what group commit saves, not how
//     close the broker is to the disk).
package main

import (
	"context"
	"encoding/binary"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/penstockhq/penstock/broker"
	"github.com/penstockhq/penstock/internal/gctune"
)

var (
	totalMB    = flag.Int("mb", 256, "megabytes to produce and consume")
	recordSize = flag.Int("record", 1024, "record value size in bytes")
	partitions = flag.Int("partitions", 6, "partitions of the benchmark topic")
	rate       = flag.Int("rate", 2000, "records per second for the latency run")
	latencyDur = flag.Duration("latency", 5*time.Second, "duration of the latency run")
	dataDir    = flag.String("dir", "", "data directory (default: a temp dir, removed after)")
	diskChunk  = flag.Int("diskchunk", 256<<10, "write size of the pipelined disk baseline in bytes")
)

type result struct {
	produceMBs float64
	consumeMBs []float64 // one per consume mode
	p50, p99   time.Duration
}

// consumeMode prepares one consume pass (e.g. switches the broker's fetch
// path).
type consumeMode struct {
	name  string
	setup func()
}

const topic = "bench"

func main() {
	fmt.Printf("GOGC=%d, as the penstock binary runs\n", gctune.Apply())
	flag.Parse()
	loadBefore := loadavg()
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
	penModes := []consumeMode{
		{"buffered fetch", func() { broker.SetZeroCopyFetch(false) }},
		{"zero-copy fetch", func() { broker.SetZeroCopyFetch(true) }},
	}
	pen := run(ln.Addr().String(), n, func() {
		st := srv.SyncStats()
		rounds, fsyncs, syncTime = st.Rounds-before.Rounds, st.Fsyncs-before.Fsyncs, st.SyncTime-before.SyncTime
	}, penModes)
	broker.SetZeroCopyFetch(true)
	// What consumers waiting for the fsync cost, against Kafka's
	// behaviour, same broker, same rate.
	type e2e struct {
		name     string
		p50, p99 time.Duration
	}
	var e2es []e2e
	for _, vis := range []string{"synced", "written"} {
		name := "e2e-" + vis
		if err := srv.CreateTopic(name, int32(*partitions), map[string]string{"penstock.visibility": vis}); err != nil {
			fail(err)
		}
		p50, p99 := endToEnd(ln.Addr().String(), name)
		e2es = append(e2es, e2e{"visibility=" + vis, p50, p99})
	}
	srv.Close()

	// kfake, in memory.
	fake, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(int32(*partitions), topic))
	if err != nil {
		fail(err)
	}
	kf := run(fake.ListenAddrs()[0], n, func() {}, []consumeMode{{"", func() {}}})
	fake.Close()

	// The disk, same bytes: pipelined writes and fsyncs (the honest
	// baseline), then serial write+fsync rounds.
	size := int64(n) * int64(*recordSize)
	pipe1MBs, pipe1Rounds := diskPipelined(dir, size, *diskChunk, 1)
	pipeMBs, pipeRounds := diskPipelined(dir, size, *diskChunk, *partitions)
	diskMBs := diskBandwidth(filepath.Join(dir, "disk.bin"), size, rounds)

	fmt.Printf("records: %d x %d B over %d partitions (%d MiB); latency run %d rec/s for %s\n",
		n, *recordSize, *partitions, *totalMB, *rate, *latencyDur)
	fmt.Printf("%-36s %14s %14s %10s %10s\n", "", "produce MB/s", "consume MB/s", "p50", "p99")
	fmt.Printf("%-36s %14.1f %14s %10s %10s\n", "penstock (acks=all, fsync)", pen.produceMBs, "",
		pen.p50.Round(10*time.Microsecond), pen.p99.Round(10*time.Microsecond))
	for i, m := range penModes {
		fmt.Printf("%-36s %14s %14.1f\n", "  consume, "+m.name, "", pen.consumeMBs[i])
	}
	for _, e := range e2es {
		fmt.Printf("%-36s %14s %14s %10s %10s\n", "  end-to-end, "+e.name, "", "",
			e.p50.Round(10*time.Microsecond), e.p99.Round(10*time.Microsecond))
	}
	fmt.Printf("%-36s %14.1f %14.1f %10s %10s\n", "kfake (in memory)", kf.produceMBs, kf.consumeMBs[0],
		kf.p50.Round(10*time.Microsecond), kf.p99.Round(10*time.Microsecond))
	fmt.Printf("%-36s %14.1f   (%d files, %d fsync rounds overlapping %d KiB writes)\n", "disk write+fsync, pipelined", pipeMBs,
		*partitions, pipeRounds, *diskChunk>>10)
	fmt.Printf("%-36s %14.1f   (1 file, %d fsyncs overlapping %d KiB writes)\n", "disk write+fsync, pipelined, 1 file", pipe1MBs,
		pipe1Rounds, *diskChunk>>10)
	fmt.Printf("%-36s %14.1f   (write then fsync, %d rounds as the broker made)\n", "disk write+fsync, serial rounds",
		diskMBs, max(rounds, 1))
	fmt.Printf("group commit: %d rounds, %d file fsyncs, %s in fsync for the produce run (%.1f KiB per round)\n",
		rounds, fsyncs, syncTime.Round(time.Millisecond), float64(size)/float64(max(rounds, 1))/1024)
	fmt.Printf("consume zero-copy / buffered: %.0f%%\n", 100*pen.consumeMBs[1]/pen.consumeMBs[0])
	fmt.Printf("end-to-end p50/p99 cost of reading only fsynced records: +%s / +%s over penstock.visibility=written\n",
		(e2es[0].p50 - e2es[1].p50).Round(10*time.Microsecond), (e2es[0].p99 - e2es[1].p99).Round(10*time.Microsecond))
	fmt.Printf("penstock produce / serial-rounds disk: %.0f%% (what group commit saves)\n", 100*pen.produceMBs/diskMBs)
	fmt.Printf("penstock produce / disk (pipelined write+fsync): %.0f%%\n", 100*pen.produceMBs/pipeMBs)
	fmt.Printf("load average: before %s, after %s\n", loadBefore, loadavg())
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "bench:", err)
	os.Exit(1)
}

func run(addr string, n int, produced func(), modes []consumeMode) result {
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

	// Consume the produce run's records from the start, once per mode.
	total := n + len(lats)
	for _, m := range modes {
		m.setup()
		r.consumeMBs = append(r.consumeMBs, consume(addr, total))
	}
	return r
}

// endToEnd produces at -rate for -latency to topic (acks=all) while a
// consumer tails it, and returns the p50 and p99 of the time from Produce
// to the consumer's poll returning the record.
func endToEnd(addr, topic string) (p50, p99 time.Duration) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cons, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.FetchMaxWait(time.Second))
	if err != nil {
		fail(err)
	}
	defer cons.Close()
	prod, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic(topic), kgo.ProducerLinger(0))
	if err != nil {
		fail(err)
	}
	defer prod.Close()
	value := make([]byte, *recordSize)
	var (
		mu   sync.Mutex
		sent = map[int64]time.Time{}
		lats []time.Duration
	)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			fs := cons.PollFetches(ctx)
			if ctx.Err() != nil {
				return
			}
			now := time.Now()
			fs.EachError(func(_ string, _ int32, err error) { fail(err) })
			mu.Lock()
			fs.EachRecord(func(r *kgo.Record) {
				id := int64(binary.BigEndian.Uint64(r.Value))
				lats = append(lats, now.Sub(sent[id]))
			})
			mu.Unlock()
		}
	}()
	interval := time.Second / time.Duration(*rate)
	deadline := time.Now().Add(*latencyDur)
	next := time.Now()
	var id int64
	for time.Now().Before(deadline) {
		if d := time.Until(next); d > 0 {
			time.Sleep(d)
		}
		next = next.Add(interval)
		v := slices.Clone(value)
		binary.BigEndian.PutUint64(v, uint64(id))
		mu.Lock()
		sent[id] = time.Now()
		mu.Unlock()
		id++
		prod.Produce(ctx, &kgo.Record{Value: v}, func(_ *kgo.Record, err error) {
			if err != nil {
				fail(err)
			}
		})
	}
	if err := prod.Flush(ctx); err != nil {
		fail(err)
	}
	for wait := time.Now(); ; time.Sleep(10 * time.Millisecond) {
		mu.Lock()
		n := len(lats)
		mu.Unlock()
		if n >= int(id) {
			break
		}
		if time.Since(wait) > 30*time.Second {
			fail(fmt.Errorf("end-to-end run on %s: consumer saw %d of %d records", topic, n, id))
		}
	}
	cancel()
	<-done
	slices.Sort(lats)
	return lats[len(lats)/2], lats[len(lats)*99/100]
}

// consume reads total records of the topic from the start and returns MB/s.
func consume(addr string, total int) float64 {
	ctx := context.Background()
	cons, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxBytes(64<<20), kgo.FetchMaxPartitionBytes(16<<20))
	if err != nil {
		fail(err)
	}
	defer cons.Close()
	got := 0
	start := time.Now()
	for got < total {
		fs := cons.PollFetches(ctx)
		fs.EachError(func(_ string, _ int32, err error) { fail(err) })
		got += fs.NumRecords()
	}
	return mbs(int64(total)*int64(*recordSize), time.Since(start))
}

// diskPipelined writes size bytes sequentially, in chunk-sized writes
// going round-robin over nfiles files (as produce spreads over partitions),
// from one goroutine while another fsyncs, in a loop, every file written
// since its last fsync, the files of a round in parallel (as the broker's
// group commit does). It returns MB/s until the fsyncs covering the last
// byte returned, and the number of rounds.
func diskPipelined(dir string, size int64, chunk, nfiles int) (float64, int64) {
	buf := make([]byte, max(chunk, 4096))
	for i := range buf {
		buf[i] = byte(i)
	}
	nfiles = max(nfiles, 1)
	files := make([]*os.File, nfiles)
	written := make([]atomic.Int64, nfiles)
	for i := range files {
		f, err := os.Create(filepath.Join(dir, fmt.Sprintf("disk-pipelined-%d.bin", i)))
		if err != nil {
			fail(err)
		}
		defer os.Remove(f.Name())
		defer f.Close()
		files[i] = f
	}
	var rounds int64
	synced := make(chan struct{})
	start := time.Now()
	go func() {
		defer close(synced)
		durable := make([]int64, nfiles)
		var durableTotal int64
		for durableTotal < size {
			var wg sync.WaitGroup
			dirty := false
			for i, f := range files {
				w := written[i].Load()
				if w == durable[i] {
					continue
				}
				dirty = true
				wg.Go(func() {
					if err := f.Sync(); err != nil {
						fail(err)
					}
				})
				durableTotal += w - durable[i]
				durable[i] = w
			}
			if !dirty {
				time.Sleep(50 * time.Microsecond)
				continue
			}
			wg.Wait()
			rounds++
		}
	}()
	var off int64
	for i := 0; off < size; i = (i + 1) % nfiles {
		b := buf[:min(int64(len(buf)), size-off)]
		if _, err := files[i].Write(b); err != nil {
			fail(err)
		}
		off += int64(len(b))
		written[i].Add(int64(len(b)))
	}
	<-synced
	return mbs(size, time.Since(start)), rounds
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
