// Package poll is Penstock's polling HTTP source, under Confluent's class
// name io.confluent.connect.http.HttpSourceConnector and the alias
// http-poll: it asks an API for records every request.interval.ms, follows
// pages while they hold records, and keeps its position (a number, a field
// of the last record, or a cursor) as the source offset, so a restart
// resumes where the last committed record left off.
package poll

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connect/config"
	"github.com/penstockhq/penstock/connectors/http/httpclient"
)

// Class is Confluent's HTTP source class name.
const Class = "io.confluent.connect.http.HttpSourceConnector"

// Version is the connector's version as /connector-plugins reports it.
const Version = "0.1.0"

// Keys of the source partition and offset.
const (
	PartitionField = "url"
	OffsetField    = "offset"
	IndexField     = "index" // CURSOR_PAGINATION: records of the cursor's page already taken
)

// Task polls the API.
type Task struct {
	s      *settings
	log    *slog.Logger
	client *httpclient.Client
	part   map[string]any

	pos position
	due time.Time // no request before this (zero: now)
}

// position is where the next request starts.
type position struct {
	offset string // the number, the last record's field, or the cursor
	index  int    // CURSOR_PAGINATION: records of the page at offset already taken
}

var _ connect.SourceTask = (*Task)(nil)

// Start resumes from the stored offset, if any.
func (t *Task) Start(ctx context.Context, tctx connect.SourceTaskContext, props map[string]string) error {
	s, err := parseSettings(props)
	if err != nil {
		return fmt.Errorf("http poll: %w", err)
	}
	t.s = s
	t.log = slog.Default().With("connector", tctx.ConnectorName(), "task", tctx.TaskID())
	if t.client, err = httpclient.New(s.client, t.log); err != nil {
		return fmt.Errorf("http poll: %w", err)
	}
	t.part = map[string]any{PartitionField: s.url}
	t.pos = position{offset: s.initial}
	stored, err := tctx.Offsets().Offset(ctx, t.part)
	if err != nil {
		return fmt.Errorf("http poll: reading the stored offset: %w", err)
	}
	if stored != nil {
		t.pos.offset = fmt.Sprint(stored[OffsetField])
		t.pos.index = intOf(stored[IndexField])
		t.log.Info("http poll: resuming", "offset", t.pos.offset, "index", t.pos.index)
	}
	return nil
}

func intOf(v any) int {
	switch x := v.(type) {
	case float64:
		return int(x)
	case int64:
		return int(x)
	case int:
		return x
	case json.Number:
		n, _ := x.Int64()
		return int(n)
	case string:
		n, _ := strconv.Atoi(x)
		return n
	}
	return 0
}

// Poll makes one request when it is due and returns the new records of
// its answer; it waits at most a second otherwise and returns none.
func (t *Task) Poll(ctx context.Context) ([]*connect.Record, error) {
	if wait := time.Until(t.due); wait > 0 {
		timer := time.NewTimer(min(wait, time.Second))
		defer timer.Stop()
		select {
		case <-ctx.Done():
		case <-timer.C:
		}
		return nil, nil
	}
	req := t.request()
	res, err := t.client.Do(ctx, req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, nil
		}
		return nil, connect.Retriable(fmt.Errorf("http poll: %w", err))
	}
	if res.Status >= 300 {
		return nil, fmt.Errorf("http poll: %s %s answered %d: %s", req.Method, req.URL, res.Status, httpclient.Snippet(res.Body))
	}
	recs, next, err := t.take(res.Body)
	if err != nil {
		return nil, fmt.Errorf("http poll: the answer of %s %s: %w", req.Method, req.URL, err)
	}
	if len(recs) == 0 && next == t.pos {
		t.due = time.Now().Add(t.s.interval)
	}
	t.pos = next
	return recs, nil
}

