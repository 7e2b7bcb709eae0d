package rest

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/penstockhq/penstock/worker/console"
)

// nameKey is the connector config key that holds the connector's name.
const nameKey = "name"

// serverInfo answers GET /; a browser is redirected to the web console.
func (s *Server) serverInfo(c echo.Context) error {
	if console.WantsHTML(c.Request()) {
		return c.Redirect(http.StatusFound, console.Path)
	}
	info, err := get(s, c, s.herder.ServerInfo)
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, info)
}

// workerStatus is Kafka Connect's WorkerStatus, the body of GET /health.
type workerStatus struct {
	Status  string `json:"status"`
	Message string `json:"message"`
}

// health answers GET /health: 200 healthy, 503 while starting, 500 when the
// herder fails or does not answer within 10 s.
func (s *Server) health(c echo.Context) error {
	timeout := min(s.timeout, healthTimeout)
	_, err := call(s, c, timeout, func(ctx context.Context) (struct{}, error) {
		return struct{}{}, s.herder.Health(ctx)
	})
	if err == nil {
		return writeJSON(c, http.StatusOK, workerStatus{"healthy", "Worker has completed startup and is ready to handle requests."})
	}
	var re *Error
	if errors.As(err, &re) && re.Status == http.StatusServiceUnavailable {
		return writeJSON(c, http.StatusServiceUnavailable, workerStatus{"starting", withDetails("Worker is still starting up.", re.Message)})
	}
	return writeJSON(c, http.StatusInternalServerError, workerStatus{"unhealthy",
		withDetails("Worker was unable to handle this request and may be unable to handle other requests.", err.Error())})
}

// withDetails appends details to a health message, as Kafka Connect does.
func withDetails(msg, details string) string {
	if details == "" {
		return msg
	}
	return msg + " " + details
}

// expanded is one connector of GET /connectors?expand=...
type expanded struct {
	Status *ConnectorStateInfo `json:"status,omitempty"`
	Info   *ConnectorInfo      `json:"info,omitempty"`
}

// listConnectors answers GET /connectors, with ?expand=status and
// ?expand=info (repeatable; unknown values ignored). A connector deleted
// while the list is built is left out, as in Kafka Connect.
func (s *Server) listConnectors(c echo.Context) error {
	expands, expand := c.QueryParams()["expand"]
	if !expand {
		names, err := get(s, c, s.herder.Connectors)
		if err != nil {
			return err
		}
		return writeJSON(c, http.StatusOK, nonNil(names))
	}
	var wantStatus, wantInfo bool
	for _, e := range expands {
		switch e {
		case "status":
			wantStatus = true
		case "info":
			wantInfo = true
		}
	}
	out, err := get(s, c, func(ctx context.Context) (map[string]expanded, error) {
		names, err := s.herder.Connectors(ctx)
		if err != nil {
			return nil, err
		}
		out := make(map[string]expanded, len(names))
	next:
		for _, name := range names {
			var x expanded
			if wantStatus {
				st, err := s.herder.ConnectorStatus(ctx, name)
				if StatusOf(err) == http.StatusNotFound {
					continue next
				} else if err != nil {
					return nil, err
				}
				st = normalizeState(st)
				x.Status = &st
			}
			if wantInfo {
				info, err := s.herder.ConnectorInfo(ctx, name)
				if StatusOf(err) == http.StatusNotFound {
					continue next
				} else if err != nil {
					return nil, err
				}
				info = normalizeInfo(info)
				x.Info = &info
			}
			out[name] = x
		}
		return out, nil
	})
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, out)
}

// createRequest is Kafka Connect's CreateConnectorRequest.
type createRequest struct {
	Name         *string   `json:"name"`
	Config       configMap `json:"config"`
	InitialState *string   `json:"initial_state"`
}

