package worker

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connect/config"
	"github.com/penstockhq/penstock/plugins"
)

// oneTaskSink is a sink connector whose one task is task, given the
// connector's config: the test keeps the task to look into it.
type oneTaskSink struct {
	props map[string]string
	task  connect.SinkTask
}

func (c *oneTaskSink) Config() *config.Def { return config.NewDef() }
func (c *oneTaskSink) Start(_ context.Context, _ connect.ConnectorContext, p map[string]string) error {
	c.props = p
	return nil
}
func (c *oneTaskSink) TaskConfigs(int) ([]map[string]string, error) {
	return []map[string]string{c.props}, nil
}
func (c *oneTaskSink) Stop() error               { return nil }
func (c *oneTaskSink) NewTask() connect.SinkTask { return c.task }

const ctlRewindAt, ctlRewindTo, ctlPauseAt = 1000, 500, 3000

// controlSinkTask logs the offsets of every Put; on its first Put past
// ctlRewindAt it rewinds to ctlRewindTo, and on its first Put past
// ctlPauseAt after that it pauses the partition until the test resumes it.
type controlSinkTask struct {
	mu      sync.Mutex
	sctx    connect.SinkTaskContext
	puts    [][]int64 // the offsets of each Put
	rewound bool
	paused  chan struct{} // closed when the task paused its partition
	nPaused int           // len(puts) then
}

func (t *controlSinkTask) Start(_ context.Context, sctx connect.SinkTaskContext, _ map[string]string) error {
	t.mu.Lock()
	t.sctx = sctx
	t.mu.Unlock()
	return nil
}

func (t *controlSinkTask) Put(_ context.Context, recs []*connect.Record) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	var offs []int64
	for _, r := range recs {
		offs = append(offs, r.Offset)
	}
	t.puts = append(t.puts, offs)
	last := offs[len(offs)-1]
	tp := connect.TopicPartition{Topic: recs[0].Topic, Partition: recs[0].Partition}
	if !t.rewound && last >= ctlRewindAt {
		t.rewound = true
		t.sctx.Rewind(map[connect.TopicPartition]int64{tp: ctlRewindTo})
	}
	select {
	case <-t.paused:
	default:
		if t.rewound && last >= ctlPauseAt {
			t.sctx.Pause(tp)
			t.nPaused = len(t.puts)
			close(t.paused)
		}
	}
	return nil
}

func (t *controlSinkTask) Flush(context.Context, map[connect.TopicPartition]int64) error { return nil }
func (t *controlSinkTask) Stop() error                                                   { return nil }

func (t *controlSinkTask) log() [][]int64 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([][]int64(nil), t.puts...)
}

