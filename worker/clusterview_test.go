package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connect/config"
	"github.com/penstockhq/penstock/plugins"
	"github.com/penstockhq/penstock/worker/console"
	"github.com/penstockhq/penstock/worker/rest"
)

// progressSource's tasks each emit ten records (with a header) and then
// idle, and report a one-table snapshot and a source lag as a CDC task
// does: a stand-in for the Postgres connector (whose real progress the
// console's browser test shows), so this test sees the runtime gather it
// across workers.
type progressSource struct{ props map[string]string }

func (c *progressSource) Config() *config.Def {
	return config.NewDef(config.Key{Name: "topic", Type: config.String, Required: true})
}
func (c *progressSource) Start(_ context.Context, _ connect.ConnectorContext, p map[string]string) error {
	c.props = p
	return nil
}
func (c *progressSource) TaskConfigs(n int) ([]map[string]string, error) {
	out := make([]map[string]string, n)
	for i := range out {
		out[i] = map[string]string{"topic": c.props["topic"], "table": fmt.Sprintf("t%d", i)}
	}
	return out, nil
}
func (c *progressSource) Stop() error                 { return nil }
func (c *progressSource) NewTask() connect.SourceTask { return &progressTask{} }

type progressTask struct {
	topic, table string
	done         bool
}

var (
	_ connect.SnapshotProgresser = (*progressTask)(nil)
	_ connect.SourceLagger       = (*progressTask)(nil)
)

func (t *progressTask) Start(_ context.Context, _ connect.SourceTaskContext, p map[string]string) error {
	t.topic, t.table = p["topic"], p["table"]
	return nil
}
func (t *progressTask) Poll(ctx context.Context) ([]*connect.Record, error) {
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
		r := &connect.Record{Topic: t.topic, Partition: -1, ValueSchema: connect.Int32Schema, Value: int32(i),
			SourcePartition: map[string]any{"table": t.table}, SourceOffset: map[string]any{"i": i}}
		r.Headers.Add("table", connect.StringSchema, t.table)
		out = append(out, r)
	}
	return out, nil
}
func (t *progressTask) Stop() error { return nil }
func (t *progressTask) Progress() []connect.TableProgress {
	return []connect.TableProgress{{Table: t.table, RowsRead: 10, Estimated: 10, Done: t.done}}
}
func (t *progressTask) SourceLag() connect.SourceLag { return connect.SourceLag{Bytes: 42, Behind: -1} }

// viewWorker is an in-process worker with its REST API, forwarding as a
// distributed worker does.
type viewWorker struct {
	h   *Herder
	url string
}

func startViewWorker(t *testing.T, addr string, reg *plugins.Registry) viewWorker {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	h := startHerder(t, testConfig(t, addr, map[string]string{KeyListeners: url, KeyGroupID: "view",
		KeyConfigTopic: "view-configs", KeyOffsetTopic: "view-offsets", KeyStatusTopic: "view-status",
		KeySessionTimeout: "6000", KeyHeartbeatInterval: "500", KeyScheduledRebalanceDelay: "1000"}), Options{Registry: reg})
	srv := rest.New(h, rest.WithCluster(h), rest.WithGatherer(h.Metrics()), rest.WithRequestTimeout(20*time.Second))
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return viewWorker{h: h, url: url}
}

func getJSON(url string, v any) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s %s", url, resp.Status, b)
	}
	return json.Unmarshal(b, v)
}

