// Package connecttest is the conformance suite every connector runs, in the
// spirit of Conduit's acceptance tests: it drives a connector through the
// connect interfaces as the runtime does and checks the contract the runtime
// relies on.
//
// For a source: the configuration validates and refuses what it must by key
// name; the connector starts, splits into tasks and stops; tasks poll
// records that carry a source partition and offset; a task restarted from
// the offsets the runtime flushed (and, for a SourceTaskCommitter,
// committed) delivers again every record after them, so nothing
// acknowledged to the outside system is lost; Poll returns when its context
// ends.
//
// For a sink: the configuration as above; after Put and a successful Flush
// (or the offsets PreCommit returns) the records are in the outside system;
// a restarted task writes the next records; a record the sink cannot write
// fails Put or goes to the task context's Report (the dead letter queue),
// and the records after it are still written when Report tolerates it.
//
// Write a test in the connector's package:
//
//	func TestConformance(t *testing.T) {
//		connecttest.RunSource(t, connecttest.Source{
//			New:     func() connect.SourceConnector { return mysource.New() },
//			Config:  map[string]string{"topic": "t", ...},
//			Prepare: func(t *testing.T, n int) { /* make n new records in the outside system */ },
//		})
//	}
package connecttest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/penstockhq/penstock/connect"
)

// Timeout bounds each wait of the suite (for records to arrive, for Poll to
// return); the suite fails, naming what it waited for, when it passes.
var Timeout = 30 * time.Second

// Source describes a source connector to RunSource.
type Source struct {
	// New returns an unstarted connector.
	New func() connect.SourceConnector
	// Config is a valid configuration of the connector's own keys.
	Config map[string]string
	// Prepare makes at least n new records available to the connector in
	// the outside system (rows inserted, lines appended). Nil for
	// connectors that generate their records.
	Prepare func(t *testing.T, n int)
	// Invalid are configurations the connector must refuse, each under the
	// key whose error validation must report.
	Invalid map[string]map[string]string
	// Identity names a record for the restart check: records of equal
	// identity are the same event. Nil: the topic and the source offset.
	Identity func(r *connect.Record) string
}

// With returns a copy of props with key k set to v: an Invalid entry is
// usually a valid configuration with one key made wrong.
func With(props map[string]string, k, v string) map[string]string {
	out := make(map[string]string, len(props)+1)
	for pk, pv := range props {
		out[pk] = pv
	}
	out[k] = v
	return out
}

// Sink describes a sink connector to RunSink.
type Sink struct {
	// New returns an unstarted connector.
	New func() connect.SinkConnector
	// Config is a valid configuration of the connector's own keys.
	Config map[string]string
	// Records returns the records numbered from to from+n-1, as the runtime
	// would hand them to Put: on one partition of a topic the configuration
	// sinks, record number i at Offset i. Two calls with the same numbers
	// return equal records.
	Records func(from, n int) []*connect.Record
	// Written returns the numbers of the records found in the outside
	// system; duplicates are allowed (delivery is at least once).
	Written func(t *testing.T) []int
	// Bad returns a record the sink cannot write (the suite puts it at
	// offset 99 of the records' partition), or is nil when every record is
	// writable; the errors test is skipped then.
	Bad func() *connect.Record
	// Invalid are configurations the connector must refuse, each under the
	// key whose error validation must report.
	Invalid map[string]map[string]string
}

