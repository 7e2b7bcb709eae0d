package blob

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/parquet-go/parquet-go"
	"github.com/penstockhq/penstock/connect"
)

// resumeCase is a format the source restores, with the records the sink
// exports into one large object of it.
type resumeCase struct {
	name  string
	props map[string]string
	recs  func(n int) []*connect.Record
	seq   func(*connect.Record) int64
}

var resumeCases = []resumeCase{
	{name: "json-gzip", props: map[string]string{FormatConfig: "JsonFormat", CompressionConfig: "gzip"},
		recs: func(n int) []*connect.Record { return richRecords("t", 0, 0, n) },
		seq:  func(r *connect.Record) int64 { return r.Value.(map[string]any)["seq"].(int64) }},
	{name: "bytearray", props: map[string]string{FormatConfig: "ByteArrayFormat"},
		recs: func(n int) []*connect.Record {
			out := make([]*connect.Record, n)
			for i := range out {
				out[i] = &connect.Record{Topic: "t", Offset: int64(i), ValueSchema: connect.BytesSchema,
					Value: []byte(fmt.Sprintf("%d %s", i, strings.Repeat("x", i%200)))}
			}
			return out
		},
		seq: func(r *connect.Record) int64 {
			var i int64
			fmt.Sscan(string(r.Value.([]byte)), &i)
			return i
		}},
	{name: "avro-deflate", props: map[string]string{FormatConfig: "AvroFormat", AvroCodecConfig: "deflate"},
		recs: func(n int) []*connect.Record { return richRecords("t", 0, 0, n) },
		seq:  func(r *connect.Record) int64 { return r.Value.(*connect.Struct).GetAt(0).(int64) }},
	{name: "parquet-snappy", props: map[string]string{FormatConfig: "ParquetFormat", ParquetCodecConfig: "snappy", ParquetRowGroupBytes: "65536"},
		recs: func(n int) []*connect.Record { return richRecords("t", 0, 0, n) },
		seq:  func(r *connect.Record) int64 { return r.Value.(*connect.Struct).GetAt(0).(int64) }},
}

// exportOne has the sink write recs, with their keys, as one object of
// the case's format in dir, and returns the object's key.
func exportOne(t testing.TB, dir string, c resumeCase, recs []*connect.Record) string {
	t.Helper()
	ctx := context.Background()
	for i, r := range recs {
		r.KeySchema, r.Key = connect.StringSchema, fmt.Sprint("key-", i)
	}
	props := map[string]string{StoreURLConfig: "file://" + dir, FlushSizeConfig: fmt.Sprint(len(recs)), StoreKeysConfig: "true"}
	for k, v := range c.props {
		props[k] = v
	}
	sink := &Task{}
	if err := sink.Start(ctx, &fakeTaskContext{}, props); err != nil {
		t.Fatal(err)
	}
	if err := sink.Put(ctx, recs); err != nil {
		t.Fatal(err)
	}
	sink.Stop()
	var key string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !strings.HasSuffix(p, metaExtension) && !strings.HasSuffix(p, ".attrs") { // fileblob keeps attributes beside
			key, _ = filepath.Rel(dir, p)
		}
		return nil
	})
	if key == "" {
		t.Fatal("no object exported")
	}
	return filepath.ToSlash(key)
}

// TestSourceResumesInsideLargeObjects exports one large object of each
// format the source restores (an Avro file of several blocks, a Parquet
// file of several row groups) and resumes a task inside it at records
// before, at and after its middle: it restores exactly the records after
// the offset, with their keys.
func TestSourceResumesInsideLargeObjects(t *testing.T) {
	const n = 20000
	for _, c := range resumeCases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			key := exportOne(t, dir, c, c.recs(n))
			if c.props[FormatConfig] == "AvroFormat" { // the resume passes over whole blocks
				f, err := os.Open(filepath.Join(dir, key))
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				in := bufio.NewReader(f)
				h, err := readOCFHeader(in)
				if err != nil {
					t.Fatal(err)
				}
				if done, err := skipOCFBlocks(in, h.sync, n-1); err != nil || done == 0 {
					t.Fatalf("the object's blocks before its last record hold %d records (%v): one block only", done, err)
				}
			}
			for _, at := range []int64{1, n/2 + 13, n - 1, n} {
				checkResume(t, dir, key, c, n, at)
			}
		})
	}
}

