package connecttest_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connect/config"
	"github.com/penstockhq/penstock/connect/connecttest"
)

// A toy outside system: a list of lines the source reads and the sink
// appends to.
type store struct {
	mu    sync.Mutex
	lines []string
}

func (s *store) add(l ...string) { s.mu.Lock(); s.lines = append(s.lines, l...); s.mu.Unlock() }
func (s *store) get(i int) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if i < len(s.lines) {
		return s.lines[i], true
	}
	return "", false
}

type settings struct{ topic string }

var binding = config.Bind(config.StringField(config.Key{Name: "topic", Required: true, Validator: config.NonEmpty(),
	Importance: config.High, Doc: "Topic to write to."}, func(s *settings) *string { return &s.topic }))

// lineSource reads the store's lines from the offset {"line": n}; skip
// makes it resume one line too far, a lost record.
type lineSource struct {
	st   *store
	skip bool
}

func (c *lineSource) Config() *config.Def { return binding.Def() }
func (c *lineSource) Start(_ context.Context, _ connect.ConnectorContext, props map[string]string) error {
	_, err := binding.Parse(props, &settings{})
	return err
}
func (c *lineSource) TaskConfigs(int) ([]map[string]string, error) {
	return []map[string]string{{"topic": "lines"}}, nil
}
func (c *lineSource) Stop() error                 { return nil }
func (c *lineSource) NewTask() connect.SourceTask { return &lineTask{st: c.st, skip: c.skip} }

type lineTask struct {
	st   *store
	skip bool
	next int
	s    settings
}

var partition = map[string]any{"store": "lines"}

func (t *lineTask) Start(ctx context.Context, tctx connect.SourceTaskContext, props map[string]string) error {
	if _, err := binding.Parse(props, &t.s); err != nil {
		return err
	}
	off, err := tctx.Offsets().Offset(ctx, partition)
	if err != nil {
		return err
	}
	if off != nil {
		t.next = int(off["line"].(int64)) + 1
		if t.skip {
			t.next++
		}
	}
	return nil
}

func (t *lineTask) Poll(ctx context.Context) ([]*connect.Record, error) {
	l, ok := t.st.get(t.next)
	if !ok {
		select { // nothing yet: return none after a short while
		case <-ctx.Done():
		case <-time.After(10 * time.Millisecond):
		}
		return nil, nil
	}
	r := &connect.Record{Topic: t.s.topic, Partition: -1, ValueSchema: connect.StringSchema, Value: l,
		SourcePartition: partition, SourceOffset: map[string]any{"line": int64(t.next)}}
	t.next++
	return []*connect.Record{r}, nil
}
func (t *lineTask) Stop() error { return nil }

// lineSink appends record values to the store on Flush; early makes Flush
// return before writing, an acknowledged loss.
type lineSink struct {
	st    *store
	early bool
}

func (c *lineSink) Config() *config.Def { return binding.Def() }
func (c *lineSink) Start(_ context.Context, _ connect.ConnectorContext, props map[string]string) error {
	_, err := binding.Parse(props, &settings{})
	return err
}
func (c *lineSink) TaskConfigs(int) ([]map[string]string, error) {
	return []map[string]string{{"topic": "lines"}}, nil
}
func (c *lineSink) Stop() error               { return nil }
func (c *lineSink) NewTask() connect.SinkTask { return &lineSinkTask{c: c} }

type lineSinkTask struct {
	c       *lineSink
	tctx    connect.SinkTaskContext
	pending []string
}

func (t *lineSinkTask) Start(_ context.Context, tctx connect.SinkTaskContext, _ map[string]string) error {
	t.tctx = tctx
	return nil
}
func (t *lineSinkTask) Put(ctx context.Context, recs []*connect.Record) error {
	for _, r := range recs {
		s, ok := r.Value.(string)
		if !ok {
			if err := t.tctx.Report(ctx, r, errors.New("value is not a string")); err != nil {
				return err
			}
			continue
		}
		t.pending = append(t.pending, s)
	}
	return nil
}
func (t *lineSinkTask) Flush(context.Context, map[connect.TopicPartition]int64) error {
	if !t.c.early {
		t.c.st.add(t.pending...)
	}
	t.pending = nil
	return nil
}
func (t *lineSinkTask) Stop() error { return nil }

func sourceSuite(st *store, skip bool) connecttest.Source {
	n := 0
	return connecttest.Source{
		New:    func() connect.SourceConnector { return &lineSource{st: st, skip: skip} },
		Config: map[string]string{"topic": "lines"},
		Prepare: func(t *testing.T, k int) {
			for range k {
				n++
				st.add("line " + strconv.Itoa(n))
			}
		},
	}
}

func sinkSuite(st *store, early bool) connecttest.Sink {
	return connecttest.Sink{
		New:    func() connect.SinkConnector { return &lineSink{st: st, early: early} },
		Config: map[string]string{"topic": "lines"},
		Records: func(from, n int) []*connect.Record {
			out := make([]*connect.Record, n)
			for i := range out {
				out[i] = &connect.Record{Topic: "lines", Offset: int64(from + i), Value: strconv.Itoa(from + i)}
			}
			return out
		},
		Written: func(*testing.T) []int {
			st.mu.Lock()
			defer st.mu.Unlock()
			var out []int
			for _, l := range st.lines {
				n, _ := strconv.Atoi(l)
				out = append(out, n)
			}
			return out
		},
		Bad: func() *connect.Record { return &connect.Record{Value: 42} },
	}
}

// The toy connectors pass the suite.
func TestToyConnectorsConform(t *testing.T) {
	connecttest.RunSource(t, sourceSuite(&store{}, false))
	connecttest.RunSink(t, sinkSuite(&store{}, false))
}

// The suite fails a source that loses a record on restart and a sink whose
// Flush returns before the records are written. Each runs in a child
// process, since a failing suite fails its test.
func TestSuiteCatchesBrokenConnectors(t *testing.T) {
	if os.Getenv("CONNECTTEST_BROKEN") != "" {
		connecttest.Timeout = 2 * time.Second
	}
	switch os.Getenv("CONNECTTEST_BROKEN") {
	case "source":
		connecttest.RunSource(t, sourceSuite(&store{}, true))
		return
	case "sink":
		connecttest.RunSink(t, sinkSuite(&store{}, true))
		return
	}
	for kind, want := range map[string]string{
		"source": "were not delivered again",
		"sink":   "is not in the outside system",
	} {
		cmd := exec.Command(os.Args[0], "-test.run=^TestSuiteCatchesBrokenConnectors$", "-test.v")
		cmd.Env = append(os.Environ(), "CONNECTTEST_BROKEN="+kind)
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), want) {
			t.Errorf("broken %s: suite error %v, want a failure saying %q; output:\n%s", kind, err, want, out)
		}
	}
}