// RunSource runs the source suite as subtests of t.
func RunSource(t *testing.T, s Source) {
	t.Helper()
	if s.Identity == nil {
		s.Identity = offsetIdentity
	}
	t.Run("config", func(t *testing.T) { checkConfig(t, s.New(), s.Config, s.Invalid) })
	t.Run("start-poll-stop", func(t *testing.T) {
		prepare(t, s, 3)
		task, stop := startSource(t, s, nil)
		recs := pollN(t, task, 3)
		for i, r := range recs {
			if r.Topic == "" || r.SourcePartition == nil || r.SourceOffset == nil {
				t.Errorf("record %d: topic %q, source partition %v, offset %v: the runtime needs all three", i, r.Topic, r.SourcePartition, r.SourceOffset)
			}
		}
		stop()
	})
	t.Run("restart-resumes-after-flushed-offsets", func(t *testing.T) {
		prepare(t, s, 6)
		store := &offsetStore{m: map[string]map[string]any{}}
		task, stop := startSource(t, s, store)
		first := pollN(t, task, 6)
		// The runtime flushed the offsets of the first three records only,
		// then committed them; the rest were polled but never acknowledged.
		flushed := first[:3]
		for _, r := range flushed {
			store.put(r.SourcePartition, r.SourceOffset)
		}
		if c, ok := task.(connect.SourceTaskCommitter); ok {
			if err := c.Commit(t.Context(), store.all()); err != nil {
				t.Fatalf("Commit: %v", err)
			}
		}
		stop()
		task, stop = startSource(t, s, store)
		defer stop()
		want := map[string]bool{}
		for _, r := range first[3:] {
			want[s.Identity(r)] = true
		}
		deadline := time.Now().Add(Timeout)
		for len(want) > 0 && time.Now().Before(deadline) {
			for _, r := range poll(t, task) {
				delete(want, s.Identity(r))
			}
		}
		if len(want) > 0 {
			t.Fatalf("after a restart from the flushed offsets, %d records polled but never flushed were not delivered again: %v",
				len(want), slices.Sorted(maps.Keys(want)))
		}
	})
	t.Run("poll-returns-when-cancelled", func(t *testing.T) {
		task, stop := startSource(t, s, nil)
		defer stop()
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan struct{})
		go func() {
			defer close(done)
			for ctx.Err() == nil {
				if _, err := task.Poll(ctx); err != nil {
					return
				}
			}
		}()
		cancel()
		select {
		case <-done:
		case <-time.After(Timeout):
			t.Fatal("Poll did not return after its context was cancelled")
		}
	})
}

// RunSink runs the sink suite as subtests of t.
func RunSink(t *testing.T, s Sink) {
	t.Helper()
	t.Run("config", func(t *testing.T) { checkConfig(t, s.New(), s.Config, s.Invalid) })
	t.Run("flush-makes-durable-and-restart", func(t *testing.T) {
		task, tctx, stop := startSink(t, s)
		flushed := putAndFlush(t, task, s.Records(0, 5))
		stop()
		task, tctx, stop = startSink(t, s)
		defer stop()
		flushed = append(flushed, putAndFlush(t, task, s.Records(5, 5))...)
		written := map[int]bool{}
		for _, n := range s.Written(t) {
			written[n] = true
		}
		for _, n := range flushed {
			if !written[n] {
				t.Errorf("record %d was flushed (its offset may be committed) but is not in the outside system", n)
			}
		}
		if len(tctx.reported()) > 0 {
			t.Errorf("good records were reported as errors: %v", tctx.reported())
		}
	})
	t.Run("errors-and-dlq", func(t *testing.T) {
		if s.Bad == nil {
			t.Skip("every record is writable (Sink.Bad is nil)")
		}
		// errors.tolerance=all: Report accepts; the bad record goes to the
		// dead letter queue and the next records are written.
		task, tctx, stop := startSink(t, s)
		defer stop()
		tctx.tolerate = true
		good := s.Records(100, 2)
		bad := s.Bad()
		bad.Topic, bad.Partition, bad.Offset = good[0].Topic, good[0].Partition, 99
		recs := append([]*connect.Record{bad}, good...)
		err := putAll(t, task, recs)
		if err == nil {
			err = flush(t, task, recs)
		}
		switch {
		case err != nil && len(tctx.reported()) == 0:
			// The sink fails the task on a bad record: allowed, but it must say so.
			if err.Error() == "" {
				t.Fatal("Put failed on the bad record without a message")
			}
		case err != nil:
			t.Fatalf("the bad record was reported and Report tolerated it, yet the task failed: %v", err)
		default:
			if len(tctx.reported()) == 0 {
				t.Fatal("Put and Flush accepted a record the sink cannot write without reporting it")
			}
			written := map[int]bool{}
			for _, n := range s.Written(t) {
				written[n] = true
			}
			for n := 100; n < 102; n++ {
				if !written[n] {
					t.Errorf("record %d after a reported bad record was not written", n)
				}
			}
		}
	})
}