// TestSinkRewindAndPauseWithinAFetch checks that a sink task's Rewind and
// Pause take effect at once although the worker takes a whole fetch from the
// consumer and puts it in chunks of max.poll.records: the records of the
// fetch not yet put go back to the consumer.
func TestSinkRewindAndPauseWithinAFetch(t *testing.T) {
	addr := startKafka(t)
	controlTask := &controlSinkTask{paused: make(chan struct{})}
	reg := registryWith(t, plugins.Plugin{Kind: plugins.Sink, Class: "test.ControlSink",
		New: func() connect.Configurable { return &oneTaskSink{task: controlTask} }})
	h := startHerder(t, testConfig(t, addr, nil), Options{Registry: reg})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	const n = 5000
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic("ctl"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, 1, 1, nil, "ctl"); err != nil {
		t.Fatal(err)
	}
	recs := make([]*kgo.Record, n)
	for i := range recs {
		recs[i] = &kgo.Record{Value: []byte(strconv.Itoa(i))}
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	// Records all in one fetch: puts of 100 records, so the rewind and the
	// pause come while most of the fetch is still to be put.
	if _, _, err := h.PutConnectorConfig(ctx, "ctl", map[string]string{"connector.class": "test.ControlSink", "topics": "ctl",
		"value.converter": "org.apache.kafka.connect.storage.StringConverter", "consumer.override.max.poll.records": "100"}, "", false); err != nil {
		t.Fatal(err)
	}
	select {
	case <-controlTask.paused:
	case <-ctx.Done():
		t.Fatalf("the task never reached offset %d; puts %v", ctlPauseAt, controlTask.log())
	}
	time.Sleep(time.Second)
	controlTask.mu.Lock()
	extra := len(controlTask.puts) - controlTask.nPaused
	controlTask.sctx.Resume(connect.TopicPartition{Topic: "ctl", Partition: 0})
	controlTask.mu.Unlock()
	if extra != 0 {
		t.Fatalf("%d puts after the task paused its partition", extra)
	}

	eventually(t, 30*time.Second, "every record put", func() error {
		puts := controlTask.log()
		if last := puts[len(puts)-1]; last[len(last)-1] != n-1 {
			return fmt.Errorf("last offset put %d", last[len(last)-1])
		}
		return nil
	})
	// The offsets put run on by one, but for one jump back to the rewind's
	// offset right after the put that asked for it.
	puts := controlTask.log()
	var prev int64 = -1
	rewound := false
	for i, p := range puts {
		for j, o := range p {
			want := prev + 1
			if j == 0 && i > 0 && !rewound && puts[i-1][len(puts[i-1])-1] >= ctlRewindAt {
				want, rewound = ctlRewindTo, true
			}
			if o != want {
				t.Fatalf("put %d record %d: offset %d, want %d (previous put ended at %d)", i, j, o, want, prev)
			}
			prev = o
		}
	}
	if !rewound {
		t.Fatal("the rewind was never seen")
	}
}

// mixSinkTask logs every record it is put, per partition and per Put, and
// rewinds partition 1 to ctlRewindTo on its first Put past ctlRewindAt there.
type mixSinkTask struct {
	mu      sync.Mutex
	sctx    connect.SinkTaskContext
	seen    map[int32][]int64 // the offsets put, per partition
	mixed   int               // Puts holding records of all three partitions
	rewound bool
	last1   int64 // partition 1's last offset in the Put that rewound it
}

func (t *mixSinkTask) Start(_ context.Context, sctx connect.SinkTaskContext, _ map[string]string) error {
	t.mu.Lock()
	t.sctx, t.seen = sctx, map[int32][]int64{}
	t.mu.Unlock()
	return nil
}

func (t *mixSinkTask) Put(_ context.Context, recs []*connect.Record) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	parts := map[int32]bool{}
	rewinding := false
	for _, r := range recs {
		parts[r.Partition] = true
		t.seen[r.Partition] = append(t.seen[r.Partition], r.Offset)
		if r.Partition == 1 && r.Offset >= ctlRewindAt && !t.rewound {
			t.rewound, rewinding = true, true
			t.sctx.Rewind(map[connect.TopicPartition]int64{{Topic: r.Topic, Partition: 1}: ctlRewindTo})
		}
		if r.Partition == 1 && rewinding {
			t.last1 = r.Offset
		}
	}
	if len(parts) == 3 {
		t.mixed++
	}
	return nil
}

func (t *mixSinkTask) Flush(context.Context, map[connect.TopicPartition]int64) error { return nil }
func (t *mixSinkTask) Stop() error                                                   { return nil }

// TestSinkPutsMixPartitions checks that a fetch of several partitions is
// put in Puts that each hold a share of every partition (see interleave),
// with every partition's records in order, and that a rewind of one
// partition asked for in the middle of such a fetch still takes effect at
// once, after the Put that asked for it: the records of the fetch not yet
// put go back to the consumer, partition by partition.
func TestSinkPutsMixPartitions(t *testing.T) {
	addr := startKafka(t)
	task := &mixSinkTask{}
	reg := registryWith(t, plugins.Plugin{Kind: plugins.Sink, Class: "test.MixSink",
		New: func() connect.Configurable { return &oneTaskSink{task: task} }})
	h := startHerder(t, testConfig(t, addr, nil), Options{Registry: reg})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	const partitions, n = 3, 2000 // per partition: all in one fetch
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.DefaultProduceTopic("mix"), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := kadm.NewClient(cl).CreateTopic(ctx, partitions, 1, nil, "mix"); err != nil {
		t.Fatal(err)
	}
	var recs []*kgo.Record
	for p := int32(0); p < partitions; p++ {
		for i := 0; i < n; i++ {
			recs = append(recs, &kgo.Record{Partition: p, Value: []byte(strconv.Itoa(i))})
		}
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := h.PutConnectorConfig(ctx, "mix", map[string]string{"connector.class": "test.MixSink", "topics": "mix",
		"value.converter": "org.apache.kafka.connect.storage.StringConverter", "consumer.override.max.poll.records": "300"}, "", false); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, "every record put", func() error {
		task.mu.Lock()
		defer task.mu.Unlock()
		for p := int32(0); p < partitions; p++ {
			if s := task.seen[p]; len(s) == 0 || s[len(s)-1] != n-1 {
				return fmt.Errorf("partition %d: %d records put", p, len(s))
			}
		}
		return nil
	})
	task.mu.Lock()
	defer task.mu.Unlock()
	if task.mixed == 0 {
		t.Fatal("no Put held records of every partition")
	}
	for p := int32(0); p < partitions; p++ {
		var prev int64 = -1
		rewound := false
		for i, o := range task.seen[p] {
			want := prev + 1
			if p == 1 && !rewound && prev == task.last1 {
				want, rewound = ctlRewindTo, true
			}
			if o != want {
				t.Fatalf("partition %d, record %d put: offset %d, want %d", p, i, o, want)
			}
			prev = o
		}
		if p == 1 && !rewound {
			t.Fatal("partition 1 was never rewound")
		}
	}
}

