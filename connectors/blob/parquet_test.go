package blob

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/penstockhq/penstock/connect"
)

// TestParquetRejectedRecordLeavesNoTrace: a record that fails half way
// through its columns (its nested field is not a struct; columns before it
// already took values) leaves the file byte-identical to one written
// without it, across batch boundaries and a small row group.
func TestParquetRejectedRecordLeavesNoTrace(t *testing.T) {
	f, err := newParquetFormat("snappy", 64<<10)
	if err != nil {
		t.Fatal(err)
	}
	file := func(withBad bool) []byte {
		var buf bytes.Buffer
		fw, err := f.open(&buf, richSchema)
		if err != nil {
			t.Fatal(err)
		}
		for i := int64(0); i < 1000; i++ {
			if withBad && i%37 == 5 {
				bad := richValue(i)
				bad.SetAt(16, "not a struct")
				err := fw.write(&connect.Record{Topic: "t", Offset: i, ValueSchema: richSchema, Value: bad})
				if !errors.Is(err, errRecord) {
					t.Fatalf("record %d: want a record error, got %v", i, err)
				}
			}
			if err := fw.write(&connect.Record{Topic: "t", Offset: i, ValueSchema: richSchema, Value: richValue(i)}); err != nil {
				t.Fatal(err)
			}
		}
		if err := fw.close(); err != nil {
			t.Fatal(err)
		}
		return buf.Bytes()
	}
	clean, dirty := file(false), file(true)
	if !bytes.Equal(clean, dirty) {
		t.Fatalf("a file with rejected records (%d bytes) differs from one without (%d bytes)", len(dirty), len(clean))
	}
}