// createConnector answers POST /connectors: 201 with a Location header and
// the ConnectorInfo.
func (s *Server) createConnector(c echo.Context) error {
	var req createRequest
	if err := decodeBody(c, &req); err != nil {
		return err
	}
	name := ""
	if req.Name != nil {
		name = strings.TrimSpace(*req.Name)
	}
	if name == "" {
		return BadRequest("Connector name must be specified: the request body is {\"name\": ..., \"config\": {...}}")
	}
	if req.Config == nil {
		return BadRequest("Connector config must be specified: the request body is {\"name\": ..., \"config\": {...}}")
	}
	if err := checkName(name, req.Config); err != nil {
		return err
	}
	state := ""
	if req.InitialState != nil {
		state = strings.ToUpper(strings.TrimSpace(*req.InitialState))
		switch state {
		case StateRunning, StatePaused, StateStopped:
		default:
			return BadRequest("Invalid initial_state %q: expected one of RUNNING, PAUSED, STOPPED", *req.InitialState)
		}
	}
	// An identical config for an existing connector is no conflict (the
	// herder makes create idempotent), so a client that timed out can retry
	// and gets the same 201.
	info, err := get(s, c, func(ctx context.Context) (ConnectorInfo, error) {
		info, _, err := s.herder.PutConnectorConfig(ctx, name, req.Config, state, false)
		return info, err
	})
	if err != nil {
		return err
	}
	c.Response().Header().Set(echo.HeaderLocation, connectorURL(name))
	return writeJSON(c, http.StatusCreated, normalizeInfo(info))
}

// checkName enforces Kafka Connect's rule: a "name" in the config must equal
// the connector's name; an absent one is set.
func checkName(name string, cfg map[string]string) error {
	if included, ok := cfg[nameKey]; ok {
		if included != name {
			return BadRequest("Connector name configuration (%s) doesn't match connector name in the URL (%s)", included, name)
		}
		return nil
	}
	cfg[nameKey] = name
	return nil
}

// connectorURL is the Location of a connector.
func connectorURL(name string) string {
	return "/connectors/" + url.PathEscape(name)
}

// getConnector answers GET /connectors/{c}.
func (s *Server) getConnector(c echo.Context) error {
	name := param(c, "c")
	info, err := get(s, c, func(ctx context.Context) (ConnectorInfo, error) { return s.herder.ConnectorInfo(ctx, name) })
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, normalizeInfo(info))
}

// getConnectorConfig answers GET /connectors/{c}/config.
func (s *Server) getConnectorConfig(c echo.Context) error {
	name := param(c, "c")
	cfg, err := get(s, c, func(ctx context.Context) (map[string]string, error) { return s.herder.ConnectorConfig(ctx, name) })
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, nonNilMap(cfg))
}

// putConnectorConfig answers PUT /connectors/{c}/config: 201 with Location
// when it created the connector, 200 when it replaced the config.
func (s *Server) putConnectorConfig(c echo.Context) error {
	name := param(c, "c")
	var cfg configMap
	if err := decodeBody(c, &cfg); err != nil {
		return err
	}
	if cfg == nil {
		return BadRequest("Connector config must be a JSON object of string values")
	}
	if err := checkName(name, cfg); err != nil {
		return err
	}
	type result struct {
		info    ConnectorInfo
		created bool
	}
	res, err := get(s, c, func(ctx context.Context) (result, error) {
		info, created, err := s.herder.PutConnectorConfig(ctx, name, cfg, "", true)
		return result{info, created}, err
	})
	if err != nil {
		return err
	}
	status := http.StatusOK
	if res.created {
		status = http.StatusCreated
		c.Response().Header().Set(echo.HeaderLocation, connectorURL(name))
	}
	return writeJSON(c, status, normalizeInfo(res.info))
}

