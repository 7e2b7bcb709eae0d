// Package worker is Penstock's Connect runtime: the herder that owns
// connector configurations (read from the config topic), target states and
// statuses, the task runners that move records between connectors and the
// brokers, offset handling, error handling with dead letter queues, and the
// worker configuration.
//
// Workers sharing a group.id form a group (group.go: Kafka's group protocol
// with protocol type "connect"); the leader computes an incremental
// cooperative assignment (assignor.go) and does the leader's duties
// (writing task configs and the session key); every other state comes from
// the internal topics. A worker alone in its group is its leader and runs
// everything.
package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connect/config"
	"github.com/penstockhq/penstock/offsets"
	"github.com/penstockhq/penstock/plugins"
	"github.com/penstockhq/penstock/worker/rest"
)

// Options are what a Herder needs beyond its Config.
type Options struct {
	// Registry resolves plugins; nil means plugins.Builtin().
	Registry *plugins.Registry
	// Logger receives the worker's logs; nil means slog.Default().
	Logger *slog.Logger
	// Metrics is the registry the worker's metrics go to; nil means a new
	// one (see Herder.Metrics).
	Metrics *prometheus.Registry
	// ClientOpts are added to every Kafka client the worker makes (TLS,
	// SASL, or test settings).
	ClientOpts []kgo.Opt
	// Version and Commit are what GET / reports.
	Version, Commit string
	// NoGroup runs the worker outside any group: it runs every connector
	// and task, as if alone in its group, without joining it.
	NoGroup bool
}

// Herder runs connectors and tasks and implements the REST API's
// rest.Herder.
type Herder struct {
	cfg        *Config
	reg        *plugins.Registry
	log        *slog.Logger
	workerID   string
	clusterID  string
	version    string
	commit     string
	clientOpts []kgo.Opt
	// baseOpts are clientOpts without the worker's security keys, for
	// clients of another role (clientsecurity.go).
	baseOpts  []kgo.Opt
	promReg   *prometheus.Registry
	metrics   *metrics
	providers *providers

	admCl    *kgo.Client // admin requests and dead letter queue records
	adm      *kadm.Client
	configs  *configStore
	statuses *statusStore
	offsets  *offsets.Store

	writeMu sync.Mutex // serializes config-topic writes that check then write
	wake    chan struct{}
	ctx     context.Context
	cancel  context.CancelFunc
	done    chan struct{}

	mu        sync.Mutex // guards the runtime below; held by reconcile
	conns     map[string]*connectorRuntime
	tasks     map[rest.TaskID]*taskRunner
	dlqMu     sync.Mutex
	dlqTopics map[string]bool
	closed    atomic.Bool

	grp       *groupMember // nil: no group (everything is assigned here)
	asgMu     sync.Mutex
	asg       *groupAssignment
	firstAsg  chan struct{}
	firstOnce sync.Once
}

var _ rest.Herder = (*Herder)(nil)

// New connects to the brokers, opens (creating when missing) the config,
// offsets and status topics, reads them, and starts running the connectors
// they hold. Close stops it.
func New(ctx context.Context, cfg *Config, opts Options) (*Herder, error) {
	h := &Herder{cfg: cfg, reg: opts.Registry, log: opts.Logger, version: opts.Version, commit: opts.Commit,
		promReg: opts.Metrics, wake: make(chan struct{}, 1), done: make(chan struct{}),
		conns: map[string]*connectorRuntime{}, tasks: map[rest.TaskID]*taskRunner{}, dlqTopics: map[string]bool{},
		firstAsg: make(chan struct{})}
	if h.reg == nil {
		h.reg = plugins.Builtin()
	}
	if h.log == nil {
		h.log = slog.Default()
	}
	if h.promReg == nil {
		h.promReg = prometheus.NewRegistry()
	}
	h.metrics = newMetrics(h.promReg)
	h.workerID = strings.TrimSuffix(strings.TrimPrefix(cfg.AdvertisedURL(), "http://"), "/")
	var err error
	if h.providers, err = newProviders(cfg); err != nil {
		return nil, err
	}
	h.baseOpts = append([]kgo.Opt{kgo.SeedBrokers(cfg.BootstrapServers...)}, opts.ClientOpts...)
	if h.clientOpts, err = h.roleOpts(rolePlain, nil); err != nil {
		return nil, err
	}
	admOpts, err := h.roleOpts(roleAdmin, nil)
	if err != nil {
		return nil, err
	}
	h.admCl, err = kgo.NewClient(append(admOpts, kgo.ClientID(h.clientID("admin")))...)
	if err != nil {
		return nil, fmt.Errorf("worker: kafka client: %w", err)
	}
	h.adm = kadm.NewClient(h.admCl)
	fail := func(err error) (*Herder, error) {
		h.closeStores()
		return nil, err
	}
	meta, err := h.adm.BrokerMetadata(ctx)
	if err != nil {
		return fail(fmt.Errorf("worker: reaching the brokers at %s: %w", strings.Join(cfg.BootstrapServers, ","), err))
	}
	h.clusterID = meta.Cluster
	if h.offsets, err = offsets.Open(ctx, offsets.Config{Topic: cfg.OffsetTopic, Partitions: cfg.OffsetPartitions,
		ReplicationFactor: cfg.OffsetReplication, ClientOpts: h.storeOpts("offsets"), Logger: h.log}); err != nil {
		return fail(fmt.Errorf("worker: %w", err))
	}
	if h.statuses, err = openStatusStore(ctx, cfg, h.storeOpts("statuses"), h.log); err != nil {
		return fail(fmt.Errorf("worker: %w", err))
	}
	h.statuses.generation = func() int64 {
		if a := h.currentAssignment(); a != nil {
			return int64(a.Generation)
		}
		return 0
	}
	if h.configs, err = openConfigStore(ctx, cfg, h.storeOpts("configs"), h.log, h.kick); err != nil {
		return fail(fmt.Errorf("worker: %w", err))
	}
	h.configs.takeRestarts() // requests of the past: everything starts afresh anyway
	h.ctx, h.cancel = context.WithCancel(context.Background())
	if !opts.NoGroup {
		if h.grp, err = newGroupMember(h); err != nil {
			h.cancel()
			return fail(err)
		}
		h.grp.start()
	}
	go h.loop()
	h.kick()
	if h.grp != nil {
		// Serve once the first round assigned work (or say why not).
		wait := h.cfg.RebalanceTimeout + h.cfg.SessionTimeout
		select {
		case <-h.firstAsg:
		case <-time.After(wait):
			h.log.Warn("no assignment from the group yet; starting anyway", "group", cfg.GroupID, "waited", wait)
		case <-ctx.Done():
			h.Close()
			return nil, ctx.Err()
		}
	}
	h.log.Info("worker started", "worker_id", h.workerID, "group", cfg.GroupID, "cluster", h.clusterID,
		"connectors", len(h.configs.connectorNames()))
	return h, nil
}

