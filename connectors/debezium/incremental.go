package debezium

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"strings"
	"time"

	"github.com/penstockhq/penstock/connect"
)

// Signal types of the signal table (signal.data.collection), as Debezium's:
// the request to snapshot tables, and the watermark rows a connector writes
// around each chunk of an incremental snapshot.
const (
	SignalExecuteSnapshot = "execute-snapshot"
	SignalWindowOpen      = "snapshot-window-open"
	SignalWindowClose     = "snapshot-window-close"
)

// Offset fields of a running incremental snapshot, named as Debezium's: the
// tables still to read, the current one first (a JSON array of names), the
// primary key of the last row emitted, and the greatest key of the current
// table when its reading began (JSON arrays of their values).
const (
	OffIncCollections = "incremental_snapshot_collections"
	OffIncPrimaryKey  = "incremental_snapshot_primary_key"
	OffIncMaximumKey  = "incremental_snapshot_maximum_key"
)

// ParseExecuteSnapshot reads the data of an execute-snapshot signal,
// {"data-collections": [...], "type": "incremental"}, and returns the tables
// to read. Only incremental snapshots run while streaming: another type is
// an error.
func ParseExecuteSnapshot(data string) ([]string, error) {
	var req struct {
		Collections []string `json:"data-collections"`
		Type        string   `json:"type"`
	}
	if err := json.Unmarshal([]byte(data), &req); err != nil {
		return nil, fmt.Errorf("invalid execute-snapshot data: %w", err)
	}
	if req.Type != "" && !strings.EqualFold(req.Type, "incremental") {
		return nil, fmt.Errorf("snapshot type %q: only incremental snapshots run while streaming", req.Type)
	}
	return req.Collections, nil
}

// IncrementalProgress is the progress of an incremental snapshot kept in
// offsets: the tables still to read, the current one first, the key of the
// last row emitted of the current one (nil: none yet), and the current
// one's greatest key when its reading began (nil: not read yet). Chunks
// stop at that key, as Debezium's do: rows inserted since come by streaming,
// so a table growing faster than it is read is still read to its end.
type IncrementalProgress struct {
	Tables []string
	Key    []any
	Max    []any
}

// IncrementalFrom reads the progress of a stored offset; nil when none. Key
// numbers are json.Number, keeping their digits.
func IncrementalFrom(off map[string]any) *IncrementalProgress {
	cs, _ := off[OffIncCollections].(string)
	if cs == "" {
		return nil
	}
	var p IncrementalProgress
	if err := json.Unmarshal([]byte(cs), &p.Tables); err != nil || len(p.Tables) == 0 {
		return nil
	}
	p.Key, p.Max = keyFrom(off[OffIncPrimaryKey]), keyFrom(off[OffIncMaximumKey])
	return &p
}

// keyFrom reads a key offset field: a JSON array, numbers as json.Number.
func keyFrom(v any) []any {
	ks, _ := v.(string)
	if ks == "" {
		return nil
	}
	var key []any
	d := json.NewDecoder(strings.NewReader(ks))
	d.UseNumber()
	if err := d.Decode(&key); err != nil {
		return nil
	}
	return key
}

// Fields returns the offset fields of the progress; nil when no table is
// left.
func (p IncrementalProgress) Fields() map[string]any {
	if len(p.Tables) == 0 {
		return nil
	}
	cs, _ := json.Marshal(p.Tables)
	off := make(map[string]any, 3)
	off[OffIncCollections] = string(cs)
	setKey(off, OffIncPrimaryKey, p.Key)
	setKey(off, OffIncMaximumKey, p.Max)
	return off
}

// setKey sets the key offset field name to key as a JSON array; none when
// key is nil.
func setKey(off map[string]any, name string, key []any) {
	if key != nil {
		ks, _ := json.Marshal(key)
		off[name] = string(ks)
	}
}

// ChunkRow is a row of the chunk being read: its key values (for the
// progress) and its read record.
type ChunkRow struct {
	Key []any
	Rec *connect.Record
}

// ChunkWindow is the buffer of one chunk of an incremental snapshot, by
// Debezium's watermark algorithm (DBLog): the chunk is read after the
// opening watermark is written and buffered; changes streamed between the
// opening and closing watermarks supersede the buffered rows of their keys,
// which are dropped; at the closing watermark the rest are emitted, in the
// order read. It holds one chunk, at most incremental.snapshot.chunk.size
// rows whatever the table's size: a bound in rows, not bytes, as Debezium's
// window has. It belongs to one goroutine.
type ChunkWindow struct {
	open    bool
	openID  string
	closeID string
	buf     map[string]ChunkRow
	order   []string
	seq     int
}

// Begin empties the buffer for a new chunk and returns the ids of its
// opening and closing watermarks; the window opens when the opening
// watermark is streamed.
func (w *ChunkWindow) Begin() (openID, closeID string) {
	w.seq++
	base := fmt.Sprintf("penstock-%d-%d-", time.Now().UnixNano(), w.seq)
	w.openID, w.closeID = base+"open", base+"close"
	w.buf, w.order, w.open = map[string]ChunkRow{}, nil, false
	return w.openID, w.closeID
}