// patchConnectorConfig answers PATCH /connectors/{c}/config: keys with a
// value are set, keys with null removed.
func (s *Server) patchConnectorConfig(c echo.Context) error {
	name := param(c, "c")
	var patch patchMap
	if err := decodeBody(c, &patch); err != nil {
		return err
	}
	if patch == nil {
		return BadRequest("Connector config patch must be a JSON object")
	}
	if v, ok := patch[nameKey]; ok && v != nil && *v != name {
		return BadRequest("Connector name configuration (%s) doesn't match connector name in the URL (%s)", *v, name)
	}
	info, err := get(s, c, func(ctx context.Context) (ConnectorInfo, error) {
		return s.herder.PatchConnectorConfig(ctx, name, patch)
	})
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, normalizeInfo(info))
}

// deleteConnector answers DELETE /connectors/{c}: 204.
func (s *Server) deleteConnector(c echo.Context) error {
	name := param(c, "c")
	if err := do(s, c, func(ctx context.Context) error { return s.herder.DeleteConnector(ctx, name) }); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// connectorStatus answers GET /connectors/{c}/status.
func (s *Server) connectorStatus(c echo.Context) error {
	name := param(c, "c")
	st, err := get(s, c, func(ctx context.Context) (ConnectorStateInfo, error) { return s.herder.ConnectorStatus(ctx, name) })
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, normalizeState(st))
}

// restartConnector answers POST /connectors/{c}/restart: 204 when neither
// includeTasks nor onlyFailed is set, else 202 with the RESTARTING states.
func (s *Server) restartConnector(c echo.Context) error {
	name := param(c, "c")
	includeTasks := queryBool(c, "includeTasks", false)
	onlyFailed := queryBool(c, "onlyFailed", false)
	st, err := get(s, c, func(ctx context.Context) (*ConnectorStateInfo, error) {
		return s.herder.RestartConnector(ctx, name, includeTasks, onlyFailed)
	})
	if err != nil {
		return err
	}
	if !includeTasks && !onlyFailed {
		return c.NoContent(http.StatusNoContent)
	}
	if st == nil {
		return c.NoContent(http.StatusAccepted)
	}
	return writeJSON(c, http.StatusAccepted, normalizeState(*st))
}

// pauseConnector answers PUT /connectors/{c}/pause: 202.
func (s *Server) pauseConnector(c echo.Context) error {
	name := param(c, "c")
	if err := do(s, c, func(ctx context.Context) error { return s.herder.PauseConnector(ctx, name) }); err != nil {
		return err
	}
	return c.NoContent(http.StatusAccepted)
}

// resumeConnector answers PUT /connectors/{c}/resume: 202.
func (s *Server) resumeConnector(c echo.Context) error {
	name := param(c, "c")
	if err := do(s, c, func(ctx context.Context) error { return s.herder.ResumeConnector(ctx, name) }); err != nil {
		return err
	}
	return c.NoContent(http.StatusAccepted)
}

// stopConnector answers PUT /connectors/{c}/stop: 204.
func (s *Server) stopConnector(c echo.Context) error {
	name := param(c, "c")
	if err := do(s, c, func(ctx context.Context) error { return s.herder.StopConnector(ctx, name) }); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// tasks answers GET /connectors/{c}/tasks.
func (s *Server) tasks(c echo.Context) error {
	name := param(c, "c")
	ts, err := get(s, c, func(ctx context.Context) ([]TaskInfo, error) { return s.herder.Tasks(ctx, name) })
	if err != nil {
		return err
	}
	ts = nonNil(ts)
	for i := range ts {
		ts[i].Config = nonNilMap(ts[i].Config)
	}
	return writeJSON(c, http.StatusOK, ts)
}

// taskParam reads the {n} of a task path; Jersey answers 404 when it is not
// an integer, and so does this.
func taskParam(c echo.Context) (int, error) {
	raw := param(c, "n")
	n, err := strconv.Atoi(raw)
	if err != nil {
		return 0, NotFound("Task %q of connector %s not found: a task ID is an integer", raw, param(c, "c"))
	}
	return n, nil
}

// taskStatus answers GET /connectors/{c}/tasks/{n}/status.
func (s *Server) taskStatus(c echo.Context) error {
	name := param(c, "c")
	n, err := taskParam(c)
	if err != nil {
		return err
	}
	st, err := get(s, c, func(ctx context.Context) (TaskState, error) { return s.herder.TaskStatus(ctx, name, n) })
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, st)
}