func (h *Herder) clientID(role string) string {
	p := h.cfg.ClientID
	if p == "" {
		p = "penstock-" + h.cfg.GroupID
	}
	return p + "-" + role
}

func (h *Herder) storeOpts(role string) []kgo.Opt {
	return append(append([]kgo.Opt(nil), h.clientOpts...), kgo.ClientID(h.clientID(role)))
}

func (h *Herder) closeStores() {
	if h.configs != nil {
		h.configs.close()
	}
	if h.statuses != nil {
		h.statuses.close()
	}
	if h.offsets != nil {
		h.offsets.Close()
	}
	h.admCl.Close()
}

// Close stops every task and connector (flushing offsets), then the stores.
func (h *Herder) Close() error {
	if h.closed.Swap(true) {
		return nil
	}
	h.cancel()
	<-h.done
	if h.grp != nil {
		h.grp.stop() // heartbeats stop; the group learns of the leave below
	}
	h.mu.Lock()
	var tasks []*taskRunner
	for id, t := range h.tasks {
		tasks = append(tasks, t)
		delete(h.tasks, id)
	}
	stopTasks(tasks)
	for name, c := range h.conns {
		c.stop()
		delete(h.conns, name)
	}
	for _, t := range tasks {
		h.statuses.putSafe(taskStatusKey(t.id.Connector, t.id.Task), status{State: rest.StateUnassigned, WorkerID: h.workerID})
	}
	h.mu.Unlock()
	if h.grp != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_ = h.statuses.log.Flush(ctx)
		cancel()
		h.grp.leave()
	}
	h.closeStores()
	h.log.Info("worker stopped", "worker_id", h.workerID)
	return nil
}

// Metrics returns the Prometheus registry holding the worker's metrics.
func (h *Herder) Metrics() *prometheus.Registry { return h.promReg }

// WorkerID returns the worker's id (its advertised host:port), as statuses show it.
func (h *Herder) WorkerID() string { return h.workerID }

func (h *Herder) kick() {
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

func (h *Herder) loop() {
	defer close(h.done)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-h.ctx.Done():
			return
		case <-h.wake:
		case <-tick.C:
		}
		h.reconcile()
	}
}

// assignment returns the connectors and tasks this worker runs: the
// group's last assignment (nothing before the first), limited to what the
// config holds; everything without a group.
func (h *Herder) assignment(snap configSnapshot) (conns map[string]bool, tasks map[rest.TaskID]bool) {
	conns, tasks = map[string]bool{}, map[rest.TaskID]bool{}
	if h.grp != nil {
		a := h.currentAssignment()
		if a == nil {
			return conns, tasks
		}
		for _, name := range a.Assigned.Connectors {
			if _, ok := snap.connectors[name]; ok {
				conns[name] = true
			}
		}
		for _, id := range a.Assigned.Tasks {
			if id.Task < len(snap.taskConfigs[id.Connector]) {
				tasks[id] = true
			}
		}
		return conns, tasks
	}
	for name := range snap.connectors {
		conns[name] = true
		for i := range snap.taskConfigs[name] {
			tasks[rest.TaskID{Connector: name, Task: i}] = true
		}
	}
	return conns, tasks
}

