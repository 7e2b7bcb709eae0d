// Package file holds Kafka Connect's demo file connectors: FileStreamSource,
// which turns the lines of a file into records, and FileStreamSink, which
// writes records as lines of a file. They keep Kafka Connect's keys, source
// partition {"filename": path} and offset {"position": bytes}.
//
// Differences from Kafka Connect: the source needs a file (Kafka Connect
// reads standard input when file is unset) and the sink needs one too
// (Kafka Connect writes to standard output); positions are byte offsets
// (Kafka Connect counts characters, which differs for non-ASCII text); the
// sink fsyncs on every flush, so a committed offset means the lines are on
// disk.
package file

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connect/config"
)

// Configuration keys, as Kafka Connect's file connectors name them.
const (
	FileConfig      = "file"
	TopicConfig     = "topic"
	BatchSizeConfig = "batch.size"
)

// Keys of the source partition and offset, as Kafka Connect's.
const (
	FilenameField = "filename"
	PositionField = "position"
)

// sourceBinding declares the source's keys and the task fields they fill.
var sourceBinding = config.Bind(
	config.StringField(config.Key{Name: FileConfig, Required: true, Validator: config.NonEmpty(), Importance: config.High,
		Doc: "Source filename. Penstock requires a file (Kafka Connect reads standard input when unset)."},
		func(t *SourceTask) *string { return &t.path }),
	config.StringField(config.Key{Name: TopicConfig, Required: true, Importance: config.High,
		Validator: config.ValidatorFunc{Description: "a single topic name", Check: func(v any) error {
			s, _ := v.(string)
			if strings.TrimSpace(s) == "" {
				return errors.New("String may not be empty")
			}
			if strings.Contains(s, ",") {
				return errors.New("FileStreamSourceConnector supports only a single topic")
			}
			return nil
		}},
		Doc: "The topic to publish data to"},
		func(t *SourceTask) *string { return &t.topic }),
	config.IntField(config.Key{Name: BatchSizeConfig, Default: 2000, Validator: config.AtLeast(1), Importance: config.Low,
		Doc: "The maximum number of records the source task can read from the file each time it is polled"},
		func(t *SourceTask) *int { return &t.batchSize }),
)

// SourceDef describes the source connector's keys.
var SourceDef = sourceBinding.Def()

// SourceConnector is FileStreamSourceConnector: one task reading one file.
type SourceConnector struct {
	props map[string]string
}

// NewSource returns a file source connector.
func NewSource() *SourceConnector { return &SourceConnector{} }

// Config returns the connector's keys.
func (c *SourceConnector) Config() *config.Def { return SourceDef }

// Start checks the properties.
func (c *SourceConnector) Start(ctx context.Context, cctx connect.ConnectorContext, props map[string]string) error {
	if _, err := SourceDef.Parse(props); err != nil {
		return fmt.Errorf("FileStreamSource: %w", err)
	}
	c.props = props
	return nil
}

// TaskConfigs returns a single task, whatever maxTasks: one file is read
// by one reader.
func (c *SourceConnector) TaskConfigs(maxTasks int) ([]map[string]string, error) {
	m := make(map[string]string, len(c.props))
	for k, v := range c.props {
		m[k] = v
	}
	return []map[string]string{m}, nil
}

// Stop does nothing.
func (c *SourceConnector) Stop() error { return nil }

// NewTask returns a file source task.
func (c *SourceConnector) NewTask() connect.SourceTask { return &SourceTask{} }

// SourceTask reads complete lines from a file, following it as it grows.
// A last line without its newline is left until the newline arrives. Lines
// end at \n, \r or \r\n, which are not part of the value.
type SourceTask struct {
	path      string
	topic     string
	batchSize int
	partition map[string]any

	f       *os.File
	r       *bufio.Reader
	pos     int64  // byte position after the last line returned
	pending []byte // bytes of an incomplete line read past pos
	skipLF  bool   // the last line ended in \r: drop a \n that follows
	wait    time.Duration
}

