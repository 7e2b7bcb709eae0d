// Package broker is Penstock's Kafka-protocol event log broker: a TCP server
// speaking the Kafka wire protocol (decoded and encoded with franz-go's kmsg)
// on top of the durable partition logs of package storage.
//
// Requests are dispatched through a handler table keyed by API key; each API
// family lives in its own file and registers itself in init. Later
// components (group coordinator, idempotent and transactional producers) add
// handlers the same way, or through Server.Handle from outside the package.
package broker

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/penstockhq/penstock/broker/storage"
	"github.com/penstockhq/penstock/internal/properties"
)

// RequestContext is what a handler knows about the request it serves.
type RequestContext struct {
	// Server is the broker.
	Server *Server
	// Version is the request's API version.
	Version int16
	// ClientID is the client id from the request header.
	ClientID string
	// Remote is the client's address.
	Remote net.Addr
	// Closing is closed when the broker shuts down; handlers that wait
	// (long polls, fsyncs) must give up then.
	Closing <-chan struct{}
	// Listener is the name of the listener the client connected to.
	Listener string
	// Principal is the client's principal (User:<name>), User:ANONYMOUS
	// when unauthenticated.
	Principal string
	// sess is the connection's security session (SASL handlers).
	sess *session
}

// advertisedHostPort is the address clients of this request's listener
// are told to connect to.
func (rc *RequestContext) advertisedHostPort() (string, int32) {
	return rc.Server.advertisedHostPort(rc.Listener)
}

// Reply is a handler's answer: a response now, a response computed later
// (while the connection keeps reading and handling the requests behind it,
// responses still go out in request order), or no response at all.
type Reply struct {
	resp  kmsg.Response
	later func() kmsg.Response
	none  bool
	err   error
	// release runs after the response was encoded; fetch returns its
	// pooled read buffers with it.
	release func()
}

// Respond answers with resp now.
func Respond(resp kmsg.Response) Reply { return Reply{resp: resp} }

// RespondLater answers with what fn returns; fn runs on the connection's
// writer after the responses to earlier requests, so it may block (waiting
// for an fsync or for data to fetch).
func RespondLater(fn func() kmsg.Response) Reply { return Reply{later: fn} }

// NoResponse sends nothing (Produce with acks=0).
func NoResponse() Reply { return Reply{none: true} }

// CloseConnection closes the client's connection after the responses to
// earlier requests, the protocol's answer to a request it cannot answer.
func CloseConnection(err error) Reply { return Reply{err: err} }

// HandlerFunc serves one decoded request.
type HandlerFunc func(rc *RequestContext, req kmsg.Request) Reply

type handler struct {
	min, max int16
	fn       HandlerFunc
}

// builtin handlers registered by this package's files in init.
var builtin = map[int16]handler{}

func register(key int16, minV, maxV int16, fn HandlerFunc) {
	builtin[key] = handler{minV, maxV, fn}
}

// Server is a running broker.
type Server struct {
	cfg       Config
	log       *slog.Logger
	clusterID string
	syncer    *storage.Syncer
	fs        storage.FS // where the data directory is (storage.OSFS unless a test says)
	metrics   *metrics

	hmu      sync.RWMutex
	handlers map[int16]handler

	topicsMu sync.RWMutex
	topics   map[string]*topic
	topicIDs map[[16]byte]*topic

	// AppendHooks, when set before the first topic is opened, supplies a
	// storage.AppendHook per partition (producer id and sequence checks).
	appendHooks func(topic string, partition int32) storage.AppendHook

	// coord holds the group and transaction coordinators, producer
	// state and the log cleaner (coordinators.go).
	coord *coordinators

	// sec holds listeners, SASL and ACLs (auth.go).
	sec *secState

	mu        sync.Mutex
	listeners []net.Listener
	laddrs    map[string]net.Addr
	conns     map[*conn]struct{}
	closed    bool
	closing   chan struct{}
	addr      net.Addr
	wg        sync.WaitGroup
}

