package worker_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/penstockhq/penstock/internal/brokertest"
	"github.com/penstockhq/penstock/internal/e2e"
)

// These tests drive a real worker only through its REST API over HTTP: an
// in-process broker (internal/brokertest), a herder, and rest.New(herder)
// served on a loopback listener (internal/e2e).

// secret is a PASSWORD-type value; no response may contain it.
const secret = "pw-Sup3rS3cret-e2e"

// errBody is Kafka Connect's error body.
type errBody struct {
	ErrorCode *int    `json:"error_code"`
	Message   *string `json:"message"`
}

// expectError checks an error answer: the status, and a body of exactly
// {"error_code": status, "message": "..."} whose message contains each of
// contains.
func expectError(t *testing.T, r e2e.Response, status int, contains ...string) string {
	t.Helper()
	if r.Status != status {
		t.Fatalf("got %s, want %d", r, status)
	}
	var raw map[string]any
	if err := json.Unmarshal(r.Body, &raw); err != nil {
		t.Fatalf("error body %q is not JSON: %v", r.Body, err)
	}
	var b errBody
	r.JSON(t, &b)
	if len(raw) != 2 || b.ErrorCode == nil || b.Message == nil {
		t.Fatalf("error body %s: want exactly {\"error_code\",\"message\"}", r.Body)
	}
	if *b.ErrorCode != status {
		t.Fatalf("error_code %d in %s, want %d", *b.ErrorCode, r.Body, status)
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Errorf("error Content-Type %q", ct)
	}
	for _, c := range contains {
		if !strings.Contains(*b.Message, c) {
			t.Errorf("error message %q does not contain %q", *b.Message, c)
		}
	}
	return *b.Message
}

// seqs counts the (task, seq) pairs of datagen records in a file sink's file.
func seqs(t *testing.T, path string) map[[2]int64]int {
	t.Helper()
	out := map[[2]int64]int{}
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return out
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var v struct {
			Seq  *int64 `json:"seq"`
			Task int64  `json:"task"`
		}
		if json.Unmarshal(sc.Bytes(), &v) == nil && v.Seq != nil {
			out[[2]int64{v.Task, *v.Seq}]++
		}
	}
	return out
}

// offsetsBody is KIP-875's GET /connectors/{c}/offsets body.
type offsetsBody struct {
	Offsets []struct {
		Partition map[string]any `json:"partition"`
		Offset    map[string]any `json:"offset"`
	} `json:"offsets"`
}

