package sink

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connectors/http/httpclient"
)

// lanes sends the records of each partition through a lane of its own: one
// goroutine that gathers the partition's waiting records into a batch, sends
// it (retrying as the client does), and only then takes the next, so a
// partition's records reach the API in order. Lanes share a semaphore of
// max.in.flight.requests.
//
// Put hands a lane its records of the partition at once (as many as
// max.buffered.records leaves room for), under one lock and with one
// wake-up, rather than one channel send per record: at the rates of a
// batched sink, per-record channel operations cost as much as the rest of
// the sink's work.
type lanes struct {
	s      *settings
	client *httpclient.Client
	log    *slog.Logger
	rep    *reporter // nil: no reports
	sem    chan struct{}

	mu      sync.Mutex
	byTP    map[connect.TopicPartition]*lane
	fatal   error
	dead    chan struct{} // closed when fatal is set: wakes a Put waiting for room
	changed chan struct{} // signalled when records complete, fail, or a lane dies
	wg      sync.WaitGroup
}

// lane is one partition's queue and accounting. Its items are values, in
// two buffers that trade places: Put makes items at the end of waiting (see
// reserve); the lane's goroutine moves them to pending (swapping the buffers
// when pending is used up) and takes its batches as slices of pending, so a
// lane in steady state allocates no items (only each request's body, see
// send).
type lane struct {
	ctx    context.Context
	cancel context.CancelFunc
	wake   chan struct{} // signalled when waiting gains items
	room   chan struct{} // signalled when the lane takes items into a batch

	// Guarded by lanes.mu.
	waiting []item // put and not yet moved to pending, in offset order
	untaken int    // items put and not yet in a batch: waiting and pending[pos:]
	queued  int    // records put and not yet done or failed
	next    int64  // offset of the first record not done, when queued > 0
	failed  []failure

	// The lane's goroutine's own: pending[bs:pos] is the batch being
	// gathered, pending[pos:] what comes after it.
	pending []item
	bs, pos int
	size    int         // the body size of pending[bs:pos]
	idle    *time.Timer // see idleRelease
	holds   bool        // idle with buffers to let go (set by take)
}

// failure is a record waiting to be routed by the task's goroutine.
type failure struct {
	rec *connect.Record
	err error
}