// TestInterleaveKeepsPartitionOrder checks that interleave keeps every
// partition's records in their order should a poll hold a partition in two
// places. franz-go does not make such a poll today (it fetches a partition
// again only once its buffered fetch was taken), so no broker can show it
// and the records are made by hand.
func TestInterleaveKeepsPartitionOrder(t *testing.T) {
	run := func(p int32, from, n int64) []*kgo.Record {
		var out []*kgo.Record
		for o := from; o < from+n; o++ {
			out = append(out, &kgo.Record{Topic: "t", Partition: p, Offset: o})
		}
		return out
	}
	var recs []*kgo.Record
	recs = append(recs, run(0, 0, 10)...) // partition 0 from its old leader
	recs = append(recs, run(1, 0, 10)...)
	recs = append(recs, run(0, 10, 10)...) // and from its new leader
	s := &sinkTask{maxPut: 4}
	out := s.interleave(recs)
	if len(out) != len(recs) {
		t.Fatalf("%d records, want %d", len(out), len(recs))
	}
	next := map[int32]int64{}
	for i, r := range out {
		if r.Offset != next[r.Partition] {
			t.Fatalf("record %d: partition %d offset %d, want %d", i, r.Partition, r.Offset, next[r.Partition])
		}
		next[r.Partition]++
	}
}

// reportSinkTask reports, from a goroutine of its own and within Put, the
// record whose offset is 1.
type reportSinkTask struct {
	sctx connect.SinkTaskContext
}

func (t *reportSinkTask) Start(_ context.Context, sctx connect.SinkTaskContext, _ map[string]string) error {
	t.sctx = sctx
	return nil
}

func (t *reportSinkTask) Put(ctx context.Context, recs []*connect.Record) error {
	for _, r := range recs {
		if r.Offset != 1 {
			continue
		}
		errc := make(chan error, 1)
		go func() { errc <- t.sctx.Report(ctx, r, errors.New("refused")) }()
		if err := <-errc; err != nil {
			return err
		}
	}
	return nil
}

func (t *reportSinkTask) Flush(context.Context, map[connect.TopicPartition]int64) error { return nil }
func (t *reportSinkTask) Stop() error                                                   { return nil }

// TestSinkReportCopiesFetchedRecord checks that a record a task reports
// within its Put reaches the dead letter queue as it was fetched (its
// bytes, not a re-rendering of the converted record).
func TestSinkReportCopiesFetchedRecord(t *testing.T) {
	addr := startKafka(t)
	reg := registryWith(t, plugins.Plugin{Kind: plugins.Sink, Class: "test.ReportSink",
		New: func() connect.Configurable { return &oneTaskSink{task: &reportSinkTask{}} }})
	h := startHerder(t, testConfig(t, addr, nil), Options{Registry: reg})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.AllowAutoTopicCreation(), kgo.DefaultProduceTopic("rep"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	for i := 0; i < 3; i++ {
		recs = append(recs, &kgo.Record{Partition: 0, Key: []byte("k"), Value: []byte(fmt.Sprintf(`{ "i" : %d }`, i))})
	}
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := h.PutConnectorConfig(ctx, "rep", map[string]string{"connector.class": "test.ReportSink", "topics": "rep",
		"key.converter":   "org.apache.kafka.connect.storage.StringConverter",
		"value.converter": "org.apache.kafka.connect.json.JsonConverter", "value.converter.schemas.enable": "false",
		"errors.tolerance": "all", "errors.deadletterqueue.topic.name": "dlq-rep"}, "", false); err != nil {
		t.Fatal(err)
	}
	dlq := readAll(t, addr, "dlq-rep", 1)
	if len(dlq) != 1 || string(dlq[0].Key) != "k" || string(dlq[0].Value) != `{ "i" : 1 }` {
		t.Fatalf("dead letter queue: %d records, first %q=%q", len(dlq), dlq[0].Key, dlq[0].Value)
	}
}
