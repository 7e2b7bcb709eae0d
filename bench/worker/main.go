// Command worker benchmarks the worker runtime: records per second through
// a source task to the broker and from the broker through a sink task, with
// no-op connectors and ByteArrayConverter, beside a bare franz-go producer
// and consumer moving the same records in the same run. The ratio is the
// runtime's overhead; the target is 70% of bare or more.
//
//	go run ./bench/worker [-records 2000000] [-size 100] [-runs 5] [-only source|sink] [-broker host:port]
//
// Without -broker it starts Penstock's broker in process (in a temp dir), so
// the figures include the broker's CPU on the same two cores. Each run
// measures bare and worker back to back, so the ratio of one run compares
// the two under the same machine load; the report gives the median of each
// figure and of the per-run ratios. Beside records/s it prints the CPU the
// whole process spent per record (user+system), which a busy machine
// disturbs less than wall-clock rates.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"runtime/pprof"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/penstockhq/penstock/broker"
	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connect/config"
	"github.com/penstockhq/penstock/internal/gctune"
	"github.com/penstockhq/penstock/plugins"
	"github.com/penstockhq/penstock/plugins/builtin"
	"github.com/penstockhq/penstock/worker"
)

var (
	records  = flag.Int("records", 2000000, "records per run")
	size     = flag.Int("size", 100, "value size in bytes")
	addr     = flag.String("broker", "", "broker to use (default: Penstock's broker in process)")
	runs     = flag.Int("runs", 5, "runs; medians are reported")
	only     = flag.String("only", "", "measure only the source or only the sink half (for profiling)")
	cpuprof  = flag.String("cpuprofile", "", "write a CPU profile of the measured intervals to this file")
	sinkConv = flag.String("sink-converter", "", "the sink's value.converter class (default: the worker's, ByteArrayConverter)")
	memprof  = flag.String("memprofile", "", "write an allocation profile (all runs) to this file")
	keeps    = flag.Bool("sink-keeps", false, "the no-op sink does not declare that it releases its records "+
		"(connect.SinkRecordReleaser), so the worker allocates them per Put as for a sink that may keep them")
	fetches = flag.String("sink-fetch", "", "fetch.max.bytes values for the sink, comma separated (e.g. 4MiB,8MiB as bytes); "+
		"each run measures the sink with each, in alternating order, beside the same run's bare consumer; empty: the worker's default")
)