// Watermark handles a watermark signal streamed: it opens the window at the
// chunk's opening one and reports whether it is the chunk's closing one.
func (w *ChunkWindow) Watermark(id, typ string) (closes bool) {
	switch typ {
	case SignalWindowOpen:
		if id == w.openID && w.openID != "" {
			w.open = true
		}
	case SignalWindowClose:
		return id == w.closeID && w.closeID != ""
	}
	return false
}

// Add buffers a row read; key identifies it (KeyString).
func (w *ChunkWindow) Add(key string, r ChunkRow) {
	if _, dup := w.buf[key]; !dup {
		w.order = append(w.order, key)
	}
	w.buf[key] = r
}

// Open reports whether the window is open: between the chunk's watermarks.
func (w *ChunkWindow) Open() bool { return w.open }

// Supersede drops the buffered row of key when the window is open: a
// streamed change of that key is newer than the row read.
func (w *ChunkWindow) Supersede(key string) {
	if w.open {
		delete(w.buf, key)
	}
}

// Close ends the window and returns the rows no change superseded, in the
// order read.
func (w *ChunkWindow) Close() []ChunkRow {
	out := make([]ChunkRow, 0, len(w.buf))
	for _, k := range w.order {
		if r, ok := w.buf[k]; ok {
			out = append(out, r)
		}
	}
	w.open, w.openID, w.closeID, w.buf, w.order = false, "", "", nil, nil
	return out
}

// KeyString identifies a key struct's values, for ChunkWindow.
func KeyString(k *connect.Struct) string {
	if k == nil {
		return ""
	}
	var b strings.Builder
	for i := range k.Schema().Fields {
		fmt.Fprintf(&b, "%v\x00", k.GetAt(i))
	}
	return b.String()
}

// ErrSkipTable marks an error of IncrementalSource.DataCollection that
// skips the table, with a warning, rather than failing the snapshot: a
// table not found, not captured or without a primary key.
var ErrSkipTable = errors.New("table skipped")

// IncrementalSource is what a connector gives IncrementalSnapshot: how it
// describes a table (T), reads its greatest key and a chunk of its rows,
// and writes a watermark. Keys are the values of the primary key columns
// in key order, as the connector's queries take them back; IncrementalSnapshot
// keeps them in offsets and compares none itself.
type IncrementalSource[T any] interface {
	// DataCollection describes the table named name (as the
	// execute-snapshot signal names it). An error wrapping ErrSkipTable
	// skips it; another fails the snapshot.
	DataCollection(name string) (T, error)
	// MaximumKey reads the table's greatest key; nil when it is empty.
	MaximumKey(t T) ([]any, error)
	// ReadChunk reads the rows of t with keys after after (all when nil)
	// and at most max, in key order, at most limit of them, and passes each
	// to add as a read record (op r) whose Key is its key struct.
	ReadChunk(t T, after, max []any, limit int, add func(ChunkRow)) error
	// WriteWatermark writes a watermark row (SignalWindowOpen or
	// SignalWindowClose) with id into the signal table; it must be streamed
	// back, in commit order with the table's changes, to Signal.
	WriteWatermark(id, typ string) error
}

// IncrementalSnapshot runs Debezium's incremental snapshots for a streaming
// connector: it takes the tables an execute-snapshot signal queued, reads
// each in chunks of its primary key up to the greatest key it had when its
// reading began, each chunk inside a ChunkWindow, and keeps its progress
// for the offsets of the records (IncrementalProgress). A chunk shorter
// than the chunk size ends its table. It belongs to the streaming
// goroutine.
type IncrementalSnapshot[T any] struct {
	src   IncrementalSource[T]
	log   *slog.Logger
	chunk int // rows a chunk reads at most

	queue  []string // tables still to read after the current one
	name   string   // the table being read; "" when none
	tbl    T
	last   []any // the key of the last row read
	done   []any // the key of the last row emitted
	max    []any // the table's greatest key when its reading began
	rows   int   // rows of the chunk read
	chunks int   // chunks of the table read
	// resume is the progress a stored offset carried, applied when its
	// table is taken from the queue.
	resume *IncrementalProgress
	off    map[string]any // the progress's offset fields (Offset)
	win    ChunkWindow
}

// NewIncrementalSnapshot returns an idle incremental snapshot reading
// chunks of chunkSize rows (incremental.snapshot.chunk.size) from src. (A
// zero IncrementalSnapshot, never signalled, has no table and no offset
// fields.)
func NewIncrementalSnapshot[T any](src IncrementalSource[T], log *slog.Logger, chunkSize int) IncrementalSnapshot[T] {
	return IncrementalSnapshot[T]{src: src, log: log, chunk: chunkSize}
}

