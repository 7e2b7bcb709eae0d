package rest

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/url"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/penstockhq/penstock/internal/httpauth"
	"github.com/penstockhq/penstock/worker/console"
)

// DefaultRequestTimeout is how long a request waits for the herder before it
// answers 500 "Request timed out": Kafka Connect's 90 seconds.
const DefaultRequestTimeout = 90 * time.Second

// healthTimeout caps GET /health, as Kafka Connect does (10 s), so a probe
// learns quickly that a worker is stuck.
const healthTimeout = 10 * time.Second

// maxBodyBytes bounds a request body; connector configs are small.
const maxBodyBytes = 16 << 20

// Server is the worker's REST API: Kafka Connect's management endpoints over a
// Herder, plus GET /metrics. Build it with New; serve it with Serve,
// ListenAndServe, or mount Handler elsewhere.
type Server struct {
	herder  Herder
	log     *slog.Logger
	gather  prometheus.Gatherer
	timeout time.Duration
	levels  LogLevels

	// forward is the hook of distributed forwarding (WithCluster sets it to
	// forwardRequest, in cluster.go);
	// nil on a single worker.
	forward func(c echo.Context) (forwarded bool, err error)
	// cluster is set by WithCluster on a distributed worker.
	cluster Cluster

	echo *echo.Echo
	srv  *http.Server

	rates *console.Rates // the console's connector rates (console.go)
	lags  lagHistory     // the connectors' recent lag (progress.go)

	// creds, tls and httpClient secure the API (auth.go).
	creds      *httpauth.Credentials
	tls        *tls.Config
	httpClient *http.Client
}

// Option configures a Server.
type Option func(*Server)

// WithLogger sets the logger of the server's request and error lines; the
// default discards them. Request lines carry method, path, status and
// duration only, never bodies (configs carry passwords).
func WithLogger(l *slog.Logger) Option {
	return func(s *Server) {
		if l != nil {
			s.log = l
		}
	}
}

// WithGatherer serves the gatherer's metrics at GET /metrics in Prometheus'
// text format, and the console's connector rates computed from them at
// console.MetricsPath. Without it both answer 404.
func WithGatherer(g prometheus.Gatherer) Option {
	return func(s *Server) { s.gather = g }
}

// WithRequestTimeout sets how long a request waits for the herder before it
// answers 500 {"error_code":500,"message":"Request timed out"}; the default
// is DefaultRequestTimeout. The herder's work may still complete afterwards
// (create is idempotent, so a client can retry safely). d <= 0 keeps the
// default.
func WithRequestTimeout(d time.Duration) Option {
	return func(s *Server) {
		if d > 0 {
			s.timeout = d
		}
	}
}

// WithLogLevels serves /admin/loggers from levels, typically the *Levels
// registry the worker's loggers are built from, so a PUT really changes what
// is logged. Without it those endpoints answer 501.
func WithLogLevels(levels LogLevels) Option {
	return func(s *Server) { s.levels = levels }
}

// New returns a server for h.
func New(h Herder, opts ...Option) *Server {
	s := &Server{
		herder:  h,
		log:     slog.New(slog.DiscardHandler),
		timeout: DefaultRequestTimeout,
	}
	for _, o := range opts {
		o(s)
	}
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = s.handleError
	e.Pre(middleware.RemoveTrailingSlash())
	e.Use(s.logRequests, s.recoverPanics)
	if s.creds != nil {
		e.Use(s.authenticate)
	}
	s.echo = e
	s.routes()
	s.srv = &http.Server{
		Handler:           e,
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	return s
}

// Handler returns the server's HTTP handler, e.g. for httptest or to mount it
// in another server.
func (s *Server) Handler() http.Handler { return s.echo }

// Serve answers requests on ln until Shutdown; it returns nil after a
// Shutdown and the listener's error otherwise.
func (s *Server) Serve(ln net.Listener) error {
	if s.tls != nil {
		ln = tls.NewListener(ln, s.tls)
	}
	s.log.Info("REST API listening", "addr", ln.Addr().String(), "https", s.tls != nil, "authentication", s.creds != nil)
	if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("rest: serve on %s: %w", ln.Addr(), err)
	}
	return nil
}

// ListenAndServe listens on listener, in Kafka Connect's `listeners` form
// ("http://host:port", "http://:8083") or as a plain "host:port", and serves
// until Shutdown.
func (s *Server) ListenAndServe(listener string) error {
	addr, err := ListenAddr(listener)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("rest: listen on %s: %w", listener, err)
	}
	return s.Serve(ln)
}

// Shutdown stops accepting connections and waits, up to ctx, for the
// requests in flight to finish.
func (s *Server) Shutdown(ctx context.Context) error {
	if err := s.srv.Shutdown(ctx); err != nil {
		return fmt.Errorf("rest: shutdown: %w", err)
	}
	return nil
}

