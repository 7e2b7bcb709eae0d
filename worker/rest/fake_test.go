package rest

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sync"

	"github.com/penstockhq/penstock/connect/config"
)

// fakeHerder is a small in-memory Herder. It exists to test the HTTP mapping
// only: status codes, headers, JSON shapes, error bodies, query parameters
// and what reaches the herder. It does not model the runtime (no tasks run,
// no topics, no validation beyond a "bad" key); the end-to-end tests through
// the real worker's herder are separate.
type fakeHerder struct {
	mu    sync.Mutex
	conns map[string]*fakeConn

	// err, when set, is returned by every connector method.
	err error
	// block, when set, makes every connector method wait for it to close,
	// ignoring its context (a herder stuck on a rebalance).
	block chan struct{}
	// panicWith, when set, makes every connector method panic with it.
	panicWith any
	// health is what Health returns.
	health error

	// What the last calls received.
	lastState          string
	lastPatch          map[string]*string
	lastOffsets        ConnectorOffsets
	lastIncludeTasks   bool
	lastOnlyFailed     bool
	lastConnectorsOnly *bool
	lastValidated      map[string]string
}

// fakeConn is one connector of the fake.
type fakeConn struct {
	cfg    map[string]string
	state  string
	topics []string
}

var _ Herder = (*fakeHerder)(nil)

func newFakeHerder() *fakeHerder {
	return &fakeHerder{conns: map[string]*fakeConn{}}
}

// add registers a running connector with cfg.
func (f *fakeHerder) add(name string, cfg map[string]string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	cfg = maps.Clone(cfg)
	cfg["name"] = name
	f.conns[name] = &fakeConn{cfg: cfg, state: StateRunning, topics: []string{name + "-topic"}}
}

// enter applies the err/block/panic switches and locks the fake.
func (f *fakeHerder) enter() (unlock func(), err error) {
	f.mu.Lock()
	block, perr, p := f.block, f.err, f.panicWith
	f.mu.Unlock()
	if p != nil {
		panic(p)
	}
	if block != nil {
		<-block
	}
	if perr != nil {
		return func() {}, perr
	}
	f.mu.Lock()
	return f.mu.Unlock, nil
}

func (f *fakeHerder) conn(name string) (*fakeConn, error) {
	c, ok := f.conns[name]
	if !ok {
		return nil, NotFound("Connector %s not found", name)
	}
	return c, nil
}

func typeOf(cfg map[string]string) string {
	if cfg["connector.class"] == "sink" {
		return "sink"
	}
	return "source"
}

func (f *fakeHerder) info(name string, c *fakeConn) ConnectorInfo {
	info := ConnectorInfo{Name: name, Config: maps.Clone(c.cfg), Type: typeOf(c.cfg)}
	if c.state != StateStopped {
		info.Tasks = []TaskID{{Connector: name, Task: 0}}
	}
	return info
}

func (f *fakeHerder) status(name string, c *fakeConn) ConnectorStateInfo {
	st := ConnectorStateInfo{Name: name, Connector: ConnectorState{State: c.state, WorkerID: "w1:8083"}, Type: typeOf(c.cfg)}
	if c.state != StateStopped {
		st.Tasks = []TaskState{{ID: 0, State: c.state, WorkerID: "w1:8083"}}
	}
	return st
}

func (f *fakeHerder) Connectors(context.Context) ([]string, error) {
	unlock, err := f.enter()
	defer unlock()
	if err != nil {
		return nil, err
	}
	return slices.Sorted(maps.Keys(f.conns)), nil
}

func (f *fakeHerder) ConnectorInfo(_ context.Context, name string) (ConnectorInfo, error) {
	unlock, err := f.enter()
	defer unlock()
	if err != nil {
		return ConnectorInfo{}, err
	}
	c, err := f.conn(name)
	if err != nil {
		return ConnectorInfo{}, err
	}
	return f.info(name, c), nil
}

func (f *fakeHerder) ConnectorConfig(_ context.Context, name string) (map[string]string, error) {
	unlock, err := f.enter()
	defer unlock()
	if err != nil {
		return nil, err
	}
	c, err := f.conn(name)
	if err != nil {
		return nil, err
	}
	return maps.Clone(c.cfg), nil
}