// New opens the data directory (recovering every partition log) and returns
// a Server ready to Serve.
func New(cfg Config) (*Server, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("broker: no data directory")
	}
	d := DefaultConfig()
	if cfg.Listen == "" {
		cfg.Listen = d.Listen
	}
	if cfg.NumPartitions <= 0 {
		cfg.NumPartitions = 1
	}
	if cfg.MaxRequestBytes <= 0 {
		cfg.MaxRequestBytes = d.MaxRequestBytes
	}
	if cfg.RetentionCheckInterval <= 0 {
		cfg.RetentionCheckInterval = d.RetentionCheckInterval
	}
	if cfg.CleanupPolicy == "" {
		cfg.CleanupPolicy = d.CleanupPolicy
	}
	if cfg.Log == (storage.Config{}) {
		cfg.Log = d.Log
	}
	if cfg.Props == nil {
		cfg.Props = map[string]string{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Server{
		cfg:      cfg,
		log:      cfg.Logger,
		handlers: make(map[int16]handler, len(builtin)),
		topics:   map[string]*topic{},
		topicIDs: map[[16]byte]*topic{},
		conns:    map[*conn]struct{}{},
		laddrs:   map[string]net.Addr{},
		closing:  make(chan struct{}),
	}
	for k, h := range builtin {
		s.handlers[k] = h
	}
	s.fs = cfg.FS
	if s.fs == nil {
		s.fs = storage.OSFS
	}
	s.metrics = newMetrics(s, cfg.Metrics)
	if err := storage.MkdirDurable(s.fs, cfg.DataDir); err != nil {
		return nil, fmt.Errorf("broker: create data dir: %w", err)
	}
	if err := s.loadMeta(); err != nil {
		return nil, err
	}
	if err := s.initSecurity(); err != nil {
		return nil, err
	}
	s.syncer = storage.NewSyncer(s.log)
	if err := s.initCoordinators(); err != nil {
		s.syncer.Close()
		return nil, err
	}
	if err := s.loadTopics(); err != nil {
		s.closeTopics()
		s.syncer.Close()
		return nil, fmt.Errorf("broker: %w", err)
	}
	if err := s.startCoordinators(); err != nil {
		s.closeTopics()
		s.syncer.Close()
		return nil, err
	}
	s.wg.Go(s.retentionLoop)
	return s, nil
}

// SetAppendHooks installs a factory of per-partition append hooks (used by
// the idempotent/transactional producer state). Partitions opened before the
// call keep their hooks; call it before serving.
func (s *Server) SetAppendHooks(f func(topic string, partition int32) storage.AppendHook) {
	s.appendHooks = f
}

func (s *Server) appendHook(topic string, partition int32) storage.AppendHook {
	if s.appendHooks == nil {
		return nil
	}
	return s.appendHooks(topic, partition)
}

// Handle installs (or replaces) the handler for an API key, advertised in
// ApiVersions with versions minV..maxV clamped to what kmsg knows.
func (s *Server) Handle(key, minV, maxV int16, fn HandlerFunc) {
	s.hmu.Lock()
	s.handlers[key] = handler{minV, maxV, fn}
	s.hmu.Unlock()
}

func (s *Server) handler(key int16) (handler, bool) {
	s.hmu.RLock()
	defer s.hmu.RUnlock()
	h, ok := s.handlers[key]
	if !ok {
		return h, false
	}
	if r := kmsg.RequestForKey(key); r != nil && h.max > r.MaxVersion() {
		h.max = r.MaxVersion()
	} else if r == nil {
		return h, false
	}
	return h, true
}

// Config returns the broker's configuration.
func (s *Server) Config() Config { return s.cfg }

// ClusterID is the cluster id stored in meta.properties.
func (s *Server) ClusterID() string { return s.clusterID }

// Logger is the broker's logger.
func (s *Server) Logger() *slog.Logger { return s.log }

// loadMeta reads or creates meta.properties (cluster id and node id), as a
// Kafka log dir has.
func (s *Server) loadMeta() error {
	p := filepath.Join(s.cfg.DataDir, "meta.properties")
	b, err := s.fs.ReadFile(p)
	if err == nil {
		props, err := properties.Parse(bytes.NewReader(b))
		if err != nil {
			return fmt.Errorf("broker: read %s: %w", p, err)
		}
		s.clusterID = props["cluster.id"]
		if id, ok := props["node.id"]; ok && id != strconv.Itoa(int(s.cfg.NodeID)) {
			return fmt.Errorf("broker: %s belongs to node.id %s, configured node.id is %d", p, id, s.cfg.NodeID)
		}
		if s.clusterID != "" {
			return nil
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("broker: %w", err)
	}
	var id [16]byte
	if _, err := rand.Read(id[:]); err != nil {
		return fmt.Errorf("broker: cluster id: %w", err)
	}
	s.clusterID = base64.RawURLEncoding.EncodeToString(id[:])
	body := fmt.Sprintf("#Written by penstock broker\nversion=1\ncluster.id=%s\nnode.id=%d\n", s.clusterID, s.cfg.NodeID)
	if err := storage.WriteFileAtomic(s.fs, p, []byte(body)); err != nil {
		return fmt.Errorf("broker: %w", err)
	}
	return nil
}

// ListenAndServe listens on every configured listener and serves until
// Close; it returns the first listener's error.
func (s *Server) ListenAndServe() error {
	var lns []net.Listener
	for _, l := range s.sec.listeners {
		ln, err := net.Listen("tcp", l.Addr)
		if err != nil {
			for _, o := range lns {
				o.Close()
			}
			return fmt.Errorf("broker: listen %s://%s: %w", l.Name, l.Addr, err)
		}
		lns = append(lns, ln)
	}
	errc := make(chan error, len(lns))
	for i, ln := range lns {
		go func() { errc <- s.ServeListener(s.sec.listeners[i].Name, ln) }()
	}
	var first error
	for range lns {
		if err := <-errc; err != nil && first == nil {
			first = err
			s.Close()
		}
	}
	return first
}

// Serve accepts connections on ln as the first configured listener until
// Close. It returns nil after Close.
func (s *Server) Serve(ln net.Listener) error {
	return s.ServeListener(s.sec.listeners[0].Name, ln)
}

// ServeListener accepts connections on ln as the named listener (its
// protocol decides TLS and SASL) until Close.
func (s *Server) ServeListener(name string, ln net.Listener) error {
	l := s.listener(name)
	if l == nil {
		ln.Close()
		return fmt.Errorf("broker: no listener named %s", name)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ln.Close()
		return errors.New("broker: closed")
	}
	s.listeners = append(s.listeners, ln)
	if s.addr == nil {
		s.addr = ln.Addr()
	}
	s.laddrs[l.Name] = ln.Addr()
	s.mu.Unlock()
	s.log.Info("broker ready", "listen", ln.Addr().String(), "listener", l.Name, "protocol", l.Protocol,
		"advertise", s.advertisedAddr(l.Name), "data", s.cfg.DataDir, "node_id", s.cfg.NodeID, "cluster_id", s.clusterID)
	s.warnOpen(*l, ln.Addr())
	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			select {
			case <-s.closing:
				return nil
			default:
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				time.Sleep(delay)
				continue
			}
			return fmt.Errorf("broker: accept: %w", err)
		}
		delay = 0
		var cork *corkConn
		if l.TLS() {
			cork = &corkConn{Conn: nc}
			nc = tls.Server(cork, s.sec.tls[l.Name])
		}
		s.startConn(nc, l, cork)
	}
}

