package storage

import (
	"testing"
)

// FuzzSplitBatches feeds arbitrary produce payloads to batch validation: it
// must never panic and must accept only batches whose CRC checks out.
func FuzzSplitBatches(f *testing.F) {
	good := makeBatch(3, 1000, 10)
	f.Add(good)
	f.Add(append(append([]byte{}, good...), makeBatch(1, 5, 0)...))
	f.Add(good[:BatchHeaderSize])
	f.Add([]byte{})
	f.Add(make([]byte, BatchHeaderSize))
	f.Fuzz(func(t *testing.T, data []byte) {
		_ = SplitBatches(data, func(b []byte, h BatchHeader) error {
			if h.Size() != len(b) || h.Magic != 2 {
				t.Fatalf("accepted inconsistent batch %+v of %d bytes", h, len(b))
			}
			return nil
		})
		FirstRecordAtOrAfter(data, 0)
	})
}