func (f *fakeHerder) PutConnectorConfig(_ context.Context, name string, cfg map[string]string, initialState string, allowReplace bool) (ConnectorInfo, bool, error) {
	unlock, err := f.enter()
	defer unlock()
	if err != nil {
		return ConnectorInfo{}, false, err
	}
	if _, bad := cfg["bad"]; bad {
		return ConnectorInfo{}, false, BadRequest("Connector configuration is invalid and contains the following 1 error(s):\nbad: not allowed\nYou can also find the above list of errors at the endpoint `/connector-plugins/{connectorType}/config/validate`")
	}
	f.lastState = initialState
	if c, ok := f.conns[name]; ok {
		if maps.Equal(c.cfg, cfg) {
			return f.info(name, c), false, nil
		}
		if !allowReplace {
			return ConnectorInfo{}, false, Conflict("Connector %s already exists", name)
		}
		c.cfg = maps.Clone(cfg)
		return f.info(name, c), false, nil
	}
	state := initialState
	if state == "" {
		state = StateRunning
	}
	c := &fakeConn{cfg: maps.Clone(cfg), state: state}
	f.conns[name] = c
	return f.info(name, c), true, nil
}

func (f *fakeHerder) PatchConnectorConfig(_ context.Context, name string, patch map[string]*string) (ConnectorInfo, error) {
	unlock, err := f.enter()
	defer unlock()
	if err != nil {
		return ConnectorInfo{}, err
	}
	f.lastPatch = patch
	c, err := f.conn(name)
	if err != nil {
		return ConnectorInfo{}, err
	}
	for k, v := range patch {
		if v == nil {
			delete(c.cfg, k)
		} else {
			c.cfg[k] = *v
		}
	}
	return f.info(name, c), nil
}

func (f *fakeHerder) DeleteConnector(_ context.Context, name string) error {
	unlock, err := f.enter()
	defer unlock()
	if err != nil {
		return err
	}
	if _, err := f.conn(name); err != nil {
		return err
	}
	delete(f.conns, name)
	return nil
}

func (f *fakeHerder) ConnectorStatus(_ context.Context, name string) (ConnectorStateInfo, error) {
	unlock, err := f.enter()
	defer unlock()
	if err != nil {
		return ConnectorStateInfo{}, err
	}
	c, err := f.conn(name)
	if err != nil {
		return ConnectorStateInfo{}, err
	}
	return f.status(name, c), nil
}

func (f *fakeHerder) TaskStatus(_ context.Context, name string, task int) (TaskState, error) {
	unlock, err := f.enter()
	defer unlock()
	if err != nil {
		return TaskState{}, err
	}
	c, err := f.conn(name)
	if err != nil {
		return TaskState{}, err
	}
	if task != 0 || c.state == StateStopped {
		return TaskState{}, NotFound("Task %s-%d not found", name, task)
	}
	return TaskState{ID: 0, State: StateFailed, WorkerID: "w1:8083", Trace: "boom"}, nil
}

func (f *fakeHerder) Tasks(_ context.Context, name string) ([]TaskInfo, error) {
	unlock, err := f.enter()
	defer unlock()
	if err != nil {
		return nil, err
	}
	c, err := f.conn(name)
	if err != nil {
		return nil, err
	}
	if c.state == StateStopped {
		return nil, nil
	}
	return []TaskInfo{{ID: TaskID{Connector: name, Task: 0}, Config: map[string]string{"task.class": "T"}}}, nil
}

func (f *fakeHerder) RestartConnector(_ context.Context, name string, includeTasks, onlyFailed bool) (*ConnectorStateInfo, error) {
	unlock, err := f.enter()
	defer unlock()
	if err != nil {
		return nil, err
	}
	f.lastIncludeTasks, f.lastOnlyFailed = includeTasks, onlyFailed
	c, err := f.conn(name)
	if err != nil {
		return nil, err
	}
	if !includeTasks && !onlyFailed {
		return nil, nil
	}
	st := f.status(name, c)
	st.Connector.State = StateRestarting
	for i := range st.Tasks {
		st.Tasks[i].State = StateRestarting
	}
	return &st, nil
}

func (f *fakeHerder) RestartTask(_ context.Context, name string, task int) error {
	_, err := f.TaskStatus(context.Background(), name, task)
	return err
}

func (f *fakeHerder) setState(name, state string) error {
	unlock, err := f.enter()
	defer unlock()
	if err != nil {
		return err
	}
	c, err := f.conn(name)
	if err != nil {
		return err
	}
	c.state = state
	return nil
}

func (f *fakeHerder) PauseConnector(_ context.Context, name string) error {
	return f.setState(name, StatePaused)
}

func (f *fakeHerder) ResumeConnector(_ context.Context, name string) error {
	return f.setState(name, StateRunning)
}

