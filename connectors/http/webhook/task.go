// Package webhook is Penstock's webhook source (alias http-webhook): an HTTP
// listener whose requests become records. A request is answered 2xx only
// once the broker acknowledged each of its records (the task hears of them
// through connect.SourceRecordCommitter), so a caller that got a 2xx never
// loses its event; under backpressure it gets 503 with Retry-After.
package webhook

import (
	"bufio"
	"bytes"
	"context"
	"crypto/subtle"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connect/config"
	"github.com/penstockhq/penstock/connectors/http/httpclient"
)

// Version is the connector's version as /connector-plugins reports it.
const Version = "0.1.0"

// Keys of the records' source partition and offset. The offset is a
// sequence number of the task's run: it tells acknowledgements apart, and
// nothing resumes from it.
const (
	PartitionField = "webhook"
	SeqField       = "seq"
)

// Task listens and turns requests into records.
type Task struct {
	s    *settings
	log  *slog.Logger
	srv  *http.Server
	ln   net.Listener
	part map[string]any

	queue    chan *connect.Record
	inflight atomic.Int64 // records taken and not yet acknowledged
	seq      atomic.Int64
	stopping chan struct{}
	stopOnce sync.Once

	mu      sync.Mutex
	waiting map[int64]*request // seq -> the request waiting for it
}

// request is a caller waiting for its records.
type request struct {
	left atomic.Int32
	mu   sync.Mutex
	err  error
	done chan struct{}
}

var (
	_ connect.SourceTask            = (*Task)(nil)
	_ connect.SourceRecordCommitter = (*Task)(nil)
)

// Start opens the listener.
func (t *Task) Start(_ context.Context, tctx connect.SourceTaskContext, props map[string]string) error {
	s, err := parseSettings(props)
	if err != nil {
		return fmt.Errorf("http webhook: %w", err)
	}
	t.s = s
	t.log = slog.Default().With("connector", tctx.ConnectorName(), "task", tctx.TaskID())
	t.part = map[string]any{PartitionField: s.listener + s.path}
	t.queue = make(chan *connect.Record, s.maxQueued)
	t.stopping = make(chan struct{})
	t.waiting = map[int64]*request{}
	ln, err := net.Listen("tcp", s.listener)
	if err != nil {
		return fmt.Errorf("http webhook: %s: %w", ListenerConfig, err)
	}
	if s.certFile != "" {
		cfg, err := s.tlsConfig()
		if err != nil {
			ln.Close()
			return fmt.Errorf("http webhook: %w", err)
		}
		ln = tls.NewListener(ln, cfg)
	}
	t.ln = ln
	mux := http.NewServeMux()
	mux.HandleFunc(s.path, t.handle)
	t.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: time.Minute}
	go func() {
		if err := t.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.log.Error("http webhook: listener failed", "err", err)
		}
	}()
	t.log.Info("http webhook: listening", "address", ln.Addr().String(), "path", s.path, "tls", s.certFile != "")
	return nil
}

