package elasticsearch

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sort"
	"sync"
	"time"

	es "github.com/elastic/go-elasticsearch/v8"
	"github.com/elastic/go-elasticsearch/v8/esutil"

	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connect/converters"
)

// malformedTypes are the Elasticsearch error types that mean "this document
// cannot be indexed as it is", handled by behavior.on.malformed.documents.
var malformedTypes = map[string]bool{
	"mapper_parsing_exception":            true,
	"mapper_parse_exception":              true,
	"document_parsing_exception":          true,
	"strict_dynamic_mapping_exception":    true,
	"illegal_argument_exception":          true,
	"action_request_validation_exception": true,
}

// writer sends ops through the bulk indexer and keeps account of what
// Elasticsearch acknowledged.
//
// At most one op per document is in flight at a time: an op for a document
// that already has one in flight is held, and further ops for it collapse
// into the held one, which is sent when the in-flight op completes. So two
// operations on one document never share a bulk request (which ZincSearch
// mishandles and which would otherwise race across the indexer's parallel
// workers), and operations on one document reach Elasticsearch in record
// order whatever the number of requests in flight.
//
// Each record is accounted in the tracker of its partition. When the task
// loses a partition its tracker is marked revoked and forgotten: records
// of it are dropped from every op before the op is sent (an op left with
// none is dropped whole), so once the requests already in flight end,
// nothing of the partition reaches Elasticsearch and nothing of it is
// committed or reported; its new owner redelivers it.
type writer struct {
	s      *settings
	log    *slog.Logger
	bi     esutil.BulkIndexer
	client *es.Client // reads stored documents for partial writes

	ctx    context.Context // cancelled by close: stops resubmission
	cancel context.CancelFunc

	mu       sync.Mutex
	docs     map[string]*op // document key -> the op held behind the one in flight (nil: none held)
	parts    map[connect.TopicPartition]*tracker
	buffered int // records tracked and not yet done
	failed   []failure
	fatal    error
	queue    []*op // ops ready to be (re)sent by the resubmitter
	closed   bool

	changed chan struct{} // signalled when records complete or fail
	wake    chan struct{} // signalled when queue gains ops
	done    chan struct{} // closed when the resubmitter exits
}

// failure is an op Elasticsearch refused for good, waiting for the task's
// goroutine to route its records.
type failure struct {
	op        *op
	err       error
	malformed bool
}

