package broker

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"

	"github.com/penstockhq/penstock/broker/storage"
)

// writeSpliced writes buf to w with each splice's bytes inserted at its
// offset (splices in increasing order of at): the encoded parts go out with
// writev (net.Buffers), records in memory as their own buffers, and file
// ranges with sendfile where the connection allows it.
func writeSpliced(w net.Conn, buf []byte, splices []splice) error {
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