// ListenAddr turns one entry of Kafka Connect's `listeners` key
// ("http://host:port") or a plain "host:port" into a net.Listen address.
// An https listener needs WithTLS.
func ListenAddr(listener string) (string, error) {
	l := strings.TrimSpace(listener)
	if i := strings.Index(l, "://"); i >= 0 {
		scheme := strings.ToLower(l[:i])
		if scheme != "http" && scheme != "https" {
			return "", fmt.Errorf("rest: listener %q: scheme %q is not supported (http or https)", listener, scheme)
		}
		u, err := url.Parse("http://" + l[i+3:])
		if err != nil {
			return "", fmt.Errorf("rest: listener %q: %w", listener, err)
		}
		if u.Path != "" && u.Path != "/" {
			return "", fmt.Errorf("rest: listener %q: a listener has no path", listener)
		}
		l = u.Host
	}
	host, port, err := net.SplitHostPort(l)
	if err != nil {
		return "", fmt.Errorf("rest: listener %q: %w", listener, err)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return "", fmt.Errorf("rest: listener %q: invalid port %q", listener, port)
	}
	return net.JoinHostPort(host, port), nil
}

// routes registers every endpoint. Writes that Kafka Connect sends to the
// leader go through leaderOnly.
func (s *Server) routes() {
	e := s.echo
	lead := s.leaderOnly

	e.GET("/", s.serverInfo)
	s.consoleRoutes() // the web console and its endpoints (console.go)
	e.GET("/health", s.health)
	if s.gather != nil {
		e.GET("/metrics", echo.WrapHandler(promhttp.HandlerFor(s.gather, promhttp.HandlerOpts{})))
	}

	e.GET("/connectors", s.listConnectors)
	e.POST("/connectors", lead(s.createConnector))
	e.GET("/connectors/:c", s.getConnector)
	e.DELETE("/connectors/:c", lead(s.deleteConnector))
	e.GET("/connectors/:c/config", s.getConnectorConfig)
	e.PUT("/connectors/:c/config", lead(s.putConnectorConfig))
	e.PATCH("/connectors/:c/config", lead(s.patchConnectorConfig))
	e.GET("/connectors/:c/status", s.connectorStatus)
	e.POST("/connectors/:c/restart", lead(s.restartConnector))
	e.PUT("/connectors/:c/pause", s.pauseConnector)
	e.PUT("/connectors/:c/resume", s.resumeConnector)
	e.PUT("/connectors/:c/stop", lead(s.stopConnector))
	e.GET("/connectors/:c/tasks", s.tasks)
	if s.cluster != nil {
		e.POST("/connectors/:c/tasks", s.putTaskConfigs) // internal: signed, from other workers
	}
	e.GET("/connectors/:c/tasks/:n/status", s.taskStatus)
	e.POST("/connectors/:c/tasks/:n/restart", lead(s.restartTask))
	e.GET("/connectors/:c/offsets", s.getOffsets)
	e.PATCH("/connectors/:c/offsets", lead(s.alterOffsets))
	e.DELETE("/connectors/:c/offsets", lead(s.resetOffsets))
	e.GET("/connectors/:c/topics", s.activeTopics)
	e.PUT("/connectors/:c/topics/reset", s.resetActiveTopics)

	e.GET("/connector-plugins", s.listPlugins)
	e.GET("/connector-plugins/:p/config", s.pluginConfig)
	e.PUT("/connector-plugins/:p/config/validate", s.validateConfig)

	e.GET("/admin/loggers", s.listLoggers)
	e.GET("/admin/loggers/:name", s.getLogger)
	e.PUT("/admin/loggers/:name", s.setLogger)
}

// leaderOnly marks a write that a distributed cluster serves on its leader
// (compat.md section 1: create, config put/patch/delete, stop, restarts,
// offsets alter/reset).
//
// This is the one place where such a request will be forwarded: a non-leader
// will send it to the leader's advertised URL with ?forward=true, a worker
// asked to make a second hop will answer 409, and with no known leader
// (mid-rebalance) it will answer 409 with a Retry-After. A single worker is
// its own leader, so today the request is served here.
func (s *Server) leaderOnly(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if s.forward != nil {
			forwarded, err := s.forward(c)
			if err != nil || forwarded {
				return err
			}
		}
		return next(c)
	}
}

// errTimedOut is Kafka Connect's answer when the herder does not answer in time.
var errTimedOut = &Error{Status: http.StatusInternalServerError, Message: "Request timed out"}

// errInterrupted answers a request whose client went away.
var errInterrupted = &Error{Status: http.StatusInternalServerError, Message: "Request interrupted"}

// call runs f against the herder with the request's deadline. It returns
// errTimedOut when the deadline passes first, even if f ignores ctx (f keeps
// running in the background and its result is dropped), and turns a panic in
// f into an error so that the worker survives it.
func call[T any](s *Server, c echo.Context, timeout time.Duration, f func(ctx context.Context) (T, error)) (T, error) {
	ctx, cancel := context.WithTimeout(c.Request().Context(), timeout)
	defer cancel()
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				s.log.Error("REST: herder call panicked", "panic", p, "stack", string(debug.Stack()))
				var zero T
				done <- result{zero, fmt.Errorf("panic in herder: %v", p)}
			}
		}()
		v, err := f(ctx)
		done <- result{v, err}
	}()
	var zero T
	select {
	case r := <-done:
		if r.err != nil && ctx.Err() != nil && errors.Is(r.err, ctx.Err()) {
			return zero, ctxError(ctx)
		}
		return r.v, r.err
	case <-ctx.Done():
		return zero, ctxError(ctx)
	}
}

