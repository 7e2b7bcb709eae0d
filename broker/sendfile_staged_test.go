//go:build unix

package broker

import (
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/penstockhq/penstock/broker/storage"
	"github.com/penstockhq/penstock/internal/testcerts"
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

// TestWriteStaged checks the staged (TLS) path with file ranges at offsets
// that are not record-aligned, between encoded parts and records in memory:
// the bytes are the response's, and every write but the last is whole TLS
// records (16 KiB).
func TestWriteStaged(t *testing.T) {
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
		{at: 25, file: storage.FileRange{File: f, Pos: 500 << 10, Len: 64 << 10}},
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
		if n%(16<<10) != 0 {
			t.Errorf("write %d of %d is %d bytes, not whole %d-byte records (all writes: %v)", i, len(w.sizes), n, 16<<10, w.sizes)
		}
	}

	// A range past the file's end (the file shrank) fails the response.
	if err := writeStaged(&w, nil, []splice{{file: storage.FileRange{File: f, Pos: 1<<20 - 100, Len: 64 << 10}}}); !errors.Is(err, errShortFile) {
		t.Errorf("range past the end: got %v, want errShortFile", err)
	}
}

// BenchmarkWriteStagedTLS measures the broker's side of a TLS fetch: 1 MiB
// file ranges written through a corked TLS connection over loopback to a
// client that discards the sealed bytes. cpu-ns/MB is the process's
// user+sys time (the discarding reader's included): bench/tls, which
// counts both clients too, cannot see a change of a few percent here.
func BenchmarkWriteStagedTLS(b *testing.B) {
	const fileSize, rangeSize = 64 << 20, 1 << 20
	f, err := os.Create(filepath.Join(b.TempDir(), "seg"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	content := make([]byte, fileSize)
	rand.Read(content)
	if _, err := f.Write(content); err != nil {
		b.Fatal(err)
	}
	ca := testcerts.NewCA(b, "bench-ca")
	pair := ca.Server(b, "127.0.0.1")
	cert, err := tls.X509KeyPair([]byte(pair.CertPEM), []byte(pair.KeyPEM))
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	done := make(chan error, 1)
	go func() {
		raw, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			done <- err
			return
		}
		defer raw.Close()
		if err := tls.Client(raw, &tls.Config{InsecureSkipVerify: true}).Handshake(); err != nil {
			done <- err
			return
		}
		_, err = io.Copy(io.Discard, raw) // the sealed records, unread
		done <- err
	}()
	nc, err := ln.Accept()
	if err != nil {
		b.Fatal(err)
	}
	cork := &corkConn{Conn: nc}
	tc := tls.Server(cork, &tls.Config{Certificates: []tls.Certificate{cert}})
	if err := tc.Handshake(); err != nil {
		b.Fatal(err)
	}
	hdr := make([]byte, 64)
	b.SetBytes(rangeSize)
	b.ResetTimer()
	cpu0 := processCPU()
	for i := range b.N {
		pos := int64(i%(fileSize/rangeSize-1))*rangeSize + 100
		cork.cork()
		err := writeStaged(tc, hdr, []splice{{at: 40, file: storage.FileRange{File: f, Pos: pos, Len: rangeSize}}})
		if uerr := cork.uncork(); err == nil {
			err = uerr
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(processCPU()-cpu0)/(float64(b.N)*rangeSize/(1<<20)), "cpu-ns/MB")
	b.StopTimer()
	tc.Close()
	if err := <-done; err != nil {
		b.Fatal(err)
	}
}

// processCPU is the process's user+sys CPU time so far.
func processCPU() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
