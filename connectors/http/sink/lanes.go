package sink

import (
	"context"
	"fmt"
	"log/slog"
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
type lanes struct {
	s      *settings
	client *httpclient.Client
	log    *slog.Logger
	rep    *reporter // nil: no reports
	sem    chan struct{}

	mu      sync.Mutex
	byTP    map[connect.TopicPartition]*lane
	fatal   error
	changed chan struct{} // signalled when records complete, fail, or a lane dies
	wg      sync.WaitGroup
}

// lane is one partition's queue and accounting.
type lane struct {
	in     chan *item
	ctx    context.Context
	cancel context.CancelFunc
	held   *item // taken from in but not batchable with the last batch

	// Guarded by lanes.mu.
	queued int   // records put and not yet done or failed
	next   int64 // offset of the first record not done, when queued > 0
	failed []failure
}

// failure is a record waiting to be routed by the task's goroutine.
type failure struct {
	rec *connect.Record
	err error
}

func newLanes(s *settings, client *httpclient.Client, rep *reporter, log *slog.Logger) *lanes {
	return &lanes{s: s, client: client, rep: rep, log: log, sem: make(chan struct{}, s.inFlight),
		byTP: map[connect.TopicPartition]*lane{}, changed: make(chan struct{}, 1)}
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// add queues an item on its partition's lane, waiting while the lane holds
// max.buffered.records.
func (ls *lanes) add(ctx context.Context, it *item) error {
	tp := connect.TopicPartition{Topic: it.rec.Topic, Partition: it.rec.Partition}
	ls.mu.Lock()
	if ls.fatal != nil {
		err := ls.fatal
		ls.mu.Unlock()
		return err
	}
	l, ok := ls.byTP[tp]
	if !ok {
		l = &lane{in: make(chan *item, ls.s.buffered)}
		l.ctx, l.cancel = context.WithCancel(context.Background())
		ls.byTP[tp] = l
		ls.wg.Add(1)
		go ls.run(l)
	}
	if l.queued == 0 {
		l.next = it.rec.Offset
	}
	l.queued++
	ls.mu.Unlock()
	select {
	case l.in <- it:
		return nil
	case <-ctx.Done():
	case <-l.ctx.Done():
	}
	ls.mu.Lock()
	l.queued--
	ls.mu.Unlock()
	if ctx.Err() != nil {
		return ctx.Err()
	}
	return fmt.Errorf("%s: the partition was closed", describe(it.rec))
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
			}
			ls.mu.Unlock()
			signal(ls.changed)
			return
		}
	}
}

// gather takes the next batch: the first waiting item and those that can
// join it, up to batch.max.size and batch.max.bytes, waiting batch.linger.ms
// for more when that is set.
func (ls *lanes) gather(l *lane) ([]*item, bool) {
	first := l.held
	l.held = nil
	if first == nil {
		select {
		case first = <-l.in:
		case <-l.ctx.Done():
			return nil, false
		}
	}
	batch := []*item{first}
	if first.err != nil || first.alone {
		return batch, true
	}
	size := len(ls.s.prefix) + len(ls.s.suffix) + len(first.body)
	var linger <-chan time.Time
	if ls.s.linger > 0 {
		t := time.NewTimer(ls.s.linger)
		defer t.Stop()
		linger = t.C
	}
	for len(batch) < ls.s.maxSize {
		var it *item
		select {
		case it = <-l.in:
		default:
			if linger == nil {
				return batch, true
			}
			select {
			case it = <-l.in:
			case <-linger:
				return batch, true
			case <-l.ctx.Done():
				return nil, false
			}
		}
		if !batchable(first, it) || size+len(ls.s.separator)+len(it.body) > ls.s.maxBytes {
			l.held = it
			return batch, true
		}
		size += len(ls.s.separator) + len(it.body)
		batch = append(batch, it)
	}
	return batch, true
}

// send makes the batch's request. A 2xx (or any status below 400 the
// client did not retry) completes the records; a refusal routes them as
// failures; an error (retries exhausted, authentication refused) is
// returned and fails the task.
func (ls *lanes) send(l *lane, batch []*item) error {
	first := batch[0]
	var body []byte
	if !first.alone {
		n := len(ls.s.prefix) + len(ls.s.suffix)
		for _, it := range batch {
			n += len(it.body) + len(ls.s.separator)
		}
		body = make([]byte, 0, n)
		body = append(body, ls.s.prefix...)
		for i, it := range batch {
			if i > 0 {
				body = append(body, ls.s.separator...)
			}
			body = append(body, it.body...)
		}
		body = append(body, ls.s.suffix...)
	}
	select {
	case ls.sem <- struct{}{}:
	case <-l.ctx.Done():
		return l.ctx.Err()
	}
	resp, err := ls.client.Do(l.ctx, httpclient.Request{Method: first.method, URL: first.url, Header: first.header, Body: body})
	<-ls.sem
	if err != nil {
		return fmt.Errorf("%s (and %d more of its batch): %w", describe(first.rec), len(batch)-1, err)
	}
	if resp.Status >= 400 && !(first.method == "DELETE" && resp.Status == 404) {
		err := fmt.Errorf("%s %s answered %d: %s", first.method, first.url, resp.Status, httpclient.Snippet(resp.Body))
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

// fail moves the batch's records to the lane's failures, for drain.
func (ls *lanes) fail(l *lane, batch []*item, err error) {
	ls.mu.Lock()
	for _, it := range batch {
		e := err
		if it.err == nil {
			e = fmt.Errorf("%s: %w", describe(it.rec), err)
		}
		l.failed = append(l.failed, failure{rec: it.rec, err: e})
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