// Start reads the stored position to resume from.
func (t *SourceTask) Start(ctx context.Context, tctx connect.SourceTaskContext, props map[string]string) error {
	if _, err := sourceBinding.Parse(props, t); err != nil {
		return fmt.Errorf("FileStreamSource task: %w", err)
	}
	t.partition = map[string]any{FilenameField: t.path}
	if t.wait == 0 {
		t.wait = time.Second
	}
	off, err := tctx.Offsets().Offset(ctx, t.partition)
	if err != nil {
		return fmt.Errorf("FileStreamSource task, file %s: reading offset: %w", t.path, err)
	}
	if off != nil {
		if t.pos, err = toInt64(off[PositionField]); err != nil {
			return fmt.Errorf("FileStreamSource task, file %s: stored offset %v: field %s: %w", t.path, off, PositionField, err)
		}
	}
	return nil
}

func toInt64(v any) (int64, error) {
	switch x := v.(type) {
	case int64:
		return x, nil
	case int:
		return int64(x), nil
	case int32:
		return int64(x), nil
	case float64:
		return int64(x), nil
	case json.Number:
		return x.Int64()
	case string:
		return strconv.ParseInt(x, 10, 64)
	}
	return 0, fmt.Errorf("not a number: %T", v)
}

// open opens the file at the current position; a missing file is not an
// error, the task waits for it to appear.
func (t *SourceTask) open() (bool, error) {
	f, err := os.Open(t.path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("FileStreamSource: opening %s: %w", t.path, err)
	}
	if t.pos > 0 {
		if _, err := f.Seek(t.pos, io.SeekStart); err != nil {
			f.Close()
			return false, fmt.Errorf("FileStreamSource: seeking %s to position %d: %w", t.path, t.pos, err)
		}
	}
	t.f, t.r = f, bufio.NewReaderSize(f, 64<<10)
	return true, nil
}

// Poll returns up to batch.size new lines, waiting up to a second when the
// file has none.
func (t *SourceTask) Poll(ctx context.Context) ([]*connect.Record, error) {
	if t.f == nil {
		ok, err := t.open()
		if err != nil {
			return nil, err
		}
		if !ok {
			sleep(ctx, t.wait)
			return nil, nil
		}
	}
	recs, err := t.readLines()
	if err != nil {
		return nil, err
	}
	if len(recs) == 0 {
		sleep(ctx, t.wait)
	}
	return recs, nil
}

func (t *SourceTask) readLines() ([]*connect.Record, error) {
	var recs []*connect.Record
	for len(recs) < t.batchSize {
		chunk, err := t.r.ReadSlice('\n')
		if len(chunk) > 0 {
			t.pending = append(t.pending, chunk...)
		}
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			if errors.Is(err, io.EOF) {
				break
			}
			return recs, fmt.Errorf("FileStreamSource: reading %s: %w", t.path, err)
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		recs = t.emit(recs)
	}
	// A bare \r also ends a line, as in Kafka Connect.
	return t.emit(recs), nil
}

// emit turns the complete lines of pending into records.
func (t *SourceTask) emit(recs []*connect.Record) []*connect.Record {
	for len(t.pending) > 0 && len(recs) < t.batchSize {
		if t.skipLF {
			t.skipLF = false
			if t.pending[0] == '\n' {
				t.pending = t.pending[1:]
				t.pos++
				continue
			}
		}
		i := bytes.IndexAny(t.pending, "\r\n")
		if i < 0 {
			break
		}
		line := string(t.pending[:i])
		n := i + 1
		if t.pending[i] == '\r' {
			if i+1 < len(t.pending) {
				if t.pending[i+1] == '\n' {
					n++
				}
			} else {
				t.skipLF = true
			}
		}
		t.pending = t.pending[n:]
		t.pos += int64(n)
		recs = append(recs, &connect.Record{
			Topic: t.topic, Partition: -1, ValueSchema: connect.StringSchema, Value: line,
			SourcePartition: t.partition, SourceOffset: map[string]any{PositionField: t.pos},
		})
	}
	if len(t.pending) == 0 {
		t.pending = t.pending[:0:0] // let a large buffer go
	}
	return recs
}

// Stop closes the file.
func (t *SourceTask) Stop() error {
	if t.f != nil {
		err := t.f.Close()
		t.f = nil
		return err
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) {
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
	case <-tm.C:
	}
}
