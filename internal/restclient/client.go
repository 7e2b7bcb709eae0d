// Package restclient is a small client of Penstock's REST management API
// (Kafka Connect's API shape), used by the penstock client commands. It
// speaks the entity types of package worker/rest, so it stays in step with
// the server, and it turns the API's error bodies ({"error_code","message"})
// into *APIError values that carry the server's message.
package restclient

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/penstockhq/penstock/connect/config"
	"github.com/penstockhq/penstock/worker/rest"
)

// DefaultURL is the REST API of a local worker, as `penstock dev` starts it.
const DefaultURL = "http://127.0.0.1:8083"

// maxErrorBody bounds how much of an error body is read.
const maxErrorBody = 1 << 20

// Client calls one worker's REST API. The zero value is not usable; build
// it with New.
type Client struct {
	base *url.URL
	http *http.Client
}

// New returns a client of the API at baseURL (e.g. "http://127.0.0.1:8083";
// a missing scheme means http). httpClient may be nil for a client with a
// 2-minute timeout, above the API's own 90-second request timeout.
func New(baseURL string, httpClient *http.Client) (*Client, error) {
	s := strings.TrimSpace(baseURL)
	if s == "" {
		s = DefaultURL
	}
	if !strings.Contains(s, "://") {
		s = "http://" + s
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("restclient: invalid URL %q: %w", baseURL, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("restclient: invalid URL %q: scheme must be http or https", baseURL)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("restclient: invalid URL %q: no host", baseURL)
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	if httpClient == nil {
		httpClient = &http.Client{Timeout: 2 * time.Minute}
	}
	return &Client{base: u, http: httpClient}, nil
}

// URL returns the base URL the client calls.
func (c *Client) URL() string { return c.base.String() }

// APIError is an error answer of the API: its HTTP status and the server's
// message (the "message" of Kafka Connect's error body, or the body itself
// when it is not one).
type APIError struct {
	Method string
	Path   string
	Status int
	// Code is the body's error_code; usually equal to Status.
	Code    int
	Message string
	// RetryAfter is the Retry-After header of a 409, 0 when absent.
	RetryAfter time.Duration
}

// Error returns the server's message with the request and status.
func (e *APIError) Error() string {
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	s := fmt.Sprintf("%s %s: %d: %s", e.Method, e.Path, e.Status, msg)
	if e.RetryAfter > 0 {
		s += fmt.Sprintf(" (retry after %s)", e.RetryAfter)
	}
	return s
}

// IsNotFound reports whether err is an API answer 404.
func IsNotFound(err error) bool {
	var e *APIError
	return errors.As(err, &e) && e.Status == http.StatusNotFound
}

// do sends a request with an optional JSON body and decodes a JSON answer
// into out (when out is not nil and the answer has a body). It returns the
// status code of a successful (2xx) answer.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, body, out any) (int, error) {
	// path is escaped (connector names are escaped by connectorPath); keep
	// that form on the wire, so a name with "/" or "?" stays one segment.
	u := *c.base
	u.RawPath = c.base.EscapedPath() + path
	unescaped, err := url.PathUnescape(u.RawPath)
	if err != nil {
		return 0, fmt.Errorf("%s %s: %w", method, path, err)
	}
	u.Path = unescaped
	u.RawQuery = query.Encode()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, fmt.Errorf("%s %s: encode request: %w", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), rd)
	if err != nil {
		return 0, fmt.Errorf("%s %s: %w", method, path, err)
	}
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, fmt.Errorf("%s %s: %w", method, c.base.Host+path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, apiError(method, path, resp)
	}
	if out == nil || resp.StatusCode == http.StatusNoContent {
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode, nil
	}
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, fmt.Errorf("%s %s: read answer: %w", method, path, err)
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return resp.StatusCode, nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return resp.StatusCode, fmt.Errorf("%s %s: decode answer: %w", method, path, err)
	}
	return resp.StatusCode, nil
}

