package debezium

import (
	"context"
	"sync"
	"time"

	"github.com/penstockhq/penstock/connect"
)

// Queue hands records from a CDC task's reading goroutine to Poll. It holds at most
// max records and, past its first record, at most maxBytes (estimated by
// RecordSize): a full queue pauses the reader, which is how a slow worker
// slows reading the database instead of filling memory, whether its rows are
// narrow or wide.
type Queue struct {
	mu       sync.Mutex
	recs     []*connect.Record
	sizes    []int // RecordSize of each of recs
	bytes    int   // sum of sizes
	max      int
	maxBytes int   // 0: no byte bound
	err      error // the reader's failure, returned once the records are drained
	notEmpty chan struct{}
	notFull  chan struct{}
}

// NewQueue returns a queue holding at most max records and, past its first
// record, at most maxBytes (0: no byte bound).
func NewQueue(max, maxBytes int) *Queue {
	return &Queue{max: max, maxBytes: maxBytes, notEmpty: make(chan struct{}, 1), notFull: make(chan struct{}, 1)}
}

// RecordSize estimates the memory a record holds, calibrated on heap
// profiles of snapshots and streaming: the record, its offset map, and per
// value its interface slot and boxed copy, plus the bytes of strings and
// byte slices. Values shared between records (a snapshot's source block,
// its offset) count in each, so the estimate errs high.
func RecordSize(r *connect.Record) int {
	return 256 + valueSize(r.Key) + valueSize(r.Value) + valueSize(r.SourceOffset)
}

func valueSize(v any) int {
	switch x := v.(type) {
	case nil:
		return 0
	case *connect.Struct:
		n := 64
		for i := range x.Schema().Fields {
			n += 16 + valueSize(x.GetAt(i))
		}
		return n
	case string:
		return 16 + len(x)
	case []byte:
		return 24 + len(x)
	case []any:
		n := 24
		for _, e := range x {
			n += 16 + valueSize(e)
		}
		return n
	case map[string]any: // offsets: a few scalar entries, not walked
		if x == nil {
			return 0
		}
		return 128 + 64*len(x)
	case connect.Decimal:
		return 64
	default:
		return 16
	}
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
	return q.PushSized(ctx, recs, nil, interval, idle)
}

// PushSized is Push with the size estimates of recs that their reader
// already knows (sizes[i] for recs[i]; 0 or a missing entry: estimated here
// by walking the record). A reader of many records of one shape can
// estimate the first with RecordSize and the others from it, which costs
// far less than walking each.
func (q *Queue) PushSized(ctx context.Context, recs []*connect.Record, known []int, interval time.Duration, idle func() error) error {
	var sizes []int
	if q.maxBytes > 0 {
		sizes = make([]int, len(recs))
		for i, r := range recs {
			if i < len(known) && known[i] > 0 {
				sizes[i] = known[i]
			} else {
				sizes[i] = RecordSize(r)
			}
		}
	}
	for len(recs) > 0 {
		q.mu.Lock()
		n := 0
		for n < len(recs) && len(q.recs) < q.max && (sizes == nil || len(q.recs) == 0 || q.bytes+sizes[n] <= q.maxBytes) {
			q.recs = append(q.recs, recs[n])
			if sizes != nil {
				q.sizes = append(q.sizes, sizes[n])
				q.bytes += sizes[n]
			}
			n++
		}
		if n > 0 {
			recs = recs[n:]
			if sizes != nil {
				sizes = sizes[n:]
			}
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

// Size returns the records queued and their estimated bytes (0 without a
// byte bound).
func (q *Queue) Size() (records, bytes int) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.recs), q.bytes
}

// Fail records the reader's error for Take to return.
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
			if q.maxBytes > 0 {
				for _, n := range q.sizes[:k] {
					q.bytes -= n
				}
				q.sizes = q.sizes[:copy(q.sizes, q.sizes[k:])]
			}
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
