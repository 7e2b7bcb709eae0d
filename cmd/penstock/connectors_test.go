package main

// These tests run the client commands against the real REST API
// (rest.New(herder).Handler()) over HTTP, with a small in-memory fake herder.
// They test the client's HTTP handling only: paths, query parameters,
// bodies, status codes, error messages and output. They do not model the
// runtime; once the worker's herder is ready, the end-to-end run through it
// belongs in the worker's tests.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/spf13/cobra"

	"github.com/penstockhq/penstock/connect/config"
	"github.com/penstockhq/penstock/worker/rest"
)

// fakeHerder is an in-memory rest.Herder: connectors with a config, a
// state and offsets; nothing runs.
type fakeHerder struct {
	mu      sync.Mutex
	conns   map[string]*fakeConn
	restart struct {
		name                     string
		includeTasks, onlyFailed bool
	}
}

type fakeConn struct {
	cfg     map[string]string
	state   string
	offsets rest.ConnectorOffsets
}

var _ rest.Herder = (*fakeHerder)(nil)

func newFakeHerder() *fakeHerder { return &fakeHerder{conns: map[string]*fakeConn{}} }

func (f *fakeHerder) get(name string) (*fakeConn, error) {
	c, ok := f.conns[name]
	if !ok {
		return nil, rest.NotFound("Connector %s not found", name)
	}
	return c, nil
}

func kindOf(cfg map[string]string) string {
	if strings.Contains(strings.ToLower(cfg["connector.class"]), "sink") {
		return "sink"
	}
	return "source"
}

func (f *fakeHerder) info(name string, c *fakeConn) rest.ConnectorInfo {
	return rest.ConnectorInfo{Name: name, Config: maps.Clone(c.cfg), Tasks: []rest.TaskID{{Connector: name, Task: 0}}, Type: kindOf(c.cfg)}
}

func (f *fakeHerder) status(name string, c *fakeConn) rest.ConnectorStateInfo {
	st := rest.ConnectorStateInfo{Name: name, Type: kindOf(c.cfg),
		Connector: rest.ConnectorState{State: c.state, WorkerID: "w1:8083"},
		Tasks:     []rest.TaskState{{ID: 0, State: c.state, WorkerID: "w1:8083"}}}
	if c.state == rest.StateFailed {
		st.Tasks[0].Trace = "boom: the database went away\n\tat somewhere"
	}
	return st
}

func (f *fakeHerder) Connectors(context.Context) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return slices.Sorted(maps.Keys(f.conns)), nil
}

func (f *fakeHerder) ConnectorInfo(_ context.Context, name string) (rest.ConnectorInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.get(name)
	if err != nil {
		return rest.ConnectorInfo{}, err
	}
	return f.info(name, c), nil
}

func (f *fakeHerder) ConnectorConfig(_ context.Context, name string) (map[string]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.get(name)
	if err != nil {
		return nil, err
	}
	return maps.Clone(c.cfg), nil
}

func (f *fakeHerder) PutConnectorConfig(_ context.Context, name string, cfg map[string]string, initialState string, allowReplace bool) (rest.ConnectorInfo, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if cfg["connector.class"] == "" {
		return rest.ConnectorInfo{}, false, rest.BadRequest("Connector config %v contains no connector type", cfg)
	}
	if c, ok := f.conns[name]; ok && !allowReplace {
		if maps.Equal(c.cfg, cfg) {
			return f.info(name, c), false, nil
		}
		return rest.ConnectorInfo{}, false, rest.Conflict("Connector %s already exists", name)
	}
	state := rest.StateRunning
	if initialState != "" && initialState != "RUNNING" {
		state = initialState
	}
	c := &fakeConn{cfg: maps.Clone(cfg), state: state}
	f.conns[name] = c
	return f.info(name, c), true, nil
}

func (f *fakeHerder) PatchConnectorConfig(context.Context, string, map[string]*string) (rest.ConnectorInfo, error) {
	return rest.ConnectorInfo{}, rest.BadRequest("not in the fake")
}

func (f *fakeHerder) DeleteConnector(_ context.Context, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, err := f.get(name); err != nil {
		return err
	}
	delete(f.conns, name)
	return nil
}

func (f *fakeHerder) ConnectorStatus(_ context.Context, name string) (rest.ConnectorStateInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.get(name)
	if err != nil {
		return rest.ConnectorStateInfo{}, err
	}
	return f.status(name, c), nil
}

func (f *fakeHerder) TaskStatus(_ context.Context, name string, task int) (rest.TaskState, error) {
	st, err := f.ConnectorStatus(context.Background(), name)
	if err != nil {
		return rest.TaskState{}, err
	}
	return st.Tasks[0], nil
}

