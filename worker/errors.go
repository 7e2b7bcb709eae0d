package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/penstockhq/penstock/connect"
)

// Stages of record processing, Kafka Connect's names, as the
// __connect.errors.stage header and error logs report them.
const (
	StageTaskPoll        = "TASK_POLL"
	StageTaskPut         = "TASK_PUT"
	StageTransformation  = "TRANSFORMATION"
	StageKeyConverter    = "KEY_CONVERTER"
	StageValueConverter  = "VALUE_CONVERTER"
	StageHeaderConverter = "HEADER_CONVERTER"
	StageKafkaProduce    = "KAFKA_PRODUCE"
	StageKafkaConsume    = "KAFKA_CONSUME"
)

// Dead letter queue context headers, Kafka Connect's names.
const (
	HeaderErrorTopic            = "__connect.errors.topic"
	HeaderErrorPartition        = "__connect.errors.partition"
	HeaderErrorOffset           = "__connect.errors.offset"
	HeaderErrorConnector        = "__connect.errors.connector.name"
	HeaderErrorTaskID           = "__connect.errors.task.id"
	HeaderErrorStage            = "__connect.errors.stage"
	HeaderErrorClass            = "__connect.errors.class.name"
	HeaderErrorExceptionClass   = "__connect.errors.exception.class.name"
	HeaderErrorExceptionMessage = "__connect.errors.exception.message"
	HeaderErrorStacktrace       = "__connect.errors.exception.stacktrace"
)

// stageError is a failure the connector's errors.tolerance did not let
// pass: it fails the task, and its text becomes the task's trace.
type stageError struct {
	stage string
	class string
	err   error
}

func (e *stageError) Error() string {
	return fmt.Sprintf("Tolerance exceeded in error handler: stage %s with class %s: %v", e.stage, e.class, e.err)
}

func (e *stageError) Unwrap() error { return e.err }

// rawRecord is what a dead letter queue record is made of: the bytes as
// consumed (sinks) or as serialized / rendered (sources), and where it was.
type rawRecord struct {
	topic     string
	partition int32 // -1 when unknown
	offset    int64 // -1 when unknown
	key       []byte
	value     []byte
	headers   []kgo.RecordHeader
}

// errorHandler applies a connector's errors.* settings for one task: retry
// with backoff, tolerate or fail, log, and write to the dead letter queue.
type errorHandler struct {
	policy    errorPolicy
	connector string
	task      int
	h         *Herder
	log       *slog.Logger
	tm        *taskMetrics // nil: not counted
}

// isRetriable says whether err is worth retrying: connect.RetriableError and
// Kafka's retriable errors.
func isRetriable(err error) bool {
	var re *connect.RetriableError
	if errors.As(err, &re) {
		return true
	}
	return kerr.IsRetriable(err)
}

// backoff returns the delay before retry number attempt (from 1):
// exponential from 300ms, capped at max, with full jitter in its upper half.
func backoff(attempt int, max time.Duration) time.Duration {
	d := 300 * time.Millisecond
	for i := 1; i < attempt && d < max; i++ {
		d *= 2
	}
	if d > max {
		d = max
	}
	return d/2 + rand.N(d/2+1)
}

// retry runs fn until it succeeds, fails with a non-retriable error, or the
// retry timeout passes. The last error is returned.
func (e *errorHandler) retry(ctx context.Context, fn func() error) error {
	err := fn() // the fast path: no clock reading per record
	if err == nil {
		return nil
	}
	return e.retryAfter(ctx, err, fn)
}

// retryAfter is retry after a first attempt of fn failed with err: a caller
// on a per-record path makes that attempt itself, so a record that converts
// needs no closure or indirect call.
func (e *errorHandler) retryAfter(ctx context.Context, err error, fn func() error) error {
	e.failed()
	if !isRetriable(err) || e.policy.retryTimeout == 0 {
		return err
	}
	start := time.Now()
	for attempt := 1; ; attempt++ {
		if e.policy.retryTimeout > 0 && time.Since(start) >= e.policy.retryTimeout {
			return err
		}
		d := backoff(attempt, e.policy.retryDelayMax)
		if e.policy.retryTimeout > 0 {
			if left := e.policy.retryTimeout - time.Since(start); d > left {
				d = left
			}
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(d):
		}
		if e.tm != nil {
			e.tm.retries.Inc()
		}
		if err = fn(); err == nil {
			return nil
		}
		e.failed()
		if !isRetriable(err) {
			return err
		}
	}
}

// failed counts a failed attempt at a stage (total-record-failures).
func (e *errorHandler) failed() {
	if e.tm != nil {
		e.tm.recordFailures.Inc()
	}
}

