package broker

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"runtime/debug"
	"time"

	"github.com/twmb/franz-go/pkg/kbin"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/penstockhq/penstock/broker/security"
	"github.com/penstockhq/penstock/broker/storage"
)

// maxInflight bounds how many requests of one connection may be handled
// ahead of their responses being written (pipelining).
const maxInflight = 64

// conn is one client connection: a read loop that decodes and handles
// requests in order, and a write loop that sends their responses in the
// same order, finishing deferred ones (acks=all, long polls) as it goes.
type conn struct {
	s    *Server
	nc   net.Conn
	out  chan pending
	lst  *security.Listener
	sess session
	cork *corkConn // under a TLS connection, else nil
}

type pending struct {
	key     int16
	version int16
	corr    int32
	reply   Reply
	start   time.Time // when the request was read, for the latency metric
}

func (s *Server) startConn(nc net.Conn, l *security.Listener, cork *corkConn) {
	c := &conn{s: s, nc: nc, out: make(chan pending, maxInflight), lst: l, cork: cork,
		sess: session{principal: Anonymous, authenticated: !l.SASL()}}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		nc.Close()
		return
	}
	s.conns[c] = struct{}{}
	s.wg.Add(2)
	s.mu.Unlock()
	if tc, ok := nc.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}
	go func() {
		defer s.wg.Done()
		c.readLoop()
	}()
	go func() {
		defer s.wg.Done()
		c.writeLoop()
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
	}()
}

func (c *conn) readLoop() {
	defer close(c.out)
	if err := c.handshakeTLS(); err != nil {
		c.s.log.Info("closing connection: TLS handshake failed", "remote", c.nc.RemoteAddr().String(), "listener", c.lst.Name, "err", err)
		return
	}
	br := bufio.NewReaderSize(c.nc, 64<<10)
	var sizeBuf [4]byte
	for {
		if _, err := io.ReadFull(br, sizeBuf[:]); err != nil {
			return
		}
		size := int32(binary.BigEndian.Uint32(sizeBuf[:]))
		if size < 8 || size > c.s.cfg.MaxRequestBytes {
			c.s.log.Warn("closing connection: bad request size", "remote", c.nc.RemoteAddr().String(), "size", size,
				"max", c.s.cfg.MaxRequestBytes)
			c.out <- pending{reply: CloseConnection(fmt.Errorf("request size %d", size))}
			return
		}
		body := make([]byte, size)
		if _, err := io.ReadFull(br, body); err != nil {
			return
		}
		p := c.handle(body)
		c.out <- p
		if p.reply.err != nil {
			return
		}
	}
}

// RequestHeader is the decoded header of a request frame.
type RequestHeader struct {
	Key           int16
	Version       int16
	CorrelationID int32
	ClientID      string
}

// DecodeRequest parses a request frame (without its size prefix) into its
// header and a kmsg request of the right type and version. It is the only
// request decoder of the broker, and what the fuzz test exercises.
func DecodeRequest(body []byte) (RequestHeader, kmsg.Request, error) {
	var h RequestHeader
	r := kbin.Reader{Src: body}
	h.Key = r.Int16()
	h.Version = r.Int16()
	h.CorrelationID = r.Int32()
	if cid := r.NullableString(); cid != nil {
		h.ClientID = *cid
	}
	if !r.Ok() {
		return h, nil, errors.New("short request header")
	}
	req := kmsg.RequestForKey(h.Key)
	if req == nil {
		return h, nil, fmt.Errorf("unknown api key %d", h.Key)
	}
	if h.Version < 0 || h.Version > req.MaxVersion() {
		return h, req, fmt.Errorf("unsupported version %d of api key %d", h.Version, h.Key)
	}
	req.SetVersion(h.Version)
	if req.IsFlexible() {
		kmsg.SkipTags(&r)
		if !r.Ok() {
			return h, nil, errors.New("short request header tags")
		}
	}
	if err := req.ReadFrom(r.Src); err != nil {
		return h, nil, fmt.Errorf("decode %s v%d: %w", kmsg.NameForKey(h.Key), h.Version, err)
	}
	return h, req, nil
}

