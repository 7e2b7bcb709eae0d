package elasticsearch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"

	es "github.com/elastic/go-elasticsearch/v8"
	"github.com/elastic/go-elasticsearch/v8/esutil"

	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connect/config"
)

// Task is the Elasticsearch sink task. It turns records into bulk
// operations and writes them asynchronously through go-elasticsearch's bulk
// indexer; PreCommit returns only offsets whose records Elasticsearch has
// acknowledged (or that were routed to the dead letter queue).
type Task struct {
	s      *settings
	tctx   connect.SinkTaskContext
	log    *slog.Logger
	client *es.Client
	w      *writer

	indices map[string]bool // indices known to exist (or whose creation is not ours to do)
}

var errStopped = errors.New("elasticsearch sink: the task is not started or already stopped")

var (
	_ connect.SinkTask             = (*Task)(nil)
	_ connect.SinkPreCommitter     = (*Task)(nil)
	_ connect.SinkPartitionHandler = (*Task)(nil)
)

// Start connects to Elasticsearch and starts the bulk indexer.
func (t *Task) Start(ctx context.Context, tctx connect.SinkTaskContext, props map[string]string) error {
	s, err := parseSettings(props)
	if err != nil {
		return fmt.Errorf("elasticsearch sink: %w", err)
	}
	t.s, t.tctx = s, tctx
	t.log = slog.Default().With("connector", tctx.ConnectorName(), "task", tctx.TaskID())
	t.indices = map[string]bool{}
	if t.client, err = newClient(s); err != nil {
		return err
	}
	// The first call must be Info: it is the client's product check (and
	// the only one ZincSearch passes).
	res, err := t.client.Info(t.client.Info.WithContext(ctx))
	if err != nil {
		return fmt.Errorf("elasticsearch sink: connecting to %v: %w", s.urls, err)
	}
	body, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
	res.Body.Close()
	if res.IsError() {
		return fmt.Errorf("elasticsearch sink: connecting to %v: %s: %s", s.urls, res.Status(), strings.TrimSpace(string(body)))
	}
	bi, err := esutil.NewBulkIndexer(esutil.BulkIndexerConfig{
		Client:              t.client,
		NumWorkers:          s.maxInFlight,
		FlushBytes:          s.bulkBytes,
		FlushInterval:       s.linger,
		QueueSizeMultiplier: max(1, s.batchSize/s.maxInFlight),
		OnError: func(_ context.Context, err error) {
			t.log.Warn("elasticsearch: bulk request failed", "error", err)
		},
	})
	if err != nil {
		return fmt.Errorf("elasticsearch sink: bulk indexer: %w", err)
	}
	t.w = newWriter(s, bi, t.client, t.log)
	t.log.Info("elasticsearch sink task started", "urls", s.urls)
	return nil
}

// Put converts the records and hands their operations to the bulk indexer.
// Records that cannot become documents are reported (or dropped, with
// drop.invalid.message). It waits while max.buffered.records records are
// unacknowledged.
func (t *Task) Put(ctx context.Context, records []*connect.Record) error {
	if t.w == nil {
		return errStopped
	}
	if err := t.w.drain(ctx, t.tctx.Report); err != nil {
		return err
	}
	for _, rec := range records {
		c, err := t.s.convert(rec)
		if err != nil {
			if err = t.invalid(ctx, rec, err); err != nil {
				return err
			}
			continue
		}
		if c.op == nil {
			continue
		}
		if c.docSchema != nil && !t.indices[c.op.index] {
			if err := t.ensureIndex(ctx, c.op.index, rec.Topic, c.docSchema); err != nil {
				return recordError(rec, c.op.id, err)
			}
		}
		if err := t.w.waitBelow(ctx, t.s.maxBuffered, t.tctx.Report); err != nil {
			return err
		}
		if err := t.w.submit(c.op); err != nil {
			return err
		}
	}
	return nil
}

// invalid routes a record that could not be converted.
func (t *Task) invalid(ctx context.Context, rec *connect.Record, err error) error {
	if t.s.dropInvalid && errors.Is(err, errInvalidRecord) {
		t.log.Warn("elasticsearch: dropping invalid record (drop.invalid.message=true)", "error", err)
		return nil
	}
	return t.tctx.Report(ctx, rec, err)
}

// Flush waits, up to flush.timeout.ms, until Elasticsearch acknowledged
// every record Put received.
func (t *Task) Flush(ctx context.Context, _ map[connect.TopicPartition]int64) error {
	if t.w == nil {
		return errStopped
	}
	ctx, cancel := context.WithTimeout(ctx, t.s.flushTimeout)
	defer cancel()
	if err := t.w.bi.Flush(ctx); err != nil {
		return fmt.Errorf("elasticsearch sink: flush: %w", err)
	}
	if err := t.w.waitBelow(ctx, 1, t.tctx.Report); err != nil {
		return fmt.Errorf("elasticsearch sink: flush: %w", err)
	}
	return nil
}