func main() {
	fmt.Printf("GOGC=%d, as the penstock binary runs\n", gctune.Apply())
	flag.Parse()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

// measure is one timed interval: records/s and process CPU per record.
type measure struct{ rate, cpuPerRec float64 }

func (m measure) String() string {
	return fmt.Sprintf("%9.0f/s %5.0f ns CPU", m.rate, m.cpuPerRec)
}

// span is the start or end of a measured interval: wall clock and process CPU.
type span struct {
	wall time.Time
	cpu  time.Duration
}

func now() span {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return span{time.Now(), time.Duration(ru.Utime.Nano() + ru.Stime.Nano())}
}

func between(a, b span, n int) measure {
	return measure{float64(n) / b.wall.Sub(a.wall).Seconds(), float64((b.cpu - a.cpu).Nanoseconds()) / float64(n)}
}

func run() error {
	ctx := context.Background()
	brokerAddr := *addr
	if brokerAddr == "" {
		a, stop, err := startBroker()
		if err != nil {
			return err
		}
		defer stop()
		brokerAddr = a
	}
	fmt.Printf("records=%d size=%dB broker=%s runs=%d\n", *records, *size, brokerAddr, *runs)
	reg, err := registry()
	if err != nil {
		return err
	}
	srcHerder, err := newHerder(ctx, brokerAddr, reg, "bench-src")
	if err != nil {
		return err
	}
	defer srcHerder.Close()
	sinkHerder, err := newHerder(ctx, brokerAddr, reg, "bench-sink")
	if err != nil {
		return err
	}
	defer sinkHerder.Close()
	if *cpuprof != "" {
		f, err := os.Create(*cpuprof)
		if err != nil {
			return err
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	if *memprof != "" {
		defer func() {
			if f, err := os.Create(*memprof); err == nil {
				pprof.Lookup("allocs").WriteTo(f, 0)
				f.Close()
			}
		}()
	}

	var prod, src, cons []measure
	var srcRatio []float64
	fetchSizes := strings.Split(*fetches, ",") // "" is the worker's default
	fsink := make([][]measure, len(fetchSizes))
	fratio := make([][]float64, len(fetchSizes))
	for r := 0; r < *runs; r++ {
		topic := fmt.Sprintf("bare-produce-%d", r)
		p, err := bareProduce(ctx, brokerAddr, topic)
		if err != nil {
			return err
		}
		line := fmt.Sprintf("run %d: producer %v", r+1, p)
		if *only != "sink" {
			s, err := workerSource(ctx, srcHerder, brokerAddr, r)
			if err != nil {
				return err
			}
			prod, src, srcRatio = append(prod, p), append(src, s), append(srcRatio, s.rate/p.rate)
			line += fmt.Sprintf(" | source %v", s)
		}
		if *only != "source" {
			c, err := bareConsume(ctx, brokerAddr, topic, r)
			if err != nil {
				return err
			}
			cons = append(cons, c)
			line += fmt.Sprintf(" | consumer %v", c)
			for j := range fetchSizes {
				if r%2 == 1 { // alternate the order, so neither size always goes first
					j = len(fetchSizes) - 1 - j
				}
				k, err := workerSink(ctx, sinkHerder, topic, fmt.Sprintf("%d-%d", r, j), fetchSizes[j])
				if err != nil {
					return err
				}
				fsink[j], fratio[j] = append(fsink[j], k), append(fratio[j], k.rate/c.rate)
				line += fmt.Sprintf(" | sink%s %v", fetchLabel(fetchSizes[j]), k)
			}
		}
		fmt.Println(line)
	}
	fmt.Printf("median of %d runs (records/s, process CPU per record incl. the broker):\n", *runs)
	if len(src) > 0 {
		fmt.Printf("%-34s %v\n", "bare franz-go producer", median(prod))
		fmt.Printf("%-34s %v  (%.0f%% of bare; CPU %.0f%%)\n", "worker: source task -> broker", median(src),
			100*medianOf(srcRatio), 100*median(src).cpuPerRec/median(prod).cpuPerRec)
	}
	if len(cons) > 0 {
		fmt.Printf("%-34s %v\n", "bare franz-go consumer (group)", median(cons))
		for j, f := range fetchSizes {
			fmt.Printf("%-34s %v  (%.0f%% of bare; CPU %.0f%%)\n", "worker: broker -> sink task"+fetchLabel(f), median(fsink[j]),
				100*medianOf(fratio[j]), 100*median(fsink[j]).cpuPerRec/median(cons).cpuPerRec)
		}
	}
	return nil
}

func medianOf(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

func median(ms []measure) measure {
	var rates, cpus []float64
	for _, m := range ms {
		rates, cpus = append(rates, m.rate), append(cpus, m.cpuPerRec)
	}
	return measure{medianOf(rates), medianOf(cpus)}
}

func startBroker() (string, func(), error) {
	dir, err := os.MkdirTemp("", "penstock-bench-")
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

func createTopic(ctx context.Context, addr, topic string) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		return err
	}
	defer cl.Close()
	resp, err := kadm.NewClient(cl).CreateTopic(ctx, 3, 1, nil, topic)
	if err == nil {
		err = resp.Err
	}
	return err
}

// bareProduce produces the records with the producer settings the worker
// uses (idempotent, acks=all, 5ms linger).
func bareProduce(ctx context.Context, addr, topic string) (measure, error) {
	if err := createTopic(ctx, addr, topic); err != nil {
		return measure{}, fmt.Errorf("create %s: %w", topic, err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerLinger(5*time.Millisecond),
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)))
	if err != nil {
		return measure{}, err
	}
	defer cl.Close()
	if err := cl.Ping(ctx); err != nil {
		return measure{}, err
	}
	v := make([]byte, *size)
	var failed atomic.Value
	start := now()
	for i := 0; i < *records; i++ {
		cl.Produce(ctx, &kgo.Record{Topic: topic, Value: v}, func(_ *kgo.Record, err error) {
			if err != nil {
				failed.Store(err)
			}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		return measure{}, err
	}
	end := now()
	if err, _ := failed.Load().(error); err != nil {
		return measure{}, err
	}
	return between(start, end, *records), nil
}

// bareConsume reads the topic in a consumer group with the fetch settings
// the worker's sinks use (256 KiB per partition, everything buffered taken
// at each poll, so the next fetch overlaps), timed from the first record to
// the last (so group joins and the first fetch do not count).
func bareConsume(ctx context.Context, addr, topic string, run int) (measure, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumerGroup(fmt.Sprintf("bare-consumer-%d", run)), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit(),
		kgo.FetchMaxPartitionBytes(256<<10), kgo.FetchMaxWait(500*time.Millisecond))
	if err != nil {
		return measure{}, err
	}
	defer cl.Close()
	var start span
	var n int
	for n < *records {
		fs := cl.PollRecords(ctx, 0)
		if err := fs.Err0(); err != nil {
			return measure{}, err
		}
		if n == 0 && fs.NumRecords() > 0 {
			start = now()
		}
		n += fs.NumRecords()
	}
	return between(start, now(), n), nil
}

func newHerder(ctx context.Context, addr string, reg *plugins.Registry, group string) (*worker.Herder, error) {
	props := worker.DevProps(addr)
	props[worker.KeyGroupID] = group
	props[worker.KeyConfigTopic] = group + "-configs"
	props[worker.KeyOffsetTopic] = group + "-offsets"
	props[worker.KeyStatusTopic] = group + "-status"
	props[worker.KeyKeyConverter] = "org.apache.kafka.connect.converters.ByteArrayConverter"
	props[worker.KeyValueConverter] = "org.apache.kafka.connect.converters.ByteArrayConverter"
	props[worker.KeyOffsetFlushInterval] = "1000"
	cfg, err := worker.ParseConfig(props)
	if err != nil {
		return nil, err
	}
	return worker.New(ctx, cfg, worker.Options{Registry: reg, Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))})
}

func registry() (*plugins.Registry, error) {
	reg := &plugins.Registry{}
	for _, p := range builtin.Registry().List() {
		if err := reg.Register(p); err != nil {
			return nil, err
		}
	}
	if err := reg.Register(plugins.Plugin{Kind: plugins.Source, Class: "bench.NoopSource", New: func() connect.Configurable { return &noopSource{} }}); err != nil {
		return nil, err
	}
	if err := reg.Register(plugins.Plugin{Kind: plugins.Sink, Class: "bench.NoopSink", New: func() connect.Configurable { return &noopSink{} }}); err != nil {
		return nil, err
	}
	return reg, nil
}

// workerSource runs a no-op source until the broker holds every record,
// timed from its first Poll (so connector and task start do not count),
// then deletes it.
func workerSource(ctx context.Context, h *worker.Herder, addr string, run int) (measure, error) {
	topic := fmt.Sprintf("worker-source-%d", run)
	if err := createTopic(ctx, addr, topic); err != nil {
		return measure{}, err
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		return measure{}, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	name := fmt.Sprintf("noop-source-%d", run)
	sourceFirst.Store(nil)
	if _, _, err := h.PutConnectorConfig(ctx, name, map[string]string{"connector.class": "bench.NoopSource",
		"topic": topic, "records": fmt.Sprint(*records), "size": fmt.Sprint(*size)}, "", false); err != nil {
		return measure{}, err
	}
	defer h.DeleteConnector(ctx, name)
	deadline := time.Now().Add(10 * time.Minute)
	for {
		ends, err := adm.ListEndOffsets(ctx, topic)
		if err != nil {
			return measure{}, err
		}
		var total int64
		ends.Each(func(o kadm.ListedOffset) { total += o.Offset })
		if total >= int64(*records) {
			return between(*sourceFirst.Load(), now(), *records), nil
		}
		if time.Now().After(deadline) {
			return measure{}, fmt.Errorf("source: %d of %d records after 10 minutes", total, *records)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// fetchLabel names a -sink-fetch value in the report.
func fetchLabel(f string) string {
	if f == "" {
		return ""
	}
	return " (fetch.max.bytes " + f + ")"
}

// workerSink runs a no-op sink over the topic, timed from its first Put to
// its last, then deletes it. fetchMaxBytes, when not "", is the sink's
// consumer.override.fetch.max.bytes.
func workerSink(ctx context.Context, h *worker.Herder, topic, run, fetchMaxBytes string) (measure, error) {
	sinkCount.Store(0)
	sinkFirst.Store(nil)
	sinkLast.Store(nil)
	name := "noop-sink-" + run
	cfg := map[string]string{"connector.class": "bench.NoopSink", "topics": topic, "records": fmt.Sprint(*records)}
	if fetchMaxBytes != "" {
		cfg["consumer.override.fetch.max.bytes"] = fetchMaxBytes
	}
	if *sinkConv != "" {
		cfg["value.converter"] = *sinkConv
	}
	if _, _, err := h.PutConnectorConfig(ctx, name, cfg, "", false); err != nil {
		return measure{}, err
	}
	defer h.DeleteConnector(ctx, name)
	deadline := time.Now().Add(10 * time.Minute)
	for sinkLast.Load() == nil {
		if time.Now().After(deadline) {
			return measure{}, fmt.Errorf("sink: %d of %d records after 10 minutes", sinkCount.Load(), *records)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return between(*sinkFirst.Load(), *sinkLast.Load(), *records), nil
}

// ---- no-op connectors ----

var noopDef = config.NewDef(
	config.Key{Name: "topic", Type: config.String, Default: ""},
	config.Key{Name: "records", Type: config.Long, Default: int64(0)},
	config.Key{Name: "size", Type: config.Int, Default: 100},
)

type noopSource struct{ props map[string]string }

func (c *noopSource) Config() *config.Def { return noopDef }
func (c *noopSource) Start(_ context.Context, _ connect.ConnectorContext, p map[string]string) error {
	c.props = p
	return nil
}
func (c *noopSource) TaskConfigs(int) ([]map[string]string, error) {
	return []map[string]string{c.props}, nil
}
func (c *noopSource) Stop() error                 { return nil }
func (c *noopSource) NewTask() connect.SourceTask { return &noopSourceTask{} }

// noopSourceTask returns pre-built records: what is measured is the
// runtime, not the allocation of records and offset maps. It cycles through
// 16 batches of 1000 records, each record with its own offset map.
type noopSourceTask struct {
	left    int64
	batches [][]*connect.Record
	next    int
}

func (t *noopSourceTask) Start(_ context.Context, _ connect.SourceTaskContext, p map[string]string) error {
	v, err := noopDef.Parse(p)
	if err != nil {
		return err
	}
	t.left = v.Long("records")
	value := make([]byte, v.Int("size"))
	partition := map[string]any{"source": "noop"}
	for b := 0; b < 16; b++ {
		batch := make([]*connect.Record, 1000)
		for i := range batch {
			batch[i] = &connect.Record{Topic: v.String("topic"), Partition: -1, ValueSchema: connect.BytesSchema, Value: value,
				SourcePartition: partition, SourceOffset: map[string]any{"n": int64(b*1000 + i)}}
		}
		t.batches = append(t.batches, batch)
	}
	return nil
}

var sourceFirst atomic.Pointer[span]

func (t *noopSourceTask) Poll(ctx context.Context) ([]*connect.Record, error) {
	if sourceFirst.Load() == nil {
		s := now()
		sourceFirst.CompareAndSwap(nil, &s)
	}
	if t.left <= 0 {
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
		return nil, nil
	}
	batch := t.batches[t.next%len(t.batches)]
	t.next++
	if int64(len(batch)) > t.left {
		batch = batch[:t.left]
	}
	t.left -= int64(len(batch))
	return batch, nil
}

func (t *noopSourceTask) Stop() error { return nil }

var (
	sinkCount           atomic.Int64
	sinkFirst, sinkLast atomic.Pointer[span]
)

type noopSink struct{ props map[string]string }

func (c *noopSink) Config() *config.Def { return noopDef }
func (c *noopSink) Start(_ context.Context, _ connect.ConnectorContext, p map[string]string) error {
	c.props = p
	return nil
}
func (c *noopSink) TaskConfigs(int) ([]map[string]string, error) {
	return []map[string]string{c.props}, nil
}
func (c *noopSink) Stop() error               { return nil }
func (c *noopSink) NewTask() connect.SinkTask { return &noopSinkTask{} }

// noopSinkTask counts what it is given and notes when the count reaches
// the run's records.
type noopSinkTask struct{ want int64 }

var _ connect.SinkRecordReleaser = (*noopSinkTask)(nil)

func (t *noopSinkTask) Start(_ context.Context, _ connect.SinkTaskContext, p map[string]string) error {
	v, err := noopDef.Parse(p)
	t.want = v.Long("records")
	return err
}
func (*noopSinkTask) Open(context.Context, []connect.TopicPartition) error  { return nil }
func (*noopSinkTask) Close(context.Context, []connect.TopicPartition) error { return nil }
func (t *noopSinkTask) Put(_ context.Context, recs []*connect.Record) error {
	if sinkFirst.Load() == nil {
		s := now()
		sinkFirst.Store(&s)
	}
	if n := sinkCount.Add(int64(len(recs))); n >= t.want && n-int64(len(recs)) < t.want {
		s := now()
		sinkLast.Store(&s)
	}
	return nil
}

// ReleasesRecords implements connect.SinkRecordReleaser (see -sink-keeps).
func (*noopSinkTask) ReleasesRecords() bool { return !*keeps }

func (*noopSinkTask) Flush(context.Context, map[connect.TopicPartition]int64) error { return nil }
func (*noopSinkTask) Stop() error                                                   { return nil }