// Resume restarts the snapshot a stored offset was in the middle of, at the
// chunk after the last row emitted.
func (s *IncrementalSnapshot[T]) Resume(p *IncrementalProgress) error {
	s.log.Info("resuming the incremental snapshot", "tables", p.Tables, "after_key", p.Key)
	s.queue = append([]string(nil), p.Tables...)
	s.resume = p
	return s.next()
}

// Signal handles a row inserted into the signal table, streamed: an
// execute-snapshot request queues its tables; the closing watermark of the
// current chunk emits the chunk's rows no streamed change superseded,
// through emit, and reads the next chunk. Other signals are ignored. emit
// must put Offset into the record's offset, which names the record's own
// key as the last emitted: a restart from it reads the rest of the chunk
// again.
func (s *IncrementalSnapshot[T]) Signal(id, typ, data string, emit func(T, *connect.Record)) error {
	if typ != SignalExecuteSnapshot {
		if !s.win.Watermark(id, typ) {
			return nil
		}
		for _, row := range s.win.Close() {
			s.emitted(row.Key)
			emit(s.tbl, row.Rec)
		}
		s.done = s.last
		s.update()
		return s.next()
	}
	tables, err := ParseExecuteSnapshot(data)
	if err != nil {
		s.log.Warn("ignoring execute-snapshot signal", "id", id, "err", err)
		return nil
	}
	s.log.Info("incremental snapshot requested", "id", id, "tables", tables)
	idle := s.name == "" && len(s.queue) == 0
	s.queue = append(s.queue, tables...)
	if idle {
		return s.next()
	}
	s.update()
	return nil
}

// Table returns the table being read, if any.
func (s *IncrementalSnapshot[T]) Table() (T, bool) { return s.tbl, s.name != "" }

// Supersede drops the row of key from the current chunk when its window is
// open: a change of that key streamed inside the window is newer than the
// row read. The caller checks the change is of the table being read.
func (s *IncrementalSnapshot[T]) Supersede(key *connect.Struct) {
	if key != nil && s.win.Open() {
		s.win.Supersede(KeyString(key))
	}
}

// Offset returns the progress fields every record's offset carries; nil
// when no snapshot runs. The map is replaced, never changed, as the
// progress moves.
func (s *IncrementalSnapshot[T]) Offset() map[string]any { return s.off }

// update refreshes the offset fields of the progress.
func (s *IncrementalSnapshot[T]) update() {
	var p IncrementalProgress
	if s.name != "" {
		p.Tables, p.Key, p.Max = []string{s.name}, s.done, s.max
	}
	p.Tables = append(p.Tables, s.queue...)
	s.off = p.Fields()
}

// emitted moves the progress to key, of a row of the chunk emitted: within
// a chunk only that field changes, so the others are kept rather than
// encoded again for each row.
func (s *IncrementalSnapshot[T]) emitted(key []any) {
	s.done = key
	off := maps.Clone(s.off)
	setKey(off, OffIncPrimaryKey, key)
	s.off = off
}

// next reads the next chunk, moving to the next table when one is done.
func (s *IncrementalSnapshot[T]) next() error {
	for {
		if s.name != "" && s.chunks > 0 && s.rows < s.chunk {
			s.log.Info("incremental snapshot of table done", "table", s.name)
			s.name = ""
		}
		if s.name == "" {
			if len(s.queue) == 0 {
				s.update()
				return nil
			}
			name := s.queue[0]
			s.queue = s.queue[1:]
			tbl, err := s.src.DataCollection(name)
			if errors.Is(err, ErrSkipTable) {
				s.log.Warn("incremental snapshot: table skipped", "table", name, "err", err)
				continue
			} else if err != nil {
				return err
			}
			s.name, s.tbl, s.last, s.done, s.max, s.rows, s.chunks = name, tbl, nil, nil, nil, 0, 0
			if r := s.resume; r != nil && r.Tables[0] == name {
				s.last, s.done, s.max = r.Key, r.Key, r.Max
			}
			s.resume = nil
			if s.max == nil {
				if s.max, err = s.src.MaximumKey(tbl); err != nil {
					return err
				}
				if s.max == nil {
					s.log.Info("incremental snapshot of table done (empty)", "table", name)
					s.name = ""
					continue
				}
			}
		}
		s.update()
		return s.read()
	}
}

// read writes the opening watermark, reads the chunk after the last key
// into the window, and writes the closing watermark.
func (s *IncrementalSnapshot[T]) read() error {
	openID, closeID := s.win.Begin()
	s.rows = 0
	s.chunks++
	if err := s.src.WriteWatermark(openID, SignalWindowOpen); err != nil {
		return err
	}
	err := s.src.ReadChunk(s.tbl, s.last, s.max, s.chunk, func(r ChunkRow) {
		k, _ := r.Rec.Key.(*connect.Struct)
		s.last = r.Key
		s.rows++
		s.win.Add(KeyString(k), r)
	})
	if err != nil {
		return err
	}
	return s.src.WriteWatermark(closeID, SignalWindowClose)
}
