package rest

// GET /penstock/connectors/{c}/progress: what the console's connector page
// and `penstock connectors status` show beyond the status: each task's
// snapshot progress and source lag (asked of the worker running the task),
// and a sink's consumer lag. Penstock's, not Kafka Connect's.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/penstockhq/penstock/worker/console"
)

// ProgressPath is the route of the progress endpoint.
const ProgressPath = "/penstock/connectors/:c/progress"

// Progresser is implemented by a herder that can report what its tasks
// know of their progress; with a herder without it the progress endpoint
// answers the status only.
type Progresser interface {
	// LocalProgress returns the progress of the connector's tasks that run
	// on this worker (tasks running elsewhere are absent).
	LocalProgress(name string) []TaskProgress
	// ConsumerLag returns a sink connector's consumer lag per partition
	// (nil for a source connector).
	ConsumerLag(ctx context.Context, name string) ([]console.PartitionLag, error)
}

// ConnectorProgress is the body of GET ProgressPath.
type ConnectorProgress struct {
	Name string `json:"name"`
	Type string `json:"type"`
	// Tasks are the connector's tasks, by id, with what their workers
	// reported.
	Tasks []TaskProgress `json:"tasks"`
	// ConsumerLag is a sink's lag per partition of its consumer group.
	ConsumerLag []console.PartitionLag `json:"consumer_lag,omitempty"`
	// TotalLag is the sum of ConsumerLag's lags.
	TotalLag int64 `json:"total_lag"`
	// Lag is the connector's lag in LagUnit: a sink's TotalLag
	// ("records"), a CDC source's bytes behind summed over its tasks
	// ("bytes"), else its largest time behind ("ms"); absent when unknown.
	Lag     *int64 `json:"lag,omitempty"`
	LagUnit string `json:"lag_unit,omitempty"`
	// LagHistory is Lag as sampled when asked, over the last ten minutes.
	LagHistory []LagPoint `json:"lag_history,omitempty"`
	// Errors name the workers that could not be asked.
	Errors []string `json:"errors,omitempty"`
}

// TaskProgress is one task's progress on the worker running it.
type TaskProgress struct {
	ID       int    `json:"id"`
	State    string `json:"state"`
	WorkerID string `json:"worker_id"`
	// Snapshot is the progress per table of the running or last snapshot.
	Snapshot []TableProgress `json:"snapshot,omitempty"`
	// SourceLagBytes and SourceLagMs are the task's lag behind its source
	// (-1 or absent: not known); see connect.SourceLag.
	SourceLagBytes *int64 `json:"source_lag_bytes,omitempty"`
	SourceLagMs    *int64 `json:"source_lag_ms,omitempty"`
}

// TableProgress is one table's snapshot progress.
type TableProgress struct {
	Table     string `json:"table"`
	RowsRead  int64  `json:"rows_read"`
	Estimated int64  `json:"rows_estimated"` // -1: no estimate
	Done      bool   `json:"done"`
}

// gatherTimeout bounds how long a worker waits for the others' figures: a
// worker gone but still named by statuses shows as an error, not as a
// console page that hangs.
const gatherTimeout = 5 * time.Second

// localQuery asks a worker for its own figures only (its tasks' progress,
// its connectors' rates): the answer to another worker gathering them.
const localQuery = "local"