// TestParquetEncoderRoundTrip: a file long enough for many handoffs to the
// encoder goroutine, with nested and repeated columns (rows of varying
// numbers of values) and row groups ending inside handoffs, reads back
// record for record.
func TestParquetEncoderRoundTrip(t *testing.T) {
	f, err := newParquetFormat("snappy", 32<<10)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	fw, err := f.open(&buf, richSchema)
	if err != nil {
		t.Fatal(err)
	}
	const n = 5000 // about 25 values a row: a handoff every 384 rows
	for i := int64(0); i < n; i++ {
		if err := fw.write(&connect.Record{Topic: "t", Offset: i, ValueSchema: richSchema, Value: richValue(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if fw.(*parquetWriter).bg == nil {
		t.Fatal("the encoder goroutine never started: the test does not cover it")
	}
	if err := fw.close(); err != nil {
		t.Fatal(err)
	}
	pv, err := newParquetValues(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	for i := int64(0); i < n; i++ {
		_, v, err := pv.next()
		if err != nil {
			t.Fatalf("row %d: %v", i, err)
		}
		if got, want := fmt.Sprint(v), fmt.Sprint(richValue(i)); got != want {
			t.Fatalf("row %d:\n got %s\nwant %s", i, got, want)
		}
	}
	if _, _, err := pv.next(); err != io.EOF {
		t.Fatalf("after %d rows: want io.EOF, got %v", n, err)
	}
}

// TestParquetLargeValuesHandedOffByBytes: rows of large strings are handed
// to the encoder once they refer to handoffBytes, long before handoffValues
// of them are gathered, and read back whole.
func TestParquetLargeValuesHandedOffByBytes(t *testing.T) {
	f, err := newParquetFormat("snappy", 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	fw, err := f.open(&buf, connect.StringSchema)
	if err != nil {
		t.Fatal(err)
	}
	value := func(i int64) string { return fmt.Sprint(i, strings.Repeat("x", 64<<10)) }
	const n = 2 * parquetBatch
	for i := int64(0); i < n; i++ {
		if err := fw.write(&connect.Record{Topic: "t", Offset: i, ValueSchema: connect.StringSchema, Value: value(i)}); err != nil {
			t.Fatal(err)
		}
	}
	if fw.(*parquetWriter).bg == nil {
		t.Fatalf("%d values of 64 KiB gathered without a handoff", n)
	}
	if err := fw.close(); err != nil {
		t.Fatal(err)
	}
	pv, err := newParquetValues(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	for i := int64(0); i < n; i++ {
		if _, v, err := pv.next(); err != nil || v != value(i) {
			t.Fatalf("row %d: %.20v..., %v", i, v, err)
		}
	}
}

// failingWriter fails every write after the first n bytes.
type failingWriter struct{ n int }

func (w *failingWriter) Write(p []byte) (int, error) {
	if w.n -= len(p); w.n < 0 {
		return 0, errors.New("store unreachable")
	}
	return len(p), nil
}

// TestParquetEncoderFailureAndAbort: the store's error, met by the encoder
// goroutine, comes back from a later write or from close as the object's
// (not a record's) error; and an object aborted while its encoder runs is
// let go without a race (run with -race).
func TestParquetEncoderFailureAndAbort(t *testing.T) {
	f, err := newParquetFormat("none", 16<<10)
	if err != nil {
		t.Fatal(err)
	}
	fw, err := f.open(&failingWriter{n: 20 << 10}, richSchema)
	if err != nil {
		t.Fatal(err)
	}
	for i := int64(0); err == nil && i < 20000; i++ {
		err = fw.write(&connect.Record{Topic: "t", Offset: i, ValueSchema: richSchema, Value: richValue(i)})
	}
	if err == nil {
		err = fw.close()
	}
	if err == nil || errors.Is(err, errRecord) || !strings.Contains(err.Error(), "store unreachable") {
		t.Fatalf("want the store's error, got %v", err)
	}

	fw, err = f.open(io.Discard, richSchema)
	if err != nil {
		t.Fatal(err)
	}
	for i := int64(0); i < 3000; i++ {
		if err := fw.write(&connect.Record{Topic: "t", Offset: i, ValueSchema: richSchema, Value: richValue(i)}); err != nil {
			t.Fatal(err)
		}
	}
	fw.(aborter).abort()
}

// BenchmarkParquetWriter: the Parquet writer alone (no store), on the
// records of bench/blob, prebuilt; run with -benchmem and compare with
// BenchmarkParquetGeneric, parquet-go's own writer of the same rows.
func BenchmarkParquetWriter(b *testing.B) {
	s := connect.NewStructSchema("bench.Value",
		connect.F("seq", connect.Int64Schema), connect.F("name", connect.StringSchema),
		connect.F("amount", connect.Float64Schema), connect.F("at", connect.TimestampSchema()),
		connect.F("note", connect.OptionalStringSchema))
	recs := make([]connect.Record, 1024)
	for i := range recs {
		v := connect.NewStruct(s)
		v.SetAt(0, int64(i))
		v.SetAt(1, fmt.Sprintf("order %d", i))
		v.SetAt(2, float64(i)/8)
		v.SetAt(3, time.UnixMilli(int64(i)))
		if i%3 != 0 {
			v.SetAt(4, fmt.Sprintf("note number %d for the benchmark", i))
		}
		recs[i] = connect.Record{Topic: "bench", Offset: int64(i), ValueSchema: s, Value: v}
	}
	f, _ := newParquetFormat("snappy", 64<<20)
	fw, err := f.open(io.Discard, s)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if err := fw.write(&recs[i%len(recs)]); err != nil {
			b.Fatal(err)
		}
		if i%100000 == 99999 {
			if err := fw.close(); err != nil {
				b.Fatal(err)
			}
			fw, _ = f.open(io.Discard, s)
		}
	}
	if err := fw.close(); err != nil {
		b.Fatal(err)
	}
}

func BenchmarkParquetGeneric(b *testing.B) {
	type row struct {
		Seq    int64     `parquet:"seq"`
		Name   string    `parquet:"name"`
		Amount float64   `parquet:"amount"`
		At     time.Time `parquet:"at,timestamp(millisecond)"`
		Note   *string   `parquet:"note,optional"`
	}
	rows := make([]row, 1024)
	for i := range rows {
		rows[i] = row{Seq: int64(i), Name: fmt.Sprintf("order %d", i), Amount: float64(i) / 8, At: time.UnixMilli(int64(i))}
		if i%3 != 0 {
			n := fmt.Sprintf("note number %d for the benchmark", i)
			rows[i].Note = &n
		}
	}
	w := parquet.NewGenericWriter[row](io.Discard, parquet.Compression(&parquet.Snappy))
	b.ReportAllocs()
	for i := 0; i < b.N; i += 64 {
		j := i % len(rows)
		if _, err := w.Write(rows[j : j+64]); err != nil {
			b.Fatal(err)
		}
		if i%100000 >= 100000-64 {
			if err := w.Close(); err != nil {
				b.Fatal(err)
			}
			w = parquet.NewGenericWriter[row](io.Discard, parquet.Compression(&parquet.Snappy))
		}
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
}