// Addr is the address of the first listener served, or nil before Serve.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// ListenerAddr is the bound address of the named listener, or nil.
func (s *Server) ListenerAddr(name string) net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.laddrs[name]
}

// AdvertisedAddr is the host:port clients of the first listener are told
// to connect to.
func (s *Server) AdvertisedAddr() string { return s.advertisedAddr(s.sec.listeners[0].Name) }

func (s *Server) advertisedAddr(name string) string {
	l := s.listener(name)
	if l == nil {
		l = &s.sec.listeners[0]
	}
	if l.Advertised != "" {
		return l.Advertised
	}
	if a := s.ListenerAddr(l.Name); a != nil {
		host, port, err := net.SplitHostPort(a.String())
		if err == nil && (host == "::" || host == "0.0.0.0" || host == "") {
			if h, err := os.Hostname(); err == nil {
				host = h
			}
		}
		return net.JoinHostPort(host, port)
	}
	return l.Addr
}

func (s *Server) advertisedHostPort(listener string) (string, int32) {
	addr := s.advertisedAddr(listener)
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr, 9092
	}
	p, _ := strconv.Atoi(port)
	return host, int32(p)
}

// Close stops listening, closes every connection, waits for fsyncs and
// closes the logs.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	close(s.closing)
	for _, ln := range s.listeners {
		ln.Close()
	}
	for c := range s.conns {
		c.nc.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	s.syncer.Close()
	err := s.closeTopics()
	s.log.Info("broker stopped")
	return err
}

func (s *Server) closeTopics() error {
	var errs []error
	for _, t := range s.topicList() {
		for _, l := range t.partitions() {
			if err := l.Close(); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

func (s *Server) retentionLoop() {
	tick := time.NewTicker(s.cfg.RetentionCheckInterval)
	defer tick.Stop()
	for {
		select {
		case <-s.closing:
			return
		case <-tick.C:
		}
		s.ApplyRetention()
	}
}

// ApplyRetention runs time and size retention on every partition now (the
// retention loop does this every log.retention.check.interval.ms).
func (s *Server) ApplyRetention() {
	for _, t := range s.topicList() {
		for p, l := range t.partitions() {
			if n, err := l.ApplyRetention(); err != nil {
				s.log.Error("retention failed", "topic", t.name, "partition", p, "err", err)
			} else if n > 0 {
				s.log.Info("retention deleted segments", "topic", t.name, "partition", p, "segments", n)
			}
		}
	}
}

// Run starts a broker from cfg, serves until ctx is done, then shuts down
// cleanly. It is the body of `penstock broker`, which cancels ctx on
// SIGTERM or SIGINT.
func Run(ctx context.Context, cfg Config) error {
	s, err := New(cfg)
	if err != nil {
		return err
	}
	errc := make(chan error, 1)
	go func() { errc <- s.ListenAndServe() }()
	select {
	case <-ctx.Done():
		s.log.Info("broker shutting down", "reason", context.Cause(ctx))
		if err := s.Close(); err != nil {
			return err
		}
		return <-errc
	case err := <-errc:
		s.Close()
		return err
	}
}

// SyncStats reports the group-commit syncer's counters (for benchmarks).
func (s *Server) SyncStats() storage.SyncStats { return s.syncer.Stats() }
