package rest

// The JSON endpoints of the web console (worker/console) beyond Kafka
// Connect's API, all read-only GETs under /penstock/, authenticated like
// every other endpoint: cluster-wide connector rates, the cluster's topics,
// a topic's latest records and the consumer groups' lag. Penstock's, not
// Kafka Connect's.

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"sync"

	"github.com/labstack/echo/v4"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/penstockhq/penstock/worker/console"
)

// Paths of the console's topic endpoints.
const (
	TopicsPath      = "/penstock/topics"
	TopicTailPath   = "/penstock/topics/:t/records"
	GroupsPath      = "/penstock/groups"
	defaultTailSize = 50
	maxTailSize     = 500
)

// TopicsHerder is implemented by a herder that reaches the Kafka cluster;
// with a herder without it the topic endpoints answer 404.
type TopicsHerder interface {
	Topics() *console.Topics
}

// WorkerLister is implemented by a Cluster that knows the other workers;
// GET console.MetricsPath sums their figures.
type WorkerLister interface {
	// WorkerURLs returns the REST URLs of the other workers running work.
	WorkerURLs() []string
}

// consoleRoutes registers the console's pages and endpoints.
func (s *Server) consoleRoutes() {
	e := s.echo
	ui := echo.WrapHandler(console.New())
	e.GET(console.Path+"*", ui)
	if s.gather != nil {
		s.rates = console.NewRates(s.gather)
		e.GET(console.MetricsPath, s.connectorRates)
	}
	e.GET(ProgressPath, s.connectorProgress)
	e.GET(TopicsPath, s.listTopics)
	e.GET(TopicTailPath, s.tailTopic)
	e.GET(GroupsPath, s.listGroups)
}

// connectorRates serves GET console.MetricsPath: this worker's rates, plus
// (unless ?local=true, which is how workers ask each other) every other
// worker's, asked in parallel with the caller's credentials, summed.
func (s *Server) connectorRates(c echo.Context) error {
	connector := c.QueryParam("connector")
	rep, err := s.rates.Report(connector)
	if err != nil {
		return err
	}
	lister, _ := s.cluster.(WorkerLister)
	if queryBool(c, localQuery, false) || lister == nil {
		return writeJSON(c, http.StatusOK, rep)
	}
	others := lister.WorkerURLs()
	ctx, cancel := context.WithTimeout(c.Request().Context(), min(s.timeout, gatherTimeout))
	defer cancel()
	q := url.Values{localQuery: {"true"}}
	if connector != "" {
		q.Set("connector", connector)
	}
	reps := make([]console.RatesReport, len(others))
	errs := make([]error, len(others))
	var wg sync.WaitGroup
	for i, u := range others {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.getFrom(ctx, c.Request(), u, console.MetricsPath, q, &reps[i])
		}()
	}
	wg.Wait()
	var ok []console.RatesReport
	for i := range others {
		if errs[i] != nil {
			rep.Errors = append(rep.Errors, errs[i].Error())
			continue
		}
		ok = append(ok, reps[i])
	}
	rep = console.Merge(rep, ok...)
	rep.Workers = 1 + len(ok)
	return writeJSON(c, http.StatusOK, rep)
}

// topics returns the herder's topic view, or a 404 error without one.
func (s *Server) topics() (*console.Topics, error) {
	if th, ok := s.herder.(TopicsHerder); ok {
		if t := th.Topics(); t != nil {
			return t, nil
		}
	}
	return nil, NotFound("This worker does not show topics")
}

// listTopics serves GET TopicsPath.
func (s *Server) listTopics(c echo.Context) error {
	t, err := s.topics()
	if err != nil {
		return err
	}
	out, err := get(s, c, t.List)
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, out)
}

// tailTopic serves GET TopicTailPath?limit=N: the topic's latest records,
// newest first.
func (s *Server) tailTopic(c echo.Context) error {
	t, err := s.topics()
	if err != nil {
		return err
	}
	limit := defaultTailSize
	if v := c.QueryParam("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxTailSize {
			return BadRequest("limit must be a number from 1 to %d", maxTailSize)
		}
		limit = n
	}
	topic := param(c, "t")
	out, err := get(s, c, func(ctx context.Context) ([]console.Record, error) { return t.Tail(ctx, topic, limit) })
	if errors.Is(err, kerr.UnknownTopicOrPartition) {
		return NotFound("Topic %s not found", topic)
	}
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, out)
}

// listGroups serves GET GroupsPath.
func (s *Server) listGroups(c echo.Context) error {
	t, err := s.topics()
	if err != nil {
		return err
	}
	out, err := get(s, c, t.Groups)
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, out)
}
