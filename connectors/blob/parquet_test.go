package blob

import (
	"bytes"
	"errors"
	"testing"

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