// reconcile brings the running connectors and tasks in line with the
// config state and this worker's assignment.
func (h *Herder) reconcile() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ctx.Err() != nil {
		return
	}
	snap := h.configs.snapshot()
	restarts := h.configs.takeRestarts()
	conns, tasks := h.assignment(snap)
	h.leaderDuties(snap)
	h.groupDuties(snap)
	// Work no longer assigned (deleted connectors, fewer tasks).
	var stopping []*taskRunner
	for id, t := range h.tasks {
		if !tasks[id] {
			stopping = append(stopping, t)
			delete(h.tasks, id)
		}
	}
	stopTasks(stopping)
	for _, t := range stopping {
		if _, exists := snap.connectors[t.id.Connector]; exists {
			h.statuses.putSafe(taskStatusKey(t.id.Connector, t.id.Task), status{State: rest.StateUnassigned, WorkerID: h.workerID})
		} else {
			h.statuses.remove(taskStatusKey(t.id.Connector, t.id.Task))
		}
	}
	for name, c := range h.conns {
		if !conns[name] {
			c.stop()
			delete(h.conns, name)
			if _, exists := snap.connectors[name]; !exists {
				h.statuses.remove(connectorStatusKey(name))
			}
		}
	}
	for _, rq := range restarts {
		h.applyRestart(rq)
	}
	names := make([]string, 0, len(conns))
	for n := range conns {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		h.reconcileConnector(snap, name, tasks)
	}
	// Assigned tasks of connectors that run elsewhere.
	for id := range tasks {
		if !conns[id.Connector] {
			h.reconcileTask(snap, id)
		}
	}
}

// reconcileTask starts, restarts (config changed) or pauses one assigned
// task.
func (h *Herder) reconcileTask(snap configSnapshot, id rest.TaskID) {
	raw := snap.connectors[id.Connector]
	target := snap.target(id.Connector)
	committed := snap.taskConfigs[id.Connector]
	if id.Task >= len(committed) || target == targetStopped {
		return
	}
	tc := committed[id.Task]
	t := h.tasks[id]
	if t != nil && (!maps.Equal(t.rawConfig, tc) || !maps.Equal(t.connConfig, raw)) {
		stopTasks([]*taskRunner{t})
		delete(h.tasks, id)
		t = nil
	}
	if t == nil {
		h.tasks[id] = h.startTask(id, tc, raw, target == targetPaused)
		return
	}
	t.setPaused(target == targetPaused)
}

func (h *Herder) setConnectorStatus(name, state, trace string) {
	if cur, ok := h.statuses.get(connectorStatusKey(name)); ok && cur.State == state && cur.Trace == trace && cur.WorkerID == h.workerID {
		return
	}
	h.statuses.put(connectorStatusKey(name), status{State: state, Trace: trace, WorkerID: h.workerID})
}

func (h *Herder) reconcileConnector(snap configSnapshot, name string, assigned map[rest.TaskID]bool) {
	raw := snap.connectors[name]
	target := snap.target(name)
	c := h.conns[name]
	if c != nil && !maps.Equal(c.raw, raw) {
		c.stop()
		delete(h.conns, name)
		c = nil
	}
	committed := snap.taskConfigs[name]
	if target == targetStopped {
		if c != nil {
			c.stop()
			delete(h.conns, name)
		}
		var stopping []*taskRunner
		for id, t := range h.tasks {
			if id.Connector == name {
				stopping = append(stopping, t)
				delete(h.tasks, id)
			}
		}
		stopTasks(stopping)
		h.setConnectorStatus(name, rest.StateStopped, "")
		// The leader writes the empty task configs (leaderDuties).
		return
	}
	if c == nil {
		c = h.startConnector(name, raw, target)
		h.conns[name] = c
	}
	if err := c.failure(); err != nil {
		h.setConnectorStatus(name, rest.StateFailed, err.Error())
	} else if target == targetPaused {
		h.setConnectorStatus(name, rest.StatePaused, "")
	} else {
		h.setConnectorStatus(name, rest.StateRunning, "")
	}
	if c.failure() == nil && target == targetStarted && c.needTaskConfigs.Swap(false) {
		h.writeTaskConfigs(c, committed)
	}
	for i := range committed {
		if id := (rest.TaskID{Connector: name, Task: i}); assigned[id] {
			h.reconcileTask(snap, id)
		}
	}
}

// writeTaskConfigs asks the connector for task configs and writes them when
// they differ from the committed ones; the commit record read back starts
// the tasks.
func (h *Herder) writeTaskConfigs(c *connectorRuntime, committed []map[string]string) {
	maxTasks := 1
	if n, err := strconv.Atoi(strings.TrimSpace(c.raw[KeyTasksMax])); err == nil && n > 0 {
		maxTasks = n
	}
	configs, err := c.inst.TaskConfigs(maxTasks)
	if err != nil {
		c.fail(fmt.Errorf("connector %s: task configs: %w", c.name, err))
		h.setConnectorStatus(c.name, rest.StateFailed, c.failure().Error())
		return
	}
	if len(configs) > maxTasks {
		configs = configs[:maxTasks]
	}
	out := make([]map[string]string, len(configs))
	for i, tc := range configs {
		out[i] = reverseResolved(c.raw, c.resolved, tc)
	}
	same := len(out) == len(committed)
	for i := 0; same && i < len(out); i++ {
		same = maps.Equal(out[i], committed[i])
	}
	if same {
		return
	}
	if !h.isLeader() {
		h.sendTaskConfigs(c, out) // the leader writes them
		return
	}
	if err := h.configs.putTaskConfigs(h.ctx, c.name, out); err != nil {
		h.log.Error("writing task configs failed; retrying", "connector", c.name, "err", err)
		c.needTaskConfigs.Store(true)
	}
}

