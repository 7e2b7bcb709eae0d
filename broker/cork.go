package broker

import (
	"net"
	"sync"

	"github.com/penstockhq/penstock/broker/storage"
)

// corkSize is how many bytes a corked connection gathers before writing
// them.
const corkSize = 256 << 10

// corkConn is the socket under a TLS connection. crypto/tls writes each
// record (at most 16 KiB) with a write of its own; while corked (a fetch
// response being written) the records are gathered and written corkSize
// bytes at a time instead, which saves the sender most of its syscalls
// and the receiver most of its wake-ups. Uncorked (the handshake, other
// responses) writes go straight through. The buffer is the storage pool's,
// taken by cork and given back by uncork, so an idle connection holds none.
type corkConn struct {
	net.Conn
	mu     sync.Mutex
	corked bool
	buf    []byte // while corked
}

func (c *corkConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.corked {
		return c.Conn.Write(p)
	}
	if len(c.buf)+len(p) > corkSize {
		if err := c.flushLocked(); err != nil {
			return 0, err
		}
	}
	if len(p) >= corkSize {
		return c.Conn.Write(p)
	}
	c.buf = append(c.buf, p...)
	return len(p), nil
}

// cork starts gathering writes.
func (c *corkConn) cork() {
	c.mu.Lock()
	c.corked = true
	if c.buf == nil {
		c.buf = storage.GetBuffer(corkSize)[:0]
	}
	c.mu.Unlock()
}

// uncork writes what was gathered and lets writes through again.
func (c *corkConn) uncork() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.corked = false
	err := c.flushLocked()
	storage.PutBuffer(c.buf)
	c.buf = nil
	return err
}

func (c *corkConn) flushLocked() error {
	if len(c.buf) == 0 {
		return nil
	}
	_, err := c.Conn.Write(c.buf)
	c.buf = c.buf[:0]
	return err
}
