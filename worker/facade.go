package worker

// The REST-facing facade: the methods of rest.Herder that read and change
// connector configurations, states and statuses. They write to the config
// and status topics; the reconciling runtime (reconcile.go) acts on what
// they write.

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"strings"

	"github.com/penstockhq/penstock/connect/config"
	"github.com/penstockhq/penstock/plugins"
	"github.com/penstockhq/penstock/worker/rest"
)

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
	id := TaskID{Connector: name, Task: task}
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