// applyRestart executes a restart-connector request read from the config
// topic: it stops what must restart; reconcile starts it again.
func (h *Herder) applyRestart(rq restartRequest) {
	name := rq.Connector
	cst, _ := h.statuses.get(connectorStatusKey(name))
	if c := h.conns[name]; c != nil && (!rq.OnlyFailed || cst.State == rest.StateFailed || c.failure() != nil) {
		c.stop()
		delete(h.conns, name)
	}
	if !rq.IncludeTasks {
		return
	}
	var stopping []*taskRunner
	for id, t := range h.tasks {
		if id.Connector != name {
			continue
		}
		if rq.OnlyFailed && t.failure() == nil {
			continue
		}
		stopping = append(stopping, t)
		delete(h.tasks, id)
	}
	stopTasks(stopping)
}

// connectorRuntime is one running connector instance.
type connectorRuntime struct {
	h        *Herder
	name     string
	raw      map[string]string // as stored
	resolved map[string]string // providers resolved
	plugin   plugins.Plugin
	inst     connect.Connector
	cancel   context.CancelFunc

	needTaskConfigs atomic.Bool
	mu              sync.Mutex
	err             error
}

func (c *connectorRuntime) failure() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

func (c *connectorRuntime) fail(err error) {
	c.mu.Lock()
	if c.err == nil {
		c.err = err
	}
	c.mu.Unlock()
}

func (c *connectorRuntime) stop() {
	if c.cancel != nil {
		c.cancel()
	}
	if c.inst != nil && c.failure() == nil {
		if err := c.inst.Stop(); err != nil {
			c.h.log.Warn("connector stop failed", "connector", c.name, "err", err)
		}
	}
}

// RequestTaskReconfiguration implements connect.ConnectorContext.
func (c *connectorRuntime) RequestTaskReconfiguration() {
	c.needTaskConfigs.Store(true)
	c.h.kick()
}

// RaiseError implements connect.ConnectorContext.
func (c *connectorRuntime) RaiseError(err error) {
	c.fail(err)
	c.h.log.Error("connector failed", "connector", c.name, "err", err)
	c.h.kick()
}

// Offsets implements connect.ConnectorContext.
func (c *connectorRuntime) Offsets() connect.OffsetReader {
	if c.plugin.Kind == plugins.Source {
		return c.h.offsets.Reader(c.name)
	}
	return noOffsets{}
}

type noOffsets struct{}

func (noOffsets) Offset(context.Context, map[string]any) (map[string]any, error) { return nil, nil }

func (h *Herder) startConnector(name string, raw map[string]string, target string) *connectorRuntime {
	c := &connectorRuntime{h: h, name: name, raw: raw}
	c.needTaskConfigs.Store(true)
	p, err := connectorPlugin(h.reg, raw)
	if err != nil {
		c.err = fmt.Errorf("connector %s: %w", name, err)
		return c
	}
	c.plugin = p
	if c.resolved, err = h.providers.resolve(raw); err != nil {
		c.err = fmt.Errorf("connector %s: %w", name, err)
		return c
	}
	inst, ok := p.New().(connect.Connector)
	if !ok {
		c.err = fmt.Errorf("connector %s: %s is not a connector", name, p.Class)
		return c
	}
	c.inst = inst
	ctx, cancel := context.WithCancel(h.ctx)
	c.cancel = cancel
	if err := inst.Start(ctx, c, c.resolved); err != nil {
		c.err = fmt.Errorf("connector %s failed to start: %w", name, err)
		h.log.Error("connector failed to start", "connector", name, "class", p.Class, "err", err)
		return c
	}
	h.log.Info("connector started", "connector", name, "class", p.Class, "target", target)
	return c
}

// ---- rest.Herder ----

func (h *Herder) connectorType(props map[string]string) string {
	if p, err := connectorPlugin(h.reg, props); err == nil {
		return string(p.Kind)
	}
	return "unknown"
}

func (h *Herder) notFound(name string) error {
	return rest.NotFound("Connector %s not found", name)
}

// Connectors implements rest.Herder.
func (h *Herder) Connectors(ctx context.Context) ([]string, error) {
	return h.configs.connectorNames(), nil
}

// ConnectorInfo implements rest.Herder.
func (h *Herder) ConnectorInfo(ctx context.Context, name string) (rest.ConnectorInfo, error) {
	snap := h.configs.snapshot()
	raw, ok := snap.connectors[name]
	if !ok {
		return rest.ConnectorInfo{}, h.notFound(name)
	}
	return h.info(name, raw, snap.taskConfigs[name]), nil
}

func (h *Herder) info(name string, raw map[string]string, tasks []map[string]string) rest.ConnectorInfo {
	info := rest.ConnectorInfo{Name: name, Config: maskConfig(h.reg, raw), Tasks: []rest.TaskID{}, Type: h.connectorType(raw)}
	for i := range tasks {
		info.Tasks = append(info.Tasks, rest.TaskID{Connector: name, Task: i})
	}
	return info
}

// ConnectorConfig implements rest.Herder.
func (h *Herder) ConnectorConfig(ctx context.Context, name string) (map[string]string, error) {
	raw, ok := h.configs.connector(name)
	if !ok {
		return nil, h.notFound(name)
	}
	return maskConfig(h.reg, raw), nil
}

