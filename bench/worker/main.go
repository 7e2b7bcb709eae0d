// Command worker benchmarks the worker runtime: records per second through
// a source task to the broker and from the broker through a sink task, with
// no-op connectors and ByteArrayConverter, beside a bare franz-go producer
// and consumer moving the same records in the same run. The ratio is the
// runtime's overhead; the target is 70% of bare or more.
//
//	go run ./bench/worker [-records 1000000] [-size 100] [-runs 3] [-broker host:port]
//
// Without -broker it starts Penstock's broker in process (in a temp dir).
// Sinks need consumer groups; while that broker has no group coordinator,
// the sink half runs against franz-go's in-memory kfake cluster (printed).
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"runtime/pprof"
	"sync/atomic"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/penstockhq/penstock/broker"
	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connect/config"
	"github.com/penstockhq/penstock/internal/gctune"
	"github.com/penstockhq/penstock/plugins"
	"github.com/penstockhq/penstock/worker"
)

var (
	records = flag.Int("records", 1000000, "records per run")
	size    = flag.Int("size", 100, "value size in bytes")
	addr    = flag.String("broker", "", "broker to use (default: Penstock's broker in process)")
	runs    = flag.Int("runs", 3, "runs; the best of each measurement is reported")
	cpuprof = flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
)

