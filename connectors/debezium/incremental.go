package debezium

import (
	"encoding/json"
	"fmt"
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
// order read. It belongs to one goroutine.
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