// TestConsoleEndpointsAcrossWorkers runs two workers in one group: a source
// whose two tasks land on both workers, and a file sink. Asked of either
// worker, the progress endpoint shows both tasks' snapshot tables and
// source lag (gathered from the other worker over REST), the rates
// endpoint sums both workers' records (10 per task: 20, where each worker
// alone has 10), the sink's consumer lag drains to zero, and the topic
// endpoints list the topic with its 20 records, tail its records decoded
// with their headers, and show the sink's group with its lag.
func TestConsoleEndpointsAcrossWorkers(t *testing.T) {
	addr := startKafka(t)
	reg := registryWith(t, plugins.Plugin{Kind: plugins.Source, Class: "test.ProgressSource", New: func() connect.Configurable { return &progressSource{} }})
	a := startViewWorker(t, addr, reg)
	b := startViewWorker(t, addr, reg)
	ctx := context.Background()
	if _, _, err := a.h.PutConnectorConfig(ctx, "prog", map[string]string{"connector.class": "test.ProgressSource",
		"tasks.max": "2", "topic": "pv"}, "", false); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out.txt")
	if _, _, err := a.h.PutConnectorConfig(ctx, "sink", fileSinkConfig("pv", out), "", false); err != nil {
		t.Fatal(err)
	}
	// Both workers run a task of prog.
	eventually(t, 60*time.Second, "prog's tasks RUNNING on both workers", func() error {
		st, err := a.h.ConnectorStatus(ctx, "prog")
		if err != nil {
			return err
		}
		on := map[string]bool{}
		for _, ts := range st.Tasks {
			if ts.State != rest.StateRunning {
				return fmt.Errorf("task %d %s", ts.ID, ts.State)
			}
			on[ts.WorkerID] = true
		}
		if len(st.Tasks) != 2 || len(on) != 2 {
			return fmt.Errorf("tasks %+v", st.Tasks)
		}
		return nil
	})
	for _, w := range []viewWorker{a, b} {
		var p rest.ConnectorProgress
		eventually(t, 20*time.Second, "progress of prog from "+w.url, func() error {
			if err := getJSON(w.url+"/penstock/connectors/prog/progress", &p); err != nil {
				return err
			}
			if len(p.Errors) > 0 {
				return fmt.Errorf("errors: %v", p.Errors)
			}
			for _, tp := range p.Tasks {
				want := fmt.Sprintf("t%d", tp.ID)
				if len(tp.Snapshot) != 1 || tp.Snapshot[0].Table != want || !tp.Snapshot[0].Done ||
					tp.SourceLagBytes == nil || *tp.SourceLagBytes != 42 || tp.SourceLagMs != nil {
					return fmt.Errorf("task %d: %+v", tp.ID, tp)
				}
			}
			if p.Lag == nil || *p.Lag != 84 || p.LagUnit != "bytes" {
				return fmt.Errorf("lag %v %s, want 84 bytes (both tasks')", p.Lag, p.LagUnit)
			}
			return nil
		})
	}
	// Rates: each worker alone has 10 records of prog, together 20.
	eventually(t, 20*time.Second, "cluster-wide rates", func() error {
		var ra, rb, all console.RatesReport
		for u, r := range map[string]*console.RatesReport{a.url + console.MetricsPath + "?local=true": &ra,
			b.url + console.MetricsPath + "?local=true": &rb, b.url + console.MetricsPath: &all} {
			if err := getJSON(u, r); err != nil {
				return err
			}
		}
		get := func(r console.RatesReport) console.ConnectorRates {
			for _, c := range r.Connectors {
				if c.Name == "prog" {
					return c
				}
			}
			return console.ConnectorRates{}
		}
		total := func(r console.RatesReport) float64 { return get(r).RecordsOut }
		if total(ra) != 10 || total(rb) != 10 || total(all) != 20 || all.Workers != 2 || len(all.Errors) > 0 {
			return fmt.Errorf("local %v and %v, cluster %v over %d workers (%v)", total(ra), total(rb), total(all), all.Workers, all.Errors)
		}
		if ba, bb := get(ra).Bytes, get(rb).Bytes; ba <= 0 || bb <= 0 || get(all).Bytes != ba+bb {
			return fmt.Errorf("bytes: local %v and %v, cluster %v", ba, bb, get(all).Bytes)
		}
		return nil
	})
	// The sink's consumer lag, through the progress endpoint.
	eventually(t, 30*time.Second, "sink lag drained", func() error {
		var p rest.ConnectorProgress
		if err := getJSON(b.url+"/penstock/connectors/sink/progress", &p); err != nil {
			return err
		}
		var end int64
		for _, l := range p.ConsumerLag {
			end += l.End
		}
		if p.Type != "sink" || end != 20 || p.TotalLag != 0 || p.Lag == nil || *p.Lag != 0 || p.LagUnit != "records" || len(p.LagHistory) == 0 {
			return fmt.Errorf("%+v", p)
		}
		return nil
	})

	var topics []console.TopicInfo
	if err := getJSON(a.url+rest.TopicsPath, &topics); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, ti := range topics {
		if ti.Name == "pv" {
			found = true
			if ti.Records != 20 || ti.Partitions < 1 {
				t.Errorf("topic pv: %+v", ti)
			}
		}
	}
	if !found {
		t.Fatalf("pv not in %+v", topics)
	}
	var recs []console.Record
	if err := getJSON(a.url+"/penstock/topics/pv/records?limit=5", &recs); err != nil {
		t.Fatal(err)
	}
	if len(recs) != 5 {
		t.Fatalf("tail: %d records: %+v", len(recs), recs)
	}
	for _, r := range recs {
		var v int
		if err := json.Unmarshal(r.Value, &v); err != nil || v < 0 || v > 9 || !strings.HasPrefix(r.Headers["table"], "t") {
			t.Errorf("tail record %+v: value %s (envelope not unwrapped?) %v", r, r.Value, err)
		}
	}
	if resp, err := http.Get(a.url + "/penstock/topics/nope/records"); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("tail of a missing topic: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	var groups []console.Group
	if err := getJSON(b.url+rest.GroupsPath, &groups); err != nil {
		t.Fatal(err)
	}
	found = false
	for _, g := range groups {
		if g.Name == "connect-sink" {
			found = len(g.Lag) > 0 && g.TotalLag == 0
		}
	}
	if !found {
		t.Errorf("group connect-sink with lag per partition missing: %+v", groups)
	}
	if _, err := os.Stat(out); err != nil {
		t.Errorf("sink output: %v", err)
	}
}
