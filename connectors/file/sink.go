package file

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strconv"

	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connect/config"
	"github.com/penstockhq/penstock/connect/converters"
)

// SinkDef describes the sink connector's keys. The topics to read (topics
// or topics.regex) are the runtime's sink keys, as in Kafka Connect.
var SinkDef = sinkBinding.Def()

// sinkBinding declares the sink's keys and the task fields they fill.
var sinkBinding = config.Bind(
	config.StringField(config.Key{Name: FileConfig, Required: true, Validator: config.NonEmpty(), Importance: config.High,
		Doc: "Destination filename. Penstock requires a file (Kafka Connect writes to standard output when unset)."},
		func(t *SinkTask) *string { return &t.path }),
)

// SinkConnector is FileStreamSinkConnector.
type SinkConnector struct {
	props map[string]string
}

// NewSink returns a file sink connector.
func NewSink() *SinkConnector { return &SinkConnector{} }

// Config returns the connector's keys.
func (c *SinkConnector) Config() *config.Def { return SinkDef }

// Start checks the properties.
func (c *SinkConnector) Start(ctx context.Context, cctx connect.ConnectorContext, props map[string]string) error {
	if _, err := SinkDef.Parse(props); err != nil {
		return fmt.Errorf("FileStreamSink: %w", err)
	}
	c.props = props
	return nil
}

// TaskConfigs returns maxTasks copies of the properties; tasks append to
// the same file (lines of different tasks may interleave, never mix).
func (c *SinkConnector) TaskConfigs(maxTasks int) ([]map[string]string, error) {
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

// Stop does nothing.
func (c *SinkConnector) Stop() error { return nil }

// NewTask returns a file sink task.
func (c *SinkConnector) NewTask() connect.SinkTask { return &SinkTask{} }

// SinkTask appends one line per record value to the file: strings as they
// are, nil as "null", other values as compact JSON (Kafka Connect's
// JsonConverter without schemas, decimals as numbers, map keys sorted), so
// the lines are deterministic and easy to parse.
type SinkTask struct {
	path string
	f    *os.File
	w    *bufio.Writer
	json *converters.JSON
	line []byte
}

// Start opens the file for appending, creating it if needed.
func (t *SinkTask) Start(ctx context.Context, tctx connect.SinkTaskContext, props map[string]string) error {
	if _, err := sinkBinding.Parse(props, t); err != nil {
		return fmt.Errorf("FileStreamSink task: %w", err)
	}
	f, err := os.OpenFile(t.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("FileStreamSink: opening %s: %w", t.path, err)
	}
	t.f, t.w = f, bufio.NewWriterSize(f, 64<<10)
	t.json = converters.NewJSON()
	if err := t.json.Configure(map[string]string{converters.JSONSchemasEnable: "false",
		converters.JSONDecimalFormat: converters.DecimalNumeric}, false); err != nil {
		return err
	}
	return nil
}

// ReleasesRecords reports that Put copies what it writes and keeps no
// record: the worker may reuse the records' memory (connect.SinkRecordReleaser).
func (t *SinkTask) ReleasesRecords() bool { return true }

var _ connect.SinkRecordReleaser = (*SinkTask)(nil)

// Put writes the records' values to the buffer; Flush makes them durable.
func (t *SinkTask) Put(ctx context.Context, records []*connect.Record) error {
	for _, r := range records {
		line, err := t.render(r)
		if err != nil {
			return fmt.Errorf("FileStreamSink: record %s/%d@%d: %w", r.Topic, r.Partition, r.Offset, err)
		}
		if _, err := t.w.Write(line); err != nil {
			return fmt.Errorf("FileStreamSink: writing %s: %w", t.path, err)
		}
	}
	return nil
}

// render returns the record's line, newline included.
func (t *SinkTask) render(r *connect.Record) ([]byte, error) {
	b := t.line[:0]
	switch v := r.Value.(type) {
	case nil:
		b = append(b, "null"...)
	case string:
		b = append(b, v...)
	case bool:
		b = strconv.AppendBool(b, v)
	case int8, int16, int32, int64, int:
		b = fmt.Append(b, v)
	default:
		var err error
		if b, err = t.json.AppendConnect(b, r.ValueSchema, v); err != nil {
			return nil, err
		}
	}
	b = append(b, '\n')
	t.line = b
	return b, nil
}

// Flush writes the buffer and fsyncs the file, so every record Put so far
// is on disk before the runtime commits the offsets.
func (t *SinkTask) Flush(ctx context.Context, offsets map[connect.TopicPartition]int64) error {
	if t.w == nil {
		return nil
	}
	if err := t.w.Flush(); err != nil {
		return fmt.Errorf("FileStreamSink: writing %s: %w", t.path, err)
	}
	if err := t.f.Sync(); err != nil {
		return fmt.Errorf("FileStreamSink: syncing %s: %w", t.path, err)
	}
	return nil
}

// Stop flushes and closes the file.
func (t *SinkTask) Stop() error {
	if t.f == nil {
		return nil
	}
	err := t.Flush(context.Background(), nil)
	if cerr := t.f.Close(); err == nil {
		err = cerr
	}
	t.f, t.w = nil, nil
	return err
}
