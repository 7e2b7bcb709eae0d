package worker

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/plugins"
	"github.com/penstockhq/penstock/worker/rest"
)

// taskRunner is one task running on this worker: its goroutine, its target
// (running or paused) and its state. The source and sink specifics live in
// sourceTask and sinkTask.
type taskRunner struct {
	h          *Herder
	id         TaskID
	rawConfig  map[string]string // task config as stored
	connConfig map[string]string // connector config as stored
	log        *slog.Logger
	tm         *taskMetrics
	cancel     context.CancelFunc
	done       chan struct{}

	mu       sync.Mutex
	paused   bool
	pauseCh  chan struct{} // closed and replaced when paused changes
	err      error
	state    string
	stopping bool
	plugin   any // the connector's task (connect.SourceTask or SinkTask) once made
}

// startTask starts a task's goroutine; its status goes RUNNING (or PAUSED)
// once the task started, FAILED if anything fails it.
func (h *Herder) startTask(id TaskID, taskConfig, connConfig map[string]string, paused bool) *taskRunner {
	ctx, cancel := context.WithCancel(h.ctx)
	t := &taskRunner{h: h, id: id, rawConfig: taskConfig, connConfig: connConfig, cancel: cancel,
		done: make(chan struct{}), paused: paused, pauseCh: make(chan struct{}),
		log: h.log.With("connector", id.Connector, "task", id.Task), tm: h.metrics.task(id)}
	h.metrics.taskStarts.WithLabelValues(id.Connector, strconv.Itoa(id.Task)).Inc()
	go t.run(ctx)
	return t
}

func (t *taskRunner) run(ctx context.Context) {
	defer close(t.done)
	err := t.execute(ctx)
	if err == nil {
		t.setState("")
		t.tm.forget()
	} else {
		t.mu.Lock()
		t.err = err
		t.mu.Unlock()
		t.log.Error("task failed", "err", err)
		t.setState(rest.StateFailed)
		t.h.statuses.put(taskStatusKey(t.id.Connector, t.id.Task), status{State: rest.StateFailed, Trace: err.Error(), WorkerID: t.h.workerID})
	}
}

func (t *taskRunner) execute(ctx context.Context) error {
	p, err := connectorPlugin(t.h.reg, t.connConfig)
	if err != nil {
		return err
	}
	connProps, err := t.h.providers.resolve(t.connConfig)
	if err != nil {
		return err
	}
	taskProps, err := t.h.providers.resolve(t.rawConfig)
	if err != nil {
		return err
	}
	pl, err := t.h.newPipeline(connProps)
	if err != nil {
		return err
	}
	defer pl.transforms.Close()
	policy, err := parseErrorPolicy(connProps)
	if err != nil {
		return err
	}
	errs := &errorHandler{policy: policy, connector: t.id.Connector, task: t.id.Task, h: t.h, log: t.log, tm: t.tm}
	switch p.Kind {
	case plugins.Source:
		c, ok := p.New().(connect.SourceConnector)
		if !ok {
			return fmt.Errorf("%s is not a source connector", p.Class)
		}
		t.tm.source()
		st := &sourceTask{r: t, class: p.Class, task: c.NewTask(), pl: pl, errs: errs, connProps: connProps}
		t.setPlugin(st.task)
		return st.run(ctx, taskProps)
	case plugins.Sink:
		c, ok := p.New().(connect.SinkConnector)
		if !ok {
			return fmt.Errorf("%s is not a sink connector", p.Class)
		}
		t.tm.sink()
		st := &sinkTask{r: t, class: p.Class, task: c.NewTask(), pl: pl, errs: errs, connProps: connProps}
		t.setPlugin(st.task)
		return st.run(ctx, taskProps)
	}
	return fmt.Errorf("%s is a %s plugin, not a connector", p.Class, p.Kind)
}

// setState records the task's state in its status and metrics ("" when the
// task is gone).
func (t *taskRunner) setState(state string) {
	t.mu.Lock()
	prev := t.state
	t.state = state
	t.mu.Unlock()
	if prev == state {
		return
	}
	t.h.metrics.setTaskState(t.id, prev, state)
	if state == rest.StateRunning || state == rest.StatePaused {
		t.h.statuses.put(taskStatusKey(t.id.Connector, t.id.Task), status{State: state, WorkerID: t.h.workerID})
	}
}

func (t *taskRunner) failure() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.err
}

// setPaused sets the task's target: paused tasks stop polling (sources) or
// fetching (sinks) but keep their resources.
func (t *taskRunner) setPaused(p bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.paused == p {
		return
	}
	t.paused = p
	close(t.pauseCh)
	t.pauseCh = make(chan struct{})
}

// pauseState returns whether the task is paused and a channel closed when
// that changes.
func (t *taskRunner) pauseState() (bool, <-chan struct{}) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.paused, t.pauseCh
}

// stopLimit is how long stopping a task may take before it is abandoned.
func (h *Herder) stopLimit() time.Duration {
	return h.cfg.TaskShutdownLimit + h.cfg.OffsetFlushLimit + 5*time.Second
}

// stopTasks stops tasks in parallel and waits for them (each up to the
// worker's stop limit, after which it is abandoned with a log line).
func stopTasks(ts []*taskRunner) {
	for _, t := range ts {
		t.mu.Lock()
		t.stopping = true
		t.mu.Unlock()
		t.cancel()
	}
	for _, t := range ts {
		select {
		case <-t.done:
			t.setState("") // a FAILED task leaves the gauge when it is stopped
		case <-time.After(t.h.stopLimit()):
			t.log.Error("task did not stop in time; abandoning it", "limit", t.h.stopLimit())
		}
	}
}

// ConnectorName implements connect.TaskContext.
func (t *taskRunner) ConnectorName() string { return t.id.Connector }

// TaskID implements connect.TaskContext.
func (t *taskRunner) TaskID() int { return t.id.Task }