func (f *fakeHerder) Tasks(context.Context, string) ([]rest.TaskInfo, error) { return nil, nil }

func (f *fakeHerder) RestartConnector(_ context.Context, name string, includeTasks, onlyFailed bool) (*rest.ConnectorStateInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.get(name)
	if err != nil {
		return nil, err
	}
	f.restart.name, f.restart.includeTasks, f.restart.onlyFailed = name, includeTasks, onlyFailed
	if !includeTasks && !onlyFailed {
		return nil, nil
	}
	st := f.status(name, c)
	st.Connector.State = rest.StateRestarting
	st.Tasks[0].State = rest.StateRestarting
	return &st, nil
}

func (f *fakeHerder) RestartTask(context.Context, string, int) error { return nil }

func (f *fakeHerder) setState(name, state string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.get(name)
	if err != nil {
		return err
	}
	c.state = state
	return nil
}

func (f *fakeHerder) PauseConnector(_ context.Context, name string) error {
	return f.setState(name, rest.StatePaused)
}

func (f *fakeHerder) ResumeConnector(_ context.Context, name string) error {
	return f.setState(name, rest.StateRunning)
}

func (f *fakeHerder) StopConnector(_ context.Context, name string) error {
	return f.setState(name, rest.StateStopped)
}

func (f *fakeHerder) Offsets(_ context.Context, name string) (rest.ConnectorOffsets, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.get(name)
	if err != nil {
		return rest.ConnectorOffsets{}, err
	}
	return c.offsets, nil
}

func (f *fakeHerder) AlterOffsets(_ context.Context, name string, offs rest.ConnectorOffsets) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.get(name)
	if err != nil {
		return "", err
	}
	if c.state != rest.StateStopped {
		return "", rest.BadRequest("Connectors must be in the STOPPED state before their offsets can be modified. This can be done for the specified connector by issuing a 'PUT' request to the '/connectors/%s/stop' endpoint", name)
	}
	c.offsets = offs
	return "The offsets for this connector have been altered successfully", nil
}

func (f *fakeHerder) ResetOffsets(_ context.Context, name string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := f.get(name)
	if err != nil {
		return "", err
	}
	if c.state != rest.StateStopped {
		return "", rest.BadRequest("Connectors must be in the STOPPED state before their offsets can be modified. This can be done for the specified connector by issuing a 'PUT' request to the '/connectors/%s/stop' endpoint", name)
	}
	c.offsets = rest.ConnectorOffsets{Offsets: []rest.PartitionOffset{}}
	return "The offsets for this connector have been reset successfully", nil
}

func (f *fakeHerder) ActiveTopics(context.Context, string) ([]string, error) { return nil, nil }
func (f *fakeHerder) ResetActiveTopics(context.Context, string) error        { return nil }
func (f *fakeHerder) Plugins(bool) []rest.PluginInfo                         { return nil }
func (f *fakeHerder) PluginConfig(string) ([]config.KeyInfo, error)          { return nil, nil }
func (f *fakeHerder) ValidateConfig(context.Context, map[string]string) (config.Infos, error) {
	return config.Infos{}, nil
}
func (f *fakeHerder) Health(context.Context) error { return nil }
func (f *fakeHerder) ServerInfo(context.Context) (rest.ServerInfo, error) {
	return rest.ServerInfo{Version: "test"}, nil
}

// startAPI serves the REST API over h and returns its URL.
func startAPI(t *testing.T, h rest.Herder) string {
	t.Helper()
	srv := httptest.NewServer(rest.New(h).Handler())
	t.Cleanup(srv.Close)
	return srv.URL
}

// run executes cmd (a fresh command tree, so no flag leaks between runs)
// under a fresh root with args, returning its output.
func run(t *testing.T, cmd *cobra.Command, args ...string) (string, error) {
	t.Helper()
	root := &cobra.Command{Use: "penstock", SilenceUsage: true, SilenceErrors: true}
	root.AddCommand(cmd)
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetIn(strings.NewReader(""))
	root.SetArgs(args)
	err := root.ExecuteContext(t.Context())
	return out.String(), err
}

// mustRun is run that fails the test on an error.
func mustRun(t *testing.T, cmd *cobra.Command, args ...string) string {
	t.Helper()
	out, err := run(t, cmd, args...)
	if err != nil {
		t.Fatalf("penstock %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func wantContains(t *testing.T, got string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(got, w) {
			t.Errorf("output does not contain %q:\n%s", w, got)
		}
	}
}

