package worker

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connect/config"
	"github.com/penstockhq/penstock/plugins"
	"github.com/penstockhq/penstock/plugins/builtin"
	"github.com/penstockhq/penstock/worker/rest"
)

// registryWith returns the built-in plugins plus extra ones.
func registryWith(t testing.TB, extra ...plugins.Plugin) *plugins.Registry {
	t.Helper()
	reg := &plugins.Registry{}
	for _, p := range append(builtin.Registry().List(), extra...) {
		if err := reg.Register(p); err != nil {
			t.Fatal(err)
		}
	}
	return reg
}

// poisonSource emits records seq 0..9 whose value matches its schema,
// except seq 5, whose int32 schema carries a string: the converter fails.
type poisonSource struct{ props map[string]string }

func (c *poisonSource) Config() *config.Def {
	return config.NewDef(config.Key{Name: "topic", Type: config.String, Required: true})
}
func (c *poisonSource) Start(_ context.Context, _ connect.ConnectorContext, p map[string]string) error {
	c.props = p
	return nil
}
func (c *poisonSource) TaskConfigs(int) ([]map[string]string, error) {
	return []map[string]string{c.props}, nil
}
func (c *poisonSource) Stop() error                 { return nil }
func (c *poisonSource) NewTask() connect.SourceTask { return &poisonSourceTask{} }

type poisonSourceTask struct {
	topic string
	done  bool
	clean bool // no poison: every record is good
}

func (t *poisonSourceTask) Start(_ context.Context, _ connect.SourceTaskContext, p map[string]string) error {
	t.topic = p["topic"]
	return nil
}

func (t *poisonSourceTask) Poll(ctx context.Context) ([]*connect.Record, error) {
	if t.done {
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
		return nil, nil
	}
	t.done = true
	var out []*connect.Record
	for i := 0; i < 10; i++ {
		var v any = int32(i)
		if i == 5 && !t.clean {
			v = "poison"
		}
		out = append(out, &connect.Record{Topic: t.topic, Partition: -1, ValueSchema: connect.Int32Schema, Value: v,
			SourcePartition: map[string]any{"p": "x"}, SourceOffset: map[string]any{"i": i}})
	}
	return out, nil
}

func (t *poisonSourceTask) Stop() error { return nil }

func readAll(t *testing.T, addr, topic string, want int) []*kgo.Record {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out []*kgo.Record
	for len(out) < want {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("read %d of %d records from %s", len(out), want, topic)
		}
		out = append(out, fs.Records()...)
	}
	return out
}

func headerMap(r *kgo.Record) map[string]string {
	m := map[string]string{}
	for _, h := range r.Headers {
		m[h.Key] = string(h.Value)
	}
	return m
}

