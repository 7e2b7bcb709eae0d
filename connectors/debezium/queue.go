package debezium

import (
	"context"
	"sync"
	"time"

	"github.com/penstockhq/penstock/connect"
)

// Queue hands records from a CDC task's reading goroutine to Poll. It holds at most
// max records: a full queue pauses the reader, which is how a slow worker
// slows reading the WAL instead of filling memory.
type Queue struct {
	mu       sync.Mutex
	recs     []*connect.Record
	max      int
	err      error // the reader's failure, returned once the records are drained
	notEmpty chan struct{}
	notFull  chan struct{}
}

// NewQueue returns a queue holding at most max records.
func NewQueue(max int) *Queue {
	return &Queue{max: max, notEmpty: make(chan struct{}, 1), notFull: make(chan struct{}, 1)}
}

func signal(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}

// Push appends recs, waiting while the queue is full. While it waits it
// calls idle every interval (the reader uses it to keep its replication
// connection alive); an error from idle ends the wait.
func (q *Queue) Push(ctx context.Context, recs []*connect.Record, interval time.Duration, idle func() error) error {
	for len(recs) > 0 {
		q.mu.Lock()
		room := q.max - len(q.recs)
		if room > 0 {
			n := min(room, len(recs))
			q.recs = append(q.recs, recs[:n]...)
			recs = recs[n:]
			q.mu.Unlock()
			signal(q.notEmpty)
			continue
		}
		q.mu.Unlock()
		var timer <-chan time.Time
		if idle != nil {
			timer = time.After(interval)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-q.notFull:
		case <-timer:
			if err := idle(); err != nil {
				return err
			}
		}
	}
	return nil
}

// Fail records the reader's error for take to return.
func (q *Queue) Fail(err error) {
	q.mu.Lock()
	if q.err == nil {
		q.err = err
	}
	q.mu.Unlock()
	signal(q.notEmpty)
}

// Take returns up to n records, waiting at most wait for the first.
func (q *Queue) Take(ctx context.Context, n int, wait time.Duration) ([]*connect.Record, error) {
	var timer *time.Timer
	for {
		q.mu.Lock()
		if len(q.recs) > 0 {
			k := min(n, len(q.recs))
			out := make([]*connect.Record, k)
			copy(out, q.recs)
			rest := copy(q.recs, q.recs[k:])
			clear(q.recs[rest:])
			q.recs = q.recs[:rest]
			q.mu.Unlock()
			signal(q.notFull)
			return out, nil
		}
		err := q.err
		q.mu.Unlock()
		if err != nil {
			return nil, err
		}
		if timer == nil {
			timer = time.NewTimer(wait)
			defer timer.Stop()
		}
		select {
		case <-ctx.Done():
			return nil, nil
		case <-timer.C:
			return nil, nil
		case <-q.notEmpty:
		}
	}
}
