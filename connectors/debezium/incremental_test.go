package debezium

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"testing"

	"github.com/penstockhq/penstock/connect"
)

func TestParseExecuteSnapshot(t *testing.T) {
	got, err := ParseExecuteSnapshot(`{"data-collections": ["public.a", "public.b"], "type": "INCREMENTAL"}`)
	if err != nil || !reflect.DeepEqual(got, []string{"public.a", "public.b"}) {
		t.Fatalf("got %v, %v", got, err)
	}
	if got, err := ParseExecuteSnapshot(`{"data-collections": ["db.t"]}`); err != nil || len(got) != 1 {
		t.Fatalf("without a type: %v, %v", got, err)
	}
	for _, bad := range []string{`{"data-collections": ["a.b"], "type": "blocking"}`, `not json`} {
		if _, err := ParseExecuteSnapshot(bad); err == nil {
			t.Errorf("%s: no error", bad)
		}
	}
}

// Progress survives the offset store's JSON round trip; numbers keep their
// digits.
func TestIncrementalProgressRoundTrip(t *testing.T) {
	p := IncrementalProgress{Tables: []string{"app.items", "app.other"}, Key: []any{int64(9007199254740993), "k"}, Max: []any{int64(9007199254740999), "z"}}
	off := p.Fields()
	if off[OffIncCollections] != `["app.items","app.other"]` || off[OffIncPrimaryKey] != `[9007199254740993,"k"]` ||
		off[OffIncMaximumKey] != `[9007199254740999,"z"]` {
		t.Fatalf("fields %v", off)
	}
	b, _ := json.Marshal(off)
	var stored map[string]any
	if err := json.Unmarshal(b, &stored); err != nil {
		t.Fatal(err)
	}
	got := IncrementalFrom(stored)
	if got == nil || !reflect.DeepEqual(got.Tables, p.Tables) || got.Key[0] != json.Number("9007199254740993") || got.Key[1] != "k" ||
		got.Max[0] != json.Number("9007199254740999") || got.Max[1] != "z" {
		t.Fatalf("read back %+v", got)
	}
	if IncrementalFrom(map[string]any{"pos": 4}) != nil || (IncrementalProgress{}).Fields() != nil {
		t.Fatal("progress where none runs")
	}
}

// Rows whose keys change inside the window are dropped; changes before the
// opening watermark drop nothing; the rest come out in the order read.
func TestChunkWindow(t *testing.T) {
	var w ChunkWindow
	openID, closeID := w.Begin()
	ks := connect.NewStructSchema("k", connect.F("id", connect.Int32Schema))
	key := func(id int32) string { k := connect.NewStruct(ks); k.Set("id", id); return KeyString(k) }
	for id := int32(1); id <= 4; id++ {
		w.Add(key(id), ChunkRow{Key: []any{id}})
	}
	w.Supersede(key(1)) // before the window opened: the read row is newer
	if w.Watermark("other-open", SignalWindowOpen) || w.Open() {
		t.Fatal("another chunk's watermark opened the window")
	}
	w.Watermark(openID, SignalWindowOpen)
	w.Supersede(key(3))
	if w.Watermark("other-close", SignalWindowClose) || !w.Watermark(closeID, SignalWindowClose) {
		t.Fatal("closing watermark not recognised")
	}
	var got []any
	for _, r := range w.Close() {
		got = append(got, r.Key[0])
	}
	if !reflect.DeepEqual(got, []any{int32(1), int32(2), int32(4)}) {
		t.Fatalf("emitted %v", got)
	}
	if w.Open() {
		t.Fatal("window open after Close")
	}
}

// memTables is an IncrementalSource over tables in memory, keyed by one
// integer, whose watermarks are streamed back by stream. The connectors'
// tests run IncrementalSnapshot against real servers; this one shows its
// own rules (queue, chunk ends, maximum key, resume, progress) one chunk at
// a time.
type memTables struct {
	rows       map[string][]int64 // each table's keys, ascending
	watermarks [][2]string        // written, not yet streamed: id, type
	chunks     map[string]int     // chunks read per table
}

var memKey = connect.NewStructSchema("k", connect.F("id", connect.Int64Schema))

func memKeyStruct(id int64) *connect.Struct {
	k := connect.NewStruct(memKey)
	k.Set("id", id)
	return k
}

func (m *memTables) DataCollection(name string) (string, error) {
	if name == "fatal" {
		return "", errors.New("broken")
	}
	if _, ok := m.rows[name]; !ok {
		return "", fmt.Errorf("%w: %s not found", ErrSkipTable, name)
	}
	return name, nil
}

func (m *memTables) MaximumKey(t string) ([]any, error) {
	if ks := m.rows[t]; len(ks) > 0 {
		return []any{ks[len(ks)-1]}, nil
	}
	return nil, nil
}

func (m *memTables) ReadChunk(t string, after, max []any, limit int, add func(ChunkRow)) error {
	m.chunks[t]++
	n := 0
	for _, k := range m.rows[t] {
		if (after == nil || k > asInt(after[0])) && k <= asInt(max[0]) && n < limit {
			add(ChunkRow{Key: []any{k}, Rec: &connect.Record{Topic: t, Key: memKeyStruct(k)}})
			n++
		}
	}
	return nil
}

// asInt reads a key value, an int64 or a json.Number from an offset.
func asInt(v any) int64 {
	if n, ok := v.(json.Number); ok {
		i, _ := n.Int64()
		return i
	}
	return v.(int64)
}

func (m *memTables) WriteWatermark(id, typ string) error {
	m.watermarks = append(m.watermarks, [2]string{id, typ})
	return nil
}

// emitted is a record emitted and the progress its offset carried.
type emitted struct {
	table, key, progress string
}