// BenchmarkSourceResume compares a task resuming at the last record of a
// large object (skip) with one restoring the object whole (read). For Avro
// and Parquet, read is about what resuming cost when skip decoded and
// converted every value it passed over; lines were never converted.
func BenchmarkSourceResume(b *testing.B) {
	const n = 20000
	for _, c := range resumeCases {
		dir := b.TempDir()
		key := exportOne(b, dir, c, c.recs(n))
		for _, m := range []struct {
			name   string
			offset map[string]any
			want   int
		}{{"skip", map[string]any{"object": key, "records": int64(n - 1)}, 1}, {"read", nil, n}} {
			b.Run(c.name+"/"+m.name, func(b *testing.B) {
				for i := 0; i < b.N; i++ {
					props := map[string]string{StoreURLConfig: "file://" + dir, BatchSizeConfig: fmt.Sprint(n)}
					for k, v := range c.props {
						props[k] = v
					}
					src := &SourceTask{}
					if err := src.Start(context.Background(), &fakeSourceContext{offset: m.offset}, props); err != nil {
						b.Fatal(err)
					}
					rs, err := src.Poll(context.Background())
					if err != nil || len(rs) != m.want {
						b.Fatalf("%d records, %v", len(rs), err)
					}
					src.Stop()
				}
			})
		}
	}
}

// restoreFrom has a source task restore the objects of dir from the
// record at of object key on, and returns what it produced.
func restoreFrom(t testing.TB, dir, key string, c resumeCase, at int64) ([]*connect.Record, error) {
	t.Helper()
	props := map[string]string{StoreURLConfig: "file://" + dir, BatchSizeConfig: "5000", PollIntervalConfig: "10"}
	for k, v := range c.props {
		props[k] = v
	}
	src := &SourceTask{}
	if err := src.Start(context.Background(), &fakeSourceContext{offset: map[string]any{"object": key, "records": at}}, props); err != nil {
		t.Fatal(err)
	}
	defer src.Stop()
	var got []*connect.Record
	for {
		rs, err := src.Poll(context.Background())
		if err != nil {
			return got, err
		}
		if len(rs) == 0 {
			return got, nil
		}
		got = append(got, rs...)
	}
}

// checkResume has a source task resume at record at of object key, of n
// records: it must restore exactly the records after the offset, with
// their keys and offsets.
func checkResume(t *testing.T, dir, key string, c resumeCase, n, at int64) {
	t.Helper()
	got, err := restoreFrom(t, dir, key, c, at)
	if err != nil {
		t.Fatalf("resuming at %d: %v", at, err)
	}
	if int64(len(got)) != n-at {
		t.Fatalf("resuming at %d: %d records, want %d", at, len(got), n-at)
	}
	for i, r := range got {
		want := at + int64(i)
		if s := c.seq(r); s != want || r.Key != fmt.Sprint("key-", want) || r.SourceOffset["records"] != want+1 {
			t.Fatalf("resuming at %d: record %d is %d (key %v, offset %v), want %d", at, i, s, r.Key, r.SourceOffset, want)
		}
	}
}

// blockEnds is the number of records before the end of each Avro block or
// Parquet row group of the object at path.
func blockEnds(t *testing.T, path string, format string) []int64 {
	t.Helper()
	var ends []int64
	switch format {
	case "AvroFormat":
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		in := bufio.NewReader(f)
		if _, err := readOCFHeader(in); err != nil {
			t.Fatal(err)
		}
		var total int64
		for {
			count, err := binary.ReadVarint(in)
			if err != nil {
				break
			}
			size, _ := binary.ReadVarint(in)
			in.Discard(int(size) + 16)
			total += count
			ends = append(ends, total)
		}
	case "ParquetFormat":
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		pf, err := parquet.OpenFile(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			t.Fatal(err)
		}
		var total int64
		for _, g := range pf.RowGroups() {
			total += g.NumRows()
			ends = append(ends, total)
		}
	}
	return ends
}

