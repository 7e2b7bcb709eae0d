package blob

import (
	"context"
	"testing"

	"github.com/penstockhq/penstock/connect"
)

// fakeSourceContext serves one stored source offset.
type fakeSourceContext struct{ offset map[string]any }

func (f *fakeSourceContext) ConnectorName() string         { return "restore-test" }
func (f *fakeSourceContext) TaskID() int                   { return 0 }
func (f *fakeSourceContext) Offsets() connect.OffsetReader { return f }
func (f *fakeSourceContext) Offset(context.Context, map[string]any) (map[string]any, error) {
	return f.offset, nil
}

// TestSourceResumesByObjectAndRecord restores part of an export, then
// starts a new task from the last record's offset: it goes on with the next
// record, in the same object or the next.
func TestSourceResumesByObjectAndRecord(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	sink := &Task{}
	if err := sink.Start(ctx, &fakeTaskContext{}, map[string]string{StoreURLConfig: "file://" + dir, FormatConfig: "JsonFormat",
		FlushSizeConfig: "10", StoreKeysConfig: "true"}); err != nil {
		t.Fatal(err)
	}
	recs := richRecords("t", 0, 0, 40)
	for _, r := range recs {
		r.KeySchema, r.Key = connect.StringSchema, "key"
	}
	if err := sink.Put(ctx, recs); err != nil {
		t.Fatal(err)
	}
	sink.Stop()
	props := map[string]string{StoreURLConfig: "file://" + dir, FormatConfig: "JsonFormat", BatchSizeConfig: "7"}
	seqs := func(task *SourceTask, polls int) (out []int64, last map[string]any) {
		for i := 0; i < polls; i++ {
			rs, err := task.Poll(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range rs {
				out = append(out, r.Value.(map[string]any)["seq"].(int64))
				if r.Key != "key" {
					t.Fatalf("record %v: key %v", r.SourceOffset, r.Key)
				}
				last = r.SourceOffset
			}
		}
		return out, last
	}
	first := &SourceTask{}
	if err := first.Start(ctx, &fakeSourceContext{}, props); err != nil {
		t.Fatal(err)
	}
	got, last := seqs(first, 2) // 14 records: object 0 and 4 of object 10
	first.Stop()
	if len(got) != 14 || got[13] != 13 || last["records"] != int64(4) {
		t.Fatalf("first run: %v, last offset %v", got, last)
	}
	second := &SourceTask{}
	if err := second.Start(ctx, &fakeSourceContext{offset: map[string]any{"object": last["object"], "records": float64(4)}}, props); err != nil {
		t.Fatal(err)
	}
	defer second.Stop()
	rest, _ := seqs(second, 4)
	if len(rest) != 26 || rest[0] != 14 || rest[25] != 39 {
		t.Fatalf("resumed run: %v", rest)
	}
}