// ctxError maps a finished request context to the API's error.
func ctxError(ctx context.Context) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return errTimedOut
	}
	return errInterrupted
}

// do is call for herder methods that return only an error.
func do(s *Server, c echo.Context, f func(ctx context.Context) error) error {
	_, err := call(s, c, s.timeout, func(ctx context.Context) (struct{}, error) {
		return struct{}{}, f(ctx)
	})
	return err
}

// get is call with the server's request timeout.
func get[T any](s *Server, c echo.Context, f func(ctx context.Context) (T, error)) (T, error) {
	return call(s, c, s.timeout, f)
}

// errorBody is Kafka Connect's ErrorMessage.
type errorBody struct {
	ErrorCode int    `json:"error_code"`
	Message   string `json:"message"`
}

// handleError writes every error as {"error_code","message"}: the herder's
// *Error values with their status (and Retry-After on a 409), echo's own
// 404/405 with Jersey's messages, anything else as 500.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	status, msg := http.StatusInternalServerError, err.Error()
	var he *echo.HTTPError
	var re *Error
	switch {
	case errors.As(err, &re):
		status, msg = re.Status, re.Message
		if status < 400 || status > 599 {
			status = http.StatusInternalServerError
		}
		if status == http.StatusConflict && re.RetryAfter > 0 {
			secs := int64(math.Ceil(re.RetryAfter.Seconds()))
			c.Response().Header().Set("Retry-After", strconv.FormatInt(secs, 10))
		}
	case errors.As(err, &he):
		status = he.Code
		switch m := he.Message.(type) {
		case string:
			msg = m
		case error:
			msg = m.Error()
		default:
			msg = fmt.Sprint(m)
		}
		if msg == http.StatusText(status) {
			// Jersey's wording, which Kafka Connect clients see.
			msg = fmt.Sprintf("HTTP %d %s", status, msg)
		}
	}
	if status >= 500 {
		s.log.Error("REST request failed", "method", c.Request().Method, "path", c.Request().URL.Path,
			"status", status, "error", msg)
	}
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(status)
		return
	}
	if werr := writeJSON(c, status, errorBody{ErrorCode: status, Message: msg}); werr != nil {
		s.log.Debug("REST: writing error response", "error", werr)
	}
}

// writeJSON writes v as Kafka Connect does: no HTML escaping, no trailing
// newline, Content-Type application/json.
func writeJSON(c echo.Context, status int, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("rest: encode response: %w", err)
	}
	return c.Blob(status, echo.MIMEApplicationJSON, bytes.TrimSuffix(buf.Bytes(), []byte("\n")))
}

// logRequests logs one line per request: method, path, status and duration.
// It never logs bodies or query strings' values beyond the path. It hands
// errors to the error handler itself, so the status it logs is the one sent.
func (s *Server) logRequests(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		if err := next(c); err != nil {
			c.Error(err)
		}
		req := c.Request()
		status := c.Response().Status
		level := slog.LevelInfo
		switch {
		case status >= 500:
			level = slog.LevelWarn
		case req.Method == http.MethodGet && (req.URL.Path == "/health" || req.URL.Path == "/metrics"):
			level = slog.LevelDebug // probes and scrapes every few seconds
		}
		s.log.Log(req.Context(), level, "REST request", "method", req.Method, "path", req.URL.Path,
			"status", status, "duration", time.Since(start))
		return nil
	}
}

// recoverPanics turns a panic in a handler into a 500 instead of a dropped
// connection, and logs its stack.
func (s *Server) recoverPanics(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if p := recover(); p != nil {
				if p == http.ErrAbortHandler {
					panic(p)
				}
				s.log.Error("REST handler panicked", "method", c.Request().Method, "path", c.Request().URL.Path,
					"panic", p, "stack", string(debug.Stack()))
				err = &Error{Status: http.StatusInternalServerError, Message: fmt.Sprintf("Internal server error: %v", p)}
			}
		}()
		return next(c)
	}
}

// param returns a path parameter, unescaped: echo routes on the raw path
// when it holds escapes such as %2F, and then leaves them in the value.
func param(c echo.Context, name string) string {
	v := c.Param(name)
	if c.Request().URL.RawPath == "" {
		return v
	}
	if u, err := url.PathUnescape(v); err == nil {
		return u
	}
	return v
}

// queryBool reads a boolean query parameter as Jersey does: "true" in any
// case is true, any other value false, and an absent one def.
func queryBool(c echo.Context, name string, def bool) bool {
	vs, ok := c.QueryParams()[name]
	if !ok || len(vs) == 0 {
		return def
	}
	return strings.EqualFold(vs[0], "true")
}