// PutConnectorConfig implements rest.Herder.
func (h *Herder) PutConnectorConfig(ctx context.Context, name string, cfg map[string]string, initialState string, allowReplace bool) (rest.ConnectorInfo, bool, error) {
	if strings.TrimSpace(name) == "" {
		return rest.ConnectorInfo{}, false, rest.BadRequest("Connector name is required")
	}
	cfg = maps.Clone(cfg)
	if cfg == nil {
		cfg = map[string]string{}
	}
	if n, ok := cfg[KeyName]; ok && n != name {
		return rest.ConnectorInfo{}, false, rest.BadRequest("Connector name configuration (%s) doesn't match connector name in the URL (%s)", n, name)
	}
	cfg[KeyName] = name
	var target string
	switch strings.ToUpper(strings.TrimSpace(initialState)) {
	case "", "RUNNING":
		target = targetStarted
	case "PAUSED":
		target = targetPaused
	case "STOPPED":
		target = targetStopped
	default:
		return rest.ConnectorInfo{}, false, rest.BadRequest("Invalid initial state %q: must be RUNNING, PAUSED or STOPPED", initialState)
	}
	infos, _ := validateConnector(h.reg, cfg)
	if infos.ErrorCount > 0 {
		return rest.ConnectorInfo{}, false, rest.BadRequest("%s", invalidConfigMessage(infos))
	}
	h.writeMu.Lock()
	defer h.writeMu.Unlock()
	if err := h.configs.readToEnd(ctx); err != nil {
		return rest.ConnectorInfo{}, false, err
	}
	existing, exists := h.configs.connector(name)
	if exists {
		if maps.Equal(existing, cfg) {
			info, err := h.ConnectorInfo(ctx, name)
			return info, false, err
		}
		if !allowReplace {
			return rest.ConnectorInfo{}, false, rest.Conflict("Connector %s already exists", name)
		}
	} else if target != targetStarted {
		// The target state goes first so the connector never starts.
		if err := h.configs.putTarget(ctx, name, target); err != nil {
			return rest.ConnectorInfo{}, false, err
		}
	}
	if err := h.configs.putConnector(ctx, name, cfg); err != nil {
		return rest.ConnectorInfo{}, false, err
	}
	if err := h.configs.readToEnd(ctx); err != nil {
		return rest.ConnectorInfo{}, false, err
	}
	h.log.Info("connector config written", "connector", name, "created", !exists, "config", maskConfig(h.reg, cfg))
	info, err := h.ConnectorInfo(ctx, name)
	return info, !exists, err
}

// PatchConnectorConfig implements rest.Herder.
func (h *Herder) PatchConnectorConfig(ctx context.Context, name string, patch map[string]*string) (rest.ConnectorInfo, error) {
	raw, ok := h.configs.connector(name)
	if !ok {
		return rest.ConnectorInfo{}, h.notFound(name)
	}
	cfg := maps.Clone(raw)
	for k, v := range patch {
		if v == nil {
			delete(cfg, k)
		} else {
			cfg[k] = *v
		}
	}
	info, _, err := h.PutConnectorConfig(ctx, name, cfg, "", true)
	return info, err
}

// DeleteConnector implements rest.Herder.
func (h *Herder) DeleteConnector(ctx context.Context, name string) error {
	h.writeMu.Lock()
	defer h.writeMu.Unlock()
	if _, ok := h.configs.connector(name); !ok {
		return h.notFound(name)
	}
	if err := h.configs.deleteConnector(ctx, name); err != nil {
		return err
	}
	if err := h.configs.readToEnd(ctx); err != nil {
		return err
	}
	h.log.Info("connector deleted", "connector", name)
	return nil
}

// ConnectorStatus implements rest.Herder.
func (h *Herder) ConnectorStatus(ctx context.Context, name string) (rest.ConnectorStateInfo, error) {
	snap := h.configs.snapshot()
	raw, ok := snap.connectors[name]
	if !ok {
		return rest.ConnectorStateInfo{}, h.notFound(name)
	}
	out := rest.ConnectorStateInfo{Name: name, Type: h.connectorType(raw), Tasks: []rest.TaskState{},
		Connector: rest.ConnectorState{State: rest.StateUnassigned}}
	if st, ok := h.statuses.get(connectorStatusKey(name)); ok {
		out.Connector = rest.ConnectorState{State: st.State, WorkerID: st.WorkerID, Trace: st.Trace}
	}
	for i := range snap.taskConfigs[name] {
		out.Tasks = append(out.Tasks, h.taskState(name, i))
	}
	return out, nil
}

func (h *Herder) taskState(name string, i int) rest.TaskState {
	ts := rest.TaskState{ID: i, State: rest.StateUnassigned}
	if st, ok := h.statuses.get(taskStatusKey(name, i)); ok {
		ts.State, ts.WorkerID, ts.Trace = st.State, st.WorkerID, st.Trace
	}
	return ts
}

// TaskStatus implements rest.Herder.
func (h *Herder) TaskStatus(ctx context.Context, name string, task int) (rest.TaskState, error) {
	snap := h.configs.snapshot()
	if _, ok := snap.connectors[name]; !ok {
		return rest.TaskState{}, h.notFound(name)
	}
	if task < 0 || task >= len(snap.taskConfigs[name]) {
		return rest.TaskState{}, rest.NotFound("Task %s-%d not found", name, task)
	}
	return h.taskState(name, task), nil
}

