package rest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
)

// Cluster is what the REST API needs of a distributed worker to forward
// requests: who leads the group, who runs a task, and the leader's end of
// the internal task-configs call.
type Cluster interface {
	// Leader returns the leader's REST URL ("" when no leader is known,
	// mid-rebalance) and whether this worker is the leader.
	Leader() (url string, self bool)
	// TaskOwner returns the REST URL of the worker running a task ("" when
	// unknown) and whether it is this worker.
	TaskOwner(connector string, task int) (url string, self bool)
	// PutTaskConfigs receives task configs a connector computed on another
	// worker (POST /connectors/{c}/tasks, Kafka Connect's internal
	// endpoint). body is the raw request body, a JSON list of config maps;
	// signature and algorithm are the X-Connect-Authorization and
	// X-Connect-Request-Signature-Algorithm headers, the body's HMAC with
	// the session key. A bad signature is a 403.
	PutTaskConfigs(ctx context.Context, connector string, body []byte, signature, algorithm string) error
}

// Headers of signed requests between workers (Kafka Connect's).
const (
	SignatureHeader          = "X-Connect-Authorization"
	SignatureAlgorithmHeader = "X-Connect-Request-Signature-Algorithm"
)

// WithCluster makes the server forward leader-only writes to the leader and
// task restarts to the task's owner (compat.md section 1, "Distributed
// forwarding"), and serve the internal POST /connectors/{c}/tasks.
func WithCluster(c Cluster) Option {
	return func(s *Server) {
		s.cluster = c
		s.forward = s.forwardRequest
	}
}

// errNoLeader answers a write while no leader is known.
func errNoLeader() *Error {
	return &Error{Status: http.StatusConflict, RetryAfter: time.Second,
		Message: "Cannot complete request momentarily due to no known leader URL, likely because a rebalance was underway."}
}

// forwardRequest sends the request to the worker that must serve it, unless
// that is this worker. A request that already was forwarded once
// (?forward=...) is never forwarded again: 409.
func (s *Server) forwardRequest(c echo.Context) (bool, error) {
	var target string
	var self bool
	if c.Path() == "/connectors/:c/tasks/:n/restart" {
		n, err := strconv.Atoi(param(c, "n"))
		if err != nil {
			return false, nil // the handler answers the bad request
		}
		target, self = s.cluster.TaskOwner(param(c, "c"), n)
		if target == "" && !self {
			// Nobody runs it now: the restart is for whoever gets it; the
			// leader serves it.
			target, self = s.cluster.Leader()
		}
	} else {
		target, self = s.cluster.Leader()
	}
	if self {
		return false, nil
	}
	if target == "" {
		return false, errNoLeader()
	}
	if _, hopped := c.QueryParams()["forward"]; hopped {
		return false, &Error{Status: http.StatusConflict, RetryAfter: time.Second,
			Message: "Cannot complete request because of a conflicting operation (e.g. worker rebalance)"}
	}
	req := c.Request()
	var body []byte
	if req.Body != nil {
		b, err := io.ReadAll(io.LimitReader(req.Body, maxBodyBytes))
		if err != nil {
			return false, BadRequest("reading the request body: %v", err)
		}
		body = b
	}
	q := req.URL.Query()
	q.Set("forward", "true")
	u := strings.TrimSuffix(target, "/") + req.URL.EscapedPath() + "?" + q.Encode()
	ctx, cancel := context.WithTimeout(req.Context(), s.timeout)
	defer cancel()
	freq, err := http.NewRequestWithContext(ctx, req.Method, u, bytes.NewReader(body))
	if err != nil {
		return false, err
	}
	if ct := req.Header.Get("Content-Type"); ct != "" {
		freq.Header.Set("Content-Type", ct)
	}
	freq.Header.Set("Accept", "application/json")
	if a := req.Header.Get("Authorization"); a != "" {
		freq.Header.Set("Authorization", a) // the leader authenticates the caller too
	}
	resp, err := s.client().Do(freq)
	if err != nil {
		if ctx.Err() != nil && req.Context().Err() == nil {
			return false, errTimedOut
		}
		return false, &Error{Status: http.StatusConflict, RetryAfter: time.Second,
			Message: fmt.Sprintf("Cannot reach the worker at %s to forward the request: %v", target, err)}
	}
	defer resp.Body.Close()
	rb, err := io.ReadAll(resp.Body)
	if err != nil {
		return false, err
	}
	for _, h := range []string{"Content-Type", "Location", "Retry-After"} {
		if v := resp.Header.Get(h); v != "" {
			c.Response().Header().Set(h, v)
		}
	}
	c.Response().WriteHeader(resp.StatusCode)
	_, err = c.Response().Write(rb)
	return true, err
}

// putTaskConfigs is the leader's end of POST /connectors/{c}/tasks.
func (s *Server) putTaskConfigs(c echo.Context) error {
	if s.cluster == nil {
		return echo.ErrNotFound
	}
	body, err := io.ReadAll(io.LimitReader(c.Request().Body, maxBodyBytes))
	if err != nil {
		return BadRequest("reading the request body: %v", err)
	}
	name := param(c, "c")
	h := c.Request().Header
	if err := do(s, c, func(ctx context.Context) error {
		return s.cluster.PutTaskConfigs(ctx, name, body, h.Get(SignatureHeader), h.Get(SignatureAlgorithmHeader))
	}); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// TaskConfigsURL is the URL of the internal task-configs call on a leader.
func TaskConfigsURL(leaderURL, connector string) string {
	return strings.TrimSuffix(leaderURL, "/") + "/connectors/" + url.PathEscape(connector) + "/tasks?forward=true"
}