func (s *settings) tlsConfig() (*tls.Config, error) {
	cert, err := httpclient.LoadKeyPair(TLSKeystoreConfig, s.certFile)
	if err != nil {
		return nil, err
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if s.caFile != "" {
		if cfg.ClientCAs, err = httpclient.LoadCertPool(TLSTruststoreConfig, s.caFile); err != nil {
			return nil, err
		}
		cfg.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return cfg, nil
}

// Addr returns the listener's address (useful with port 0).
func (t *Task) Addr() string { return t.ln.Addr().String() }

// handle takes one request: authenticate, read, split into records, queue
// them, and answer once the broker acknowledged them all.
func (t *Task) handle(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost && r.Method != http.MethodPut {
		w.Header().Set("Allow", "POST, PUT")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if r.URL.Path != t.s.path {
		http.NotFound(w, r)
		return
	}
	if !t.authorized(r) {
		if t.s.authType == AuthBasic {
			w.Header().Set("WWW-Authenticate", `Basic realm="penstock"`)
		}
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, t.s.maxBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			http.Error(w, fmt.Sprintf("body larger than %s=%d", MaxRequestBytesConfig, t.s.maxBytes), http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "reading the body: "+err.Error(), http.StatusBadRequest)
		return
	}
	if t.s.authType == AuthHMAC {
		if err := t.s.verifySignature(r.Header.Get(t.s.hmacHeader), body, time.Now()); err != nil {
			http.Error(w, "signature: "+err.Error(), http.StatusUnauthorized)
			return
		}
	}
	recs, err := t.records(r, body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if len(recs) == 0 {
		w.WriteHeader(http.StatusOK)
		return
	}
	n := int64(len(recs))
	if t.inflight.Add(n) > int64(t.s.maxQueued) {
		t.inflight.Add(-n)
		t.busy(w, "too many records waiting for the broker")
		return
	}
	req := &request{done: make(chan struct{})}
	req.left.Store(int32(n))
	t.mu.Lock()
	for _, rec := range recs {
		t.waiting[rec.SourceOffset[SeqField].(int64)] = req
	}
	t.mu.Unlock()
	for _, rec := range recs {
		t.queue <- rec // never blocks: inflight <= cap(queue)
	}
	timer := time.NewTimer(t.s.ackTimeout)
	defer timer.Stop()
	select {
	case <-req.done:
		req.mu.Lock()
		err := req.err
		req.mu.Unlock()
		if err != nil {
			http.Error(w, "not written: "+err.Error(), http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"records":%d}`+"\n", n)
	case <-timer.C:
		t.busy(w, "the broker did not acknowledge in time")
	case <-t.stopping:
		t.busy(w, "the connector is stopping")
	case <-r.Context().Done():
	}
}

func (t *Task) busy(w http.ResponseWriter, why string) {
	w.Header().Set("Retry-After", strconv.Itoa(t.s.retryAfter))
	http.Error(w, why, http.StatusServiceUnavailable)
}

func (t *Task) authorized(r *http.Request) bool {
	eq := func(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }
	switch t.s.authType {
	case AuthBasic:
		u, p, ok := r.BasicAuth()
		return ok && eq(u, t.s.user) && eq(p, t.s.password)
	case AuthBearer:
		return eq(r.Header.Get("Authorization"), "Bearer "+t.s.token)
	}
	return true // NONE, or HMAC checked on the body
}

// records splits the body into records.
func (t *Task) records(r *http.Request, body []byte) ([]*connect.Record, error) {
	var values [][]byte
	switch t.s.format {
	case FormatRaw:
		values = [][]byte{body}
	case FormatNDJSON:
		sc := bufio.NewScanner(bytes.NewReader(body))
		sc.Buffer(nil, len(body)+1)
		for line := 1; sc.Scan(); line++ {
			b := bytes.TrimSpace(sc.Bytes())
			if len(b) == 0 {
				continue
			}
			if !json.Valid(b) {
				return nil, fmt.Errorf("line %d is not JSON", line)
			}
			values = append(values, b)
		}
	default:
		trimmed := bytes.TrimSpace(body)
		if !json.Valid(trimmed) {
			return nil, errors.New("the body is not JSON")
		}
		if len(trimmed) > 0 && trimmed[0] == '[' {
			var elems []json.RawMessage
			if err := json.Unmarshal(trimmed, &elems); err != nil {
				return nil, fmt.Errorf("the body is not a JSON array: %w", err)
			}
			for _, e := range elems {
				values = append(values, e)
			}
		} else {
			values = [][]byte{trimmed}
		}
	}
	var headers connect.Headers
	for _, h := range t.s.forward {
		if v := r.Header.Get(h); v != "" {
			headers.Add(h, nil, v)
		}
	}
	var headerKey any
	if t.s.keyHeader != "" {
		if v := r.Header.Get(t.s.keyHeader); v != "" {
			headerKey = v
		}
	}
	now := time.Now()
	out := make([]*connect.Record, len(values))
	for i, v := range values {
		rec := &connect.Record{Topic: t.s.topic, Partition: -1, Value: v, Timestamp: now, Headers: headers,
			SourcePartition: t.part, SourceOffset: map[string]any{SeqField: t.seq.Add(1)}}
		rec.Key = headerKey
		if t.s.keyPointer != nil {
			var doc any
			if err := json.Unmarshal(v, &doc); err != nil {
				return nil, fmt.Errorf("record %d: %w", i, err)
			}
			if k, ok := t.s.keyPointer.Get(doc); ok && k != nil {
				rec.Key = keyText(k)
			}
		}
		if len(headers) > 0 {
			rec.Headers = append(connect.Headers(nil), headers...)
		}
		out[i] = rec
	}
	return out, nil
}

func keyText(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// Poll returns the queued records, waiting up to a second for the first.
func (t *Task) Poll(ctx context.Context) ([]*connect.Record, error) {
	var first *connect.Record
	select {
	case first = <-t.queue:
	case <-ctx.Done():
		return nil, nil
	case <-time.After(time.Second):
		return nil, nil
	}
	out := []*connect.Record{first}
	for len(out) < 2000 {
		select {
		case r := <-t.queue:
			out = append(out, r)
		default:
			return out, nil
		}
	}
	return out, nil
}

// CommitRecord settles the record's request: once every record of it was
// acknowledged, the caller gets its 2xx (or 500 when one failed).
func (t *Task) CommitRecord(rec *connect.Record, err error) {
	seq, _ := rec.SourceOffset[SeqField].(int64)
	t.mu.Lock()
	req := t.waiting[seq]
	delete(t.waiting, seq)
	t.mu.Unlock()
	if req == nil {
		return
	}
	t.inflight.Add(-1)
	if err != nil {
		req.mu.Lock()
		if req.err == nil {
			req.err = err
		}
		req.mu.Unlock()
	}
	if req.left.Add(-1) == 0 {
		close(req.done)
	}
}

// Stop closes the listener; waiting callers get 503 and records not
// acknowledged are abandoned (their callers did not get a 2xx).
func (t *Task) Stop() error {
	if t.srv == nil {
		return nil
	}
	t.stopOnce.Do(func() { close(t.stopping) })
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := t.srv.Shutdown(ctx); err != nil {
		t.srv.Close()
	}
	return nil
}

// Connector is the webhook source connector: one task, the listener.
type Connector struct {
	props map[string]string
}

var _ connect.SourceConnector = (*Connector)(nil)

// Config returns the keys the connector accepts.
func (c *Connector) Config() *config.Def { return ConfigDef }

// Start checks the configuration.
func (c *Connector) Start(_ context.Context, _ connect.ConnectorContext, props map[string]string) error {
	if _, err := parseSettings(props); err != nil {
		return fmt.Errorf("http webhook: %w", err)
	}
	c.props = props
	return nil
}

// TaskConfigs returns one task whatever maxTasks: one listener takes the
// connector's requests (two tasks would race for its address).
func (c *Connector) TaskConfigs(int) ([]map[string]string, error) {
	return []map[string]string{maps.Clone(c.props)}, nil
}

// Stop does nothing.
func (c *Connector) Stop() error { return nil }

// NewTask returns a new task.
func (c *Connector) NewTask() connect.SourceTask { return &Task{} }
