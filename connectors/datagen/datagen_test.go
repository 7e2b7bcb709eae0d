package datagen

import (
	"context"
	"testing"
	"time"

	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connect/converters"
)

var (
	_ connect.SourceConnector = (*Connector)(nil)
	_ connect.ConfigValidator = (*Connector)(nil)
)

// fakeOffsets stands in for the runtime's offset store.
type fakeOffsets map[string]map[string]any

func (f fakeOffsets) Offset(_ context.Context, partition map[string]any) (map[string]any, error) {
	return f[key(partition)], nil
}

func key(p map[string]any) string { v, _ := toInt64(p["task"]); return "task-" + string(rune('0'+v)) }

// fakeTaskContext stands in for the runtime's SourceTaskContext.
type fakeTaskContext struct {
	id      int
	offsets fakeOffsets
}

func (c fakeTaskContext) ConnectorName() string         { return "gen" }
func (c fakeTaskContext) TaskID() int                   { return c.id }
func (c fakeTaskContext) Offsets() connect.OffsetReader { return c.offsets }

func startTask(t *testing.T, id int, offsets fakeOffsets, props map[string]string) *Task {
	t.Helper()
	c := New()
	if err := c.Start(context.Background(), nil, props); err != nil {
		t.Fatal(err)
	}
	cfgs, err := c.TaskConfigs(3)
	if err != nil || len(cfgs) != 3 {
		t.Fatalf("TaskConfigs: %v %v", cfgs, err)
	}
	task := c.NewTask().(*Task)
	if err := task.Start(context.Background(), fakeTaskContext{id: id, offsets: offsets}, cfgs[id]); err != nil {
		t.Fatal(err)
	}
	return task
}

func poll(t *testing.T, task *Task) []*connect.Record {
	t.Helper()
	recs, err := task.Poll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

func fields(r *connect.Record) (seq int64, task int32, name string, payload any) {
	v := r.Value.(*connect.Struct)
	return v.Get("seq").(int64), v.Get("task").(int32), v.Get("name").(string), v.Get("payload")
}

func TestSequenceIsDeterministicFromSeed(t *testing.T) {
	props := map[string]string{"topic": "gen", "seed": "42", "batch.size": "50", "value.size": "16"}
	a := poll(t, startTask(t, 0, nil, props))
	b := poll(t, startTask(t, 0, nil, props))
	other := poll(t, startTask(t, 1, nil, props))
	reseeded := poll(t, startTask(t, 0, nil, map[string]string{"topic": "gen", "seed": "43", "batch.size": "50"}))
	if len(a) != 50 {
		t.Fatalf("batch of %d, want 50", len(a))
	}
	sameAsOther, sameAsReseeded := 0, 0
	for i := range a {
		seq, task, name, payload := fields(a[i])
		_, _, nameB, payloadB := fields(b[i])
		if seq != int64(i) || task != 0 || name != nameB || payload != payloadB {
			t.Fatalf("record %d differs: %v vs %v", i, a[i].Value, b[i].Value)
		}
		if len(payload.(string)) != 16 {
			t.Fatalf("payload %q, want 16 bytes", payload)
		}
		if _, task1, name1, _ := fields(other[i]); task1 != 1 {
			t.Fatalf("task field %d", task1)
		} else if name1 == name {
			sameAsOther++
		}
		if _, _, name2, _ := fields(reseeded[i]); name2 == name {
			sameAsReseeded++
		}
		if err := a[i].Value.(*connect.Struct).Validate(); err != nil {
			t.Fatal(err)
		}
		if a[i].SourcePartition["task"] != int64(0) || a[i].SourceOffset["seq"] != seq || a[i].Key != nil {
			t.Fatalf("partition/offset/key: %v %v %v", a[i].SourcePartition, a[i].SourceOffset, a[i].Key)
		}
	}
	if sameAsOther > 10 || sameAsReseeded > 10 {
		t.Fatalf("streams barely differ: %d same names across tasks, %d across seeds", sameAsOther, sameAsReseeded)
	}
	// The values serialize with the JSON converter.
	c := converters.NewJSON()
	if _, err := c.FromConnect("gen", a[0].ValueSchema, a[0].Value); err != nil {
		t.Fatal(err)
	}
}

func TestResumeFromStoredOffsetAndCount(t *testing.T) {
	offsets := fakeOffsets{"task-2": {"seq": float64(41)}} // as read back from JSON
	props := map[string]string{"kafka.topic": "gen", "iterations": "45", "batch.size": "3", "keys": "4", "seed": "7"}
	task := startTask(t, 2, offsets, props)
	var seqs []int64
	for _, n := range []int{3} {
		recs := poll(t, task)
		if len(recs) != n {
			t.Fatalf("poll gave %d records, want %d", len(recs), n)
		}
		for _, r := range recs {
			seq, _, _, _ := fields(r)
			seqs = append(seqs, seq)
			if r.Topic != "gen" || r.Key != seq%4 || r.KeySchema != connect.Int64Schema {
				t.Fatalf("record %d: topic %s key %v", seq, r.Topic, r.Key)
			}
		}
	}
	if len(seqs) != 3 || seqs[0] != 42 || seqs[2] != 45-1 {
		t.Fatalf("seqs %v, want 42..44 after stored 41, stopping at count 45", seqs)
	}
	// Exhausted: Poll idles until the context ends, then returns nothing.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if recs, err := task.Poll(ctx); len(recs) != 0 || err != nil {
		t.Fatalf("after count: %v %v", recs, err)
	}
	// Names after the restart equal those of an uninterrupted run.
	fresh := startTask(t, 2, nil, map[string]string{"topic": "gen", "batch.size": "45", "seed": "7"})
	all := poll(t, fresh)
	_, _, want, _ := fields(all[42])
	task2 := startTask(t, 2, offsets, props)
	_, _, got, _ := fields(poll(t, task2)[0])
	if got != want {
		t.Fatalf("resumed name %q, uninterrupted %q", got, want)
	}
}

func TestRate(t *testing.T) {
	task := startTask(t, 0, nil, map[string]string{"topic": "gen", "rate": "100"})
	clock := task.started
	task.now = func() time.Time { return clock }
	if recs := poll(t, task); len(recs) != 0 { // nothing due yet; waits ~10ms
		t.Fatalf("%d records before any time passed", len(recs))
	}
	clock = clock.Add(500 * time.Millisecond)
	if recs := poll(t, task); len(recs) != 50 {
		t.Fatalf("after 0.5s at 100/s: %d records, want 50", len(recs))
	}
	clock = clock.Add(10 * time.Millisecond)
	if recs := poll(t, task); len(recs) != 1 {
		t.Fatalf("after 10ms more: %d records, want 1", len(recs))
	}
}

func TestConfigErrors(t *testing.T) {
	c := New()
	if err := c.Start(context.Background(), nil, map[string]string{}); err == nil {
		t.Fatal("missing topic accepted")
	}
	if err := c.Start(context.Background(), nil, map[string]string{"topic": "x", "rate": "-1"}); err == nil {
		t.Fatal("negative rate accepted")
	}
	infos := Def.Validate("datagen", map[string]string{})
	c.ValidateConfig(map[string]string{}, &infos)
	if infos.ErrorCount != 1 {
		t.Fatalf("validate: %d errors, want 1 for topic", infos.ErrorCount)
	}
}