func TestConnectorsCommands(t *testing.T) {
	h := newFakeHerder()
	url := startAPI(t, h)

	// create: the POST body form and the flat form, one file each.
	body := writeFile(t, "gen.json", `{"name":"gen","config":{"connector.class":"datagen","topic":"orders","rate":"10"}}`)
	flat := writeFile(t, "sink.json", `{"name":"to-file","connector.class":"FileStreamSink","topics":"orders","file":"/tmp/x"}`)
	out := mustRun(t, newConnectorsCmd(), "connectors", "create", "--url", url, "-f", body, "-f", flat)
	wantContains(t, out, "created source connector gen", "created sink connector to-file")
	if got := h.conns["gen"].cfg["rate"]; got != "10" {
		t.Errorf("gen rate = %q", got)
	}
	if got := h.conns["to-file"].cfg["name"]; got != "to-file" {
		t.Errorf("flat config name = %q", got)
	}

	// create again with a different config: the server's 409 message.
	conflict := writeFile(t, "gen2.json", `{"name":"gen","config":{"connector.class":"datagen","topic":"other"}}`)
	_, err := run(t, newConnectorsCmd(), "connectors", "create", "--url", url, "-f", conflict)
	if err == nil || !strings.Contains(err.Error(), "409") || !strings.Contains(err.Error(), "Connector gen already exists") {
		t.Errorf("conflicting create: err = %v", err)
	}

	// create from standard input, JSON output.
	root := newConnectorsCmd()
	root.SetIn(strings.NewReader(`{"name":"s","config":{"connector.class":"datagen"},"initial_state":"PAUSED"}`))
	out = mustRun(t, root, "connectors", "create", "--url", url, "-f", "-", "-o", "json")
	var info rest.ConnectorInfo
	if err := json.Unmarshal([]byte(out), &info); err != nil || info.Name != "s" || info.Type != "source" {
		t.Errorf("create -o json: %v %+v\n%s", err, info, out)
	}
	if h.conns["s"].state != rest.StatePaused {
		t.Errorf("initial_state not sent: %s", h.conns["s"].state)
	}

	// list: table and JSON.
	out = mustRun(t, newConnectorsCmd(), "connectors", "list", "--url", url)
	wantContains(t, out, "NAME", "gen", "source", "RUNNING", "1/1 running", "datagen", "to-file", "sink", "FileStreamSink", "PAUSED")
	out = mustRun(t, newConnectorsCmd(), "connectors", "list", "--url", url, "--output", "json")
	var listed map[string]struct {
		Status rest.ConnectorStateInfo `json:"status"`
		Info   rest.ConnectorInfo      `json:"info"`
	}
	if err := json.Unmarshal([]byte(out), &listed); err != nil || len(listed) != 3 || listed["gen"].Info.Config["topic"] != "orders" {
		t.Errorf("list -o json: %v\n%s", err, out)
	}

	// status, config.
	out = mustRun(t, newConnectorsCmd(), "connectors", "status", "gen", "--url", url)
	wantContains(t, out, "gen", "RUNNING", "w1:8083")
	h.conns["gen"].state = rest.StateFailed
	out = mustRun(t, newConnectorsCmd(), "connectors", "status", "gen", "--url", url)
	wantContains(t, out, "FAILED", "boom: the database went away ...")
	out = mustRun(t, newConnectorsCmd(), "connectors", "status", "gen", "--url", url, "-o", "json")
	var st rest.ConnectorStateInfo
	if err := json.Unmarshal([]byte(out), &st); err != nil || st.Tasks[0].Trace == "" {
		t.Errorf("status -o json: %v\n%s", err, out)
	}
	out = mustRun(t, newConnectorsCmd(), "connectors", "config", "gen", "--url", url)
	wantContains(t, out, "connector.class", "datagen", "topic", "orders")

	// pause, resume, stop.
	mustRun(t, newConnectorsCmd(), "connectors", "pause", "gen", "--url", url)
	if h.conns["gen"].state != rest.StatePaused {
		t.Errorf("after pause: %s", h.conns["gen"].state)
	}
	out = mustRun(t, newConnectorsCmd(), "connectors", "resume", "gen", "--url", url)
	wantContains(t, out, "resumed gen")
	if h.conns["gen"].state != rest.StateRunning {
		t.Errorf("after resume: %s", h.conns["gen"].state)
	}

	// restart: plain (204), and with flags (202 and the RESTARTING states).
	out = mustRun(t, newConnectorsCmd(), "connectors", "restart", "gen", "--url", url)
	wantContains(t, out, "restarted gen")
	if h.restart.name != "gen" || h.restart.includeTasks || h.restart.onlyFailed {
		t.Errorf("plain restart reached the herder as %+v", h.restart)
	}
	out = mustRun(t, newConnectorsCmd(), "connectors", "restart", "gen", "--url", url, "--include-tasks", "--only-failed")
	wantContains(t, out, "RESTARTING")
	if !h.restart.includeTasks || !h.restart.onlyFailed {
		t.Errorf("restart flags reached the herder as %+v", h.restart)
	}

	// delete, then the server's 404 message.
	mustRun(t, newConnectorsCmd(), "connectors", "delete", "to-file", "--url", url)
	if _, ok := h.conns["to-file"]; ok {
		t.Error("to-file not deleted")
	}
	_, err = run(t, newConnectorsCmd(), "connectors", "status", "to-file", "--url", url)
	if err == nil || !strings.Contains(err.Error(), "404") || !strings.Contains(err.Error(), "Connector to-file not found") {
		t.Errorf("status of a deleted connector: err = %v", err)
	}

	// Bad input never reaches the server.
	bad := writeFile(t, "bad.json", `{"name":"x","config":{"tasks.max":{"n":2}}}`)
	if _, err := run(t, newConnectorsCmd(), "connectors", "create", "--url", url, "-f", bad); err == nil || !strings.Contains(err.Error(), "key tasks.max: a value must be a string, number or boolean") {
		t.Errorf("an object as a config value: err = %v", err)
	}
	if _, ok := h.conns["x"]; ok {
		t.Error("a bad file reached the server")
	}
	if _, err := run(t, newConnectorsCmd(), "connectors", "list", "--url", url, "-o", "yaml"); err == nil {
		t.Error("--output yaml accepted")
	}
	// A worker that is not there: the error names it.
	if _, err := run(t, newConnectorsCmd(), "connectors", "list", "--url", "http://127.0.0.1:1"); err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Errorf("unreachable worker: err = %v", err)
	}
}