func (f *fakeHerder) StopConnector(_ context.Context, name string) error {
	return f.setState(name, StateStopped)
}

func (f *fakeHerder) Offsets(_ context.Context, name string) (ConnectorOffsets, error) {
	unlock, err := f.enter()
	defer unlock()
	if err != nil {
		return ConnectorOffsets{}, err
	}
	if _, err := f.conn(name); err != nil {
		return ConnectorOffsets{}, err
	}
	return ConnectorOffsets{Offsets: []PartitionOffset{{
		Partition: map[string]any{"server": "db1"},
		Offset:    map[string]any{"lsn": int64(9007199254740993)},
	}}}, nil
}

func (f *fakeHerder) AlterOffsets(_ context.Context, name string, offsets ConnectorOffsets) (string, error) {
	unlock, err := f.enter()
	defer unlock()
	if err != nil {
		return "", err
	}
	c, err := f.conn(name)
	if err != nil {
		return "", err
	}
	if c.state != StateStopped {
		return "", BadRequest("Connectors must be in the STOPPED state before their offsets can be modified. This can be done for the specified connector by issuing a 'PUT' request to the '/connectors/%s/stop' endpoint", name)
	}
	f.lastOffsets = offsets
	return "The offsets for this connector have been altered successfully", nil
}

func (f *fakeHerder) ResetOffsets(_ context.Context, name string) (string, error) {
	unlock, err := f.enter()
	defer unlock()
	if err != nil {
		return "", err
	}
	if _, err := f.conn(name); err != nil {
		return "", err
	}
	return "The offsets for this connector have been reset successfully", nil
}

func (f *fakeHerder) ActiveTopics(_ context.Context, name string) ([]string, error) {
	unlock, err := f.enter()
	defer unlock()
	if err != nil {
		return nil, err
	}
	c, err := f.conn(name)
	if err != nil {
		return nil, err
	}
	return slices.Clone(c.topics), nil
}

func (f *fakeHerder) ResetActiveTopics(_ context.Context, name string) error {
	unlock, err := f.enter()
	defer unlock()
	if err != nil {
		return err
	}
	c, err := f.conn(name)
	if err != nil {
		return err
	}
	c.topics = nil
	return nil
}

func (f *fakeHerder) Plugins(connectorsOnly bool) []PluginInfo {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.panicWith != nil {
		panic(f.panicWith)
	}
	f.lastConnectorsOnly = &connectorsOnly
	all := []PluginInfo{
		{Class: "io.debezium.connector.postgresql.PostgresConnector", Type: "source", Version: "1.0.0"},
		{Class: "org.apache.kafka.connect.transforms.InsertField$Value", Type: "transformation", Version: "1.0.0"},
	}
	if connectorsOnly {
		return all[:1]
	}
	return all
}

func (f *fakeHerder) PluginConfig(plugin string) ([]config.KeyInfo, error) {
	if plugin != "PostgresConnector" {
		return nil, NotFound("Unknown plugin %s.", plugin)
	}
	return []config.KeyInfo{{Name: "database.hostname", Type: config.String, Required: true, Importance: "HIGH",
		Documentation: "Host", OrderInGroup: -1, Width: config.WidthNone, DisplayName: "Hostname", Dependents: []string{}}}, nil
}

func (f *fakeHerder) ValidateConfig(_ context.Context, cfg map[string]string) (config.Infos, error) {
	unlock, err := f.enter()
	defer unlock()
	if err != nil {
		return config.Infos{}, err
	}
	f.lastValidated = cfg
	infos := config.Infos{Name: cfg["connector.class"], Groups: []string{}}
	if _, ok := cfg["database.hostname"]; !ok {
		infos.AddError("database.hostname", "Missing required configuration \"database.hostname\" which has no default value.")
	}
	return infos, nil
}

func (f *fakeHerder) Health(context.Context) error {
	unlock, err := f.enter()
	defer unlock()
	if err != nil {
		return err
	}
	return f.health
}

func (f *fakeHerder) ServerInfo(context.Context) (ServerInfo, error) {
	return ServerInfo{Version: "0.1.0", Commit: "abc123", KafkaClusterID: "cluster-1"}, nil
}

// starting is the Health error of a worker still starting.
func starting(detail string) error {
	return &Error{Status: http.StatusServiceUnavailable, Message: detail}
}

// unhealthy is the Health error of a broken worker.
func unhealthy(detail string) error { return fmt.Errorf("%s", detail) }