// handle routes a failure of stage on rec. It returns nil when the record
// may be skipped (errors.tolerance=all, after logging and the dead letter
// queue) and a *stageError when the task must fail.
func (e *errorHandler) handle(ctx context.Context, stage, class string, rec *rawRecord, err error) error {
	if e.h != nil {
		e.h.metrics.recordErrors.WithLabelValues(e.connector).Inc()
	}
	e.tm.stageError(stage, class)
	if !e.policy.tolerateAll {
		return &stageError{stage: stage, class: class, err: err}
	}
	if e.policy.logEnable {
		attrs := []any{"connector", e.connector, "task", e.task, "stage", stage, "class", class, "err", err}
		if rec != nil {
			attrs = append(attrs, "topic", rec.topic, "partition", rec.partition, "offset", rec.offset)
			if e.policy.logMessages {
				attrs = append(attrs, "key", string(rec.key), "value", string(rec.value))
			}
		}
		e.log.Error("Error encountered in task; the record is skipped (errors.tolerance=all)", attrs...)
		if e.tm != nil {
			e.tm.logged.Inc()
		}
	}
	if e.policy.dlqTopic != "" && rec != nil && e.h != nil {
		if e.tm != nil {
			e.tm.dlqRequests.Inc()
		}
		if derr := e.h.sendDLQ(ctx, e.policy, e.dlqRecord(stage, class, rec, err)); derr != nil {
			if e.tm != nil {
				e.tm.dlqFailures.Inc()
			}
			// A record that cannot reach its dead letter queue must not be
			// skipped silently: fail the task.
			return &stageError{stage: stage, class: class, err: fmt.Errorf("%w; and writing to the dead letter queue %s failed: %v", err, e.policy.dlqTopic, derr)}
		}
		e.h.metrics.dlqRecords.WithLabelValues(e.connector).Inc()
	}
	if e.tm != nil {
		e.tm.skipped.Inc()
	}
	return nil
}

func (e *errorHandler) dlqRecord(stage, class string, rec *rawRecord, err error) *kgo.Record {
	r := &kgo.Record{Topic: e.policy.dlqTopic, Key: rec.key, Value: rec.value}
	r.Headers = append(r.Headers, rec.headers...)
	if e.policy.dlqHeaders {
		add := func(k, v string) { r.Headers = append(r.Headers, kgo.RecordHeader{Key: k, Value: []byte(v)}) }
		add(HeaderErrorTopic, rec.topic)
		if rec.partition >= 0 {
			add(HeaderErrorPartition, strconv.Itoa(int(rec.partition)))
		}
		if rec.offset >= 0 {
			add(HeaderErrorOffset, strconv.FormatInt(rec.offset, 10))
		}
		add(HeaderErrorConnector, e.connector)
		add(HeaderErrorTaskID, strconv.Itoa(e.task))
		add(HeaderErrorStage, stage)
		add(HeaderErrorClass, class)
		root := err
		for u := errors.Unwrap(root); u != nil; u = errors.Unwrap(root) {
			root = u
		}
		add(HeaderErrorExceptionClass, fmt.Sprintf("%T", root))
		add(HeaderErrorExceptionMessage, err.Error())
		add(HeaderErrorStacktrace, errorChain(err))
		var re *connect.RecordError
		if errors.As(err, &re) {
			for _, h := range re.Headers {
				r.Headers = append(r.Headers, kgo.RecordHeader{Key: h.Key, Value: headerText(h.Value)})
			}
		}
	}
	return r
}

// headerText renders a connect.RecordError header's value as
// connect.RecordError documents: strings and bytes as is, nil as nil,
// anything else as fmt.Sprint does.
func headerText(v any) []byte {
	switch x := v.(type) {
	case nil:
		return nil
	case string:
		return []byte(x)
	case []byte:
		return x
	}
	return []byte(fmt.Sprint(v))
}

// errorChain renders an error and its wrapped causes, one per line: Go's
// counterpart of a Java stack trace's "Caused by" lines.
func errorChain(err error) string {
	var b strings.Builder
	for i := 0; err != nil; i++ {
		if i > 0 {
			b.WriteString("\nCaused by: ")
		}
		fmt.Fprintf(&b, "%T: %s", err, err.Error())
		err = errors.Unwrap(err)
	}
	return b.String()
}

// renderSourceRecord is a JSON rendering of a source record that could not
// be serialized, for the dead letter queue.
func renderSourceRecord(r *connect.Record) ([]byte, []byte) {
	render := func(v any) []byte {
		if v == nil {
			return nil
		}
		if b, err := json.Marshal(jsonable(v)); err == nil {
			return b
		}
		return []byte(fmt.Sprint(v))
	}
	return render(r.Key), render(r.Value)
}

// jsonable turns Connect values (structs, decimals, maps with any keys)
// into values encoding/json can render.
func jsonable(v any) any {
	switch x := v.(type) {
	case *connect.Struct:
		m := map[string]any{}
		if s := x.Schema(); s != nil {
			for i, f := range s.Fields {
				m[f.Name] = jsonable(x.GetAt(i))
			}
		}
		return m
	case connect.Decimal:
		return x.String()
	case map[any]any:
		m := map[string]any{}
		for k, e := range x {
			m[fmt.Sprint(k)] = jsonable(e)
		}
		return m
	case map[string]any:
		m := map[string]any{}
		for k, e := range x {
			m[k] = jsonable(e)
		}
		return m
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = jsonable(e)
		}
		return out
	}
	return v
}
