package blob

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

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

// TestSourceRestoresParquetAndAvro exports records of every Connect type
// as Parquet and Avro with their keys, headers and timestamps, and restores
// them: each record equals its original (value schema and value, key,
// headers, timestamp, topic and partition), across objects and batches.
func TestSourceRestoresParquetAndAvro(t *testing.T) {
	for _, c := range []struct{ format, codecKey, codec string }{
		{"ParquetFormat", ParquetCodecConfig, "snappy"}, {"ParquetFormat", ParquetCodecConfig, "none"},
		{"AvroFormat", AvroCodecConfig, "deflate"}, {"AvroFormat", AvroCodecConfig, "zstandard"},
	} {
		t.Run(c.format+"/"+c.codec, func(t *testing.T) {
			dir := t.TempDir()
			ctx := context.Background()
			sink := &Task{}
			if err := sink.Start(ctx, &fakeTaskContext{}, map[string]string{StoreURLConfig: "file://" + dir, FormatConfig: c.format,
				c.codecKey: c.codec, FlushSizeConfig: "70", StoreKeysConfig: "true", StoreHeadersConfig: "true"}); err != nil {
				t.Fatal(err)
			}
			recs := richRecords("t", 1, 0, 200)
			for i, r := range recs {
				r.KeySchema, r.Key = connect.StringSchema, fmt.Sprint("key-", i)
				r.Headers.Add("h", connect.StringSchema, fmt.Sprint("v", i))
			}
			for i := 0; i < 70; i++ { // a value that is not a struct (a Parquet file wraps it)
				recs = append(recs, &connect.Record{Topic: "u", Offset: int64(i), ValueSchema: connect.StringSchema, Value: fmt.Sprint("text ", i),
					Timestamp: baseTime, KeySchema: connect.StringSchema, Key: "k"})
			}
			if err := sink.Put(ctx, recs); err != nil {
				t.Fatal(err)
			}
			out, err := sink.PreCommit(ctx, map[connect.TopicPartition]int64{{Topic: "t", Partition: 1}: 200, {Topic: "u"}: 70})
			if err != nil || out[connect.TopicPartition{Topic: "t", Partition: 1}] != 140 || out[connect.TopicPartition{Topic: "u"}] != 70 {
				t.Fatalf("PreCommit = %v, %v", out, err)
			}
			sink.Stop()
			src := &SourceTask{}
			if err := src.Start(ctx, &fakeSourceContext{}, map[string]string{StoreURLConfig: "file://" + dir, FormatConfig: c.format, BatchSizeConfig: "50"}); err != nil {
				t.Fatal(err)
			}
			defer src.Stop()
			var got []*connect.Record
			for i := 0; i < 7; i++ {
				rs, err := src.Poll(ctx)
				if err != nil {
					t.Fatal(err)
				}
				got = append(got, rs...)
			}
			if len(got) != 210 { // the objects uploaded: t 0-69 and 70-139, u 0-69
				t.Fatalf("restored %d records, want 210", len(got))
			}
			for i, r := range got[:140] {
				checkSameRecord(t, recs[i], r)
			}
			for i, r := range got[140:] {
				checkSameRecord(t, recs[200+i], r)
			}
		})
	}
}

// checkSameRecord fails unless got restores want.
func checkSameRecord(t *testing.T, want, got *connect.Record) {
	t.Helper()
	if got.Topic != want.Topic || got.Partition != want.Partition || !got.Timestamp.Equal(want.Timestamp) {
		t.Fatalf("offset %d: restored as %s-%d at %v, want %s-%d at %v", want.Offset, got.Topic, got.Partition, got.Timestamp,
			want.Topic, want.Partition, want.Timestamp)
	}
	if !connect.Equal(got.ValueSchema, want.ValueSchema) {
		t.Fatalf("offset %d: value schema %s, want %s", want.Offset, got.ValueSchema, want.ValueSchema)
	}
	if err := sameValue(want.Value, got.Value); err != nil {
		t.Fatalf("offset %d: value: %v", want.Offset, err)
	}
	if err := sameValue(want.Key, got.Key); err != nil {
		t.Fatalf("offset %d: key: %v", want.Offset, err)
	}
	if len(got.Headers) != len(want.Headers) {
		t.Fatalf("offset %d: headers %v, want %v", want.Offset, got.Headers, want.Headers)
	}
	for i := range want.Headers {
		if got.Headers[i].Key != want.Headers[i].Key || sameValue(want.Headers[i].Value, got.Headers[i].Value) != nil {
			t.Fatalf("offset %d: headers %v, want %v", want.Offset, got.Headers, want.Headers)
		}
	}
}

// sameValue says how two Connect values differ, or nil.
func sameValue(a, b any) error {
	switch x := a.(type) {
	case *connect.Struct:
		y, ok := b.(*connect.Struct)
		if !ok || len(x.Schema().Fields) != len(y.Schema().Fields) {
			return fmt.Errorf("%v is not %v", b, a)
		}
		for i, f := range x.Schema().Fields {
			if err := sameValue(x.GetAt(i), y.GetAt(i)); err != nil {
				return fmt.Errorf("%s: %w", f.Name, err)
			}
		}
		return nil
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return fmt.Errorf("%v is not %v", b, a)
		}
		for i := range x {
			if err := sameValue(x[i], y[i]); err != nil {
				return fmt.Errorf("[%d]: %w", i, err)
			}
		}
		return nil
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return fmt.Errorf("%v is not %v", b, a)
		}
		for k, v := range x {
			if err := sameValue(v, y[k]); err != nil {
				return fmt.Errorf("[%q]: %w", k, err)
			}
		}
		return nil
	case connect.Decimal:
		y, ok := b.(connect.Decimal)
		if !ok || x.Scale != y.Scale || x.Unscaled.Cmp(y.Unscaled) != 0 {
			return fmt.Errorf("%v is not %v", b, a)
		}
		return nil
	case time.Time:
		if y, ok := b.(time.Time); !ok || !x.Equal(y) {
			return fmt.Errorf("%v is not %v", b, a)
		}
		return nil
	case []byte:
		if y, ok := b.([]byte); !ok || !bytes.Equal(x, y) {
			return fmt.Errorf("%v is not %v", b, a)
		}
		return nil
	}
	if a != b {
		return fmt.Errorf("%v (%T) is not %v (%T)", b, b, a, a)
	}
	return nil
}
