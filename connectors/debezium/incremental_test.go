package debezium

import (
	"encoding/json"
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