// Tasks implements rest.Herder.
func (h *Herder) Tasks(ctx context.Context, name string) ([]rest.TaskInfo, error) {
	snap := h.configs.snapshot()
	if _, ok := snap.connectors[name]; !ok {
		return nil, h.notFound(name)
	}
	out := []rest.TaskInfo{}
	for i, tc := range snap.taskConfigs[name] {
		out = append(out, rest.TaskInfo{ID: rest.TaskID{Connector: name, Task: i}, Config: maskTask(h.reg, snap.connectors[name], tc)})
	}
	return out, nil
}

// maskTask masks a task config with its connector's class in view so the
// plugin's PASSWORD keys are known; the class is not added to the result.
func maskTask(reg *plugins.Registry, conn, task map[string]string) map[string]string {
	if _, ok := task[KeyConnectorClass]; ok {
		return maskConfig(reg, task)
	}
	m := maps.Clone(task)
	if m == nil {
		m = map[string]string{}
	}
	m[KeyConnectorClass] = conn[KeyConnectorClass]
	out := maskConfig(reg, m)
	delete(out, KeyConnectorClass)
	return out
}

// RestartConnector implements rest.Herder.
func (h *Herder) RestartConnector(ctx context.Context, name string, includeTasks, onlyFailed bool) (*rest.ConnectorStateInfo, error) {
	st, err := h.ConnectorStatus(ctx, name)
	if err != nil {
		return nil, err
	}
	if !includeTasks && !onlyFailed {
		return nil, h.configs.putRestart(ctx, restartRequest{Connector: name})
	}
	// The RESTARTING states are written, and acknowledged, before the
	// restart request: whoever carries the request out writes RUNNING after
	// them, never before.
	if !onlyFailed || st.Connector.State == rest.StateFailed {
		st.Connector.State = rest.StateRestarting
		h.statuses.put(connectorStatusKey(name), status{State: rest.StateRestarting, WorkerID: h.workerID})
	}
	if includeTasks {
		for i := range st.Tasks {
			if !onlyFailed || st.Tasks[i].State == rest.StateFailed {
				st.Tasks[i].State = rest.StateRestarting
				st.Tasks[i].Trace = ""
				h.statuses.put(taskStatusKey(name, st.Tasks[i].ID), status{State: rest.StateRestarting, WorkerID: h.workerID})
			}
		}
	}
	if err := h.statuses.flush(ctx); err != nil {
		return nil, fmt.Errorf("writing RESTARTING states of %s: %w", name, err)
	}
	if err := h.configs.putRestart(ctx, restartRequest{Connector: name, IncludeTasks: includeTasks, OnlyFailed: onlyFailed}); err != nil {
		return nil, err
	}
	return &st, nil
}

// RestartTask implements rest.Herder.
func (h *Herder) RestartTask(ctx context.Context, name string, task int) error {
	if _, err := h.TaskStatus(ctx, name, task); err != nil {
		return err
	}
	h.mu.Lock()
	id := rest.TaskID{Connector: name, Task: task}
	if t := h.tasks[id]; t != nil {
		stopTasks([]*taskRunner{t})
		delete(h.tasks, id)
		h.statuses.put(taskStatusKey(name, task), status{State: rest.StateRestarting, WorkerID: h.workerID})
	}
	h.mu.Unlock()
	h.kick()
	return nil
}

func (h *Herder) setTarget(ctx context.Context, name, target string) error {
	h.writeMu.Lock()
	defer h.writeMu.Unlock()
	if _, ok := h.configs.connector(name); !ok {
		return h.notFound(name)
	}
	if err := h.configs.putTarget(ctx, name, target); err != nil {
		return err
	}
	return h.configs.readToEnd(ctx)
}

// PauseConnector implements rest.Herder.
func (h *Herder) PauseConnector(ctx context.Context, name string) error {
	return h.setTarget(ctx, name, targetPaused)
}

// ResumeConnector implements rest.Herder.
func (h *Herder) ResumeConnector(ctx context.Context, name string) error {
	return h.setTarget(ctx, name, targetStarted)
}

// StopConnector implements rest.Herder.
func (h *Herder) StopConnector(ctx context.Context, name string) error {
	return h.setTarget(ctx, name, targetStopped)
}

// sinkGroup returns a sink connector's consumer group: connect-<name>
// unless consumer.override.group.id says otherwise.
func sinkGroup(name string, props map[string]string) string {
	if g := strings.TrimSpace(props[KeyConsumerGroupID]); g != "" {
		return g
	}
	return "connect-" + name
}