// connectorProgress serves GET ProgressPath. It asks the workers running the
// connector's tasks for theirs, in parallel, with the caller's credentials.
func (s *Server) connectorProgress(c echo.Context) error {
	name := param(c, "c")
	p, _ := s.herder.(Progresser)
	if queryBool(c, localQuery, false) {
		out := []TaskProgress{}
		if p != nil {
			out = append(out, p.LocalProgress(name)...)
		}
		return writeJSON(c, http.StatusOK, out)
	}
	st, err := get(s, c, func(ctx context.Context) (ConnectorStateInfo, error) { return s.herder.ConnectorStatus(ctx, name) })
	if err != nil {
		return err
	}
	out := ConnectorProgress{Name: name, Type: st.Type, Tasks: make([]TaskProgress, len(st.Tasks))}
	byID := map[int]int{}
	for i, t := range st.Tasks {
		out.Tasks[i] = TaskProgress{ID: t.ID, State: t.State, WorkerID: t.WorkerID}
		byID[t.ID] = i
	}
	merge := func(ts []TaskProgress) {
		for _, t := range ts {
			if i, ok := byID[t.ID]; ok {
				out.Tasks[i].Snapshot, out.Tasks[i].SourceLagBytes, out.Tasks[i].SourceLagMs = t.Snapshot, t.SourceLagBytes, t.SourceLagMs
			}
		}
	}
	if p != nil {
		merge(p.LocalProgress(name))
	}
	// The other workers running a task of it.
	remote := map[string]bool{}
	if s.cluster != nil {
		for _, t := range st.Tasks {
			if u, self := s.cluster.TaskOwner(name, t.ID); !self && u != "" {
				remote[u] = true
			}
		}
	}
	ctx, cancel := context.WithTimeout(c.Request().Context(), min(s.timeout, gatherTimeout))
	defer cancel()
	var mu sync.Mutex
	var wg sync.WaitGroup
	for u := range remote {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var ts []TaskProgress
			err := s.getFrom(ctx, c.Request(), u, "/penstock/connectors/"+url.PathEscape(name)+"/progress", url.Values{localQuery: {"true"}}, &ts)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				out.Errors = append(out.Errors, err.Error())
				return
			}
			merge(ts)
		}()
	}
	if p != nil && st.Type == "sink" {
		lag, err := p.ConsumerLag(ctx, name)
		mu.Lock()
		if err != nil {
			out.Errors = append(out.Errors, fmt.Sprintf("consumer lag: %v", err))
		}
		out.ConsumerLag = lag
		for _, l := range lag {
			out.TotalLag += l.Lag
		}
		mu.Unlock()
	}
	wg.Wait()
	if lag, unit, ok := out.lag(); ok {
		out.Lag, out.LagUnit = &lag, unit
		out.LagHistory = s.lags.add(name, lag)
	}
	return writeJSON(c, http.StatusOK, out)
}

// lag is the connector's one lag figure (see ConnectorProgress.Lag).
func (p *ConnectorProgress) lag() (lag int64, unit string, ok bool) {
	if p.Type == "sink" {
		return p.TotalLag, "records", p.ConsumerLag != nil
	}
	var bytes, ms int64 = -1, -1
	for _, t := range p.Tasks {
		if t.SourceLagBytes != nil {
			bytes = max(bytes, 0) + *t.SourceLagBytes
		}
		if t.SourceLagMs != nil {
			ms = max(ms, *t.SourceLagMs)
		}
	}
	switch {
	case bytes >= 0:
		return bytes, "bytes", true
	case ms >= 0:
		return ms, "ms", true
	}
	return 0, "", false
}

// getFrom GETs path?q from the worker at base (its REST URL), as
// forwarding does: with forward=true added (q is not changed, so callers
// in parallel may share it), the caller's Authorization header and the
// server's client (TLS), and decodes the JSON answer into v.
func (s *Server) getFrom(ctx context.Context, from *http.Request, base, path string, q url.Values, v any) error {
	q = maps.Clone(q)
	if q == nil {
		q = url.Values{}
	}
	q.Set("forward", "true")
	u := strings.TrimSuffix(base, "/") + path + "?" + q.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return fmt.Errorf("asking %s: %w", base, err)
	}
	req.Header.Set("Accept", "application/json")
	if a := from.Header.Get("Authorization"); a != "" {
		req.Header.Set("Authorization", a)
	}
	resp, err := s.client().Do(req)
	if err != nil {
		return fmt.Errorf("asking %s: %w", base, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBodyBytes))
	if err != nil {
		return fmt.Errorf("asking %s: %w", base, err)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("asking %s: %s: %s", base, resp.Status, strings.TrimSpace(string(body)))
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("asking %s: decoding the answer: %w", base, err)
	}
	return nil
}