// restartTask answers POST /connectors/{c}/tasks/{n}/restart: 204.
func (s *Server) restartTask(c echo.Context) error {
	name := param(c, "c")
	n, err := taskParam(c)
	if err != nil {
		return err
	}
	if err := do(s, c, func(ctx context.Context) error { return s.herder.RestartTask(ctx, name, n) }); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

// message is Kafka Connect's Message entity.
type message struct {
	Message string `json:"message"`
}

// getOffsets answers GET /connectors/{c}/offsets.
func (s *Server) getOffsets(c echo.Context) error {
	name := param(c, "c")
	offs, err := get(s, c, func(ctx context.Context) (ConnectorOffsets, error) { return s.herder.Offsets(ctx, name) })
	if err != nil {
		return err
	}
	offs.Offsets = nonNil(offs.Offsets)
	return writeJSON(c, http.StatusOK, offs)
}

// alterOffsets answers PATCH /connectors/{c}/offsets (KIP-875): 200 with the
// herder's message; 400 for an empty list. Numbers reach the herder as int64
// when integral, float64 otherwise.
func (s *Server) alterOffsets(c echo.Context) error {
	name := param(c, "c")
	var offs ConnectorOffsets
	if err := decodeBody(c, &offs); err != nil {
		return err
	}
	if len(offs.Offsets) == 0 {
		return BadRequest("Partitions / offsets need to be provided for an alter offsets request")
	}
	for i := range offs.Offsets {
		if offs.Offsets[i].Partition == nil {
			return BadRequest("Partition at index %d may not be null", i)
		}
		normalizeNumbers(offs.Offsets[i].Partition)
		if offs.Offsets[i].Offset != nil {
			normalizeNumbers(offs.Offsets[i].Offset)
		}
	}
	msg, err := get(s, c, func(ctx context.Context) (string, error) { return s.herder.AlterOffsets(ctx, name, offs) })
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, message{msg})
}

// resetOffsets answers DELETE /connectors/{c}/offsets: 200 with the herder's message.
func (s *Server) resetOffsets(c echo.Context) error {
	name := param(c, "c")
	msg, err := get(s, c, func(ctx context.Context) (string, error) { return s.herder.ResetOffsets(ctx, name) })
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, message{msg})
}

// activeTopics is Kafka Connect's ActiveTopicsInfo as serialized.
type activeTopics struct {
	Topics []string `json:"topics"`
}

// activeTopics answers GET /connectors/{c}/topics: {"c":{"topics":[...]}}.
func (s *Server) activeTopics(c echo.Context) error {
	name := param(c, "c")
	topics, err := get(s, c, func(ctx context.Context) ([]string, error) { return s.herder.ActiveTopics(ctx, name) })
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, map[string]activeTopics{name: {nonNil(topics)}})
}

// resetActiveTopics answers PUT /connectors/{c}/topics/reset: 202.
func (s *Server) resetActiveTopics(c echo.Context) error {
	name := param(c, "c")
	if err := do(s, c, func(ctx context.Context) error { return s.herder.ResetActiveTopics(ctx, name) }); err != nil {
		return err
	}
	return c.NoContent(http.StatusAccepted)
}

// normalizeInfo makes nil collections JSON's [] and {} as Kafka Connect sends them.
func normalizeInfo(info ConnectorInfo) ConnectorInfo {
	info.Config = nonNilMap(info.Config)
	info.Tasks = nonNil(info.Tasks)
	return info
}

// normalizeState makes a nil task list [].
func normalizeState(st ConnectorStateInfo) ConnectorStateInfo {
	st.Tasks = nonNil(st.Tasks)
	return st
}

// nonNil returns s, or an empty slice for nil, so it encodes as [].
func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

// nonNilMap returns m, or an empty map for nil, so it encodes as {}.
func nonNilMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}