// Offsets implements rest.Herder.
func (h *Herder) Offsets(ctx context.Context, name string) (rest.ConnectorOffsets, error) {
	raw, ok := h.configs.connector(name)
	if !ok {
		return rest.ConnectorOffsets{}, h.notFound(name)
	}
	out := rest.ConnectorOffsets{Offsets: []rest.PartitionOffset{}}
	if h.connectorType(raw) == string(plugins.Sink) {
		resp, err := h.adm.FetchOffsets(ctx, sinkGroup(name, raw))
		if err != nil && !errors.Is(err, kerr.GroupIDNotFound) {
			return out, fmt.Errorf("fetching offsets of connector %s: %w", name, err)
		}
		resp.Each(func(o kadm.OffsetResponse) {
			if o.Err != nil || o.At < 0 {
				return
			}
			out.Offsets = append(out.Offsets, rest.PartitionOffset{
				Partition: map[string]any{"kafka_topic": o.Topic, "kafka_partition": o.Partition},
				Offset:    map[string]any{"kafka_offset": o.At},
			})
		})
		sort.Slice(out.Offsets, func(i, j int) bool {
			a, b := out.Offsets[i].Partition, out.Offsets[j].Partition
			if a["kafka_topic"] != b["kafka_topic"] {
				return a["kafka_topic"].(string) < b["kafka_topic"].(string)
			}
			return a["kafka_partition"].(int32) < b["kafka_partition"].(int32)
		})
		return out, nil
	}
	if err := h.offsets.ReadToEnd(ctx); err != nil {
		return out, err
	}
	for _, o := range h.offsets.Offsets(name) {
		out.Offsets = append(out.Offsets, rest.PartitionOffset{Partition: o.Partition, Offset: o.Offset})
	}
	return out, nil
}