// checkConfig validates c's configuration as the runtime does.
func checkConfig(t *testing.T, c connect.Connector, valid map[string]string, invalid map[string]map[string]string) {
	def := c.Config()
	if def == nil || len(def.Keys()) == 0 && len(valid) > 0 {
		t.Fatal("Config returns no keys, yet the valid configuration sets some")
	}
	for _, k := range def.Keys() {
		if k.Name == "" || k.Type == "" || k.Doc == "" {
			t.Errorf("key %q: name, type and doc are required (type %q, doc %q)", k.Name, k.Type, k.Doc)
		}
	}
	if errs := validate(c, valid); len(errs) > 0 {
		t.Fatalf("the valid configuration does not validate: %v", errs)
	}
	for _, k := range def.Keys() {
		if !k.Required {
			continue
		}
		props := maps.Clone(valid)
		delete(props, k.Name)
		if errs := validate(c, props); len(errs[k.Name]) == 0 {
			t.Errorf("without the required key %s validation reports no error on it (%v)", k.Name, errs)
		}
	}
	for key, props := range invalid {
		if errs := validate(c, props); len(errs[key]) == 0 {
			t.Errorf("invalid configuration %v: no error on %s (errors: %v)", props, key, errs)
		}
	}
}

// validate returns the errors per key, as PUT .../config/validate reports them.
func validate(c connect.Connector, props map[string]string) map[string][]string {
	infos := c.Config().Validate("", props)
	if v, ok := c.(connect.ConfigValidator); ok && infos.ErrorCount == 0 {
		v.ValidateConfig(props, &infos)
	}
	out := map[string][]string{}
	for _, ci := range infos.Configs {
		if len(ci.Value.Errors) > 0 {
			out[ci.Definition.Name] = ci.Value.Errors
		}
	}
	return out
}

func prepare(t *testing.T, s Source, n int) {
	if s.Prepare != nil {
		s.Prepare(t, n)
	}
}

// startSource starts the connector and its first task, reading offsets from
// store (nil: none). stop stops both.
func startSource(t *testing.T, s Source, store *offsetStore) (connect.SourceTask, func()) {
	t.Helper()
	if store == nil {
		store = &offsetStore{m: map[string]map[string]any{}}
	}
	ctx, cancel := context.WithCancel(t.Context())
	c := s.New()
	cctx := &connectorContext{offsets: store}
	cfg := startConnector(t, ctx, cancel, c, cctx, s.Config)
	task := c.NewTask()
	tctx := &taskContext{offsets: store}
	if err := task.Start(ctx, tctx, cfg); err != nil {
		cancel()
		_ = c.Stop()
		t.Fatalf("task Start: %v", err)
	}
	var once sync.Once
	return task, func() {
		once.Do(func() {
			if err := task.Stop(); err != nil {
				t.Errorf("task Stop: %v", err)
			}
			cancel()
			if err := c.Stop(); err != nil {
				t.Errorf("connector Stop: %v", err)
			}
			if err := cctx.raised(); err != nil {
				t.Errorf("the connector raised an error: %v", err)
			}
		})
	}
}

// startConnector starts c with props and returns its first task
// configuration; it cancels ctx and fails t when either step fails.
func startConnector(t *testing.T, ctx context.Context, cancel context.CancelFunc, c connect.Connector, cctx connect.ConnectorContext, props map[string]string) map[string]string {
	t.Helper()
	if err := c.Start(ctx, cctx, maps.Clone(props)); err != nil {
		cancel()
		t.Fatalf("connector Start: %v", err)
	}
	cfgs, err := c.TaskConfigs(1)
	if err != nil || len(cfgs) == 0 {
		cancel()
		t.Fatalf("TaskConfigs(1) = %d configs, %v; want at least one", len(cfgs), err)
	}
	return cfgs[0]
}

