package broker

import (
	"bytes"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/penstockhq/penstock/broker/storage"
)

// writesRecorder keeps what is written to it and the size of each write.
type writesRecorder struct {
	bytes.Buffer
	sizes []int
}

func (w *writesRecorder) Write(p []byte) (int, error) {
	w.sizes = append(w.sizes, len(p))
	return w.Buffer.Write(p)
}

// TestWriteStagedMapped checks the staged (TLS) path with file ranges large
// enough to be mapped, at offsets that are not page-aligned, between
// encoded parts and beside a range small enough to be read: the bytes are
// the response's, and every write but the last is whole TLS records.
func TestWriteStagedMapped(t *testing.T) {
	content := make([]byte, 1<<20)
	rand.Read(content)
	f, err := os.Create(filepath.Join(t.TempDir(), "seg"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(content); err != nil {
		t.Fatal(err)
	}
	buf := []byte("header-part-one|part-two|part-three|tail")
	splices := []splice{
		{at: 5, file: storage.FileRange{File: f, Pos: 1234, Len: 300<<10 + 17}},
		{at: 16, data: []byte("in-memory records")},
		{at: 16, file: storage.FileRange{File: f, Pos: 4096, Len: 100}},
		{at: 25, file: storage.FileRange{File: f, Pos: 500 << 10, Len: mapMin}},
		{at: 36, file: storage.FileRange{File: f, Pos: 1<<20 - 70<<10, Len: 70 << 10}},
	}
	var want []byte
	prev := 0
	for _, s := range splices {
		want = append(want, buf[prev:s.at]...)
		prev = s.at
		if s.file.Len > 0 {
			want = append(want, content[s.file.Pos:s.file.Pos+s.file.Len]...)
		} else {
			want = append(want, s.data...)
		}
	}
	want = append(want, buf[prev:]...)

	var w writesRecorder
	if err := writeStaged(&w, buf, splices); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(w.Bytes(), want) {
		t.Fatalf("wrote %d bytes that differ from the %d expected", w.Len(), len(want))
	}
	for i, n := range w.sizes[:len(w.sizes)-1] {
		if n%tlsRecord != 0 {
			t.Errorf("write %d of %d is %d bytes, not whole %d-byte records (all writes: %v)", i, len(w.sizes), n, tlsRecord, w.sizes)
		}
	}

	// A range past the file's end is not mapped (nor read: errShortFile).
	if _, _, ok := mapRange(storage.FileRange{File: f, Pos: 1<<20 - 100, Len: mapMin}); ok {
		t.Error("mapped a range past the end of the file")
	}
	if err := writeStaged(&w, nil, []splice{{file: storage.FileRange{File: f, Pos: 1<<20 - 100, Len: mapMin}}}); !errors.Is(err, errShortFile) {
		t.Errorf("range past the end: got %v, want errShortFile", err)
	}
}

// TestWriteMappedTruncated checks that a segment file truncated below a
// mapped range (Log.fail cutting an unsynced tail) fails the write with
// errShortFile instead of crashing the broker with SIGBUS.
func TestWriteMappedTruncated(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "seg"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(make([]byte, 1<<20)); err != nil {
		t.Fatal(err)
	}
	data, unmap, ok := mapRange(storage.FileRange{File: f, Pos: 8192, Len: 512 << 10})
	if !ok {
		t.Skip("mmap not available on this platform")
	}
	defer unmap()
	if err := f.Truncate(0); err != nil {
		t.Fatal(err)
	}
	var w writesRecorder
	nop := func([]byte) error { return nil }
	flush := func() error { return nil }
	if err := writeMapped(&w, data, nop, flush, 0); !errors.Is(err, errShortFile) {
		t.Fatalf("got %v, want errShortFile", err)
	}
}