// requireStopped returns the connector's config when it is STOPPED and its
// tasks are gone, a 400 when it is not stopped.
func (h *Herder) requireStopped(ctx context.Context, name string) (map[string]string, error) {
	if err := h.configs.readToEnd(ctx); err != nil {
		return nil, err
	}
	snap := h.configs.snapshot()
	raw, ok := snap.connectors[name]
	if !ok {
		return nil, h.notFound(name)
	}
	if snap.target(name) != targetStopped {
		return nil, rest.BadRequest("Connectors must be in the STOPPED state before their offsets can be modified. This can be done for the specified connector by issuing a 'PUT' request to the '/connectors/%s/stop' endpoint", name)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		h.mu.Lock()
		running := 0
		for id := range h.tasks {
			if id.Connector == name {
				running++
			}
		}
		h.mu.Unlock()
		if running == 0 {
			return raw, nil
		}
		if time.Now().After(deadline) {
			return nil, &rest.Error{Status: http.StatusConflict, Message: fmt.Sprintf("Connector %s is stopping its tasks; try again", name), RetryAfter: time.Second}
		}
		h.kick()
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// AlterOffsets implements rest.Herder.
func (h *Herder) AlterOffsets(ctx context.Context, name string, offs rest.ConnectorOffsets) (string, error) {
	raw, err := h.requireStopped(ctx, name)
	if err != nil {
		return "", err
	}
	if len(offs.Offsets) == 0 {
		return "", rest.BadRequest("The offsets to be modified must not be empty")
	}
	if h.connectorType(raw) == string(plugins.Sink) {
		return h.alterSinkOffsets(ctx, name, raw, offs)
	}
	var out []connect.SourceOffset
	for _, po := range offs.Offsets {
		if po.Partition == nil {
			return "", rest.BadRequest("Source partitions may not be null")
		}
		out = append(out, connect.SourceOffset{Partition: po.Partition, Offset: po.Offset})
	}
	if err := h.offsets.Write(ctx, name, out); err != nil {
		return "", err
	}
	h.log.Info("source offsets altered", "connector", name, "partitions", len(out))
	return "The Connect framework-managed offsets for this connector have been altered successfully. However, if this connector manages offsets externally, they will need to be manually altered in the system that the connector uses.", nil
}

func toInt64(v any) (int64, bool) {
	switch x := v.(type) {
	case int:
		return int64(x), true
	case int32:
		return int64(x), true
	case int64:
		return x, true
	case float64:
		if x == float64(int64(x)) {
			return int64(x), true
		}
	case string:
		n, err := strconv.ParseInt(x, 10, 64)
		return n, err == nil
	case interface{ Int64() (int64, error) }:
		n, err := x.Int64()
		return n, err == nil
	}
	return 0, false
}

func (h *Herder) alterSinkOffsets(ctx context.Context, name string, raw map[string]string, offs rest.ConnectorOffsets) (string, error) {
	commit := kadm.Offsets{}
	del := map[string][]int32{}
	for _, po := range offs.Offsets {
		topic, ok := po.Partition["kafka_topic"].(string)
		if !ok || topic == "" {
			return "", rest.BadRequest("Partitions of sink connectors must have a kafka_topic string")
		}
		p, ok := toInt64(po.Partition["kafka_partition"])
		if !ok || p < 0 {
			return "", rest.BadRequest("Partitions of sink connectors must have a non-negative integer kafka_partition")
		}
		if po.Offset == nil {
			del[topic] = append(del[topic], int32(p))
			continue
		}
		o, ok := toInt64(po.Offset["kafka_offset"])
		if !ok || o < 0 {
			return "", rest.BadRequest("Offsets of sink connectors must have a non-negative integer kafka_offset")
		}
		commit.Add(kadm.Offset{Topic: topic, Partition: int32(p), At: o, LeaderEpoch: -1})
	}
	group := sinkGroup(name, raw)
	if len(commit) > 0 {
		resp, err := h.adm.CommitOffsets(ctx, group, commit)
		if err == nil {
			err = resp.Error()
		}
		if err != nil {
			return "", fmt.Errorf("altering offsets of sink connector %s (group %s): %w", name, group, err)
		}
	}
	if len(del) > 0 {
		set := kadm.TopicsSet{}
		for t, ps := range del {
			set.Add(t, ps...)
		}
		resp, err := h.adm.DeleteOffsets(ctx, group, set)
		if err == nil {
			err = resp.Error()
		}
		if err != nil && !errors.Is(err, kerr.GroupIDNotFound) {
			return "", fmt.Errorf("resetting offsets of sink connector %s (group %s): %w", name, group, err)
		}
	}
	h.log.Info("sink offsets altered", "connector", name, "group", group)
	return "The offsets for this connector have been altered successfully", nil
}

// ResetOffsets implements rest.Herder.
func (h *Herder) ResetOffsets(ctx context.Context, name string) (string, error) {
	raw, err := h.requireStopped(ctx, name)
	if err != nil {
		return "", err
	}
	if h.connectorType(raw) == string(plugins.Sink) {
		group := sinkGroup(name, raw)
		resp, err := h.adm.DeleteGroup(ctx, group)
		if err == nil {
			err = resp.Err
		}
		if err != nil && !errors.Is(err, kerr.GroupIDNotFound) {
			return "", fmt.Errorf("resetting offsets of sink connector %s (deleting group %s): %w", name, group, err)
		}
		h.log.Info("sink offsets reset", "connector", name, "group", group)
		return "The offsets for this connector have been reset successfully", nil
	}
	if err := h.offsets.Reset(ctx, name); err != nil {
		return "", err
	}
	h.log.Info("source offsets reset", "connector", name)
	return "The Connect framework-managed offsets for this connector have been reset successfully. However, if this connector manages offsets externally, they will need to be manually reset in the system that the connector uses.", nil
}

// ActiveTopics implements rest.Herder.
func (h *Herder) ActiveTopics(ctx context.Context, name string) ([]string, error) {
	if _, ok := h.configs.connector(name); !ok {
		return nil, h.notFound(name)
	}
	return h.statuses.activeTopics(name), nil
}

// ResetActiveTopics implements rest.Herder.
func (h *Herder) ResetActiveTopics(ctx context.Context, name string) error {
	if _, ok := h.configs.connector(name); !ok {
		return h.notFound(name)
	}
	return h.statuses.resetTopics(ctx, name)
}

// Plugins implements rest.Herder.
func (h *Herder) Plugins(connectorsOnly bool) []rest.PluginInfo {
	var kinds []plugins.Kind
	if connectorsOnly {
		kinds = []plugins.Kind{plugins.Sink, plugins.Source}
	}
	out := []rest.PluginInfo{}
	for _, p := range h.reg.List(kinds...) {
		out = append(out, rest.PluginInfo{Class: p.Class, Type: string(p.Kind), Version: p.Version})
	}
	return out
}

// PluginConfig implements rest.Herder.
func (h *Herder) PluginConfig(plugin string) ([]config.KeyInfo, error) {
	p, ok := h.reg.Lookup(plugin)
	if !ok {
		return nil, rest.NotFound("Unknown plugin %s.", plugin)
	}
	out := []config.KeyInfo{}
	for _, k := range p.Config().Keys() {
		out = append(out, k.Info())
	}
	return out, nil
}

// ValidateConfig implements rest.Herder.
func (h *Herder) ValidateConfig(ctx context.Context, cfg map[string]string) (config.Infos, error) {
	if strings.TrimSpace(cfg[KeyConnectorClass]) == "" {
		return config.Infos{}, rest.BadRequest("Connector config %v contains no connector type", maskConfig(h.reg, cfg))
	}
	infos, _ := validateConnector(h.reg, cfg)
	return infos, nil
}

// Health implements rest.Herder.
func (h *Herder) Health(ctx context.Context) error {
	if h.closed.Load() {
		return &rest.Error{Status: http.StatusServiceUnavailable, Message: "Worker is shutting down"}
	}
	select {
	case <-h.done:
		return errors.New("worker's herder loop has stopped")
	default:
	}
	return nil
}

// ServerInfo implements rest.Herder.
func (h *Herder) ServerInfo(ctx context.Context) (rest.ServerInfo, error) {
	return rest.ServerInfo{Version: h.version, Commit: h.commit, KafkaClusterID: h.clusterID}, nil
}

// ---- dead letter queues ----

// sendDLQ writes one record to a dead letter queue topic, creating the topic
// on first use, and waits for the broker's acknowledgement.
func (h *Herder) sendDLQ(ctx context.Context, p errorPolicy, r *kgo.Record) error {
	h.dlqMu.Lock()
	if !h.dlqTopics[p.dlqTopic] {
		resp, err := h.adm.CreateTopic(ctx, 1, p.dlqReplication, nil, p.dlqTopic)
		if err == nil {
			err = resp.Err
		}
		if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
			h.dlqMu.Unlock()
			return fmt.Errorf("creating dead letter queue topic %s: %w", p.dlqTopic, err)
		}
		h.dlqTopics[p.dlqTopic] = true
	}
	h.dlqMu.Unlock()
	if err := h.admCl.ProduceSync(ctx, r).FirstErr(); err != nil {
		return fmt.Errorf("writing to dead letter queue %s: %w", p.dlqTopic, err)
	}
	return nil
}