func poll(t *testing.T, task connect.SourceTask) []*connect.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), Timeout)
	defer cancel()
	recs, err := task.Poll(ctx)
	var re *connect.RetriableError
	if err != nil && !errors.As(err, &re) {
		t.Fatalf("Poll: %v", err)
	}
	return recs
}

// pollN polls until n records arrived and returns them.
func pollN(t *testing.T, task connect.SourceTask, n int) []*connect.Record {
	t.Helper()
	var out []*connect.Record
	deadline := time.Now().Add(Timeout)
	for len(out) < n {
		if time.Now().After(deadline) {
			t.Fatalf("polled %d records in %v, want %d", len(out), Timeout, n)
		}
		out = append(out, poll(t, task)...)
	}
	return out
}

// offsetIdentity names a record by its topic and source offset.
func offsetIdentity(r *connect.Record) string {
	p, _ := json.Marshal(r.SourcePartition)
	o, _ := json.Marshal(r.SourceOffset)
	return r.Topic + " " + string(p) + " " + string(o)
}

// offsetStore is the runtime's offsets topic: the flushed offset of each
// source partition.
type offsetStore struct {
	mu    sync.Mutex
	m     map[string]map[string]any
	parts map[string]map[string]any
}

func partitionKey(p map[string]any) string {
	b, _ := json.Marshal(p)
	return string(b)
}

func (s *offsetStore) put(partition, offset map[string]any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.parts == nil {
		s.parts = map[string]map[string]any{}
	}
	k := partitionKey(partition)
	s.m[k], s.parts[k] = offset, partition
}

func (s *offsetStore) all() []connect.SourceOffset {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []connect.SourceOffset
	for k, o := range s.m {
		out = append(out, connect.SourceOffset{Partition: s.parts[k], Offset: o})
	}
	return out
}

// Offset implements connect.OffsetReader.
func (s *offsetStore) Offset(_ context.Context, partition map[string]any) (map[string]any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[partitionKey(partition)], nil
}

type connectorContext struct {
	offsets *offsetStore
	mu      sync.Mutex
	err     error
}

func (c *connectorContext) RequestTaskReconfiguration() {}
func (c *connectorContext) RaiseError(err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.err = err
}
func (c *connectorContext) Offsets() connect.OffsetReader { return c.offsets }
func (c *connectorContext) raised() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

type taskContext struct{ offsets *offsetStore }

func (c *taskContext) ConnectorName() string         { return "conformance" }
func (c *taskContext) TaskID() int                   { return 0 }
func (c *taskContext) Offsets() connect.OffsetReader { return c.offsets }

// sinkContext is the runtime as a sink task sees it; Report follows
// errors.tolerance (tolerate: all; otherwise none).
type sinkContext struct {
	mu       sync.Mutex
	tolerate bool
	reports  []*connect.Record
	parts    []connect.TopicPartition
}

func (c *sinkContext) ConnectorName() string { return "conformance" }
func (c *sinkContext) TaskID() int           { return 0 }
func (c *sinkContext) Assignment() []connect.TopicPartition {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.parts)
}
func (c *sinkContext) Pause(...connect.TopicPartition)         {}
func (c *sinkContext) Resume(...connect.TopicPartition)        {}
func (c *sinkContext) Rewind(map[connect.TopicPartition]int64) {}
func (c *sinkContext) RequestCommit()                          {}
func (c *sinkContext) Report(_ context.Context, rec *connect.Record, err error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reports = append(c.reports, rec)
	if !c.tolerate {
		return fmt.Errorf("errors.tolerance=none: %w", err)
	}
	return nil
}
func (c *sinkContext) reported() []*connect.Record {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.reports)
}

