package worker

// What the console and `penstock connectors status` show beyond Kafka
// Connect's status: the tasks' snapshot progress and source lag (through
// connect's optional SnapshotProgresser and SourceLagger), a sink's
// consumer lag, the other workers to gather cluster-wide figures from, and
// the cluster's topics.

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connect/config"
	"github.com/penstockhq/penstock/worker/console"
	"github.com/penstockhq/penstock/worker/rest"
)

// The REST API's optional herder and cluster interfaces.
var (
	_ rest.Progresser   = (*Herder)(nil)
	_ rest.TopicsHerder = (*Herder)(nil)
	_ rest.WorkerLister = (*Herder)(nil)
)

func (t *taskRunner) setPlugin(p any) {
	t.mu.Lock()
	t.plugin = p
	t.mu.Unlock()
}

// LocalProgress implements rest.Progresser.
func (h *Herder) LocalProgress(name string) []rest.TaskProgress {
	h.mu.Lock()
	var runners []*taskRunner
	for id, t := range h.tasks {
		if id.Connector == name {
			runners = append(runners, t)
		}
	}
	h.mu.Unlock()
	out := []rest.TaskProgress{}
	for _, t := range runners {
		t.mu.Lock()
		tp := rest.TaskProgress{ID: t.id.Task, WorkerID: h.workerID, State: t.state}
		p := t.plugin
		t.mu.Unlock()
		if sp, ok := p.(connect.SnapshotProgresser); ok {
			for _, tb := range sp.Progress() {
				tp.Snapshot = append(tp.Snapshot, rest.TableProgress{Table: tb.Table, RowsRead: tb.RowsRead, Estimated: tb.Estimated, Done: tb.Done})
			}
		}
		if sl, ok := p.(connect.SourceLagger); ok {
			lag := sl.SourceLag()
			if lag.Bytes >= 0 {
				tp.SourceLagBytes = &lag.Bytes
			}
			if lag.Behind >= 0 {
				ms := lag.Behind.Milliseconds()
				tp.SourceLagMs = &ms
			}
		}
		out = append(out, tp)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out
}

// ConsumerLag implements rest.Progresser: the lag of a sink connector's
// consumer group on every partition it committed on or is assigned.
func (h *Herder) ConsumerLag(ctx context.Context, name string) ([]console.PartitionLag, error) {
	raw, ok := h.configs.connector(name)
	if !ok {
		return nil, h.notFound(name)
	}
	if h.connectorType(raw) != "sink" {
		return nil, nil
	}
	group := sinkGroup(name, raw)
	lags, err := h.adm.Lag(ctx, group)
	if err != nil {
		return nil, fmt.Errorf("lag of group %s: %w", group, err)
	}
	gl, ok := lags[group]
	if !ok {
		return nil, nil
	}
	if gl.Error() != nil && !errors.Is(gl.Error(), kerr.GroupIDNotFound) {
		return nil, fmt.Errorf("lag of group %s: %w", group, gl.Error())
	}
	return append([]console.PartitionLag{}, console.PartitionLags(gl.Lag)...), nil
}

// WorkerURLs implements rest.WorkerLister: the REST URLs of the other
// workers that run a connector or task, as their statuses show.
func (h *Herder) WorkerURLs() []string {
	if h.grp == nil {
		return nil
	}
	var out []string
	for _, id := range h.statuses.workerIDs() {
		if id != h.workerID {
			out = append(out, workerURL(id))
		}
	}
	slices.Sort(out)
	return out
}

// workerURL is the REST URL of the worker with id (its advertised URL less
// "http://"; an https URL stays whole).
func workerURL(id string) string {
	if strings.Contains(id, "://") {
		return strings.TrimSuffix(id, "/") + "/"
	}
	return "http://" + id + "/"
}

// Topics implements rest.TopicsHerder: the console's view of the cluster's
// topics, through the worker's admin client and client settings, records
// decoded with the worker's schema registry (value.converter's, else
// key.converter's).
func (h *Herder) Topics() *console.Topics {
	h.topicsOnce.Do(func() {
		reg := config.WithPrefix(h.cfg.Props, KeyValueConverter+".")
		if reg["schema.registry.url"] == "" {
			reg = config.WithPrefix(h.cfg.Props, KeyKeyConverter+".")
		}
		h.topicsView = console.NewTopics(h.adm, h.storeOpts("console"), reg)
	})
	return h.topicsView
}
