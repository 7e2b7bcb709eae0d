package blob

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/penstockhq/penstock/connect"
)

// writeOnce puts n records of partition 0 into a fresh task with the given
// props and flush.size n, so they make one object.
func writeOnce(t *testing.T, props map[string]string, n int) {
	t.Helper()
	ctx := context.Background()
	task := &Task{}
	props[FlushSizeConfig] = fmt.Sprint(n)
	if err := task.Start(ctx, &fakeTaskContext{}, props); err != nil {
		t.Fatal(err)
	}
	defer task.Stop()
	if err := task.Put(ctx, richRecords("t", 0, 0, n)); err != nil {
		t.Fatal(err)
	}
}

// canonical renders the value of sequence number i as the canonical
// columns the queries below produce, through JSON so numbers compare alike.
func canonical(t *testing.T, i int64) map[string]any {
	st := richValue(i)
	get := func(name string) any { return st.Get(name) }
	nested := get("nested").(*connect.Struct)
	nb, _ := json.Marshal(map[string]any{"a": nested.Get("a"), "b": nested.Get("b")})
	tags, _ := json.Marshal(get("tags"))
	attrs, _ := json.Marshal(get("attrs"))
	m := map[string]any{
		"seq": get("seq"), "b": get("b"), "i8": get("i8"), "i16": get("i16"), "i32": get("i32"),
		"f32": float64(get("f32").(float32)), "f64": get("f64"), "s": get("s"), "opt": get("opt"),
		"raw":    base64.StdEncoding.EncodeToString(get("raw").([]byte)),
		"dec":    get("dec").(connect.Decimal).String(),
		"day":    get("day").(time.Time).Format(time.DateOnly),
		"tod_ms": connect.TimeMillis(get("tod").(time.Time)),
		"ts_ms":  get("ts").(time.Time).UnixMilli(),
		"tags":   string(tags), "attrs": string(attrs), "nested": string(nb), "kind": get("kind"),
	}
	b, _ := json.Marshal(m)
	var out map[string]any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&out); err != nil {
		t.Fatal(err)
	}
	return out
}

// compareRows reads the canonical columns cols from DuckDB source src and
// compares them row by row with the records of seq 0..n-1.
func compareRows(t *testing.T, cols, src string, n int) {
	t.Helper()
	rows := duckdb(t, fmt.Sprintf("SELECT %s FROM %s ORDER BY seq::BIGINT", cols, src))
	if len(rows) != n {
		t.Fatalf("%d rows, want %d", len(rows), n)
	}
	for i, row := range rows {
		want := canonical(t, int64(i))
		for k, w := range want {
			if g := row[k]; fmt.Sprint(g) != fmt.Sprint(w) {
				t.Errorf("row %d column %s: DuckDB read %v (%T), the record has %v", i, k, g, g, w)
			}
		}
	}
}

// Canonical columns of the formats, for compareRows.
var (
	canonicalCols = `seq, b, i8, i16, i32, f32, f64, s, opt, kind, %s AS raw, %s AS dec, %s AS day, %s AS tod_ms, %s AS ts_ms,
		to_json(tags)::VARCHAR AS tags, to_json(attrs)::VARCHAR AS attrs, to_json(nested)::VARCHAR AS nested`
	parquetCols = fmt.Sprintf(canonicalCols, "base64(raw)", "dec::VARCHAR", "day::VARCHAR",
		"(extract(epoch FROM tod::TIME) * 1000)::BIGINT", "epoch_ms(ts)")
	jsonCols = fmt.Sprintf(canonicalCols, "raw", "printf('%.2f', dec::DOUBLE)", "(DATE '1970-01-01' + day::INTEGER)::VARCHAR", "tod", "ts")
)

// TestFormatsReadBackByDuckDB writes records with a field of every Connect
// type in each format and codec and reads them back with DuckDB, row by
// row.
func TestFormatsReadBackByDuckDB(t *testing.T) {
	const n = 60
	csvCols := fmt.Sprintf(`seq::BIGINT AS seq, b::BOOLEAN AS b, i8::BIGINT AS i8, i16::BIGINT AS i16, i32::BIGINT AS i32,
		f32::DOUBLE AS f32, f64::DOUBLE AS f64, s, opt, kind, raw, printf('%%.2f', dec::DOUBLE) AS dec, day,
		(extract(epoch FROM tod::TIME) * 1000)::BIGINT AS tod_ms, epoch_ms(ts::TIMESTAMPTZ) AS ts_ms,
		to_json(tags::JSON)::VARCHAR AS tags, to_json(attrs::JSON)::VARCHAR AS attrs, to_json(nested::JSON)::VARCHAR AS nested`)
	for _, tc := range []struct {
		name, format, ext, read, cols string
		extra                         map[string]string
	}{
		{"parquet-snappy", "io.confluent.connect.s3.format.parquet.ParquetFormat", ".snappy.parquet", "read_parquet", parquetCols, nil},
		{"parquet-zstd", "io.confluent.connect.gcs.format.parquet.ParquetFormat", ".zstd.parquet", "read_parquet", parquetCols, map[string]string{ParquetCodecConfig: "zstd"}},
		{"parquet-gzip", "ParquetFormat", ".gz.parquet", "read_parquet", parquetCols, map[string]string{ParquetCodecConfig: "gzip"}},
		{"parquet-none", "parquet", ".parquet", "read_parquet", parquetCols, map[string]string{ParquetCodecConfig: "none", ParquetRowGroupBytes: "65536"}},
		{"json", "io.confluent.connect.s3.format.json.JsonFormat", ".json", "read_json_auto", jsonCols, map[string]string{JSONDecimalConfig: "NUMERIC"}},
		{"json-gzip", "JsonFormat", ".json.gz", "read_json_auto", jsonCols, map[string]string{JSONDecimalConfig: "NUMERIC", CompressionConfig: "gzip"}},
		{"json-zstd", "JsonFormat", ".json.zst", "read_json_auto", jsonCols, map[string]string{JSONDecimalConfig: "NUMERIC", CompressionConfig: "zstd"}},
		{"csv", "CsvFormat", ".csv", "read_csv", csvCols, map[string]string{JSONDecimalConfig: "NUMERIC"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			props := map[string]string{StoreURLConfig: "file://" + dir, FormatConfig: tc.format}
			for k, v := range tc.extra {
				props[k] = v
			}
			writeOnce(t, props, n)
			path := dir + "/topics/t/partition=0/t+0+0000000000" + tc.ext
			src := fmt.Sprintf("%s('%s')", tc.read, path)
			switch tc.read {
			case "read_csv":
				src = fmt.Sprintf("read_csv('%s', header=true, all_varchar=true)", path)
			case "read_json_auto":
				src = fmt.Sprintf("read_json_auto('%s', format='newline_delimited')", path)
			}
			compareRows(t, tc.cols, src, n)
		})
	}
}