func newLanes(s *settings, client *httpclient.Client, rep *reporter, log *slog.Logger) *lanes {
	return &lanes{s: s, client: client, rep: rep, log: log, sem: make(chan struct{}, s.inFlight),
		byTP: map[connect.TopicPartition]*lane{}, dead: make(chan struct{}), changed: make(chan struct{}, 1)}
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// reserve waits while the lane of rec's partition holds
// max.buffered.records, then lends the caller the lane's waiting buffer and
// returns k, at most n, the records it has room for: the caller makes k or
// fewer items of the partition in place at its end, in offset order, and
// gives it back with give (a run longer than the room is so queued in
// parts, each waiting for room). Items are so written once, where the lane
// reads them. While the buffer is lent, the lane sees nothing waiting; only
// the task's goroutine (Put) lends it.
func (ls *lanes) reserve(ctx context.Context, rec *connect.Record, n int) (*lane, []item, int, error) {
	tp := connect.TopicPartition{Topic: rec.Topic, Partition: rec.Partition}
	ls.mu.Lock()
	for {
		if ls.fatal != nil {
			err := ls.fatal
			ls.mu.Unlock()
			return nil, nil, 0, err
		}
		l, ok := ls.byTP[tp]
		if !ok {
			l = &lane{wake: make(chan struct{}, 1), room: make(chan struct{}, 1)}
			l.ctx, l.cancel = context.WithCancel(context.Background())
			ls.byTP[tp] = l
			ls.wg.Add(1)
			go ls.run(l)
		}
		if room := ls.s.buffered - l.untaken; room > 0 {
			buf := l.waiting
			l.waiting = nil
			ls.mu.Unlock()
			return l, buf, min(n, room), nil
		}
		ls.mu.Unlock()
		select {
		case <-l.room:
		case <-ls.dead:
		case <-ctx.Done():
			return nil, nil, 0, ctx.Err()
		case <-l.ctx.Done():
			return nil, nil, 0, fmt.Errorf("%s: the partition was closed", describe(rec))
		}
		ls.mu.Lock()
	}
}

// give hands back the buffer reserve lent, with the items from index from
// on new, and wakes the lane.
func (ls *lanes) give(l *lane, buf []item, from int) {
	n := len(buf) - from
	ls.mu.Lock()
	if n > 0 {
		if l.queued == 0 {
			l.next = buf[from].rec.Offset
		}
		l.queued += n
		l.untaken += n
	}
	l.waiting = buf
	ls.mu.Unlock()
	if n > 0 {
		signal(l.wake)
	}
}

// run is a lane's goroutine.
func (ls *lanes) run(l *lane) {
	defer ls.wg.Done()
	for {
		batch, ok := ls.gather(l)
		if !ok {
			return
		}
		if batch[0].err != nil {
			ls.rep.report(batch, nil, batch[0].err)
			ls.fail(l, batch, batch[0].err)
			continue
		}
		if err := ls.send(l, batch); err != nil {
			if l.ctx.Err() != nil {
				return // closed: its records are redelivered to the partition's next owner
			}
			ls.mu.Lock()
			if ls.fatal == nil {
				ls.fatal = err
				close(ls.dead)
			}
			ls.mu.Unlock()
			signal(ls.changed)
			return
		}
	}
}

// gather takes the next batch: the first waiting item and those after it
// that can join it, up to batch.max.size and batch.max.bytes, waiting
// batch.linger.ms for more when that is set. The batch is a slice of the
// lane's pending buffer, valid until the next gather.
func (ls *lanes) gather(l *lane) ([]item, bool) {
	l.bs = l.pos
	for {
		complete := ls.take(l)
		if l.pos > l.bs {
			if complete || ls.s.linger <= 0 {
				return l.pending[l.bs:l.pos], true
			}
			break
		}
		// Idle: the buffers are let go after idleRelease without records.
		var release <-chan time.Time
		if l.holds {
			if l.idle == nil {
				l.idle = time.NewTimer(idleRelease)
			} else {
				l.idle.Reset(idleRelease)
			}
			release = l.idle.C
		}
		select {
		case <-l.wake:
		case <-release:
			ls.release(l)
		case <-l.ctx.Done():
			return nil, false
		}
		if release != nil {
			l.idle.Stop()
		}
	}
	t := time.NewTimer(ls.s.linger)
	defer t.Stop()
	for {
		select {
		case <-l.wake:
			if ls.take(l) {
				return l.pending[l.bs:l.pos], true
			}
		case <-t.C:
			return l.pending[l.bs:l.pos], true
		case <-l.ctx.Done():
			return nil, false
		}
	}
}

// growItems returns buf with room for n more items, and at most room for
// most (unless n needs more). It doubles the capacity where append grows a
// large slice by a quarter: each growth is a new array, zeroed, copied into
// and soon garbage, and a lane's two buffers grow to max.buffered.records
// whenever the API is slower than the topic. It starts from what is needed,
// with no floor: a sink of many partitions of few records each keeps a
// lane's buffers (about 200 bytes an item) small.
func growItems(buf []item, n, most int) []item {
	if cap(buf)-len(buf) >= n {
		return buf
	}
	grown := make([]item, len(buf), max(min(2*cap(buf), most), len(buf)+n))
	copy(grown, buf)
	return grown
}

// idleRelease is how long a lane keeps its buffers without records: a lane
// that goes idle between polls keeps them, one that stays idle lets them go.
const idleRelease = 2 * time.Second

// release lets the lane's buffers go if it is still idle.
func (ls *lanes) release(l *lane) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if len(l.waiting) == 0 && l.pos == len(l.pending) {
		l.waiting, l.pending, l.bs, l.pos = nil, nil, 0, 0
	}
}

