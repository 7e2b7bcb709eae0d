package blob

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"testing"
	"time"

	"github.com/hamba/avro/v2/ocf"
)

// TestAvroObjectContainerFiles writes records of every Connect type as Avro
// object container files with each codec, decodes them with hamba/avro's
// reader into generic values, and compares them with the records; a
// rewritten object has the same bytes.
func TestAvroObjectContainerFiles(t *testing.T) {
	const n = 30
	for _, codec := range []string{"null", "deflate", "snappy", "zstandard"} {
		t.Run(codec, func(t *testing.T) {
			var first []byte
			for run := 0; run < 2; run++ {
				dir := t.TempDir()
				writeOnce(t, map[string]string{StoreURLConfig: "file://" + dir, FormatConfig: "io.confluent.connect.s3.format.avro.AvroFormat", AvroCodecConfig: codec}, n)
				data, err := os.ReadFile(dir + "/topics/t/partition=0/t+0+0000000000.avro")
				if err != nil {
					t.Fatal(err)
				}
				if run == 1 {
					if !bytes.Equal(first, data) {
						t.Fatal("the rewritten object has other bytes")
					}
					return
				}
				first = data
				dec, err := ocf.NewDecoder(bytes.NewReader(data))
				if err != nil {
					t.Fatal(err)
				}
				if got := string(dec.Metadata()["avro.codec"]); got != codec {
					t.Fatalf("codec %q", got)
				}
				i := int64(0)
				for dec.HasNext() {
					var v map[string]any
					if err := dec.Decode(&v); err != nil {
						t.Fatal(err)
					}
					got := avroCanonical(t, v)
					for k, w := range canonical(t, i) {
						if fmt.Sprint(got[k]) != fmt.Sprint(w) {
							t.Errorf("record %d field %s: read %v, want %v", i, k, got[k], w)
						}
					}
					i++
				}
				if dec.Error() != nil || i != n {
					t.Fatalf("%d records read: %v", i, dec.Error())
				}
			}
		})
	}
}

// avroCanonical renders a decoded Avro record as canonical's columns.
func avroCanonical(t *testing.T, v map[string]any) map[string]any {
	unwrap := func(x any) any { // a union branch {name: value}
		if m, ok := x.(map[string]any); ok && len(m) == 1 {
			for _, y := range m {
				return y
			}
		}
		return x
	}
	nested := v["nested"].(map[string]any)
	nb, _ := json.Marshal(map[string]any{"a": nested["a"], "b": unwrap(nested["b"])})
	tags, _ := json.Marshal(v["tags"])
	attrs, _ := json.Marshal(v["attrs"])
	out := map[string]any{
		"seq": v["seq"], "b": v["b"], "i8": v["i8"], "i16": v["i16"], "i32": v["i32"], "f32": float64(v["f32"].(float32)),
		"f64": v["f64"], "s": v["s"], "opt": unwrap(v["opt"]), "kind": v["kind"],
		"raw":    base64.StdEncoding.EncodeToString(v["raw"].([]byte)),
		"dec":    v["dec"].(*big.Rat).FloatString(2),
		"day":    v["day"].(time.Time).Format(time.DateOnly),
		"tod_ms": v["tod"].(time.Duration).Milliseconds(),
		"ts_ms":  v["ts"].(time.Time).UnixMilli(),
		"tags":   string(tags), "attrs": string(attrs), "nested": string(nb),
	}
	b, _ := json.Marshal(out)
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}
