package testservice

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// ElasticsearchServer is a private Elasticsearch-API server started by
// Elasticsearch: ZincSearch, which implements part of the Elasticsearch API
// under /es with basic auth. See /work/shared/scripts/install-zincsearch.sh
// (shared/scripts/install-zincsearch.sh next to the repository) for how it
// differs from Elasticsearch: call Info first with the v8 client, poll for
// writes to become visible, and create indices with explicit mappings.
type ElasticsearchServer struct {
	// URL is the base URL of the Elasticsearch API, e.g. http://127.0.0.1:PORT/es;
	// give it to the client as its address.
	URL string
	// ServerURL is the server's root URL (health check at /healthz).
	ServerURL string
	// Username is the basic-auth user: admin.
	Username string
	// Password is Username's password.
	Password string
	// DataDir holds the server's indices.
	DataDir string
	// LogFile receives the server's output.
	LogFile string
}

// Elasticsearch starts a ZincSearch server for the test and stops it on
// cleanup: data in t.TempDir(), listening on a free 127.0.0.1 port, with
// writes made visible every 100ms (Settle waits for them). It skips the test when zincsearch has not
// been built (fails with CI=true): run scripts/deps.sh.
func Elasticsearch(t testing.TB) *ElasticsearchServer {
	t.Helper()
	bin := findBinary(t, "build it with scripts/deps.sh (or shared/scripts/install-zincsearch.sh)", "zincsearch")
	base := t.TempDir()
	s := &ElasticsearchServer{
		Username: "admin",
		Password: "Complexpass#123",
		DataDir:  filepath.Join(base, "data"),
		LogFile:  filepath.Join(base, "zincsearch.log"),
	}
	if err := mkdirs(nil, s.DataDir); err != nil {
		t.Fatalf("testservice: zincsearch: %v", err)
	}
	port, _ := startOnFreePort(t, "zincsearch", s.LogFile, func(port int) (*process, func() error, error) {
		p, err := startProcess(procSpec{
			name: "zincsearch",
			path: bin,
			env: []string{
				"ZINC_FIRST_ADMIN_USER=" + s.Username,
				"ZINC_FIRST_ADMIN_PASSWORD=" + s.Password,
				"ZINC_DATA_PATH=" + s.DataDir,
				"ZINC_SERVER_ADDRESS=127.0.0.1",
				"ZINC_SERVER_PORT=" + strconv.Itoa(port),
				"ZINC_TELEMETRY=false",
				"ZINC_SENTRY=false",
				"ZINC_PROFILER=false",
				"ZINC_PROMETHEUS_ENABLE=false",
				"ZINC_WAL_SYNC_INTERVAL=100ms",
				// One shard per index, so one WAL: Settle's marker document
				// is applied after every write acknowledged before it.
				"ZINC_SHARD_NUM=1",
				"GIN_MODE=release",
			},
			dropEnv:    []string{"ZINC_", "GIN_MODE="},
			dir:        base,
			logPath:    s.LogFile,
			stopSignal: syscall.SIGTERM,
		})
		if err != nil {
			return nil, nil, err
		}
		healthz := fmt.Sprintf("http://127.0.0.1:%d/healthz", port)
		return p, func() error { return httpReady(healthz, func(code int) bool { return code == http.StatusOK }) }, nil
	}, 90*time.Second)
	s.ServerURL = fmt.Sprintf("http://127.0.0.1:%d", port)
	s.URL = s.ServerURL + "/es"
	return s
}

// httpReady GETs url and reports an error unless ok accepts the status code.
func httpReady(url string, ok func(int) bool) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("build request: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("GET %s: %w", url, err)
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	_ = resp.Body.Close()
	if !ok(resp.StatusCode) {
		return fmt.Errorf("GET %s: status %s", url, resp.Status)
	}
	return nil
}

// settleID is the id of the marker document Settle writes; Documents leaves
// it out.
const settleID = "penstock-settle"

// settleSeq numbers Settle's markers, so each call waits for its own.
var settleSeq atomic.Int64

// Settle waits until every write ZincSearch acknowledged to index before the
// call is searchable. ZincSearch acknowledges a write when it is in the
// index's WAL and applies the WAL in order on a timer (every 100ms, later on
// a loaded machine), so Settle writes a marker document and polls until a
// search sees it (up to a minute). Until then a search can miss writes, and
// a delete of a document whose write is still in the WAL is lost (Zinc
// looks the id up in the applied index and answers 200 anyway): tests wait
// for Settle between writes and deletes of one document and before reading.
func (s *ElasticsearchServer) Settle(index string) error {
	n := settleSeq.Add(1)
	body := fmt.Sprintf(`{"index":{"_index":%q,"_id":%q}}`+"\n"+`{"settle":%d}`+"\n", index, settleID, n)
	req, err := http.NewRequest(http.MethodPost, s.URL+"/_bulk", strings.NewReader(body))
	if err != nil {
		return err
	}
	req.SetBasicAuth(s.Username, s.Password)
	req.Header.Set("Content-Type", "application/x-ndjson")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("settle %s: %w", index, err)
	}
	raw, _ := io.ReadAll(res.Body)
	_ = res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("settle %s: writing the marker: %s: %s", index, res.Status, raw)
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		docs, err := s.search(index)
		if err == nil {
			if m, ok := docs[settleID]; ok && m["settle"] == float64(n) {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("settle %s: the marker written a minute ago is not searchable (last error: %v)", index, err)
		}
	}
}

// Documents returns every document of index (up to 10,000) as id -> source,
// without the @timestamp field ZincSearch adds and without Settle's marker.
// Writes become visible only after ZincSearch applies its WAL: call Settle
// first.
func (s *ElasticsearchServer) Documents(index string) (map[string]map[string]any, error) {
	docs, err := s.search(index)
	delete(docs, settleID)
	return docs, err
}

// search returns every document of index (up to 10,000) as id -> source,
// without the @timestamp field ZincSearch adds.
func (s *ElasticsearchServer) search(index string) (map[string]map[string]any, error) {
	req, err := http.NewRequest(http.MethodPost, s.URL+"/"+index+"/_search", strings.NewReader(`{"query":{"match_all":{}},"size":10000}`))
	if err != nil {
		return nil, err
	}
	req.SetBasicAuth(s.Username, s.Password)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	raw, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("search %s: %s: %s", index, res.Status, raw)
	}
	var out struct {
		Hits struct {
			Hits []struct {
				ID     string         `json:"_id"`
				Source map[string]any `json:"_source"`
			} `json:"hits"`
		} `json:"hits"`
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("search %s: %w", index, err)
	}
	docs := make(map[string]map[string]any, len(out.Hits.Hits))
	for _, h := range out.Hits.Hits {
		delete(h.Source, "@timestamp")
		docs[h.ID] = h.Source
	}
	return docs, nil
}
