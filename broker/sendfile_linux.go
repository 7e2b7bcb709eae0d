package broker

import (
	"errors"
	"net"
	"os"
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

// mapRange maps r's bytes of its segment file read-only (MAP_SHARED: the
// page cache's own pages, no copy) and returns them with the function that
// unmaps them. ok is false when r cannot be mapped (not an *os.File, a range
// past the file's size now, a failed mmap): the caller then reads it.
//
// A mapping outlives what happens to the file meanwhile, with one
// exception. Retention and compaction unlink or replace segment files
// (compaction writes a new file and renames it over the old one): an
// unlinked file's pages stay valid while mapped, and Close leaves the
// mapping alone (the descriptor is held by Control while mapping, so a
// concurrent Close cannot hand us another file's descriptor). What would
// fault is a file truncated below a mapped page, and broker/storage
// truncates a segment in two places only: start-up recovery (a torn tail,
// before the log serves any fetch) and Log.fail, which cuts the unsynced
// tail of the active segment when a write or fsync fails; a fetch can be
// reading that tail only with ReadUnsynced. writeMapped turns such a fault
// into an error (the connection is closed) instead of a crash. The size is
// checked here so that no byte past the file's end at fetch time is mapped.
func mapRange(r storage.FileRange) (data []byte, unmap func(), ok bool) {
	f, isFile := r.File.(*os.File)
	if !isFile || r.Len <= 0 {
		return nil, nil, false
	}
	sc, err := f.SyscallConn()
	if err != nil {
		return nil, nil, false
	}
	page := int64(os.Getpagesize())
	start := r.Pos &^ (page - 1)
	var m []byte
	cerr := sc.Control(func(fd uintptr) {
		var st syscall.Stat_t
		if syscall.Fstat(int(fd), &st) != nil || r.Pos+r.Len > st.Size {
			return
		}
		// MAP_POPULATE fills the page table in the one call instead of
		// one fault per few pages as the cipher reads them.
		m, err = syscall.Mmap(int(fd), start, int(r.Pos+r.Len-start), syscall.PROT_READ, syscall.MAP_SHARED|syscall.MAP_POPULATE)
	})
	if cerr != nil || err != nil || m == nil {
		return nil, nil, false
	}
	return m[r.Pos-start:], func() { syscall.Munmap(m) }, true
}