func TestPoisonRecordsGoToDeadLetterQueue(t *testing.T) {
	addr := startKafka(t)
	reg := registryWith(t, plugins.Plugin{Kind: plugins.Source, Class: "test.PoisonSource", New: func() connect.Configurable { return &poisonSource{} }})
	h := startHerder(t, testConfig(t, addr, nil), Options{Registry: reg})
	ctx := context.Background()

	// Sink side: a record that fails the value converter goes to the DLQ
	// with its context headers; the records around it reach the file.
	prod, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.AllowAutoTopicCreation(), kgo.DefaultProduceTopic("in"))
	if err != nil {
		t.Fatal(err)
	}
	defer prod.Close()
	var recs []*kgo.Record
	for i := 0; i < 10; i++ {
		v := fmt.Sprintf(`{"schema":{"type":"int32","optional":false},"payload":%d}`, i)
		if i == 3 {
			v = `{"schema": not json`
		}
		recs = append(recs, &kgo.Record{Partition: 0, Value: []byte(v), Headers: []kgo.RecordHeader{{Key: "h", Value: []byte("x")}}})
	}
	if err := prod.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out.txt")
	sink := fileSinkConfig("in", out)
	sink["errors.tolerance"] = "all"
	sink["errors.log.enable"] = "true"
	sink["errors.deadletterqueue.topic.name"] = "dlq-sink"
	sink["errors.deadletterqueue.context.headers.enable"] = "true"
	if _, _, err := h.PutConnectorConfig(ctx, "tolerant", sink, "", false); err != nil {
		t.Fatal(err)
	}
	// The same records fail a connector that tolerates nothing, alone.
	strict := fileSinkConfig("in", filepath.Join(t.TempDir(), "strict.txt"))
	if _, _, err := h.PutConnectorConfig(ctx, "strict", strict, "", false); err != nil {
		t.Fatal(err)
	}

	dlq := readAll(t, addr, "dlq-sink", 1)
	if len(dlq) != 1 || string(dlq[0].Value) != `{"schema": not json` {
		t.Fatalf("dead letter queue: %d records, first %q", len(dlq), dlq[0].Value)
	}
	hm := headerMap(dlq[0])
	for k, want := range map[string]string{
		HeaderErrorTopic: "in", HeaderErrorPartition: "0", HeaderErrorOffset: "3", HeaderErrorConnector: "tolerant",
		HeaderErrorTaskID: "0", HeaderErrorStage: StageValueConverter, HeaderErrorClass: JSONConverterClass, "h": "x",
	} {
		if hm[k] != want {
			t.Errorf("header %s = %q, want %q", k, hm[k], want)
		}
	}
	for _, k := range []string{HeaderErrorExceptionClass, HeaderErrorExceptionMessage, HeaderErrorStacktrace} {
		if hm[k] == "" {
			t.Errorf("header %s missing", k)
		}
	}
	eventually(t, 30*time.Second, "the 9 good records in the file", func() error {
		b, _ := readFile(out)
		if n := strings.Count(b, "\n"); n != 9 {
			return fmt.Errorf("%d lines: %q", n, b)
		}
		return nil
	})
	eventually(t, 30*time.Second, "the strict connector's task FAILED", func() error {
		st, err := h.TaskStatus(ctx, "strict", 0)
		if err != nil {
			return err
		}
		if st.State != rest.StateFailed || !strings.Contains(st.Trace, StageValueConverter) {
			return fmt.Errorf("%+v", st)
		}
		return nil
	})
	waitState(t, h, "tolerant", rest.StateRunning, rest.StateRunning, 1)

	// Source side: a record its converter cannot serialize goes to the DLQ
	// as a JSON rendering; the others reach the topic and the offset moves
	// past it.
	src := map[string]string{"connector.class": "test.PoisonSource", "topic": "src-out",
		"errors.tolerance": "all", "errors.deadletterqueue.topic.name": "dlq-src",
		"errors.deadletterqueue.context.headers.enable": "true"}
	if _, _, err := h.PutConnectorConfig(ctx, "src", src, "", false); err != nil {
		t.Fatal(err)
	}
	sdlq := readAll(t, addr, "dlq-src", 1)
	shm := headerMap(sdlq[0])
	if string(sdlq[0].Value) != `"poison"` || shm[HeaderErrorStage] != StageValueConverter || shm[HeaderErrorTopic] != "src-out" || shm[HeaderErrorConnector] != "src" {
		t.Fatalf("source DLQ record %q headers %v", sdlq[0].Value, shm)
	}
	if got := readAll(t, addr, "src-out", 9); len(got) != 9 {
		t.Fatalf("%d records in src-out", len(got))
	}
	eventually(t, 10*time.Second, "source offset past the poison record", func() error {
		offs, err := h.Offsets(ctx, "src")
		if err != nil {
			return err
		}
		if len(offs.Offsets) != 1 || fmt.Sprint(offs.Offsets[0].Offset["i"]) != "9" {
			return fmt.Errorf("%+v", offs.Offsets)
		}
		return nil
	})
}

func readFile(path string) (string, error) {
	b, err := os.ReadFile(path)
	return string(b), err
}
