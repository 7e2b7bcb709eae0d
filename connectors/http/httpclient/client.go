package httpclient

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Client sends requests with the configured authentication, TLS, timeouts
// and retries. It is safe for concurrent use.
type Client struct {
	s     *Settings
	http  *http.Client
	oauth *tokenCache
	log   *slog.Logger
	// MaxBody is the most bytes of an answer's body that are read (64 MiB
	// unless changed before the first request).
	MaxBody int64
}

// Request is one request; Body may be nil.
type Request struct {
	Method string
	URL    string
	Header http.Header
	Body   []byte
}

// Response is an answer, its body read whole (up to Client.MaxBody).
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// writeBufferSize is each HTTP/1.1 connection's write buffer. A request's
// headers and a body of up to about this size go out in one write. With
// net/http's default of 4 KiB, a sink's batch body was written in two
// writes: a 4 KiB piece, then the rest through a copy buffer allocated per
// request. Requests in flight are few (max.in.flight.requests), so are
// connections.
const writeBufferSize = 64 << 10

// New returns a client for the settings; it reads the PEM files now, so a
// wrong path fails the task at start.
func New(s *Settings, log *slog.Logger) (*Client, error) {
	tlsCfg, err := s.tlsConfig()
	if err != nil {
		return nil, err
	}
	proxy := http.ProxyFromEnvironment
	if s.Proxy != nil {
		proxy = http.ProxyURL(s.Proxy)
	}
	tr := &http.Transport{
		Proxy:               proxy,
		DialContext:         (&net.Dialer{Timeout: s.ConnectTimeout, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout: s.ConnectTimeout,
		TLSClientConfig:     tlsCfg,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     90 * time.Second,
		ForceAttemptHTTP2:   true,
		WriteBufferSize:     writeBufferSize,
	}
	hc := &http.Client{Transport: tr, Timeout: s.RequestTimeout}
	c := &Client{s: s, http: hc, log: log, MaxBody: 64 << 20}
	if s.AuthType == AuthOAuth2 {
		c.oauth = &tokenCache{s: s.OAuth, http: hc}
	}
	return c, nil
}

// Close releases idle connections.
func (c *Client) Close() { c.http.CloseIdleConnections() }

func (s *Settings) tlsConfig() (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if s.MinTLS == "TLSv1.3" {
		cfg.MinVersion = tls.VersionTLS13
	}
	if !s.SSL {
		return cfg, nil
	}
	if s.CAFile != "" {
		pool, err := LoadCertPool(SSLTruststoreLocationConfig, s.CAFile)
		if err != nil {
			return nil, err
		}
		cfg.RootCAs = pool
	}
	if s.ClientCertFile != "" {
		cert, err := LoadKeyPair(SSLKeystoreLocationConfig, s.ClientCertFile)
		if err != nil {
			return nil, err
		}
		cfg.Certificates = []tls.Certificate{cert}
	}
	if !s.VerifyHost {
		// Verify the chain but not the name: Go has no switch for that, so
		// skip the built-in check and verify the chain here.
		roots := cfg.RootCAs
		cfg.InsecureSkipVerify = true
		cfg.VerifyConnection = func(cs tls.ConnectionState) error {
			opts := x509.VerifyOptions{Roots: roots, Intermediates: x509.NewCertPool()}
			for _, c := range cs.PeerCertificates[1:] {
				opts.Intermediates.AddCert(c)
			}
			_, err := cs.PeerCertificates[0].Verify(opts)
			return err
		}
	}
	return cfg, nil
}

// Do sends the request, retrying connection errors, timeouts and the
// retry.on.status.codes statuses up to max.retries times. It returns the
// answer of the last attempt when its status is not retried (a 4xx the
// request is at fault for included: the caller decides), and an error when
// the retries are exhausted, authentication failed or ctx ended.
func (c *Client) Do(ctx context.Context, r Request) (*Response, error) {
	reauth := c.oauth != nil
	for attempt := 0; ; attempt++ {
		resp, err := c.once(ctx, r)
		var wait time.Duration
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			var ae *authError
			if errors.As(err, &ae) {
				return nil, err
			}
		case resp.Status == http.StatusUnauthorized && reauth:
			// The token may have been revoked or expired early: fetch
			// another one, once per call.
			c.oauth.invalidate()
			reauth = false
			attempt--
			continue
		case c.s.RetryOn.Has(resp.Status):
			wait = retryAfter(resp.Header, time.Now())
			err = fmt.Errorf("status %d: %s", resp.Status, Snippet(resp.Body))
		default:
			return resp, nil
		}
		if attempt >= c.s.MaxRetries {
			return nil, fmt.Errorf("%s %s: giving up after %d attempts (%s=%d): %w", r.Method, redact(r.URL), attempt+1, MaxRetriesConfig, c.s.MaxRetries, err)
		}
		if wait <= 0 {
			wait = Backoff(c.s.RetryBackoff, c.s.RetryBackoffMax, attempt)
		}
		wait = min(wait, c.s.RetryBackoffMax)
		if c.log != nil {
			c.log.Info("http: retrying", "method", r.Method, "url", redact(r.URL), "attempt", attempt+1, "backoff", wait, "reason", err)
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-t.C:
		}
	}
}

// once sends the request once.
func (c *Client) once(ctx context.Context, r Request) (*Response, error) {
	var body io.Reader
	if r.Body != nil {
		body = bytes.NewReader(r.Body)
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, r.URL, body)
	if err != nil {
		return nil, &authError{fmt.Errorf("building the request: %w", err)} // not retriable either
	}
	for k, vs := range r.Header {
		req.Header[k] = vs
	}
	if err := c.authorize(ctx, req); err != nil {
		return nil, err
	}
	res, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	b := []byte{} // an empty answer (the sink's usual one) allocates nothing
	if res.ContentLength != 0 {
		if b, err = io.ReadAll(io.LimitReader(res.Body, c.MaxBody)); err != nil {
			return nil, fmt.Errorf("reading the answer: %w", err)
		}
	}
	return &Response{Status: res.StatusCode, Header: res.Header, Body: b}, nil
}

func (c *Client) authorize(ctx context.Context, req *http.Request) error {
	switch c.s.AuthType {
	case AuthBasic:
		req.SetBasicAuth(c.s.User, c.s.Password)
	case AuthBearer:
		req.Header.Set("Authorization", "Bearer "+c.s.BearerToken)
	case AuthOAuth2:
		tok, err := c.oauth.token(ctx)
		if err != nil {
			return err
		}
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	return nil
}

// authError is a failure that retrying cannot fix: the token endpoint
// refused the credentials, or the request cannot be built.
type authError struct{ err error }

func (e *authError) Error() string { return e.err.Error() }
func (e *authError) Unwrap() error { return e.err }

// Backoff returns the wait before retry number attempt+1: base doubled per
// attempt, capped at most, with jitter (between half and all of it).
func Backoff(base, most time.Duration, attempt int) time.Duration {
	d := base
	for i := 0; i < attempt && d < most; i++ {
		d *= 2
	}
	d = min(d, most)
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2+1)
}

// retryAfter reads a Retry-After header: seconds or an HTTP date; 0 when
// absent or unreadable.
func retryAfter(h http.Header, now time.Time) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// Snippet returns the start of a body for an error message.
func Snippet(b []byte) string {
	const most = 512
	s := strings.TrimSpace(string(b))
	if len(s) > most {
		s = s[:most] + "..."
	}
	return s
}

// redact drops a URL's user info and query, which may hold credentials.
func redact(u string) string {
	if i := strings.IndexByte(u, '?'); i >= 0 {
		u = u[:i] + "?..."
	}
	if i := strings.Index(u, "://"); i >= 0 {
		if j := strings.IndexByte(u[i+3:], '@'); j >= 0 && !strings.Contains(u[i+3:i+3+j], "/") {
			u = u[:i+3] + u[i+4+j:]
		}
	}
	return u
}