func (c *conn) handle(body []byte) (p pending) {
	h, req, err := DecodeRequest(body)
	p = pending{key: h.Key, version: h.Version, corr: h.CorrelationID, start: time.Now()}
	hd, ok := c.s.handler(h.Key)
	if h.Key == int16(kmsg.ApiVersions) && (err != nil || !ok || h.Version > hd.max) && h.Version >= 0 {
		// KIP-511: answer an ApiVersions we cannot parse at v0 with
		// UNSUPPORTED_VERSION and our versions, so the client retries.
		resp := c.s.apiVersionsResponse()
		resp.SetVersion(0)
		resp.ErrorCode = kerr.UnsupportedVersion.Code
		p.version = 0
		p.reply = Respond(resp)
		return p
	}
	if err != nil {
		c.s.log.Debug("closing connection: bad request", "remote", c.nc.RemoteAddr().String(), "err", err)
		p.reply = CloseConnection(err)
		return p
	}
	if !ok || h.Version < hd.min || h.Version > hd.max {
		c.s.log.Debug("closing connection: unsupported request", "remote", c.nc.RemoteAddr().String(),
			"api", kmsg.NameForKey(h.Key), "version", h.Version)
		p.reply = CloseConnection(fmt.Errorf("unsupported %s v%d", kmsg.NameForKey(h.Key), h.Version))
		return p
	}
	if err := c.gate(h.Key); err != nil {
		c.s.log.Info("closing connection", "remote", c.nc.RemoteAddr().String(), "listener", c.lst.Name, "err", err)
		p.reply = CloseConnection(err)
		return p
	}
	defer func() {
		if r := recover(); r != nil {
			c.s.log.Error("handler panic; closing connection", "api", kmsg.NameForKey(h.Key), "panic", r,
				"stack", string(debug.Stack()))
			p.reply = CloseConnection(fmt.Errorf("handler panic: %v", r))
		}
	}()
	rc := &RequestContext{Server: c.s, Version: h.Version, ClientID: h.ClientID, Remote: c.nc.RemoteAddr(), Closing: c.s.closing,
		Listener: c.lst.Name, Principal: c.sess.principal, sess: &c.sess}
	p.reply = c.s.authorized(rc, req, hd.fn)
	return p
}

func (c *conn) writeLoop() {
	defer c.nc.Close()
	var buf []byte
	for p := range c.out {
		if p.reply.err != nil {
			break
		}
		if p.reply.none {
			c.s.metrics.requestDone(p)
			continue
		}
		resp := p.reply.resp
		if p.reply.later != nil {
			resp = c.finish(p)
		}
		if resp == nil {
			break
		}
		resp.SetVersion(p.version)
		if fr, ok := resp.(*fetchResponse); ok {
			var handled bool
			var err error
			var bufs [][]byte
			if c.cork != nil {
				c.cork.cork()
			}
			if fr.ranges != nil {
				buf, handled, err = writeFetch(c.nc, p.corr, fr, buf, &bufs)
			}
			if !handled {
				// Encode it with kmsg, reading the records
				// left in the files.
				if err = fr.materialize(&bufs, math.MaxInt64); err == nil {
					buf = c.appendResponse(buf[:0], p, fr.FetchResponse)
					_, err = c.nc.Write(buf)
				}
			}
			if c.cork != nil {
				if uerr := c.cork.uncork(); err == nil {
					err = uerr
				}
			}
			for _, b := range bufs {
				storage.PutBuffer(b)
			}
			if p.reply.release != nil {
				p.reply.release()
			}
			if err != nil {
				c.s.log.Debug("closing connection: fetch response", "remote", c.nc.RemoteAddr().String(), "err", err)
				break
			}
			c.s.metrics.requestDone(p)
			if cap(buf) > 8<<20 {
				buf = nil
			}
			continue
		}
		buf = c.appendResponse(buf[:0], p, resp)
		if p.reply.release != nil {
			p.reply.release()
		}
		if _, err := c.nc.Write(buf); err != nil {
			break
		}
		c.s.metrics.requestDone(p)
		if cap(buf) > 8<<20 {
			buf = nil
		}
	}
	c.nc.Close()
	for range c.out { // let the read loop finish
	}
}

// appendResponse encodes the frame of resp (size, response header, body)
// into buf, overwriting it.
func (c *conn) appendResponse(buf []byte, p pending, resp kmsg.Response) []byte {
	buf = append(buf[:0], 0, 0, 0, 0)
	buf = binary.BigEndian.AppendUint32(buf, uint32(p.corr))
	if resp.IsFlexible() && p.key != int16(kmsg.ApiVersions) {
		buf = append(buf, 0) // response header v1: no tagged fields
	}
	buf = resp.AppendTo(buf)
	binary.BigEndian.PutUint32(buf, uint32(len(buf)-4))
	return buf
}

func (c *conn) finish(p pending) (resp kmsg.Response) {
	defer func() {
		if r := recover(); r != nil {
			c.s.log.Error("handler panic; closing connection", "api", kmsg.NameForKey(p.key), "panic", r,
				"stack", string(debug.Stack()))
			resp = nil
		}
	}()
	return p.reply.later()
}