// take moves waiting items to pending and those that join the batch
// pending[bs:pos] into it; it reports whether the batch is complete (full,
// or the next item cannot join it).
func (ls *lanes) take(l *lane) bool {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if len(l.waiting) > 0 && len(l.pending)-l.pos < ls.s.maxSize {
		if l.bs == len(l.pending) {
			// Nothing live in pending: the buffers trade places.
			clear(l.pending)
			l.pending, l.waiting = l.waiting, l.pending[:0]
			l.bs, l.pos = 0, 0
		} else {
			// Keep the batch and what follows it, then append.
			n := copy(l.pending, l.pending[l.bs:])
			clear(l.pending[n:])
			l.pending = append(growItems(l.pending[:n], len(l.waiting), ls.s.buffered+ls.s.maxSize), l.waiting...)
			l.pos -= l.bs
			l.bs = 0
			clear(l.waiting)
			l.waiting = l.waiting[:0]
		}
	}
	from := l.pos
	for l.pos < len(l.pending) {
		it := &l.pending[l.pos]
		if l.pos == l.bs {
			l.size = len(ls.s.prefix) + len(ls.s.suffix) + it.size()
			l.pos++
			if it.err != nil || it.alone {
				break
			}
			continue
		}
		if l.pos-l.bs >= ls.s.maxSize || !batchable(&l.pending[l.bs], it) || l.size+len(ls.s.separator)+it.size() > ls.s.maxBytes {
			break
		}
		l.size += len(ls.s.separator) + it.size()
		l.pos++
	}
	if n := l.pos - from; n > 0 {
		l.untaken -= n
		// A Put waiting for room is woken once half the buffer is free,
		// not for every batch: it then queues many records with one
		// wake-up of its goroutine and one of the lane's.
		if l.untaken <= ls.s.buffered/2 {
			signal(l.room)
		}
	}
	if l.pos == l.bs && len(l.waiting) == 0 {
		// Idle: hold no records (the buffers stay, see idleRelease).
		clear(l.pending)
		l.pending, l.bs, l.pos = l.pending[:0], 0, 0
		l.holds = cap(l.pending) > 0 || cap(l.waiting) > 0
		return false
	}
	first := &l.pending[l.bs]
	return first.err != nil || first.alone || l.pos-l.bs >= ls.s.maxSize || l.pos < len(l.pending)
}

// send makes the batch's request. A 2xx (or any status below 400 the
// client did not retry) completes the records; a refusal routes them as
// failures; an error (retries exhausted, authentication refused) is
// returned and fails the task.
func (ls *lanes) send(l *lane, batch []item) error {
	first := &batch[0]
	var body []byte
	if !first.alone {
		n := len(ls.s.prefix) + len(ls.s.suffix)
		for i := range batch {
			n += batch[i].size() + len(ls.s.separator)
		}
		body = make([]byte, 0, n)
		body = append(body, ls.s.prefix...)
		for i := range batch {
			if i > 0 {
				body = append(body, ls.s.separator...)
			}
			body = batch[i].appendBody(body)
		}
		body = append(body, ls.s.suffix...)
	}
	select {
	case ls.sem <- struct{}{}:
	case <-l.ctx.Done():
		return l.ctx.Err()
	}
	resp, err := ls.client.Do(l.ctx, httpclient.Request{Method: first.to.method, URL: first.to.url, Header: first.to.header, Body: body})
	<-ls.sem
	if err != nil {
		return fmt.Errorf("%s (and %d more of its batch): %w", describe(&first.rec), len(batch)-1, err)
	}
	if resp.Status >= 400 && !(first.to.method == "DELETE" && resp.Status == 404) {
		err := refused(fmt.Errorf("%s %s answered %d: %s", first.to.method, first.to.url, resp.Status, httpclient.Snippet(resp.Body)), resp)
		ls.rep.report(batch, resp, err)
		ls.fail(l, batch, err)
		return nil
	}
	ls.rep.report(batch, resp, nil)
	ls.mu.Lock()
	l.queued -= len(batch)
	l.next = batch[len(batch)-1].rec.Offset + 1
	ls.mu.Unlock()
	signal(ls.changed)
	return nil
}

// Headers of a refused record's dead letter queue copy, beyond Kafka
// Connect's __connect.errors.* (which hold the answer only inside the
// exception message): the API's status, and its body's first
// MaxDLQBodyBytes bytes.
const (
	HeaderStatus       = "penstock.http.status"
	HeaderResponseBody = "penstock.http.response.body"
	MaxDLQBodyBytes    = 8 << 10
)

