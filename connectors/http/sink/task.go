// Package sink is Penstock's HTTP sink, under Confluent's class name
// io.confluent.connect.http.HttpSinkConnector and the alias http-sink: it
// sends records to an HTTP API, batched per partition and URL, the records
// of a partition in order and partitions in parallel. Refused records go to
// the dead letter queue (or fail the task); PreCommit commits only offsets
// whose records were sent or routed.
//
// Beyond Confluent's sink, a refused record's dead letter queue copy carries
// the API's answer in headers of its own when
// errors.deadletterqueue.context.headers.enable is true:
// penstock.http.status (the status, as text) and penstock.http.response.body
// (the body's first 8 KiB, as sent), besides Kafka Connect's
// __connect.errors.* headers, whose exception message also names them.
package sink

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"time"

	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connect/config"
	"github.com/penstockhq/penstock/connectors/http/httpclient"
)

// Class is the connector's class name: Confluent's, so configurations
// written for Confluent's HTTP sink run unchanged.
const Class = "io.confluent.connect.http.HttpSinkConnector"

// Version is the connector's version as /connector-plugins reports it.
const Version = "0.1.0"

// Task is the HTTP sink task.
type Task struct {
	s      *settings
	tctx   connect.SinkTaskContext
	log    *slog.Logger
	client *httpclient.Client
	lanes  *lanes
}

var (
	_ connect.SinkTask             = (*Task)(nil)
	_ connect.SinkPreCommitter     = (*Task)(nil)
	_ connect.SinkPartitionHandler = (*Task)(nil)
	_ connect.SinkRecordReleaser   = (*Task)(nil)
)

var errStopped = errors.New("http sink: the task is not started or already stopped")

// Start parses the configuration and builds the client.
func (t *Task) Start(_ context.Context, tctx connect.SinkTaskContext, props map[string]string) error {
	s, err := parseSettings(props)
	if err != nil {
		return fmt.Errorf("http sink: %w", err)
	}
	t.s, t.tctx = s, tctx
	t.log = slog.Default().With("connector", tctx.ConnectorName(), "task", tctx.TaskID())
	if t.client, err = httpclient.New(s.client, t.log); err != nil {
		return fmt.Errorf("http sink: %w", err)
	}
	rep, err := newReporter(s.reporting, tctx.ConnectorName(), t.log)
	if err != nil {
		return fmt.Errorf("http sink: %w", err)
	}
	t.lanes = newLanes(s, t.client, rep, t.log)
	return nil
}

// Put turns the records into request items and queues them on their
// partitions' lanes; it routes earlier failures first.
func (t *Task) Put(ctx context.Context, records []*connect.Record) error {
	if t.lanes == nil {
		return errStopped
	}
	if err := t.lanes.drain(ctx, t.tctx.Report); err != nil {
		return err
	}
	// Each run of records of one partition is made into items in place,
	// at the end of its lane's waiting buffer, in parts of as many as the
	// lane has room for.
	for i := 0; i < len(records); {
		first := records[i]
		j := i + 1
		for j < len(records) && records[j].Partition == first.Partition && records[j].Topic == first.Topic {
			j++
		}
		l, buf, k, err := t.lanes.reserve(ctx, first, j-i)
		if err != nil {
			return err
		}
		from := len(buf)
		buf = growItems(buf, k, t.s.buffered)
		for _, rec := range records[i : i+k] {
			buf = append(buf, item{})
			if err := t.s.makeItem(&buf[len(buf)-1], rec); errors.Is(err, errSkip) {
				buf[len(buf)-1] = item{}
				buf = buf[:len(buf)-1]
				if t.s.nullValues == BehaviorLog {
					t.log.Info("http sink: skipping a record with a null value", "record", describe(rec))
				}
			}
		}
		t.lanes.give(l, buf, from)
		i += k
	}
	return nil
}

// ReleasesRecords reports that Put copies each record into its item (the
// lanes hold copies, and failures are reported with copies), so the runtime
// may reuse the records' memory from Put to Put rather than allocate them.
func (t *Task) ReleasesRecords() bool { return true }

// Flush waits until every record Put received was sent or routed.
func (t *Task) Flush(ctx context.Context, _ map[connect.TopicPartition]int64) error {
	if t.lanes == nil {
		return errStopped
	}
	for {
		if err := t.lanes.drain(ctx, t.tctx.Report); err != nil {
			return err
		}
		if t.lanes.idle() {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("http sink: flush: %w", ctx.Err())
		case <-t.lanes.changed:
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// PreCommit routes failures and returns, per partition, the offset up to
// which every record was sent or routed. It does not wait.
func (t *Task) PreCommit(ctx context.Context, offsets map[connect.TopicPartition]int64) (map[connect.TopicPartition]int64, error) {
	if t.lanes == nil {
		return nil, errStopped
	}
	if err := t.lanes.drain(ctx, t.tctx.Report); err != nil {
		return nil, err
	}
	return t.lanes.safe(offsets), nil
}

// Open does nothing: a lane starts with a partition's first record.
func (t *Task) Open(context.Context, []connect.TopicPartition) error { return nil }

// Close stops the lanes of partitions taken from the task.
func (t *Task) Close(_ context.Context, partitions []connect.TopicPartition) error {
	if t.lanes != nil {
		t.lanes.close(partitions)
	}
	return nil
}

// Stop (idempotent) stops every lane; records not sent by then are not
// committed and will be delivered again.
func (t *Task) Stop() error {
	if t.lanes == nil {
		return nil
	}
	t.lanes.stop()
	t.lanes = nil
	t.client.Close()
	return nil
}

// Connector is the HTTP sink connector: it checks the configuration and
// gives every task the same one.
type Connector struct {
	props map[string]string
}

var (
	_ connect.SinkConnector   = (*Connector)(nil)
	_ connect.ConfigValidator = (*Connector)(nil)
)

// Config returns the keys the connector accepts.
func (c *Connector) Config() *config.Def { return ConfigDef() }

// ValidateConfig adds the problems that involve several keys to infos.
func (c *Connector) ValidateConfig(props map[string]string, infos *config.Infos) {
	if _, err := ConfigDef().Parse(props); err != nil {
		return // each key's own errors are already in infos
	}
	if _, err := parseSettings(props); err != nil {
		infos.AddError(httpclient.ProblemKey(err.Error(), URLConfig), err.Error())
	}
}

// Start checks the configuration.
func (c *Connector) Start(_ context.Context, _ connect.ConnectorContext, props map[string]string) error {
	if _, err := parseSettings(props); err != nil {
		return fmt.Errorf("http sink: %w", err)
	}
	c.props = props
	return nil
}

// TaskConfigs returns maxTasks copies of the configuration (Kafka assigns
// the partitions among the tasks).
func (c *Connector) TaskConfigs(maxTasks int) ([]map[string]string, error) {
	out := make([]map[string]string, maxTasks)
	for i := range out {
		out[i] = maps.Clone(c.props)
	}
	return out, nil
}

// Stop does nothing: the connector holds no resources.
func (c *Connector) Stop() error { return nil }

// NewTask returns a new task.
func (c *Connector) NewTask() connect.SinkTask { return &Task{} }