func newWriter(s *settings, bi esutil.BulkIndexer, client *es.Client, log *slog.Logger) *writer {
	ctx, cancel := context.WithCancel(context.Background())
	w := &writer{s: s, log: log, bi: bi, client: client, ctx: ctx, cancel: cancel,
		docs: map[string]*op{}, parts: map[connect.TopicPartition]*tracker{},
		changed: make(chan struct{}, 1), wake: make(chan struct{}, 1), done: make(chan struct{})}
	go w.resubmitter()
	return w
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// submit tracks the op's record and sends the op, or holds it behind the op
// in flight for the same document.
func (w *writer) submit(o *op) error {
	w.mu.Lock()
	if w.fatal != nil || w.closed {
		err := w.fatal
		w.mu.Unlock()
		if err == nil {
			err = fmt.Errorf("%s: the task is stopped", o.describe())
		}
		return err
	}
	for _, r := range o.recs {
		o.trks = append(o.trks, w.trackLocked(r))
	}
	k := o.key()
	if held, inFlight := w.docs[k]; inFlight {
		if held == nil {
			w.docs[k] = o
		} else {
			w.docs[k] = collapse(held, o)
		}
		w.mu.Unlock()
		return nil
	}
	w.docs[k] = nil
	if o.partial {
		w.queueLocked(o) // the resubmitter reads the stored document first
		w.mu.Unlock()
		return nil
	}
	w.mu.Unlock()
	return w.send(o)
}

// send hands the op to the bulk indexer.
func (w *writer) send(o *op) error {
	item := esutil.BulkIndexerItem{
		Index:      o.index,
		Action:     o.act.String(),
		DocumentID: o.id,
		OnSuccess: func(_ context.Context, _ esutil.BulkIndexerItem, _ esutil.BulkIndexerResponseItem) {
			w.complete(o)
		},
		OnFailure: func(_ context.Context, _ esutil.BulkIndexerItem, res esutil.BulkIndexerResponseItem, err error) {
			w.onFailure(o, res, err)
		},
	}
	if o.versioned {
		v := o.version
		item.Version, item.VersionType = &v, "external"
	}
	if b := o.body(); b != nil {
		item.Body = bytes.NewReader(b)
	}
	if err := w.bi.Add(w.ctx, item); err != nil {
		return fmt.Errorf("%s: queue %s: %w", o.describe(), o.act, err)
	}
	return nil
}

// liveLocked drops from o the records of revoked partitions. It returns
// nil, after releasing o's document, when none is left.
func (w *writer) liveLocked(o *op) *op {
	n := 0
	for _, t := range o.trks {
		if !t.revoked {
			n++
		}
	}
	if n == len(o.recs) {
		return o
	}
	if n == 0 {
		w.releaseLocked(o)
		return nil
	}
	recs, trks := make([]*connect.Record, 0, n), make([]*tracker, 0, n)
	for i, t := range o.trks {
		if !t.revoked {
			recs, trks = append(recs, o.recs[i]), append(trks, t)
		}
	}
	o.recs, o.trks = recs, trks
	return o
}

// complete marks the op's records done and releases its document.
func (w *writer) complete(o *op) {
	w.mu.Lock()
	w.doneLocked(o)
	w.releaseLocked(o)
	w.mu.Unlock()
	signal(w.changed)
}

// releaseLocked ends the op's turn on its document: the held op, if any,
// is queued to be sent.
func (w *writer) releaseLocked(o *op) {
	k := o.key()
	held, ok := w.docs[k]
	if !ok {
		return
	}
	if held == nil {
		delete(w.docs, k)
		return
	}
	w.docs[k] = nil
	w.queueLocked(held)
}

func (w *writer) queueLocked(o *op) {
	if w.closed {
		return
	}
	if o = w.liveLocked(o); o == nil {
		return
	}
	w.queue = append(w.queue, o)
	signal(w.wake)
}

// onFailure classifies a failed op: a version conflict on an externally
// versioned write is success (every write of a keyed document carries its
// record's offset as version, so the stored document provably reflects this
// record or a later one), 429 and 5xx are retried with backoff, a failed
// request is fatal, and any other refusal is routed by the task.
func (w *writer) onFailure(o *op, res esutil.BulkIndexerResponseItem, err error) {
	if err != nil {
		// The whole request failed after the client's own retries (no
		// connection, or 429/5xx every time): not the record's fault, so
		// not for the dead letter queue. Fail the task.
		w.setFatal(fmt.Errorf("%s: bulk request failed: %w", o.describe(), err))
		return
	}
	switch {
	case res.Status == 409 && o.versioned:
		// version_conflict_engine_exception with version_type=external
		// means the stored document's version (the Kafka offset of the
		// record that wrote it) is equal to or higher than ours: this
		// record, or a later one for the same key, was already written.
		// Writing ours would make the document go back in time, so the
		// refusal is exactly the outcome we want: count it as done.
		w.log.Debug("elasticsearch: newer or equal version already indexed", "record", o.describe(), "reason", res.Error.Reason)
		w.complete(o)
		return
	case res.Status == 404 && o.act == actDelete:
		// Deleting a document that is not there: the wanted state.
		w.complete(o)
		return
	case res.Status == 429 || res.Status >= 500:
		w.mu.Lock()
		o.attempt++
		if o.attempt > w.s.maxRetries {
			w.mu.Unlock()
			w.setFatal(fmt.Errorf("%s: %s refused %d times, last with status %d %s: %s",
				o.describe(), o.act, o.attempt, res.Status, res.Error.Type, res.Error.Reason))
			return
		}
		w.mu.Unlock()
		wait := backoff(w.s.retryBackoff, o.attempt)
		w.log.Info("elasticsearch: retrying document", "record", o.describe(), "status", res.Status,
			"type", res.Error.Type, "attempt", o.attempt, "backoff", wait)
		time.AfterFunc(wait, func() {
			w.mu.Lock()
			w.queueLocked(o)
			w.mu.Unlock()
		})
		return
	}
	reason := fmt.Errorf("%s: Elasticsearch refused the %s with status %d: %s: %s",
		o.describe(), o.act, res.Status, res.Error.Type, res.Error.Reason)
	if res.Error.Cause.Type != "" {
		reason = fmt.Errorf("%w (caused by %s: %s)", reason, res.Error.Cause.Type, res.Error.Cause.Reason)
	}
	w.mu.Lock()
	w.releaseLocked(o)
	w.failed = append(w.failed, failure{op: o, err: reason, malformed: malformedTypes[res.Error.Type]})
	w.mu.Unlock()
	signal(w.changed)
}

func (w *writer) setFatal(err error) {
	w.mu.Lock()
	if w.fatal == nil {
		w.fatal = err
	}
	w.mu.Unlock()
	signal(w.changed)
}

// resubmitter sends held, retried and partial ops, reading the stored
// documents of partial ones first. It runs on its own goroutine because
// held and retried ops become ready inside the bulk indexer's callbacks,
// where adding to the indexer could wait on the very worker that is calling
// back.
func (w *writer) resubmitter() {
	defer close(w.done)
	for {
		select {
		case <-w.ctx.Done():
			return
		case <-w.wake:
		}
		w.mu.Lock()
		q := w.queue
		w.queue = nil
		live := q[:0]
		for _, o := range q { // the partitions of queued ops may have been revoked since
			if o = w.liveLocked(o); o != nil {
				live = append(live, o)
			}
		}
		w.mu.Unlock()
		q, err := w.resolve(live)
		if err != nil {
			if w.ctx.Err() == nil {
				w.setFatal(err)
			}
			return
		}
		for _, o := range q {
			// The last look before sending: the partition may have been
			// revoked while the stored documents were read.
			w.mu.Lock()
			o = w.liveLocked(o)
			w.mu.Unlock()
			if o == nil {
				continue
			}
			if err := w.send(o); err != nil {
				if w.ctx.Err() == nil {
					w.setFatal(err)
				}
				return
			}
		}
	}
}

// resolve turns the partial ops of q into full ones: it reads their stored
// documents with _mget (in real time, as Elasticsearch's gets are) and
// merges the op's fields into each, or completes the op without a write
// when the stored _version shows this record or a later one is there. It
// returns the ops to send.
func (w *writer) resolve(q []*op) ([]*op, error) {
	var partial []*op
	ready := q[:0:0]
	for _, o := range q {
		if o.partial {
			partial = append(partial, o)
		} else {
			ready = append(ready, o)
		}
	}
	for len(partial) > 0 {
		chunk := partial[:min(len(partial), w.s.batchSize)]
		partial = partial[len(chunk):]
		docs, err := w.mget(chunk)
		if err != nil {
			return nil, err
		}
		for i, o := range chunk {
			d := docs[i]
			switch {
			case d.Error != nil && d.Error.Type != "index_not_found_exception":
				return nil, fmt.Errorf("%s: reading the stored document to merge into: %s: %s", o.describe(), d.Error.Type, d.Error.Reason)
			case d.Found && d.Version >= o.version:
				w.log.Debug("elasticsearch: newer or equal version already indexed", "record", o.describe(), "version", d.Version)
				w.complete(o)
				continue
			case d.Found:
				stored, err := sourceFields(d.Source)
				if err != nil {
					return nil, fmt.Errorf("%s: the stored document: %w", o.describe(), err)
				}
				o.fields = mergeFields(stored, o.fields)
			}
			o.partial = false
			ready = append(ready, o)
		}
	}
	return ready, nil
}

// storedDoc is one document of an _mget answer.
type storedDoc struct {
	Found   bool            `json:"found"`
	Version int64           `json:"_version"`
	Source  json.RawMessage `json:"_source"`
	Error   *struct {
		Type   string `json:"type"`
		Reason string `json:"reason"`
	} `json:"error"`
}

// mget reads the stored documents of ops, in order.
func (w *writer) mget(ops []*op) ([]storedDoc, error) {
	b := []byte(`{"docs":[`)
	for i, o := range ops {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"_index":`...)
		b = converters.AppendJSONString(b, o.index)
		b = append(b, `,"_id":`...)
		b = converters.AppendJSONString(b, o.id)
		b = append(b, '}')
	}
	b = append(b, "]}"...)
	res, err := w.client.Mget(bytes.NewReader(b), w.client.Mget.WithContext(w.ctx))
	if err != nil {
		return nil, fmt.Errorf("reading %d stored documents to merge partial writes into: %w", len(ops), err)
	}
	defer res.Body.Close()
	if res.IsError() {
		msg, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
		return nil, fmt.Errorf("reading %d stored documents to merge partial writes into: %s: %s", len(ops), res.Status(), msg)
	}
	var out struct {
		Docs []storedDoc `json:"docs"`
	}
	if err := json.NewDecoder(res.Body).Decode(&out); err != nil {
		return nil, fmt.Errorf("reading %d stored documents to merge partial writes into: decoding the answer: %w", len(ops), err)
	}
	if len(out.Docs) != len(ops) {
		return nil, fmt.Errorf("reading %d stored documents to merge partial writes into: %d in the answer", len(ops), len(out.Docs))
	}
	return out.Docs, nil
}

// sourceFields splits a stored _source into its top-level fields, in order.
func sourceFields(src json.RawMessage) ([]field, error) {
	dec := json.NewDecoder(bytes.NewReader(src))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("_source is not a JSON object: %.100s", src)
	}
	var out []field
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, fmt.Errorf("_source: %w", err)
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, fmt.Errorf("_source field %q: %w", tok, err)
		}
		out = append(out, field{name: tok.(string), raw: raw})
	}
	return out, nil
}

// drain routes the records of failed ops, on the task's goroutine: with
// behavior.on.malformed.documents IGNORE or WARN malformed documents are
// skipped, everything else goes to report (the dead letter queue, or an
// error that fails the task). It returns the writer's fatal error, if any.
func (w *writer) drain(ctx context.Context, report func(context.Context, *connect.Record, error) error) error {
	w.mu.Lock()
	failed := w.failed
	w.failed = nil
	fatal := w.fatal
	w.mu.Unlock()
	if fatal != nil {
		return fatal
	}
	for i, f := range failed {
		var err error
		switch {
		case f.malformed && w.s.malformed == BehaviorIgnore:
			w.log.Debug("elasticsearch: ignoring malformed document", "error", f.err)
		case f.malformed && w.s.malformed == BehaviorWarn:
			w.log.Warn("elasticsearch: skipping malformed document", "error", f.err)
		default:
			for _, r := range w.liveRecords(f.op) {
				if err = report(ctx, r, f.err); err != nil {
					break
				}
			}
		}
		if err != nil {
			w.mu.Lock()
			w.failed = append(failed[i:], w.failed...)
			w.mu.Unlock()
			return err
		}
		w.mu.Lock()
		w.doneLocked(f.op)
		w.mu.Unlock()
	}
	return nil
}

// liveRecords returns the op's records of partitions the task still has.
func (w *writer) liveRecords(o *op) []*connect.Record {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []*connect.Record
	for i, r := range o.recs {
		if !o.trks[i].revoked {
			out = append(out, r)
		}
	}
	return out
}

// waitBelow waits until fewer than limit records are outstanding, routing
// failures meanwhile. limit 1 waits for every record to be done.
func (w *writer) waitBelow(ctx context.Context, limit int, report func(context.Context, *connect.Record, error) error) error {
	for {
		if err := w.drain(ctx, report); err != nil {
			return err
		}
		w.mu.Lock()
		n := w.buffered
		w.mu.Unlock()
		if n < limit {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for Elasticsearch to acknowledge %d records: %w", n, ctx.Err())
		case <-w.changed:
		}
	}
}

// safeOffsets returns, per partition, the offset up to which every record is
// done: the first outstanding record's offset, or the given offset when none
// is outstanding.
func (w *writer) safeOffsets(given map[connect.TopicPartition]int64) map[connect.TopicPartition]int64 {
	out := make(map[connect.TopicPartition]int64, len(given))
	w.mu.Lock()
	defer w.mu.Unlock()
	for tp, off := range given {
		if t, ok := w.parts[tp]; ok {
			if first, ok := t.firstOutstanding(); ok && first < off {
				off = first
			}
		}
		out[tp] = off
	}
	return out
}

// forget drops the accounting of partitions taken away from the task and
// marks their trackers revoked, so that none of their records is sent,
// committed or reported any more (see writer).
func (w *writer) forget(tps []connect.TopicPartition) {
	w.mu.Lock()
	for _, tp := range tps {
		if t, ok := w.parts[tp]; ok {
			t.revoked = true
			w.buffered -= t.pending
			delete(w.parts, tp)
		}
	}
	w.mu.Unlock()
	signal(w.changed)
}

// close stops the writer: it stops retries and the sending of held ops,
// then waits up to ctx for the indexer to send what it holds. Records not
// acknowledged by then stay uncommitted, to be delivered again.
func (w *writer) close(ctx context.Context) error {
	w.mu.Lock()
	w.closed = true
	w.queue = nil
	w.mu.Unlock()
	w.cancel()
	<-w.done // the resubmitter no longer adds to the indexer
	if err := w.bi.Close(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return fmt.Errorf("closing the bulk indexer: %w", err)
	}
	return nil
}

func (w *writer) trackLocked(r *connect.Record) *tracker {
	tp := connect.TopicPartition{Topic: r.Topic, Partition: r.Partition}
	t, ok := w.parts[tp]
	if !ok {
		t = &tracker{}
		w.parts[tp] = t
	}
	t.add(r.Offset)
	w.buffered++
	return t
}

// doneLocked marks the op's records done in their trackers; those of
// revoked partitions no longer count.
func (w *writer) doneLocked(o *op) {
	for i, r := range o.recs {
		if t := o.trks[i]; !t.revoked && t.done(r.Offset) {
			w.buffered--
		}
	}
}

// tracker keeps one partition's outstanding record offsets in order.
type tracker struct {
	revoked bool // the partition was taken from the task
	offs    []int64
	counts  []int32 // outstanding ops per offset (a redelivered record may be tracked twice)
	head    int
	pending int
}

func (t *tracker) add(off int64) {
	t.pending++
	n := len(t.offs)
	if n == t.head || t.offs[n-1] < off {
		t.offs = append(t.offs, off)
		t.counts = append(t.counts, 1)
		return
	}
	// A record at or before the last one (a rewind): insert in order.
	i := t.head + sort.Search(n-t.head, func(i int) bool { return t.offs[t.head+i] >= off })
	if t.offs[i] == off {
		t.counts[i]++
		return
	}
	t.offs = append(t.offs, 0)
	t.counts = append(t.counts, 0)
	copy(t.offs[i+1:], t.offs[i:])
	copy(t.counts[i+1:], t.counts[i:])
	t.offs[i], t.counts[i] = off, 1
}

// done marks one op on off finished; false when off was not outstanding.
func (t *tracker) done(off int64) bool {
	n := len(t.offs)
	i := t.head + sort.Search(n-t.head, func(i int) bool { return t.offs[t.head+i] >= off })
	if i >= n || t.offs[i] != off || t.counts[i] == 0 {
		return false
	}
	t.counts[i]--
	t.pending--
	for t.head < len(t.offs) && t.counts[t.head] == 0 {
		t.head++
	}
	if t.head == len(t.offs) {
		t.offs, t.counts, t.head = t.offs[:0], t.counts[:0], 0
	} else if t.head > 4096 && t.head > len(t.offs)/2 {
		t.offs = append(t.offs[:0], t.offs[t.head:]...)
		t.counts = append(t.counts[:0], t.counts[t.head:]...)
		t.head = 0
	}
	return true
}

func (t *tracker) firstOutstanding() (int64, bool) {
	if t.head < len(t.offs) {
		return t.offs[t.head], true
	}
	return 0, false
}