// apiError reads an error answer.
func apiError(method, path string, resp *http.Response) error {
	data, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	e := &APIError{Method: method, Path: path, Status: resp.StatusCode, Code: resp.StatusCode}
	var body struct {
		ErrorCode int     `json:"error_code"`
		Message   *string `json:"message"`
	}
	if json.Unmarshal(data, &body) == nil && body.Message != nil {
		e.Message = *body.Message
		if body.ErrorCode != 0 {
			e.Code = body.ErrorCode
		}
	} else {
		e.Message = strings.TrimSpace(string(data))
	}
	if ra := resp.Header.Get("Retry-After"); ra != "" {
		if secs, err := strconv.Atoi(ra); err == nil {
			e.RetryAfter = time.Duration(secs) * time.Second
		}
	}
	return e
}

// connectorPath returns /connectors/{name} plus suffix, the name escaped.
func connectorPath(name, suffix string) string {
	return "/connectors/" + url.PathEscape(name) + suffix
}

// ServerInfo returns GET /.
func (c *Client) ServerInfo(ctx context.Context) (rest.ServerInfo, error) {
	var out rest.ServerInfo
	_, err := c.do(ctx, http.MethodGet, "/", nil, nil, &out)
	return out, err
}

// Health returns nil when GET /health answers 200; otherwise an *APIError
// with the worker's message (503 while starting, 500 when unhealthy).
func (c *Client) Health(ctx context.Context) error {
	_, err := c.do(ctx, http.MethodGet, "/health", nil, nil, nil)
	return err
}

// Connectors returns the names of the connectors.
func (c *Client) Connectors(ctx context.Context) ([]string, error) {
	var out []string
	_, err := c.do(ctx, http.MethodGet, "/connectors", nil, nil, &out)
	return out, err
}

// Expanded is one connector of GET /connectors?expand=status&expand=info.
type Expanded struct {
	Info   *rest.ConnectorInfo      `json:"info,omitempty"`
	Status *rest.ConnectorStateInfo `json:"status,omitempty"`
}

// ConnectorsExpanded returns every connector with its info and status.
func (c *Client) ConnectorsExpanded(ctx context.Context) (map[string]Expanded, error) {
	out := map[string]Expanded{}
	q := url.Values{"expand": {"status", "info"}}
	_, err := c.do(ctx, http.MethodGet, "/connectors", q, nil, &out)
	return out, err
}

// CreateRequest is the body of POST /connectors.
type CreateRequest struct {
	Name   string            `json:"name"`
	Config map[string]string `json:"config"`
	// InitialState is RUNNING, PAUSED or STOPPED; empty means RUNNING.
	InitialState string `json:"initial_state,omitempty"`
}

// Create creates a connector (POST /connectors).
func (c *Client) Create(ctx context.Context, req CreateRequest) (rest.ConnectorInfo, error) {
	var out rest.ConnectorInfo
	_, err := c.do(ctx, http.MethodPost, "/connectors", nil, req, &out)
	return out, err
}

// PutConfig creates or replaces a connector's config (PUT
// /connectors/{name}/config); created says which happened.
func (c *Client) PutConfig(ctx context.Context, name string, cfg map[string]string) (info rest.ConnectorInfo, created bool, err error) {
	status, err := c.do(ctx, http.MethodPut, connectorPath(name, "/config"), nil, cfg, &info)
	return info, status == http.StatusCreated, err
}

// Connector returns a connector's info.
func (c *Client) Connector(ctx context.Context, name string) (rest.ConnectorInfo, error) {
	var out rest.ConnectorInfo
	_, err := c.do(ctx, http.MethodGet, connectorPath(name, ""), nil, nil, &out)
	return out, err
}

// Config returns a connector's config.
func (c *Client) Config(ctx context.Context, name string) (map[string]string, error) {
	var out map[string]string
	_, err := c.do(ctx, http.MethodGet, connectorPath(name, "/config"), nil, nil, &out)
	return out, err
}

// Status returns a connector's and its tasks' states.
func (c *Client) Status(ctx context.Context, name string) (rest.ConnectorStateInfo, error) {
	var out rest.ConnectorStateInfo
	_, err := c.do(ctx, http.MethodGet, connectorPath(name, "/status"), nil, nil, &out)
	return out, err
}