// startSink starts the connector and its first task; stop stops both.
func startSink(t *testing.T, s Sink) (connect.SinkTask, *sinkContext, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	c := s.New()
	cfg := startConnector(t, ctx, cancel, c, &connectorContext{offsets: &offsetStore{m: map[string]map[string]any{}}}, s.Config)
	task := c.NewTask()
	tctx := &sinkContext{}
	for _, r := range s.Records(0, 1) {
		tctx.parts = append(tctx.parts, connect.TopicPartition{Topic: r.Topic, Partition: r.Partition})
	}
	if err := task.Start(ctx, tctx, cfg); err != nil {
		cancel()
		_ = c.Stop()
		t.Fatalf("task Start: %v", err)
	}
	if h, ok := task.(connect.SinkPartitionHandler); ok {
		if err := h.Open(ctx, tctx.Assignment()); err != nil {
			t.Fatalf("Open: %v", err)
		}
	}
	var once sync.Once
	return task, tctx, func() {
		once.Do(func() {
			if h, ok := task.(connect.SinkPartitionHandler); ok {
				if err := h.Close(ctx, tctx.Assignment()); err != nil {
					t.Errorf("Close: %v", err)
				}
			}
			if err := task.Stop(); err != nil {
				t.Errorf("task Stop: %v", err)
			}
			cancel()
			if err := c.Stop(); err != nil {
				t.Errorf("connector Stop: %v", err)
			}
		})
	}
}

func putAll(t *testing.T, task connect.SinkTask, recs []*connect.Record) error {
	ctx, cancel := context.WithTimeout(t.Context(), Timeout)
	defer cancel()
	return task.Put(ctx, recs)
}

// nextOffsets returns, per partition, the offset after the last of recs.
func nextOffsets(recs []*connect.Record) map[connect.TopicPartition]int64 {
	out := map[connect.TopicPartition]int64{}
	for _, r := range recs {
		tp := connect.TopicPartition{Topic: r.Topic, Partition: r.Partition}
		if r.Offset+1 > out[tp] {
			out[tp] = r.Offset + 1
		}
	}
	return out
}

// flush flushes as the runtime does before committing: PreCommit when the
// task has it, else Flush. It returns an error unless every record of recs
// is below the offsets that may be committed.
func flush(t *testing.T, task connect.SinkTask, recs []*connect.Record) error {
	ctx, cancel := context.WithTimeout(t.Context(), Timeout)
	defer cancel()
	offs := nextOffsets(recs)
	deadline := time.Now().Add(Timeout)
	for {
		var safe map[connect.TopicPartition]int64
		var err error
		if p, ok := task.(connect.SinkPreCommitter); ok {
			safe, err = p.PreCommit(ctx, offs)
		} else {
			safe, err = offs, task.Flush(ctx, offs)
		}
		if err != nil {
			return err
		}
		behind := false
		for tp, o := range offs {
			if safe[tp] > o {
				return fmt.Errorf("PreCommit returned offset %d for %v, beyond the %d given", safe[tp], tp, o)
			}
			behind = behind || safe[tp] < o
		}
		if !behind {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("PreCommit still holds back offsets after %v: %v of %v", Timeout, safe, offs)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// putAndFlush puts recs, flushes them and returns their numbers. A task
// that releases its records (connect.SinkRecordReleaser) is put copies, which
// are overwritten when Put returns, as the runtime reuses them: a task that
// kept them after all writes or flushes the wrong records.
func putAndFlush(t *testing.T, task connect.SinkTask, recs []*connect.Record) []int {
	t.Helper()
	put := recs
	rr, ok := task.(connect.SinkRecordReleaser)
	released := ok && rr.ReleasesRecords()
	if released {
		put = make([]*connect.Record, len(recs))
		for i, r := range recs {
			put[i] = r.Clone()
		}
	}
	if err := putAll(t, task, put); err != nil {
		t.Fatalf("Put: %v", err)
	}
	if released {
		for _, r := range put {
			*r = connect.Record{Topic: "released", Partition: -1, Offset: -1}
		}
	}
	if err := flush(t, task, recs); err != nil {
		t.Fatalf("flush: %v", err)
	}
	out := make([]int, len(recs))
	for i, r := range recs {
		out[i] = int(r.Offset)
	}
	return out
}

var (
	_ connect.SinkTaskContext   = (*sinkContext)(nil)
	_ connect.SourceTaskContext = (*taskContext)(nil)
	_ connect.ConnectorContext  = (*connectorContext)(nil)
)