func TestOffsetsCommands(t *testing.T) {
	h := newFakeHerder()
	url := startAPI(t, h)
	h.conns["gen"] = &fakeConn{cfg: map[string]string{"connector.class": "datagen", "name": "gen"}, state: rest.StateRunning,
		offsets: rest.ConnectorOffsets{Offsets: []rest.PartitionOffset{{Partition: map[string]any{"task": 0}, Offset: map[string]any{"seq": 41}}}}}

	out := mustRun(t, newOffsetsCmd(), "offsets", "get", "gen", "--url", url)
	wantContains(t, out, "PARTITION", `{"task":0}`, `{"seq":41}`)
	out = mustRun(t, newOffsetsCmd(), "offsets", "get", "gen", "--url", url, "-o", "json")
	var offs rest.ConnectorOffsets
	if err := json.Unmarshal([]byte(out), &offs); err != nil || len(offs.Offsets) != 1 {
		t.Errorf("get -o json: %v\n%s", err, out)
	}

	// Reset of a running connector: the server's 400 message and a hint.
	_, err := run(t, newOffsetsCmd(), "offsets", "reset", "gen", "--url", url)
	if err == nil || !strings.Contains(err.Error(), "STOPPED state") || !strings.Contains(err.Error(), "penstock connectors stop gen") {
		t.Errorf("reset of a running connector: err = %v", err)
	}

	mustRun(t, newConnectorsCmd(), "connectors", "stop", "gen", "--url", url)
	file := writeFile(t, "offsets.json", `{"offsets":[{"partition":{"task":0},"offset":{"seq":7}}]}`)
	out = mustRun(t, newOffsetsCmd(), "offsets", "alter", "gen", "-f", file, "--url", url)
	wantContains(t, out, "altered successfully")
	if got := fmt.Sprint(h.conns["gen"].offsets.Offsets[0].Offset["seq"]); got != "7" {
		t.Errorf("altered offset = %v", got)
	}
	out = mustRun(t, newOffsetsCmd(), "offsets", "reset", "gen", "--url", url, "-o", "json")
	wantContains(t, out, `"message": "The offsets for this connector have been reset successfully"`)
	if len(h.conns["gen"].offsets.Offsets) != 0 {
		t.Errorf("offsets not reset: %+v", h.conns["gen"].offsets)
	}
}

func TestHealthCommand(t *testing.T) {
	url := startAPI(t, newFakeHerder())
	out := mustRun(t, newHealthCmd(), "health", "--url", url)
	wantContains(t, out, "is healthy")
	if _, err := run(t, newHealthCmd(), "health", "--url", "http://127.0.0.1:1"); err == nil {
		t.Error("health of a worker that is not there succeeded")
	}
}