// TestSourceResumesAtBlockBoundaries resumes inside Avro objects of each
// codec and a Parquet object at the records just before, at and after the
// end of each of their blocks or row groups.
func TestSourceResumesAtBlockBoundaries(t *testing.T) {
	const n = 12000
	cases := []resumeCase{resumeCases[3]}
	for _, codec := range []string{"null", "deflate", "snappy", "zstandard"} {
		c := resumeCases[2]
		c.name, c.props = "avro-"+codec, map[string]string{FormatConfig: "AvroFormat", AvroCodecConfig: codec}
		cases = append(cases, c)
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			key := exportOne(t, dir, c, c.recs(n))
			ends := blockEnds(t, filepath.Join(dir, key), c.props[FormatConfig])
			if len(ends) < 2 || ends[len(ends)-1] != n {
				t.Fatalf("blocks ending at %v: want several, %d records in all", ends, n)
			}
			for _, end := range ends {
				for _, at := range []int64{end - 1, end, end + 1} {
					if at > n {
						continue
					}
					checkResume(t, dir, key, c, n, at)
				}
			}
		})
	}
}

// TestSourceCorruptAvro restores Avro objects cut or corrupted in their
// header, inside a block and in a block's sync marker, from their start
// and from inside them: each gives an error naming the object, no panic
// and no records beyond the damage.
func TestSourceCorruptAvro(t *testing.T) {
	const n = 12000
	c := resumeCases[2]
	c.props = map[string]string{FormatConfig: "AvroFormat", AvroCodecConfig: "snappy"}
	dir := t.TempDir()
	key := exportOne(t, dir, c, c.recs(n))
	path := filepath.Join(dir, key)
	whole, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	h, err := readOCFHeader(bufio.NewReader(bytes.NewReader(whole)))
	if err != nil {
		t.Fatal(err)
	}
	hl := len(h.raw)
	first := bytes.Index(whole[hl:], h.sync[:]) + hl // the first block's sync marker
	ends := blockEnds(t, path, "AvroFormat")
	damages := map[string][]byte{
		"cut in the magic":                  whole[:2],
		"cut in the header":                 whole[:hl-3],
		"cut in a block's header":           whole[:hl+1],
		"cut inside a block":                whole[:hl+100],
		"cut in a sync marker":              whole[:first+8],
		"cut in the last block's marker":    whole[:len(whole)-1],
		"first sync marker changed":         bytes.Clone(whole),
		"first block's count negative":      bytes.Clone(whole),
		"second block's size negative":      bytes.Clone(whole),
		"second block's size past the file": bytes.Clone(whole),
	}
	damages["first sync marker changed"][first+3] ^= 0xff
	damages["first block's count negative"][hl] = 0x01 // zig-zag -1
	second := first + 16
	_, a := binary.Varint(whole[second:])
	damages["second block's size negative"][second+a] |= 0x01 // odd: negative
	damages["second block's size past the file"][second+a] = 0xfe
	damages["second block's size past the file"][second+a+1] |= 0x80
	for name, data := range damages {
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		for _, at := range []int64{0, ends[0], ends[0] + 1, n - 1} {
			got, err := restoreFrom(t, dir, key, c, at)
			if err == nil || !strings.Contains(err.Error(), key) {
				t.Errorf("%s, resuming at %d: %d records, error %v: want one naming %s", name, at, len(got), err, key)
			}
		}
	}
}

// TestReadOCFHeaderReadError: a read error in an object's first bytes is
// given back, not taken for a file of another format.
func TestReadOCFHeaderReadError(t *testing.T) {
	failed := errors.New("connection reset")
	_, err := readOCFHeader(bufio.NewReader(io.MultiReader(strings.NewReader("Ob"), iotest.ErrReader(failed))))
	if !errors.Is(err, failed) {
		t.Fatalf("%v, want the read error", err)
	}
}