func main() {
	fmt.Printf("GOGC=%d, as the penstock binary runs\n", gctune.Apply())
	flag.Parse()
	if *cpuprof != "" {
		f, err := os.Create(*cpuprof)
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

func run() error {
	ctx := context.Background()
	srcAddr := *addr
	if srcAddr == "" {
		a, stop, err := startBroker()
		if err != nil {
			return err
		}
		defer stop()
		srcAddr = a
	}
	sinkAddr, note := srcAddr, ""
	if !supportsGroups(srcAddr) {
		c, err := kfake.NewCluster(kfake.NumBrokers(1))
		if err != nil {
			return err
		}
		defer c.Close()
		sinkAddr, note = c.ListenAddrs()[0], " (kfake: the broker has no consumer groups yet)"
	}
	fmt.Printf("records=%d size=%dB source broker=%s sink broker=%s%s\n", *records, *size, srcAddr, sinkAddr, note)

	var bareP, srcRate, bareC, sinkRate float64
	for r := 0; r < *runs; r++ {
		topic := fmt.Sprintf("bare-produce-%d", r)
		p, err := bareProduce(ctx, srcAddr, topic)
		if err != nil {
			return err
		}
		sr, err := workerSource(ctx, srcAddr, r)
		if err != nil {
			return err
		}
		if sinkAddr != srcAddr {
			if _, err := bareProduce(ctx, sinkAddr, topic); err != nil {
				return err
			}
		}
		c, err := bareConsume(ctx, sinkAddr, topic, r)
		if err != nil {
			return err
		}
		sk, err := workerSink(ctx, sinkAddr, topic, r)
		if err != nil {
			return err
		}
		fmt.Printf("run %d: producer %.0f/s, source %.0f/s, consumer %.0f/s, sink %.0f/s\n", r+1, p, sr, c, sk)
		bareP, srcRate, bareC, sinkRate = max(bareP, p), max(srcRate, sr), max(bareC, c), max(sinkRate, sk)
	}
	fmt.Printf("best of %d runs:\n", *runs)
	fmt.Printf("%-32s %12.0f records/s\n", "bare franz-go producer", bareP)
	fmt.Printf("%-32s %12.0f records/s  (%.0f%% of bare)\n", "worker: source task -> broker", srcRate, 100*srcRate/bareP)
	fmt.Printf("%-32s %12.0f records/s\n", "bare franz-go consumer (group)", bareC)
	fmt.Printf("%-32s %12.0f records/s  (%.0f%% of bare)\n", "worker: broker -> sink task", sinkRate, 100*sinkRate/bareC)
	return nil
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

func supportsGroups(addr string) bool {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		return false
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := kmsg.NewPtrApiVersionsRequest().RequestWith(ctx, cl)
	if err != nil {
		return false
	}
	have := map[int16]bool{}
	for _, k := range resp.ApiKeys {
		have[k.ApiKey] = true
	}
	return have[int16(kmsg.JoinGroup)] && have[int16(kmsg.SyncGroup)] && have[int16(kmsg.OffsetCommit)] && have[int16(kmsg.FindCoordinator)]
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

func value() []byte {
	v := make([]byte, *size)
	for i := range v {
		v[i] = byte('a' + i%26)
	}
	return v
}

// bareProduce produces the records with the producer settings the worker
// uses (idempotent, acks=all, 5ms linger) and returns records/s.
func bareProduce(ctx context.Context, addr, topic string) (float64, error) {
	if err := createTopic(ctx, addr, topic); err != nil {
		return 0, fmt.Errorf("create %s: %w", topic, err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerLinger(5*time.Millisecond),
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)))
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	v := value()
	var failed atomic.Value
	start := time.Now()
	for i := 0; i < *records; i++ {
		cl.Produce(ctx, &kgo.Record{Topic: topic, Value: v}, func(_ *kgo.Record, err error) {
			if err != nil {
				failed.Store(err)
			}
		})
	}
	if err := cl.Flush(ctx); err != nil {
		return 0, err
	}
	if err, _ := failed.Load().(error); err != nil {
		return 0, err
	}
	return float64(*records) / time.Since(start).Seconds(), nil
}

// bareConsume reads the topic in a consumer group, timed from the
// assignment to the last record (so group joins do not count), and returns
// records/s.
func bareConsume(ctx context.Context, addr, topic string, run int) (float64, error) {
	var assigned atomic.Int64
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumerGroup(fmt.Sprintf("bare-consumer-%d", run)), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()), kgo.DisableAutoCommit(),
		kgo.OnPartitionsAssigned(func(context.Context, *kgo.Client, map[string][]int32) {
			assigned.CompareAndSwap(0, time.Now().UnixNano())
		}))
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	var n int
	for n < *records {
		fs := cl.PollRecords(ctx, 1000)
		if err := fs.Err0(); err != nil {
			return 0, err
		}
		n += fs.NumRecords()
	}
	return float64(n) / time.Since(time.Unix(0, assigned.Load())).Seconds(), nil
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
	for _, p := range plugins.Builtin().List() {
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

// workerSource runs the no-op source until the broker holds every record,
// timed from its first Poll (so connector and task start do not count).
func workerSource(ctx context.Context, addr string, run int) (float64, error) {
	reg, err := registry()
	if err != nil {
		return 0, err
	}
	h, err := newHerder(ctx, addr, reg, fmt.Sprintf("bench-src-%d", run))
	if err != nil {
		return 0, err
	}
	defer h.Close()
	topic := fmt.Sprintf("worker-source-%d", run)
	if err := createTopic(ctx, addr, topic); err != nil {
		return 0, err
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		return 0, err
	}
	defer cl.Close()
	adm := kadm.NewClient(cl)
	start := time.Now()
	sourceFirst.Store(0)
	if _, _, err := h.PutConnectorConfig(ctx, "noop-source", map[string]string{"connector.class": "bench.NoopSource",
		"topic": topic, "records": fmt.Sprint(*records), "size": fmt.Sprint(*size)}, "", false); err != nil {
		return 0, err
	}
	for {
		ends, err := adm.ListEndOffsets(ctx, topic)
		if err != nil {
			return 0, err
		}
		var total int64
		ends.Each(func(o kadm.ListedOffset) { total += o.Offset })
		if total >= int64(*records) {
			return float64(*records) / time.Since(time.Unix(0, sourceFirst.Load())).Seconds(), nil
		}
		if time.Since(start) > 10*time.Minute {
			return 0, fmt.Errorf("source: %d of %d records after 10 minutes", total, *records)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// workerSink runs the no-op sink over the topic, timed from its partitions'
// assignment (Open) to the last record.
func workerSink(ctx context.Context, addr, topic string, run int) (float64, error) {
	reg, err := registry()
	if err != nil {
		return 0, err
	}
	h, err := newHerder(ctx, addr, reg, fmt.Sprintf("bench-sink-%d", run))
	if err != nil {
		return 0, err
	}
	defer h.Close()
	sinkCount.Store(0)
	sinkFirst.Store(0)
	if _, _, err := h.PutConnectorConfig(ctx, "noop-sink", map[string]string{"connector.class": "bench.NoopSink", "topics": topic}, "", false); err != nil {
		return 0, err
	}
	start := time.Now()
	for sinkCount.Load() < int64(*records) {
		if time.Since(start) > 10*time.Minute {
			return 0, fmt.Errorf("sink: %d of %d records after 10 minutes", sinkCount.Load(), *records)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return float64(*records) / time.Since(time.Unix(0, sinkFirst.Load())).Seconds(), nil
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

var sourceFirst atomic.Int64

func (t *noopSourceTask) Poll(ctx context.Context) ([]*connect.Record, error) {
	sourceFirst.CompareAndSwap(0, time.Now().UnixNano())
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

var sinkCount, sinkFirst atomic.Int64

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

type noopSinkTask struct{}

func (noopSinkTask) Start(context.Context, connect.SinkTaskContext, map[string]string) error {
	return nil
}
func (noopSinkTask) Open(context.Context, []connect.TopicPartition) error {
	sinkFirst.CompareAndSwap(0, time.Now().UnixNano())
	return nil
}
func (noopSinkTask) Close(context.Context, []connect.TopicPartition) error { return nil }
func (noopSinkTask) Put(_ context.Context, recs []*connect.Record) error {
	sinkCount.Add(int64(len(recs)))
	return nil
}
func (noopSinkTask) Flush(context.Context, map[connect.TopicPartition]int64) error { return nil }
func (noopSinkTask) Stop() error                                                   { return nil }
