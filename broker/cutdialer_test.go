package broker_test

import (
	"context"
	"errors"
	"net"
	"sync"
)

// cutDialer dials normally until cut, then closes every connection it made
// and refuses new ones: a client that vanished without a goodbye.
type cutDialer struct {
	mu    sync.Mutex
	conns []net.Conn
	dead  bool
}

func (d *cutDialer) dial(ctx context.Context, network, host string) (net.Conn, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.dead {
		return nil, errors.New("cut")
	}
	var nd net.Dialer
	c, err := nd.DialContext(ctx, network, host)
	if err == nil {
		d.conns = append(d.conns, c)
	}
	return c, err
}

func (d *cutDialer) cut() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.dead = true
	for _, c := range d.conns {
		c.Close()
	}
}
