package records

import (
	"bytes"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func TestBuildDecodeKeepsOffsets(t *testing.T) {
	in := []Record{
		{Offset: 10, Timestamp: 1000, Key: []byte("a"), Value: []byte("1"), Headers: []Header{{"h", []byte("x")}}},
		{Offset: 13, Timestamp: 1005, Key: nil, Value: []byte("2")},
		{Offset: 15, Timestamp: 999, Key: []byte("c"), Value: nil},
	}
	b := Build(Batch{BaseOffset: 10, LastOffsetDelta: 7, ProducerID: 5, ProducerEpoch: 2, BaseSequence: 3, Attributes: AttrTransactional}, in)
	// kmsg agrees on the layout and the CRC.
	var kb kmsg.RecordBatch
	if err := kb.ReadFrom(b); err != nil {
		t.Fatal(err)
	}
	if kb.LastOffsetDelta != 7 || kb.NumRecords != 3 || kb.ProducerID != 5 || kb.FirstTimestamp != 999 || kb.MaxTimestamp != 1005 {
		t.Fatalf("header %+v", kb)
	}
	h, out, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if !h.IsTransactional() || h.LastOffset() != 17 || len(out) != 3 {
		t.Fatalf("decoded %+v %d records", h, len(out))
	}
	for i := range in {
		a, o := in[i], out[i]
		if a.Offset != o.Offset || a.Timestamp != o.Timestamp || !bytes.Equal(a.Key, o.Key) || (a.Key == nil) != (o.Key == nil) ||
			!bytes.Equal(a.Value, o.Value) || (a.Value == nil) != (o.Value == nil) || len(a.Headers) != len(o.Headers) {
			t.Fatalf("record %d: %+v != %+v", i, a, o)
		}
	}
	if typ := ControlType(ControlBatch(5, 2, true, 1)); typ != ControlCommit {
		t.Fatalf("control type %d", typ)
	}
	if typ := ControlType(ControlBatch(5, 2, false, 1)); typ != ControlAbort {
		t.Fatalf("control type %d", typ)
	}
}
