package file

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/penstockhq/penstock/connect"
)

var (
	_ connect.SourceConnector = (*SourceConnector)(nil)
	_ connect.SinkConnector   = (*SinkConnector)(nil)
)

// fakeOffsets stands in for the runtime's offset store, keyed by filename.
type fakeOffsets map[string]map[string]any

func (f fakeOffsets) Offset(_ context.Context, p map[string]any) (map[string]any, error) {
	return f[p[FilenameField].(string)], nil
}

type fakeSourceContext struct{ offsets fakeOffsets }

func (fakeSourceContext) ConnectorName() string           { return "files" }
func (fakeSourceContext) TaskID() int                     { return 0 }
func (c fakeSourceContext) Offsets() connect.OffsetReader { return c.offsets }

func startSource(t *testing.T, props map[string]string, offsets fakeOffsets) *SourceTask {
	t.Helper()
	c := NewSource()
	if err := c.Start(context.Background(), nil, props); err != nil {
		t.Fatal(err)
	}
	cfgs, _ := c.TaskConfigs(4)
	if len(cfgs) != 1 {
		t.Fatalf("%d task configs, want 1", len(cfgs))
	}
	task := c.NewTask().(*SourceTask)
	task.wait = time.Millisecond
	if err := task.Start(context.Background(), fakeSourceContext{offsets}, cfgs[0]); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { task.Stop() })
	return task
}

func lines(t *testing.T, task *SourceTask) (vals []string, positions []int64) {
	t.Helper()
	recs, err := task.Poll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		if r.ValueSchema != connect.StringSchema || r.Key != nil || r.Topic != "lines" {
			t.Fatalf("record shape: %+v", r)
		}
		vals = append(vals, r.Value.(string))
		positions = append(positions, r.SourceOffset[PositionField].(int64))
	}
	return vals, positions
}

func appendFile(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(s)
	f.Close()
}

func TestFileSourceReadsLinesAndFollowsTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "in.txt")
	props := map[string]string{"file": path, "topic": "lines"}
	task := startSource(t, props, nil)
	if v, _ := lines(t, task); len(v) != 0 { // file not there yet: wait, nothing
		t.Fatalf("missing file gave %v", v)
	}
	appendFile(t, path, "alpha\nbeta\r\ngamma\rdel")
	v, pos := lines(t, task)
	if strings.Join(v, "|") != "alpha|beta|gamma" || pos[0] != 6 || pos[1] != 12 || pos[2] != 18 {
		t.Fatalf("got %q at %v", v, pos)
	}
	if v, _ := lines(t, task); len(v) != 0 { // "del" has no newline yet
		t.Fatalf("incomplete line emitted: %q", v)
	}
	appendFile(t, path, "ta\n\xc3\xa9\n")
	v, pos = lines(t, task)
	if strings.Join(v, "|") != "delta|é" || pos[0] != 24 || pos[1] != 27 {
		t.Fatalf("got %q at %v", v, pos)
	}
	if p := task.partition[FilenameField]; p != path {
		t.Fatalf("partition %v", task.partition)
	}
}

func TestFileSourceResumesFromStoredOffset(t *testing.T) {
	path := filepath.Join(t.TempDir(), "in.txt")
	appendFile(t, path, "one\ntwo\nthree\nfour\n")
	// Stored offset after "two", as read back from JSON (a float64).
	task := startSource(t, map[string]string{"file": path, "topic": "lines", "batch.size": "1"},
		fakeOffsets{path: {PositionField: float64(8)}})
	var got []string
	for i := 0; i < 3; i++ {
		v, _ := lines(t, task)
		got = append(got, v...)
	}
	if strings.Join(got, ",") != "three,four" {
		t.Fatalf("resumed lines %q, want three,four (one per poll)", got)
	}
}

