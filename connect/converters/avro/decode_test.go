package avro

import (
	"testing"

	havro "github.com/hamba/avro/v2"

	"github.com/penstockhq/penstock/connect"
)

// fuzzSchema has a field of each kind readDatum decodes.
const fuzzSchema = `{"type":"record","name":"r","fields":[
 {"name":"b","type":"boolean"},{"name":"i","type":"int"},{"name":"l","type":["null","long"]},
 {"name":"f","type":"float"},{"name":"d","type":"double"},{"name":"s","type":"string"},
 {"name":"dec","type":{"type":"bytes","logicalType":"decimal","precision":10,"scale":2}},
 {"name":"a","type":{"type":"array","items":"string"}},{"name":"m","type":{"type":"map","values":"int"}},
 {"name":"e","type":{"type":"enum","name":"E","symbols":["X","Y"]}}]}`

// FuzzReadDatum feeds outside bytes to the fast decoder and to the
// hamba/avro fallback: errors, never a panic.
func FuzzReadDatum(f *testing.F) {
	as := havro.MustParse(fuzzSchema)
	cs, err := ToConnectSchema(as)
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte{1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 'x', 2, 1, 2, 2, 'y', 0, 2, 2, 'k', 4, 0, 2})
	f.Add([]byte{})
	codec := havro.Config{MaxByteSliceSize: 1 << 16, MaxSliceAllocSize: 1 << 16}.Freeze()
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _, _ = readDatum(b, cs, as)
		var a any
		if codec.Unmarshal(as, b, &a) == nil {
			_, _ = fromAvro(cs, as, a)
		}
	})
}

// TestForeignSchemaSlowPath reads a record whose schema has an enum (as
// Avro producers outside Connect write): the fast decoder hands it to
// hamba/avro, and the enum reads as a string.
func TestForeignSchemaSlowPath(t *testing.T) {
	as := havro.MustParse(fuzzSchema)
	cs, err := ToConnectSchema(as)
	if err != nil {
		t.Fatal(err)
	}
	in := map[string]any{"b": true, "i": 1, "l": nil, "f": float32(1), "d": 2.0, "s": "x",
		"dec": []byte{1}, "a": []any{"y"}, "m": map[string]any{"k": 2}, "e": "Y"}
	b, err := havro.Marshal(as, in)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := readDatum(b, cs, as); err != errSlowPath {
		t.Fatalf("readDatum: %v, want the slow path", err)
	}
	var a any
	if err := havro.Unmarshal(as, b, &a); err != nil {
		t.Fatal(err)
	}
	v, err := fromAvro(cs, as, a)
	if err != nil {
		t.Fatal(err)
	}
	if st := v.(*connect.Struct); st.Get("e") != "Y" || st.Get("s") != "x" {
		t.Fatalf("got %v", st)
	}
}