// TestE2ERestAPI is issue 5: the whole REST API of one worker, through HTTP
// only, with a datagen -> topic -> file sink pipeline, every error path, and
// PASSWORD values masked in every response.
func TestE2ERestAPI(t *testing.T) {
	b := brokertest.Start(t)
	w := e2e.StartWorker(t, b.Addr, nil)
	base := w.URL
	out := filepath.Join(t.TempDir(), "sink.txt")
	const n = 300

	// Every response body is checked for the secret.
	var bodies []e2e.Response
	call := func(method, path string, body any) e2e.Response {
		t.Helper()
		r := e2e.Call(t, method, base+path, body)
		bodies = append(bodies, r)
		return r
	}
	expect := func(status int, method, path string, body any) e2e.Response {
		t.Helper()
		r := call(method, path, body)
		if r.Status != status {
			t.Fatalf("%s %s: %s, want %d", method, path, r, status)
		}
		if status != http.StatusNoContent && len(r.Body) > 0 && !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") {
			t.Errorf("%s %s: Content-Type %q", method, path, r.Header.Get("Content-Type"))
		}
		return r
	}
	defer func() {
		for _, r := range bodies {
			if strings.Contains(string(r.Body), secret) {
				t.Errorf("a response shows the password in clear: %s", r)
			}
		}
	}()

	// GET / and /health.
	var root map[string]any
	expect(200, "GET", "/", nil).JSON(t, &root)
	for _, k := range []string{"version", "commit", "kafka_cluster_id"} {
		if _, ok := root[k]; !ok {
			t.Errorf("GET / has no %q: %v", k, root)
		}
	}
	e2e.Eventually(t, 30*time.Second, "GET /health 200", func() error {
		if r := call("GET", "/health", nil); r.Status != 200 || !strings.Contains(string(r.Body), `"healthy"`) {
			return fmt.Errorf("%s", r)
		}
		return nil
	})
	if r := expect(200, "GET", "/connectors", nil); string(r.Body) != "[]" {
		t.Fatalf("GET /connectors on an empty worker: %s", r.Body)
	}

	// Create the source: 201, Location, ConnectorInfo.
	gen := map[string]any{"name": "gen", "config": map[string]string{
		"connector.class": "datagen", "topic": "events", "count": fmt.Sprint(n), "batch.size": "50", "tasks.max": "1"}}
	r := expect(201, "POST", "/connectors", gen)
	if loc := r.Header.Get("Location"); !strings.HasSuffix(loc, "/connectors/gen") {
		t.Errorf("Location %q, want .../connectors/gen", loc)
	}
	var info struct {
		Name   string            `json:"name"`
		Config map[string]string `json:"config"`
		Tasks  []struct {
			Connector string `json:"connector"`
			Task      int    `json:"task"`
		} `json:"tasks"`
		Type string `json:"type"`
	}
	r.JSON(t, &info)
	if info.Name != "gen" || info.Type != "source" || info.Config["name"] != "gen" || info.Config["topic"] != "events" || info.Tasks == nil {
		t.Errorf("ConnectorInfo of create: %s", r.Body)
	}
	// Identical re-create: idempotent (a client that timed out may retry).
	if r := call("POST", "/connectors", gen); r.Status != 201 && r.Status != 200 {
		t.Errorf("identical re-create: %s, want 201 or 200", r)
	}
	// Different config under the same name: 409.
	other := map[string]any{"name": "gen", "config": map[string]string{"connector.class": "datagen", "topic": "other"}}
	expectError(t, call("POST", "/connectors", other), 409, "gen")

	expect(201, "POST", "/connectors", map[string]any{"name": "sink", "config": map[string]string{
		"connector.class": "FileStreamSink", "topics": "events", "file": out, "tasks.max": "1"}})

	// Both run; the status shape is Kafka Connect's.
	st := e2e.WaitState(t, base, "gen", "RUNNING", "RUNNING", 1)
	if st.Name != "gen" || st.Type != "source" || st.Connector.WorkerID == "" || st.Tasks[0].ID != 0 || st.Tasks[0].WorkerID == "" {
		t.Errorf("status of gen: %+v", st)
	}
	if st := e2e.WaitState(t, base, "sink", "RUNNING", "RUNNING", 1); st.Type != "sink" {
		t.Errorf("status of sink: %+v", st)
	}
	e2e.Eventually(t, 60*time.Second, "every record in the file", func() error {
		if got := len(seqs(t, out)); got != n {
			return fmt.Errorf("%d distinct records of %d", got, n)
		}
		return nil
	})

	// Info, config, tasks, task status.
	info.Config = nil
	expect(200, "GET", "/connectors/gen", nil).JSON(t, &info)
	if info.Name != "gen" || len(info.Tasks) != 1 || info.Tasks[0].Connector != "gen" || info.Tasks[0].Task != 0 {
		t.Errorf("GET /connectors/gen: %+v", info)
	}
	var cfg map[string]string
	expect(200, "GET", "/connectors/gen/config", nil).JSON(t, &cfg)
	if cfg["topic"] != "events" || cfg["connector.class"] != "datagen" || cfg["name"] != "gen" {
		t.Errorf("GET config: %v", cfg)
	}
	var tasks []struct {
		ID struct {
			Connector string `json:"connector"`
			Task      int    `json:"task"`
		} `json:"id"`
		Config map[string]string `json:"config"`
	}
	expect(200, "GET", "/connectors/gen/tasks", nil).JSON(t, &tasks)
	if len(tasks) != 1 || tasks[0].ID.Connector != "gen" || tasks[0].ID.Task != 0 || tasks[0].Config == nil {
		t.Errorf("GET tasks: %+v", tasks)
	}
	var ts map[string]any
	expect(200, "GET", "/connectors/gen/tasks/0/status", nil).JSON(t, &ts)
	if ts["state"] != "RUNNING" || fmt.Sprint(ts["id"]) != "0" || ts["worker_id"] == "" {
		t.Errorf("task status: %v", ts)
	}

	// GET /connectors with expansions.
	var both map[string]struct {
		Status *e2e.Status `json:"status"`
		Info   *struct {
			Name string `json:"name"`
			Type string `json:"type"`
		} `json:"info"`
	}
	expect(200, "GET", "/connectors?expand=status&expand=info", nil).JSON(t, &both)
	if len(both) != 2 || both["gen"].Status == nil || both["gen"].Info == nil || both["sink"].Status == nil || both["sink"].Info == nil ||
		both["gen"].Status.Connector.State != "RUNNING" || both["sink"].Info.Type != "sink" || both["gen"].Info.Name != "gen" {
		t.Errorf("expand=status&expand=info: %s", bodies[len(bodies)-1].Body)
	}
	var onlyStatus map[string]map[string]json.RawMessage
	expect(200, "GET", "/connectors?expand=status", nil).JSON(t, &onlyStatus)
	if _, ok := onlyStatus["sink"]["status"]; !ok || len(onlyStatus["sink"]) != 1 {
		t.Errorf("expand=status: %v", onlyStatus)
	}
	var names []string
	expect(200, "GET", "/connectors", nil).JSON(t, &names)
	if strings.Join(names, ",") != "gen,sink" && strings.Join(names, ",") != "sink,gen" {
		t.Errorf("GET /connectors: %v", names)
	}

	// Topics and reset.
	r = expect(200, "GET", "/connectors/gen/topics", nil)
	if string(r.Body) != `{"gen":{"topics":["events"]}}` {
		t.Errorf("GET topics: %s", r.Body)
	}
	expect(202, "PUT", "/connectors/gen/topics/reset", nil)
	if r := expect(200, "GET", "/connectors/gen/topics", nil); string(r.Body) != `{"gen":{"topics":[]}}` {
		t.Errorf("GET topics after reset: %s", r.Body)
	}

	// Pause and resume.
	expect(202, "PUT", "/connectors/sink/pause", nil)
	e2e.WaitState(t, base, "sink", "PAUSED", "PAUSED", 1)
	expect(202, "PUT", "/connectors/sink/pause", nil) // idempotent
	expect(202, "PUT", "/connectors/sink/resume", nil)
	e2e.WaitState(t, base, "sink", "RUNNING", "RUNNING", 1)

	// Offsets (KIP-875): the source's in its own shape, the sink's as
	// kafka_topic/kafka_partition -> kafka_offset.
	e2e.Eventually(t, 30*time.Second, "source offset flushed", func() error {
		var o offsetsBody
		r := call("GET", "/connectors/gen/offsets", nil)
		if err := json.Unmarshal(r.Body, &o); err != nil || r.Status != 200 {
			return fmt.Errorf("%s", r)
		}
		if len(o.Offsets) != 1 || fmt.Sprint(o.Offsets[0].Partition["task"]) != "0" || fmt.Sprint(o.Offsets[0].Offset["seq"]) != fmt.Sprint(n-1) {
			return fmt.Errorf("%s", r.Body)
		}
		return nil
	})
	e2e.Eventually(t, 30*time.Second, "sink offsets committed", func() error {
		var o offsetsBody
		r := call("GET", "/connectors/sink/offsets", nil)
		if err := json.Unmarshal(r.Body, &o); err != nil || r.Status != 200 {
			return fmt.Errorf("%s", r)
		}
		total := 0.0
		for _, p := range o.Offsets {
			if p.Partition["kafka_topic"] != "events" || p.Partition["kafka_partition"] == nil || len(p.Partition) != 2 || len(p.Offset) != 1 {
				return fmt.Errorf("shape: %s", r.Body)
			}
			v, _ := p.Offset["kafka_offset"].(float64)
			total += v
		}
		if total != n {
			return fmt.Errorf("committed %v of %d: %s", total, n, r.Body)
		}
		return nil
	})
	rewind := map[string]any{"offsets": []any{map[string]any{"partition": map[string]any{"task": 0}, "offset": map[string]any{"seq": 99}}}}
	expectError(t, call("PATCH", "/connectors/gen/offsets", rewind), 400)
	expectError(t, call("DELETE", "/connectors/gen/offsets", nil), 400)

	// Stop: 204, STOPPED with no tasks; then offsets can change.
	if r := expect(204, "PUT", "/connectors/gen/stop", nil); len(r.Body) != 0 {
		t.Errorf("stop has a body: %s", r.Body)
	}
	e2e.WaitState(t, base, "gen", "STOPPED", "RUNNING", 0)
	expectError(t, call("PATCH", "/connectors/gen/offsets", map[string]any{"offsets": []any{}}), 400)
	var msg struct {
		Message string `json:"message"`
	}
	expect(200, "PATCH", "/connectors/gen/offsets", rewind).JSON(t, &msg)
	if msg.Message == "" {
		t.Errorf("PATCH offsets: no message")
	}
	var o offsetsBody
	expect(200, "GET", "/connectors/gen/offsets", nil).JSON(t, &o)
	if len(o.Offsets) != 1 || fmt.Sprint(o.Offsets[0].Offset["seq"]) != "99" {
		t.Errorf("offsets after PATCH: %+v", o)
	}
	expect(202, "PUT", "/connectors/gen/resume", nil)
	e2e.WaitState(t, base, "gen", "RUNNING", "RUNNING", 1)
	e2e.Eventually(t, 60*time.Second, "the rewound records a second time in the file", func() error {
		s := seqs(t, out)
		if s[[2]int64{0, 99}] != 1 || s[[2]int64{0, 100}] != 2 || s[[2]int64{0, n - 1}] != 2 {
			return fmt.Errorf("copies of 99, 100, %d: %d %d %d", n-1, s[[2]int64{0, 99}], s[[2]int64{0, 100}], s[[2]int64{0, n - 1}])
		}
		return nil
	})

	// The sink's offsets: stop, alter one partition, reset all.
	expect(204, "PUT", "/connectors/sink/stop", nil)
	e2e.WaitState(t, base, "sink", "STOPPED", "RUNNING", 0)
	expect(200, "PATCH", "/connectors/sink/offsets", map[string]any{"offsets": []any{map[string]any{
		"partition": map[string]any{"kafka_topic": "events", "kafka_partition": 0}, "offset": map[string]any{"kafka_offset": 5}}}}).JSON(t, &msg)
	o = offsetsBody{}
	expect(200, "GET", "/connectors/sink/offsets", nil).JSON(t, &o)
	found := false
	for _, p := range o.Offsets {
		if p.Partition["kafka_topic"] == "events" && fmt.Sprint(p.Partition["kafka_partition"]) == "0" {
			found = fmt.Sprint(p.Offset["kafka_offset"]) == "5"
		}
	}
	if !found {
		t.Errorf("sink offsets after PATCH: %+v", o)
	}
	msg.Message = ""
	expect(200, "DELETE", "/connectors/sink/offsets", nil).JSON(t, &msg)
	if msg.Message == "" {
		t.Errorf("DELETE offsets: no message")
	}
	if r := expect(200, "GET", "/connectors/sink/offsets", nil); string(r.Body) != `{"offsets":[]}` {
		t.Errorf("sink offsets after reset: %s", r.Body)
	}
	expect(202, "PUT", "/connectors/sink/resume", nil)
	e2e.WaitState(t, base, "sink", "RUNNING", "RUNNING", 1)

	// Restarts.
	r = expect(202, "POST", "/connectors/gen/restart?includeTasks=true", nil)
	var rs e2e.Status
	r.JSON(t, &rs)
	if rs.Name != "gen" || len(rs.Tasks) != 1 {
		t.Errorf("restart?includeTasks=true: %s", r.Body)
	}
	for _, s := range []string{rs.Connector.State, rs.Tasks[0].State} {
		if s != "RESTARTING" && s != "RUNNING" {
			t.Errorf("restart?includeTasks=true: state %s in %s", s, r.Body)
		}
	}
	// Not waiting for RUNNING here: the RESTARTING statuses can outlive the
	// restart (a bug: TestE2ERestartIncludeTasksSettles in
	// e2e_knownbugs_test.go); the task restart below writes the task's
	// status again.
	expect(204, "POST", "/connectors/gen/restart", nil)
	expect(204, "POST", "/connectors/gen/tasks/0/restart", nil)
	e2e.WaitState(t, base, "gen", "RUNNING", "RUNNING", 1)

	// Config: PUT replaces (200), PATCH edits (200), PUT creates (201).
	newCfg := map[string]string{"connector.class": "datagen", "topic": "events", "count": fmt.Sprint(n), "batch.size": "50", "tasks.max": "1", "seed": "7"}
	expect(200, "PUT", "/connectors/gen/config", newCfg).JSON(t, &info)
	if info.Config["seed"] != "7" {
		t.Errorf("PUT config: %+v", info)
	}
	info.Config = nil // json.Unmarshal merges into a non-nil map
	expect(200, "PATCH", "/connectors/gen/config", map[string]any{"seed": nil, "batch.size": "60"}).JSON(t, &info)
	if _, ok := info.Config["seed"]; ok || info.Config["batch.size"] != "60" {
		t.Errorf("PATCH config: %+v", info.Config)
	}
	r = expect(201, "PUT", "/connectors/gen2/config", map[string]string{"connector.class": "datagen", "topic": "events2", "count": "1"})
	if !strings.HasSuffix(r.Header.Get("Location"), "/connectors/gen2") {
		t.Errorf("PUT create Location %q", r.Header.Get("Location"))
	}

	// Plugins.
	var plugins []struct {
		Class   string `json:"class"`
		Type    string `json:"type"`
		Version string `json:"version"`
	}
	expect(200, "GET", "/connector-plugins", nil).JSON(t, &plugins)
	kinds := map[string]string{}
	for _, p := range plugins {
		kinds[p.Class] = p.Type
		if p.Type != "source" && p.Type != "sink" {
			t.Errorf("connectorsOnly lists %s (%s)", p.Class, p.Type)
		}
	}
	if kinds["org.apache.kafka.connect.file.FileStreamSinkConnector"] != "sink" || kinds["io.penstock.connect.datagen.DatagenConnector"] != "source" {
		t.Errorf("GET /connector-plugins: %v", kinds)
	}
	plugins = nil
	expect(200, "GET", "/connector-plugins?connectorsOnly=false", nil).JSON(t, &plugins)
	types := map[string]bool{}
	for _, p := range plugins {
		types[p.Type] = true
	}
	for _, k := range []string{"source", "sink", "converter", "transformation", "predicate"} {
		if !types[k] {
			t.Errorf("connectorsOnly=false lists no %s", k)
		}
	}
	var keys []map[string]any
	expect(200, "GET", "/connector-plugins/FileStreamSinkConnector/config", nil).JSON(t, &keys)
	hasFile := false
	for _, k := range keys {
		hasFile = hasFile || k["name"] == "file"
	}
	if !hasFile {
		t.Errorf("FileStreamSink config keys: %v", keys)
	}
	expectError(t, call("GET", "/connector-plugins/NoSuchPlugin/config", nil), 404)
	var vi struct {
		Name       string `json:"name"`
		ErrorCount int    `json:"error_count"`
		Groups     []any  `json:"groups"`
		Configs    []struct {
			Definition map[string]any `json:"definition"`
			Value      struct {
				Name   string   `json:"name"`
				Value  any      `json:"value"`
				Errors []string `json:"errors"`
			} `json:"value"`
		} `json:"configs"`
	}
	expect(200, "PUT", "/connector-plugins/FileStreamSinkConnector/config/validate",
		map[string]string{"connector.class": "FileStreamSink", "name": "v", "topics": "t", "file": "/tmp/x"}).JSON(t, &vi)
	if vi.ErrorCount != 0 || len(vi.Configs) == 0 || vi.Groups == nil {
		t.Errorf("validate a valid config: %+v", vi)
	}
	vi.ErrorCount = 0
	expect(200, "PUT", "/connector-plugins/datagen/config/validate",
		map[string]string{"connector.class": "datagen", "name": "v", "topic": "t", "rate": "fast"}).JSON(t, &vi)
	rateErr := false
	for _, c := range vi.Configs {
		if c.Value.Name == "rate" && len(c.Value.Errors) > 0 {
			rateErr = true
		}
	}
	if vi.ErrorCount == 0 || !rateErr {
		t.Errorf("validate rate=fast: error_count %d, rate errors %v", vi.ErrorCount, rateErr)
	}
	expectError(t, call("PUT", "/connector-plugins/FileStreamSinkConnector/config/validate",
		map[string]string{"connector.class": "datagen", "topic": "t"}), 400)

	// Error paths.
	expectError(t, call("GET", "/connectors/nope", nil), 404, "nope")
	expectError(t, call("GET", "/connectors/nope/status", nil), 404)
	expectError(t, call("GET", "/connectors/nope/config", nil), 404)
	expectError(t, call("GET", "/connectors/nope/offsets", nil), 404)
	expectError(t, call("PUT", "/connectors/nope/pause", nil), 404)
	expectError(t, call("PUT", "/connectors/nope/stop", nil), 404)
	expectError(t, call("POST", "/connectors/nope/restart", nil), 404)
	expectError(t, call("DELETE", "/connectors/nope", nil), 404)
	expectError(t, call("PATCH", "/connectors/nope/config", map[string]any{"a": "b"}), 404)
	expectError(t, call("GET", "/connectors/gen/tasks/7/status", nil), 404)
	expectError(t, call("GET", "/connectors/gen/tasks/x/status", nil), 404)
	expectError(t, call("POST", "/connectors/gen/tasks/7/restart", nil), 404)
	expectError(t, call("GET", "/no/such/path", nil), 404)
	// Invalid config: 400 naming every invalid key.
	expectError(t, call("POST", "/connectors", map[string]any{"name": "bad", "config": map[string]string{
		"connector.class": "datagen", "rate": "fast", "batch.size": "0"}}), 400,
		"Connector configuration is invalid", "rate", "batch.size", "topic")
	expectError(t, call("POST", "/connectors", map[string]any{"name": "bad", "config": map[string]string{
		"connector.class": "FileStreamSink", "topics": "t"}}), 400, "file")
	expectError(t, call("POST", "/connectors", map[string]any{"name": "bad", "config": map[string]string{
		"connector.class": "NoSuchConnector"}}), 400, "connector.class")
	expectError(t, call("PUT", "/connectors/gen/config", map[string]string{
		"connector.class": "datagen", "topic": "events", "rate": "-1"}), 400, "rate")
	// Name mismatch.
	expectError(t, call("POST", "/connectors", map[string]any{"name": "a", "config": map[string]string{
		"name": "b", "connector.class": "datagen", "topic": "t"}}), 400, "a", "b")
	expectError(t, call("PUT", "/connectors/a/config", map[string]string{"name": "b", "connector.class": "datagen", "topic": "t"}), 400)
	// Malformed JSON, empty bodies, wrong shapes.
	expectError(t, call("POST", "/connectors", `{"name": "x", "config": {`), 400)
	expectError(t, call("POST", "/connectors", `not json`), 400)
	expectError(t, call("POST", "/connectors", ``), 400)
	expectError(t, call("POST", "/connectors", `{"name":"x","config":["a"]}`), 400)
	expectError(t, call("POST", "/connectors", `{"config":{"connector.class":"datagen","topic":"t"}}`), 400)
	expectError(t, call("PUT", "/connectors/gen/config", `{"topic":`), 400)
	expectError(t, call("PATCH", "/connectors/gen/offsets", `{"offsets":[`), 400)
	expectError(t, call("POST", "/connectors", map[string]any{"name": "x", "initial_state": "SLEEPING",
		"config": map[string]string{"connector.class": "datagen", "topic": "t"}}), 400)
	// Nothing of the failed creates exists.
	names = nil
	expect(200, "GET", "/connectors", nil).JSON(t, &names)
	if len(names) != 3 {
		t.Errorf("connectors after the failed creates: %v", names)
	}

	// PASSWORD values are masked: a sink whose connection.password is set,
	// checked in every response (see the deferred check), and here in each
	// place a config appears.
	esCfg := map[string]string{"connector.class": "io.confluent.connect.elasticsearch.ElasticsearchSinkConnector",
		"topics": "secret-topic", "connection.url": "http://127.0.0.1:1", "connection.username": "elastic",
		"connection.password": secret, "tasks.max": "1"}
	r = expect(201, "POST", "/connectors", map[string]any{"name": "es", "config": esCfg})
	if !strings.Contains(string(r.Body), `"connection.password"`) {
		t.Errorf("create response has no connection.password key: %s", r.Body)
	}
	expect(201, "POST", "/connectors", map[string]any{"name": "es", "config": esCfg}) // idempotent re-create
	esOther := map[string]string{}
	for k, v := range esCfg {
		esOther[k] = v
	}
	esOther["connection.username"] = "other"
	expectError(t, call("POST", "/connectors", map[string]any{"name": "es", "config": esOther}), 409)
	e2e.Eventually(t, 30*time.Second, "the es task configs", func() error {
		r := call("GET", "/connectors/es/tasks", nil)
		if r.Status != 200 || !strings.Contains(string(r.Body), "connection.password") {
			return fmt.Errorf("%s", r)
		}
		return nil
	})
	call("GET", "/connectors/es", nil)
	call("GET", "/connectors/es/config", nil)
	call("GET", "/connectors/es/status", nil)
	call("GET", "/connectors?expand=info&expand=status", nil)
	call("PUT", "/connectors/es/config", esCfg)
	call("PATCH", "/connectors/es/config", map[string]any{"connection.username": "elastic2"})
	call("PUT", "/connector-plugins/ElasticsearchSinkConnector/config/validate", esCfg)
	bad := map[string]string{}
	for k, v := range esCfg {
		bad[k] = v
	}
	bad["batch.size"] = "many"
	call("PUT", "/connector-plugins/ElasticsearchSinkConnector/config/validate", bad)
	call("PUT", "/connectors/es/config", bad)
	call("POST", "/connectors", map[string]any{"name": "es-bad", "config": bad})
	for _, path := range []string{"/connectors/es", "/connectors/es/config", "/connectors/es/tasks", "/connectors?expand=info"} {
		if r := call("GET", path, nil); !strings.Contains(string(r.Body), `"connection.password":"[hidden]"`) {
			t.Errorf("GET %s: connection.password not shown as [hidden]: %s", path, r.Body)
		}
	}

	// Delete: 204, then 404 everywhere.
	for _, name := range []string{"gen", "sink", "gen2", "es"} {
		expect(204, "DELETE", "/connectors/"+name, nil)
	}
	expectError(t, call("GET", "/connectors/gen", nil), 404)
	expectError(t, call("GET", "/connectors/gen/status", nil), 404)
	expectError(t, call("DELETE", "/connectors/gen", nil), 404)
	e2e.Eventually(t, 10*time.Second, "no connectors left", func() error {
		if r := call("GET", "/connectors", nil); string(r.Body) != "[]" {
			return fmt.Errorf("%s", r)
		}
		return nil
	})
}