// refused wraps err, an API's refusal, with the answer's status and body
// as dead letter queue headers.
func refused(err error, resp *httpclient.Response) error {
	body := resp.Body
	if len(body) > MaxDLQBodyBytes {
		body = body[:MaxDLQBodyBytes]
	}
	return &connect.RecordError{Err: err, Headers: connect.Headers{
		{Key: HeaderStatus, Value: strconv.Itoa(resp.Status)},
		{Key: HeaderResponseBody, Value: body},
	}}
}

// fail moves the batch's records to the lane's failures, for drain.
func (ls *lanes) fail(l *lane, batch []item, err error) {
	ls.mu.Lock()
	for i := range batch {
		it := &batch[i]
		e := err
		if it.err == nil {
			e = fmt.Errorf("%s: %w", describe(&it.rec), err)
		}
		rec := it.rec // the item's buffer is reused: the failure has its own
		l.failed = append(l.failed, failure{rec: &rec, err: e})
	}
	l.queued -= len(batch)
	l.next = batch[len(batch)-1].rec.Offset + 1
	ls.mu.Unlock()
	signal(ls.changed)
}

// drain routes failed records on the task's goroutine: report (the dead
// letter queue, or an error that fails the task) with behavior.on.error=fail,
// a log line with log, nothing with ignore. It returns the fatal error, if any.
func (ls *lanes) drain(ctx context.Context, report func(context.Context, *connect.Record, error) error) error {
	ls.mu.Lock()
	if ls.fatal != nil {
		err := ls.fatal
		ls.mu.Unlock()
		return err
	}
	var todo []*lane
	for _, l := range ls.byTP {
		if len(l.failed) > 0 {
			todo = append(todo, l)
		}
	}
	ls.mu.Unlock()
	for _, l := range todo {
		for {
			ls.mu.Lock()
			if len(l.failed) == 0 {
				ls.mu.Unlock()
				break
			}
			f := l.failed[0]
			ls.mu.Unlock()
			switch ls.s.onError {
			case BehaviorLog:
				ls.log.Warn("http sink: skipping a record (behavior.on.error=log)", "err", f.err)
			case BehaviorFail:
				if err := report(ctx, f.rec, f.err); err != nil {
					return err
				}
			}
			ls.mu.Lock()
			if len(l.failed) > 0 && l.failed[0].rec == f.rec {
				l.failed = l.failed[1:]
			}
			ls.mu.Unlock()
		}
	}
	return nil
}

// safe returns, per partition, the offset up to which every record was
// sent or routed.
func (ls *lanes) safe(given map[connect.TopicPartition]int64) map[connect.TopicPartition]int64 {
	out := make(map[connect.TopicPartition]int64, len(given))
	ls.mu.Lock()
	defer ls.mu.Unlock()
	for tp, off := range given {
		if l, ok := ls.byTP[tp]; ok {
			if l.queued > 0 {
				off = min(off, l.next)
			}
			if len(l.failed) > 0 {
				off = min(off, l.failed[0].rec.Offset)
			}
		}
		out[tp] = off
	}
	return out
}

// idle reports whether no record is waiting, in flight or unrouted.
func (ls *lanes) idle() bool {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	for _, l := range ls.byTP {
		if l.queued > 0 || len(l.failed) > 0 {
			return false
		}
	}
	return true
}

// close stops the lanes of the partitions (all when tps is nil): their
// waiting and in-flight records are dropped, to be delivered again to the
// partition's next owner, as their offsets were not committed.
func (ls *lanes) close(tps []connect.TopicPartition) {
	ls.mu.Lock()
	if tps == nil {
		for tp := range ls.byTP {
			tps = append(tps, tp)
		}
	}
	for _, tp := range tps {
		if l, ok := ls.byTP[tp]; ok {
			l.cancel()
			delete(ls.byTP, tp)
		}
	}
	ls.mu.Unlock()
	signal(ls.changed)
}

// stop stops every lane, waits for their goroutines, and flushes the
// reports.
func (ls *lanes) stop() {
	ls.close(nil)
	ls.wg.Wait()
	ls.rep.close()
}
