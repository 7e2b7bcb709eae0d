package worker

// The reconciling runtime: the herder's loop compares what this worker is
// assigned (and the connectors' target states) with what runs, and starts,
// stops or reconfigures connectors and tasks until they match.

import (
	"context"
	"fmt"
	"maps"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/plugins"
	"github.com/penstockhq/penstock/worker/rest"
)

// assignment returns the connectors and tasks this worker runs: the
// group's last assignment (nothing before the first), limited to what the
// config holds; everything without a group.
func (h *Herder) assignment(snap configSnapshot) (conns map[string]bool, tasks map[TaskID]bool) {
	conns, tasks = map[string]bool{}, map[TaskID]bool{}
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
			tasks[TaskID{Connector: name, Task: i}] = true
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
func (h *Herder) reconcileTask(snap configSnapshot, id TaskID) {
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

func (h *Herder) reconcileConnector(snap configSnapshot, name string, assigned map[TaskID]bool) {
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
		if id := (TaskID{Connector: name, Task: i}); assigned[id] {
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