func TestFileSourceConfig(t *testing.T) {
	c := NewSource()
	if err := c.Start(context.Background(), nil, map[string]string{"file": "x"}); err == nil {
		t.Fatal("missing topic accepted")
	}
	if err := c.Start(context.Background(), nil, map[string]string{"file": "x", "topic": "a,b"}); err == nil || !strings.Contains(err.Error(), "single topic") {
		t.Fatalf("two topics: %v", err)
	}
}

type fakeSinkContext struct{}

func (fakeSinkContext) ConnectorName() string                                { return "files" }
func (fakeSinkContext) TaskID() int                                          { return 0 }
func (fakeSinkContext) Assignment() []connect.TopicPartition                 { return nil }
func (fakeSinkContext) Pause(...connect.TopicPartition)                      {}
func (fakeSinkContext) Resume(...connect.TopicPartition)                     {}
func (fakeSinkContext) Rewind(map[connect.TopicPartition]int64)              {}
func (fakeSinkContext) RequestCommit()                                       {}
func (fakeSinkContext) Report(context.Context, *connect.Record, error) error { return nil }

func TestFileSinkWritesLinesAndFlushes(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.txt")
	c := NewSink()
	props := map[string]string{"file": path, "topics": "in"}
	if err := c.Start(context.Background(), nil, props); err != nil {
		t.Fatal(err)
	}
	cfgs, _ := c.TaskConfigs(1)
	task := c.NewTask()
	if err := task.Start(context.Background(), fakeSinkContext{}, cfgs[0]); err != nil {
		t.Fatal(err)
	}
	s := connect.NewStructSchema("v", connect.F("id", connect.Int32Schema), connect.F("amount", connect.DecimalSchema(2)),
		connect.F("at", connect.TimestampSchema()))
	st := connect.NewStruct(s)
	st.SetAt(0, int32(7))
	st.SetAt(1, connect.NewDecimal(1999, 2))
	st.SetAt(2, time.UnixMilli(1700000000000).UTC())
	recs := []*connect.Record{
		{Topic: "in", Value: "plain line", ValueSchema: connect.StringSchema},
		{Topic: "in", Value: st, ValueSchema: s, Offset: 1},
		{Topic: "in", Value: map[string]any{"b": int64(2), "a": []any{"x"}}, Offset: 2},
		{Topic: "in", Value: nil, Offset: 3},
		{Topic: "in", Value: int64(42), Offset: 4},
	}
	if err := task.Put(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); len(b) != 0 {
		t.Fatalf("written before Flush: %q", b)
	}
	if err := task.Flush(context.Background(), map[connect.TopicPartition]int64{{Topic: "in"}: 5}); err != nil {
		t.Fatal(err)
	}
	f, _ := os.Open(path)
	defer f.Close()
	var got []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		got = append(got, sc.Text())
	}
	want := []string{"plain line", `{"id":7,"amount":19.99,"at":1700000000000}`, `{"a":["x"],"b":2}`, "null", "42"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("file:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(got[1]), &m); err != nil {
		t.Fatal(err)
	}
	// A later task appends to the same file.
	if err := task.Stop(); err != nil {
		t.Fatal(err)
	}
	task2 := c.NewTask()
	task2.Start(context.Background(), fakeSinkContext{}, cfgs[0])
	task2.Put(context.Background(), []*connect.Record{{Topic: "in", Value: "more"}})
	if err := task2.Stop(); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	if !strings.HasSuffix(string(b), "42\nmore\n") {
		t.Fatalf("append after restart: %q", b)
	}
	// A value the JSON form cannot express fails Put with the record named.
	task3 := c.NewTask()
	task3.Start(context.Background(), fakeSinkContext{}, cfgs[0])
	defer task3.Stop()
	err := task3.Put(context.Background(), []*connect.Record{{Topic: "in", Partition: 3, Offset: 9, Value: make(chan int)}})
	if err == nil || !strings.Contains(err.Error(), "in/3@9") {
		t.Fatalf("bad value: %v", err)
	}
}