// TestE2ESinkRegexSeesNewTopics creates a sink with topics.regex before any
// matching topic exists, then a source writing a matching topic, and expects
// the records in the sink's file (as the postgres-to-elasticsearch example,
// whose sink and source are created together, needs).
// A regex sink refreshes its metadata every 10 s by default (Kafka's
// consumer: 5 minutes).
func TestE2ESinkRegexSeesNewTopics(t *testing.T) {
	b := brokertest.Start(t)
	w := e2e.StartWorker(t, b.Addr, nil)
	out := filepath.Join(t.TempDir(), "sink.txt")
	e2e.Expect(t, 201, "POST", w.URL+"/connectors", map[string]any{"name": "sink", "config": map[string]string{
		"connector.class": "FileStreamSink", "topics.regex": `late\..*`, "file": out}})
	e2e.WaitState(t, w.URL, "sink", "RUNNING", "RUNNING", 1)
	e2e.Expect(t, 201, "POST", w.URL+"/connectors", map[string]any{"name": "gen", "config": map[string]string{
		"connector.class": "datagen", "topic": "late.x", "count": "10"}})
	e2e.Eventually(t, 30*time.Second, "the new topic's records in the file", func() error {
		if got := len(seqs(t, out)); got != 10 {
			return fmt.Errorf("%d of 10 records", got)
		}
		return nil
	})
}

// TestE2ERestartIncludeTasksSettles restarts a running connector with its
// tasks through POST /connectors/{c}/restart?includeTasks=true and expects
// the status to come back to RUNNING/RUNNING.
//
// The RESTARTING states are written before the restart request, so the
// RUNNING written when it is carried out comes after them.
func TestE2ERestartIncludeTasksSettles(t *testing.T) {
	b := brokertest.Start(t)
	w := e2e.StartWorker(t, b.Addr, nil)
	e2e.Expect(t, 201, "POST", w.URL+"/connectors", map[string]any{"name": "gen", "config": map[string]string{
		"connector.class": "datagen", "topic": "events", "rate": "100"}})
	e2e.WaitState(t, w.URL, "gen", "RUNNING", "RUNNING", 1)
	for i := 0; i < 5; i++ {
		e2e.Expect(t, 202, "POST", w.URL+"/connectors/gen/restart?includeTasks=true", nil)
		e2e.WaitState(t, w.URL, "gen", "RUNNING", "RUNNING", 1)
	}
}