// request builds the request for the current position.
func (t *Task) request() httpclient.Request {
	off := t.pos.offset
	u := strings.ReplaceAll(t.s.url, "${offset}", url.QueryEscape(off))
	whole := t.s.mode == ModeCursor && (strings.HasPrefix(off, "http://") || strings.HasPrefix(off, "https://"))
	if whole {
		u = off // the next page given as a URL
	}
	r := httpclient.Request{Method: t.s.method, URL: u, Header: t.s.headers.Clone()}
	if t.s.params != "" && !whole {
		q := url.Values{}
		for _, pair := range strings.Split(t.s.params, "&") {
			k, v, _ := strings.Cut(pair, "=")
			if k = strings.TrimSpace(k); k != "" {
				q.Add(k, strings.ReplaceAll(strings.TrimSpace(v), "${offset}", off))
			}
		}
		if t.s.method == "GET" || t.s.body != "" {
			sep := "?"
			if strings.Contains(r.URL, "?") {
				sep = "&"
			}
			r.URL += sep + q.Encode()
		} else {
			r.Body = []byte(q.Encode())
			r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	}
	if t.s.method == "POST" && t.s.body != "" {
		r.Body = []byte(strings.ReplaceAll(t.s.body, "${offset}", off))
		r.Header.Set("Content-Type", "application/json")
	}
	if r.Header.Get("Accept") == "" {
		r.Header.Set("Accept", "application/json")
	}
	return r
}

// take returns the answer's new records, each with its offset, and the
// position after them.
func (t *Task) take(body []byte) ([]*connect.Record, position, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var doc any
	if err := dec.Decode(&doc); err != nil {
		return nil, t.pos, fmt.Errorf("not JSON: %w", err)
	}
	data, ok := t.s.data.Get(doc)
	var elems []any
	switch x := data.(type) {
	case []any:
		elems = x
	case nil:
		if ok {
			break // null: no records
		}
		return nil, t.pos, fmt.Errorf("nothing at %s=%s", DataPointerConfig, t.s.data)
	default:
		elems = []any{x}
	}
	pos := t.pos
	skip := 0
	if t.s.mode == ModeCursor {
		skip = min(pos.index, len(elems))
	}
	recs := make([]*connect.Record, 0, len(elems)-skip)
	for i, e := range elems[skip:] {
		value, err := json.Marshal(e)
		if err != nil {
			return nil, t.pos, err
		}
		switch t.s.mode {
		case ModeIncrementing:
			n, err := strconv.ParseInt(pos.offset, 10, 64)
			if err != nil {
				return nil, t.pos, fmt.Errorf("the offset %q is not a number (%s=%s)", pos.offset, OffsetModeConfig, ModeIncrementing)
			}
			pos.offset = strconv.FormatInt(n+1, 10)
		case ModeChaining:
			f, ok := t.s.offsetField.Get(e)
			if !ok || f == nil {
				return nil, t.pos, fmt.Errorf("record %d has no %s=%s", skip+i, OffsetPointer, t.s.offsetField)
			}
			o := text(f)
			if o == t.pos.offset && len(recs) == 0 {
				continue // taken already: the API's filter includes the offset itself (>=)
			}
			pos.offset = o
		case ModeCursor:
			pos.index++
		}
		off := map[string]any{OffsetField: pos.offset}
		if t.s.mode == ModeCursor {
			off[IndexField] = int64(pos.index)
		}
		rec := &connect.Record{Topic: t.s.topic, Partition: -1, Value: value, SourcePartition: t.part, SourceOffset: off}
		if t.s.key != nil {
			if k, ok := t.s.key.Get(e); ok && k != nil {
				rec.Key = text(k)
			}
		}
		recs = append(recs, rec)
	}
	if t.s.mode == ModeCursor {
		if n, ok := t.s.next.Get(doc); ok && n != nil {
			if next := text(n); next != "" && next != pos.offset {
				pos = position{offset: next}
			}
		}
	}
	return recs, pos, nil
}

// text renders a JSON scalar as the text of an offset or key.
func text(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// Stop releases the client.
func (t *Task) Stop() error {
	if t.client != nil {
		t.client.Close()
	}
	return nil
}

// Connector is the polling source connector: one task.
type Connector struct {
	props map[string]string
}

var (
	_ connect.SourceConnector = (*Connector)(nil)
	_ connect.ConfigValidator = (*Connector)(nil)
)

// Config returns the keys the connector accepts.
func (c *Connector) Config() *config.Def { return ConfigDef() }

// ValidateConfig adds the problems that involve several keys to infos.
func (c *Connector) ValidateConfig(props map[string]string, infos *config.Infos) {
	if _, err := ConfigDef().Parse(props); err != nil {
		return
	}
	if _, err := parseSettings(props); err != nil {
		infos.AddError(httpclient.ProblemKey(err.Error(), URLConfig), err.Error())
	}
}

// Start checks the configuration.
func (c *Connector) Start(_ context.Context, _ connect.ConnectorContext, props map[string]string) error {
	if _, err := parseSettings(props); err != nil {
		return fmt.Errorf("http poll: %w", err)
	}
	c.props = props
	return nil
}

// TaskConfigs returns one task: one position is followed by one reader.
func (c *Connector) TaskConfigs(int) ([]map[string]string, error) {
	return []map[string]string{maps.Clone(c.props)}, nil
}

// Stop does nothing.
func (c *Connector) Stop() error { return nil }

// NewTask returns a new task.
func (c *Connector) NewTask() connect.SourceTask { return &Task{} }