// Pause pauses a connector and its tasks.
func (c *Client) Pause(ctx context.Context, name string) error {
	_, err := c.do(ctx, http.MethodPut, connectorPath(name, "/pause"), nil, nil, nil)
	return err
}

// Resume resumes a paused or stopped connector.
func (c *Client) Resume(ctx context.Context, name string) error {
	_, err := c.do(ctx, http.MethodPut, connectorPath(name, "/resume"), nil, nil, nil)
	return err
}

// Stop stops a connector and its tasks (needed before its offsets change).
func (c *Client) Stop(ctx context.Context, name string) error {
	_, err := c.do(ctx, http.MethodPut, connectorPath(name, "/stop"), nil, nil, nil)
	return err
}

// Restart restarts a connector and, per the flags, its tasks. With either
// flag set the API answers 202 with the RESTARTING states, returned here;
// otherwise the result is nil.
func (c *Client) Restart(ctx context.Context, name string, includeTasks, onlyFailed bool) (*rest.ConnectorStateInfo, error) {
	q := url.Values{}
	if includeTasks {
		q.Set("includeTasks", "true")
	}
	if onlyFailed {
		q.Set("onlyFailed", "true")
	}
	var out rest.ConnectorStateInfo
	status, err := c.do(ctx, http.MethodPost, connectorPath(name, "/restart"), q, nil, &out)
	if err != nil || status == http.StatusNoContent || out.Name == "" {
		return nil, err
	}
	return &out, nil
}

// Delete deletes a connector.
func (c *Client) Delete(ctx context.Context, name string) error {
	_, err := c.do(ctx, http.MethodDelete, connectorPath(name, ""), nil, nil, nil)
	return err
}

// Offsets returns a connector's offsets.
func (c *Client) Offsets(ctx context.Context, name string) (rest.ConnectorOffsets, error) {
	var out rest.ConnectorOffsets
	_, err := c.do(ctx, http.MethodGet, connectorPath(name, "/offsets"), nil, nil, &out)
	return out, err
}

// messageBody is the body of the offsets write answers.
type messageBody struct {
	Message string `json:"message"`
}

// AlterOffsets writes offsets of a STOPPED connector and returns the
// server's message.
func (c *Client) AlterOffsets(ctx context.Context, name string, offsets rest.ConnectorOffsets) (string, error) {
	var out messageBody
	_, err := c.do(ctx, http.MethodPatch, connectorPath(name, "/offsets"), nil, offsets, &out)
	return out.Message, err
}

// ResetOffsets removes every offset of a STOPPED connector and returns the
// server's message.
func (c *Client) ResetOffsets(ctx context.Context, name string) (string, error) {
	var out messageBody
	_, err := c.do(ctx, http.MethodDelete, connectorPath(name, "/offsets"), nil, nil, &out)
	return out.Message, err
}

// PatchConfig merges patch into a connector's config (PATCH
// /connectors/{name}/config); a nil value removes its key. Keys it leaves
// out keep their values, secrets included.
func (c *Client) PatchConfig(ctx context.Context, name string, patch map[string]*string) (rest.ConnectorInfo, error) {
	var out rest.ConnectorInfo
	_, err := c.do(ctx, http.MethodPatch, connectorPath(name, "/config"), nil, patch, &out)
	return out, err
}

// Validate validates a connector config against the plugin its
// connector.class names (PUT /connector-plugins/{class}/config/validate).
// Invalid values are in the answer's ErrorCount and per-key Errors, not in
// err.
func (c *Client) Validate(ctx context.Context, cfg map[string]string) (config.Infos, error) {
	var out config.Infos
	class := strings.TrimSpace(cfg["connector.class"])
	if class == "" {
		return out, errors.New("validate: the config has no connector.class")
	}
	path := "/connector-plugins/" + url.PathEscape(class) + "/config/validate"
	_, err := c.do(ctx, http.MethodPut, path, nil, cfg, &out)
	return out, err
}
