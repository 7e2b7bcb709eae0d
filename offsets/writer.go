package offsets

import (
	"context"
	"fmt"
	"reflect"
	"sync"
	"unsafe"

	"github.com/penstockhq/penstock/connect"
)

// TaskWriter stages and flushes one source task's offsets. The runtime
// submits every record when it hands it to the producer and acknowledges it
// when the broker did; a record's offset is staged only once it and every
// record submitted before it by the task are acknowledged, so a flushed
// offset never runs ahead of a record the broker may not have.
type TaskWriter struct {
	store     *Store
	connector string

	mu       sync.Mutex
	queue    []pending // queue[head:] in submission order; queue[head] is the oldest unacknowledged
	head     int
	base     Ticket                  // the ticket of queue[head]
	staged   map[string]*stagedEntry // by canonical partition
	inFlight int
	drained  chan struct{} // closed when inFlight drops to 0 (nil when none wait)

	flushMu sync.Mutex // one flush at a time

	// The entry of the last partition map seen: tasks usually reuse one map
	// per source partition, so this saves encoding it (and two map
	// operations) per record.
	lastPart  unsafe.Pointer
	lastEntry *stagedEntry
}

// stagedEntry is the latest safe offset of one source partition.
type stagedEntry struct {
	offset connect.SourceOffset
	dirty  bool // staged since the last flush
}

// Ticket identifies one submitted record until it is acknowledged.
type Ticket uint64

type pending struct {
	partition map[string]any
	offset    map[string]any
	acked     bool
}

// NewTaskWriter returns a writer staging offsets for a task of connector.
func (s *Store) NewTaskWriter(connector string) *TaskWriter {
	return &TaskWriter{store: s, connector: connector, staged: map[string]*stagedEntry{}}
}

// Submit records that a record with this source partition and offset was
// handed to the producer and returns its ticket for Ack. A record without a
// source partition or offset is tracked for ordering only. Partition maps
// must not change once submitted.
func (w *TaskWriter) Submit(partition, offset map[string]any) Ticket {
	w.mu.Lock()
	t := w.base + Ticket(len(w.queue)-w.head)
	w.queue = append(w.queue, pending{partition: partition, offset: offset})
	w.inFlight++
	w.mu.Unlock()
	return t
}

// Ack marks a submitted record acknowledged by the broker (or otherwise
// finished: dropped by a transform, routed to the dead letter queue) and
// stages every offset that is now safe. It is safe to call from producer
// callbacks; acknowledging a ticket twice is harmless.
func (w *TaskWriter) Ack(t Ticket) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if t < w.base {
		return
	}
	i := w.head + int(t-w.base)
	if i >= len(w.queue) || w.queue[i].acked {
		return
	}
	w.queue[i].acked = true
	w.inFlight--
	for w.head < len(w.queue) && w.queue[w.head].acked {
		e := &w.queue[w.head]
		if e.partition != nil && e.offset != nil {
			st := w.entryOf(e.partition)
			st.offset = connect.SourceOffset{Partition: e.partition, Offset: e.offset}
			st.dirty = true
		}
		*e = pending{}
		w.head++
		w.base++
	}
	switch {
	case w.head == len(w.queue):
		w.queue, w.head = w.queue[:0], 0
	case w.head > 4096 && w.head > len(w.queue)/2:
		n := copy(w.queue, w.queue[w.head:])
		clear(w.queue[n:])
		w.queue, w.head = w.queue[:n], 0
	}
	if w.inFlight == 0 && w.drained != nil {
		close(w.drained)
		w.drained = nil
	}
}

// entryOf returns the staged entry of partition, remembering the last
// map's. Called with w.mu held.
func (w *TaskWriter) entryOf(partition map[string]any) *stagedEntry {
	p := reflect.ValueOf(partition).UnsafePointer()
	if p == w.lastPart && p != nil {
		return w.lastEntry
	}
	k := canonical(partition)
	st := w.staged[k]
	if st == nil {
		st = &stagedEntry{}
		w.staged[k] = st
	}
	w.lastPart, w.lastEntry = p, st
	return st
}

// InFlight returns how many submitted records await acknowledgement.
func (w *TaskWriter) InFlight() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.inFlight
}

// WaitDrained waits until no submitted record awaits acknowledgement.
func (w *TaskWriter) WaitDrained(ctx context.Context) error {
	w.mu.Lock()
	if w.inFlight == 0 {
		w.mu.Unlock()
		return nil
	}
	if w.drained == nil {
		w.drained = make(chan struct{})
	}
	ch := w.drained
	w.mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("offsets: waiting for in-flight records of %s: %w", w.connector, ctx.Err())
	}
}

// Flush writes the latest staged offset of every source partition staged
// since the last flush, waits until the broker acknowledged them, then
// calls task.Commit when the task is a connect.SourceTaskCommitter. It
// returns the flushed offsets. On failure the offsets stay staged for the
// next flush.
func (w *TaskWriter) Flush(ctx context.Context, task any) ([]connect.SourceOffset, error) {
	w.flushMu.Lock()
	defer w.flushMu.Unlock()
	w.mu.Lock()
	var batch []connect.SourceOffset
	var entries []*stagedEntry
	for _, st := range w.staged {
		if st.dirty {
			batch, entries = append(batch, st.offset), append(entries, st)
			st.dirty = false
		}
	}
	w.mu.Unlock()
	if len(batch) == 0 {
		return nil, nil
	}
	if err := w.store.Write(ctx, w.connector, batch); err != nil {
		w.mu.Lock()
		for _, st := range entries {
			st.dirty = true // it may hold a newer offset by now; that is the one flushed next
		}
		w.mu.Unlock()
		return nil, err
	}
	if c, ok := task.(connect.SourceTaskCommitter); ok {
		if err := c.Commit(ctx, batch); err != nil {
			return batch, fmt.Errorf("offsets: commit hook of %s: %w", w.connector, err)
		}
	}
	return batch, nil
}