// PreCommit returns, per partition, the offset up to which every record was
// acknowledged by Elasticsearch or routed by Report. It does not wait.
func (t *Task) PreCommit(ctx context.Context, offsets map[connect.TopicPartition]int64) (map[connect.TopicPartition]int64, error) {
	if t.w == nil {
		return nil, errStopped
	}
	if err := t.w.drain(ctx, t.tctx.Report); err != nil {
		return nil, err
	}
	return t.w.safeOffsets(offsets), nil
}

// Open does nothing: partitions are tracked from their first record.
func (t *Task) Open(context.Context, []connect.TopicPartition) error { return nil }

// Close forgets partitions taken from the task: operations of theirs not
// yet sent are dropped, and their outstanding records are neither committed
// nor reported, but redelivered to their new owner. Requests already in
// flight may still land; they carry external versions, so they cannot take
// a document back in time.
func (t *Task) Close(_ context.Context, partitions []connect.TopicPartition) error {
	if t.w == nil {
		return nil
	}
	t.w.forget(partitions)
	return nil
}

// Stop (idempotent) waits up to flush.timeout.ms for the bulk indexer to send what it
// holds and stops. Records not acknowledged by then are not committed and
// will be delivered again.
func (t *Task) Stop() error {
	if t.w == nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), t.s.flushTimeout)
	defer cancel()
	w := t.w
	t.w = nil
	return w.close(ctx)
}

// ensureIndex creates the index with a mapping derived from the document
// schema unless it exists or schema.ignore applies.
func (t *Task) ensureIndex(ctx context.Context, index, topic string, s *connect.Schema) error {
	if t.s.ignoreSchema(topic) {
		t.indices[index] = true
		return nil
	}
	mapping := mappingOf(s)
	if mapping == nil {
		return nil // not a struct: wait for a record that has one
	}
	res, err := t.client.Indices.Exists([]string{index}, t.client.Indices.Exists.WithContext(ctx))
	if err != nil {
		return fmt.Errorf("checking index %q: %w", index, err)
	}
	res.Body.Close()
	if res.StatusCode == http.StatusOK {
		t.indices[index] = true
		return nil
	}
	body, _ := json.Marshal(map[string]any{"mappings": mapping})
	res, err = t.client.Indices.Create(index, t.client.Indices.Create.WithContext(ctx),
		t.client.Indices.Create.WithBody(strings.NewReader(string(body))))
	if err != nil {
		return fmt.Errorf("creating index %q: %w", index, err)
	}
	defer res.Body.Close()
	if res.IsError() {
		msg, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
		if !strings.Contains(string(msg), "already exists") { // another task won the race
			return fmt.Errorf("creating index %q with mapping %s: %s: %s", index, body, res.Status(), msg)
		}
	}
	t.log.Info("elasticsearch: created index", "index", index, "mapping", string(body))
	t.indices[index] = true
	return nil
}

// Connector is the Elasticsearch sink connector: it checks the
// configuration and gives every task the same one (Kafka assigns the topic
// partitions among the tasks).
type Connector struct {
	props map[string]string
}

var (
	_ connect.SinkConnector   = (*Connector)(nil)
	_ connect.ConfigValidator = (*Connector)(nil)
)

// Config returns the keys the connector accepts.
func (c *Connector) Config() *config.Def { return ConfigDef() }

// ValidateConfig adds the problems that involve several keys, or
// Confluent features Penstock does not have, to infos.
func (c *Connector) ValidateConfig(props map[string]string, infos *config.Infos) {
	v, err := ConfigDef().Parse(props)
	if err != nil {
		return // each key's own errors are already in infos
	}
	for _, p := range crossCheck(v) {
		infos.AddError(keyOf(p), p)
	}
}

// keyOf returns the configuration key a crossCheck problem names.
func keyOf(problem string) string {
	const marker = " for configuration "
	i := strings.Index(problem, marker)
	if i < 0 {
		return ConnectionURLConfig
	}
	rest := problem[i+len(marker):]
	if j := strings.IndexByte(rest, ':'); j >= 0 {
		rest = rest[:j]
	}
	return rest
}

// Start checks the configuration.
func (c *Connector) Start(_ context.Context, _ connect.ConnectorContext, props map[string]string) error {
	if _, err := parseSettings(props); err != nil {
		return fmt.Errorf("elasticsearch sink: %w", err)
	}
	c.props = props
	return nil
}

// TaskConfigs returns maxTasks copies of the connector's configuration.
func (c *Connector) TaskConfigs(maxTasks int) ([]map[string]string, error) {
	out := make([]map[string]string, maxTasks)
	for i := range out {
		m := make(map[string]string, len(c.props))
		for k, v := range c.props {
			m[k] = v
		}
		out[i] = m
	}
	return out, nil
}

// Stop does nothing: the connector holds no resources.
func (c *Connector) Stop() error { return nil }

// NewTask returns a new task.
func (c *Connector) NewTask() connect.SinkTask { return &Task{} }

// Class is the connector's class name: Confluent's, so configurations
// written for Confluent's sink run unchanged.
const Class = "io.confluent.connect.elasticsearch.ElasticsearchSinkConnector"

// Version is the connector's version as /connector-plugins reports it.
const Version = "0.1.0"
