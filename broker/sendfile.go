package broker

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"

	"github.com/penstockhq/penstock/broker/storage"
)

// writeSpliced writes buf to w with each splice's bytes inserted at its
// offset (splices in increasing order of at): the encoded parts go out with
// writev (net.Buffers), records in memory as their own buffers, and file
// ranges with sendfile where the connection allows it. A connection that
// is not a socket (TLS) takes writeStaged instead.
func writeSpliced(w net.Conn, buf []byte, splices []splice) error {
	if _, ok := w.(syscall.Conn); !ok {
		return writeStaged(w, buf, splices)
	}
	var arr [16][]byte
	bufs := net.Buffers(arr[:0])
	prev := 0
	for i := range splices {
		s := &splices[i]
		bufs = append(bufs, buf[prev:s.at])
		prev = s.at
		if s.file.Len == 0 {
			bufs = append(bufs, s.data)
			continue
		}
		if _, err := bufs.WriteTo(w); err != nil {
			return err
		}
		bufs = net.Buffers(arr[:0])
		if err := sendFileRange(w, s.file); err != nil {
			return err
		}
	}
	bufs = append(bufs, buf[prev:])
	_, err := bufs.WriteTo(w)
	return err
}

// stageSize is the staging buffer of writeStaged: a multiple of the 16 KiB
// TLS record payload, so that each full write is sealed as whole records.
const stageSize = 256 << 10

// writeStaged writes buf with its splices through one pooled staging
// buffer, in writes of stageSize bytes: the file ranges are read (pread)
// straight into it, and the encoded parts between them join the records
// around them. It is the path of connections that cannot sendfile, TLS
// above all: crypto/tls seals each Write into records of at most 16 KiB and
// writes each one, so small writes (a partition's header alone, or io.Copy's
// 32 KiB reads) would cost a record, a seal and a syscall each, and reading
// through io.Copy would allocate its buffer for every range.
//
// Sealing the file ranges straight from an mmap of the segment instead of
// the pread was measured (BenchmarkWriteStagedTLS, bench/tls): it saved
// about 3% of this path's CPU at best, within the noise, for a SIGBUS to
// guard against. crypto/tls copies each record's payload before sealing it
// anyway (TLS 1.3 appends the content type), so the pread copy mostly moves
// where the page cache is first read.
func writeStaged(w io.Writer, buf []byte, splices []splice) error {
	pooled := storage.GetBuffer(stageSize)
	defer storage.PutBuffer(pooled)
	st := pooled[:0:stageSize]
	flush := func() error {
		_, err := w.Write(st)
		st = st[:0]
		return err
	}
	add := func(p []byte) error {
		for len(p) > 0 {
			if len(st) == cap(st) {
				if err := flush(); err != nil {
					return err
				}
			}
			n := copy(st[len(st):cap(st)], p)
			st, p = st[:len(st)+n], p[n:]
		}
		return nil
	}
	prev := 0
	for i := range splices {
		s := &splices[i]
		if err := add(buf[prev:s.at]); err != nil {
			return err
		}
		prev = s.at
		if s.file.Len == 0 {
			if err := add(s.data); err != nil {
				return err
			}
			continue
		}
		pos, remain := s.file.Pos, s.file.Len
		for remain > 0 {
			if len(st) == cap(st) {
				if err := flush(); err != nil {
					return err
				}
			}
			n := int(min(remain, int64(cap(st)-len(st))))
			m, err := s.file.File.ReadAt(st[len(st):len(st)+n], pos)
			if m < n {
				if err == nil || errors.Is(err, io.EOF) {
					err = errShortFile
				}
				return err
			}
			st = st[:len(st)+n]
			pos += int64(n)
			remain -= int64(n)
		}
	}
	if err := add(buf[prev:]); err != nil {
		return err
	}
	return flush()
}

// errShortFile is returned when a segment file range could not be read
// whole (the file was closed or shrank): the response is then cut short and
// the connection must be closed.
var errShortFile = errors.New("segment file range shorter than expected")

// copyFileRange is the portable way to send a file range: read and write.
func copyFileRange(w io.Writer, r storage.FileRange) error {
	n, err := io.Copy(w, io.NewSectionReader(r.File, r.Pos, r.Len))
	if err == nil && n != r.Len {
		err = errShortFile
	}
	return err
}

// writeFetch writes a fetch response whose records may be in segment files
// (header and the kmsg-compatible encoding around the records, then the
// records themselves). It returns handled false, having written nothing,
// when the response cannot be spliced (the caller encodes it with kmsg).
// An error after something was written leaves the stream broken: the caller
// must close the connection.
//
// Records it reads into memory are in buffers appended to bufs, for the
// caller to return with storage.PutBuffer once the response is written.
func writeFetch(w net.Conn, corr int32, v *fetchResponse, buf []byte, bufs *[][]byte) (out []byte, handled bool, err error) {
	// Small ranges are cheaper read into the encoded buffer: one write,
	// one packet, instead of a writev and a sendfile.
	if err := v.materialize(bufs, spliceMin); err != nil {
		// Nothing written yet: let the caller's fallback report it.
		return buf, false, nil
	}
	buf = append(buf[:0], 0, 0, 0, 0)
	buf = binary.BigEndian.AppendUint32(buf, uint32(corr))
	if v.IsFlexible() {
		buf = append(buf, 0) // response header v1: no tagged fields
	}
	var arr [8]splice
	buf, splices, ok := appendFetchSpliced(buf, v, arr[:0])
	if !ok {
		return buf, false, nil
	}
	size := int64(len(buf) - 4)
	for i := range splices {
		size += splices[i].len()
	}
	if size > 1<<31-1 {
		return buf, false, nil
	}
	binary.BigEndian.PutUint32(buf, uint32(size))
	if err := writeSpliced(w, buf, splices); err != nil {
		return buf, true, fmt.Errorf("write fetch response: %w", err)
	}
	return buf, true, nil
}