// stream streams the watermarks written back to s until none is left,
// calling between(openedTable) after each opening one; it returns the
// records emitted.
func (m *memTables) stream(t *testing.T, s *IncrementalSnapshot[string], between func(string)) []emitted {
	t.Helper()
	var out []emitted
	emit := func(tbl string, rec *connect.Record) {
		out = append(out, emitted{tbl, fmt.Sprint(rec.Key.(*connect.Struct).Get("id")), fmt.Sprint(s.Offset()[OffIncPrimaryKey])})
	}
	for len(m.watermarks) > 0 {
		w := m.watermarks[0]
		m.watermarks = m.watermarks[1:]
		if err := s.Signal(w[0], w[1], "", emit); err != nil {
			t.Fatal(err)
		}
		if tbl, ok := s.Table(); ok && w[1] == SignalWindowOpen && between != nil {
			between(tbl)
		}
	}
	return out
}

func newMem() *memTables {
	return &memTables{rows: map[string][]int64{"a": {1, 2, 3, 4, 5}, "b": {7, 8}, "empty": nil}, chunks: map[string]int{}}
}

// Tables are read in the order queued, skipping those the source cannot
// read; a chunk shorter than the chunk size ends its table; rows changed
// inside a window are not emitted; each record's offset names its own key.
func TestIncrementalSnapshotReadsQueuedTables(t *testing.T) {
	m := newMem()
	s := NewIncrementalSnapshot[string](m, slog.New(slog.DiscardHandler), 2)
	if err := s.Signal("sig-1", SignalExecuteSnapshot, `{"data-collections": ["a", "missing", "empty", "b"]}`, nil); err != nil {
		t.Fatal(err)
	}
	if got := s.Offset()[OffIncCollections]; got != `["a","missing","empty","b"]` {
		t.Fatalf("progress after the signal: %v", got)
	}
	got := m.stream(t, &s, func(tbl string) {
		if tbl == "a" {
			s.Supersede(memKeyStruct(3)) // in the window: 3 is not emitted from its chunk
		}
	})
	want := []emitted{{"a", "1", "[1]"}, {"a", "2", "[2]"}, {"a", "4", "[4]"}, {"a", "5", "[5]"}, {"b", "7", "[7]"}, {"b", "8", "[8]"}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("emitted %v, want %v", got, want)
	}
	if m.chunks["a"] != 3 || m.chunks["b"] != 2 || m.chunks["empty"] != 0 {
		t.Fatalf("chunks read %v, want a 3 (the third short), b 2 (the second empty), empty none", m.chunks)
	}
	if s.Offset() != nil {
		t.Fatalf("progress after the end: %v", s.Offset())
	}
	if _, ok := s.Table(); ok {
		t.Fatal("a table is still being read")
	}
}

// Rows inserted after a table's reading began are not read (they are
// streamed); a signal while a table is read queues its tables in the
// progress at once.
func TestIncrementalSnapshotStopsAtMaximumKeyAndQueues(t *testing.T) {
	m := newMem()
	s := NewIncrementalSnapshot[string](m, slog.New(slog.DiscardHandler), 2)
	if err := s.Signal("sig-1", SignalExecuteSnapshot, `{"data-collections": ["a"]}`, nil); err != nil {
		t.Fatal(err)
	}
	m.rows["a"] = append(m.rows["a"], 6, 9)
	if err := s.Signal("sig-2", SignalExecuteSnapshot, `{"data-collections": ["b"]}`, nil); err != nil {
		t.Fatal(err)
	}
	if got := s.Offset(); got[OffIncCollections] != `["a","b"]` || got[OffIncMaximumKey] != "[5]" {
		t.Fatalf("progress after the second signal: %v", got)
	}
	var keys []string
	for _, e := range m.stream(t, &s, nil) {
		keys = append(keys, e.table+e.key)
	}
	if want := []string{"a1", "a2", "a3", "a4", "a5", "b7", "b8"}; !reflect.DeepEqual(keys, want) {
		t.Fatalf("emitted %v, want %v", keys, want)
	}
}

// A snapshot resumed from a stored offset goes on after its key, up to its
// maximum key, then reads the tables queued after.
func TestIncrementalSnapshotResume(t *testing.T) {
	m := newMem()
	stored := IncrementalProgress{Tables: []string{"a", "b"}, Key: []any{int64(2)}, Max: []any{int64(4)}}.Fields()
	b, _ := json.Marshal(stored)
	var off map[string]any
	if err := json.Unmarshal(b, &off); err != nil {
		t.Fatal(err)
	}
	s := NewIncrementalSnapshot[string](m, slog.New(slog.DiscardHandler), 2)
	if err := s.Resume(IncrementalFrom(off)); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, e := range m.stream(t, &s, nil) {
		keys = append(keys, e.table+e.key)
	}
	if want := []string{"a3", "a4", "b7", "b8"}; !reflect.DeepEqual(keys, want) {
		t.Fatalf("emitted %v, want %v", keys, want)
	}
}

// An error of the source other than ErrSkipTable fails the snapshot; a bad
// signal is ignored.
func TestIncrementalSnapshotErrors(t *testing.T) {
	m := newMem()
	s := NewIncrementalSnapshot[string](m, slog.New(slog.DiscardHandler), 2)
	if err := s.Signal("sig-1", SignalExecuteSnapshot, `{"data-collections": ["a"], "type": "blocking"}`, nil); err != nil || s.Offset() != nil {
		t.Fatalf("a bad signal: %v, progress %v", err, s.Offset())
	}
	if err := s.Signal("sig-2", SignalExecuteSnapshot, `{"data-collections": ["fatal"]}`, nil); err == nil {
		t.Fatal("no error from a table the source failed to describe")
	}
}
