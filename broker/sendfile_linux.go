package broker

import (
	"errors"
	"net"
	"syscall"

	"github.com/penstockhq/penstock/broker/storage"
)

// sendFileRange sends r to w with sendfile(2) when w is a socket, passing
// the file offset explicitly so that concurrent readers of the same
// segment file do not disturb each other (net's own sendfile path, used by
// io.Copy, reads from the file's shared position). The file's descriptor is
// held (Control) for the duration, so a concurrent Close cannot free it.
func sendFileRange(w net.Conn, r storage.FileRange) error {
	sc, ok := w.(syscall.Conn)
	if !ok {
		return copyFileRange(w, r)
	}
	dst, err := sc.SyscallConn()
	if err != nil {
		return copyFileRange(w, r)
	}
	f, ok := r.File.(syscall.Conn) // *os.File; test files are copied
	if !ok {
		return copyFileRange(w, r)
	}
	src, err := f.SyscallConn()
	if err != nil {
		return copyFileRange(w, r)
	}
	off, remain := r.Pos, r.Len
	var serr error
	cerr := src.Control(func(sfd uintptr) {
		werr := dst.Write(func(dfd uintptr) bool {
			for remain > 0 {
				n, err := syscall.Sendfile(int(dfd), int(sfd), &off, int(min(remain, 1<<30)))
				if n > 0 {
					remain -= int64(n)
				}
				switch {
				case errors.Is(err, syscall.EAGAIN):
					return false // wait until the socket is writable
				case errors.Is(err, syscall.EINTR):
				case err != nil:
					serr = err
					return true
				case n == 0:
					serr = errShortFile
					return true
				}
			}
			return true
		})
		if serr == nil {
			serr = werr
		}
	})
	if cerr != nil {
		return cerr
	}
	return serr
}
