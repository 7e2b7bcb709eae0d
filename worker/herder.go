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
//
// The Herder has three roles, one file each: the reconciling runtime
// (reconcile.go: what runs follows the assignment and target states), the
// REST-facing facade (facade.go: rest.Herder's reads and writes of
// configurations, states and statuses) and offsets administration
// (offsetsadmin.go). herder.go holds what they share: construction, the
// loop, shutdown and dead letter queues. Tasks are named by TaskID.
package worker

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/penstockhq/penstock/offsets"
	"github.com/penstockhq/penstock/plugins"
	"github.com/penstockhq/penstock/worker/console"
	"github.com/penstockhq/penstock/worker/rest"
)

// Options are what a Herder needs beyond its Config.
type Options struct {
	// Registry resolves plugins (required): plugins/builtin.Registry() for
	// the plugins Penstock ships. The worker itself knows no plugin.
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
	tasks     map[TaskID]*taskRunner
	dlqMu     sync.Mutex
	dlqTopics map[string]bool
	closed    atomic.Bool

	grp       *groupMember // nil: no group (everything is assigned here)
	asgMu     sync.Mutex
	asg       *groupAssignment
	firstAsg  chan struct{}
	firstOnce sync.Once

	topicsOnce sync.Once
	topicsView *console.Topics // the console's topic pages (progress.go)
}

var _ rest.Herder = (*Herder)(nil)

// New connects to the brokers, opens (creating when missing) the config,
// offsets and status topics, reads them, and starts running the connectors
// they hold. Close stops it.
func New(ctx context.Context, cfg *Config, opts Options) (*Herder, error) {
	h := &Herder{cfg: cfg, reg: opts.Registry, log: opts.Logger, version: opts.Version, commit: opts.Commit,
		promReg: opts.Metrics, wake: make(chan struct{}, 1), done: make(chan struct{}),
		conns: map[string]*connectorRuntime{}, tasks: map[TaskID]*taskRunner{}, dlqTopics: map[string]bool{},
		firstAsg: make(chan struct{})}
	if h.reg == nil {
		return nil, fmt.Errorf("worker: Options.Registry is required")
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
