package worker

import (
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the worker's Prometheus metrics, registered on the registry
// the REST server exposes at /metrics.
type metrics struct {
	polled         *prometheus.CounterVec
	produced       *prometheus.CounterVec
	consumed       *prometheus.CounterVec
	put            *prometheus.CounterVec
	recordErrors   *prometheus.CounterVec
	dlqRecords     *prometheus.CounterVec
	offsetCommits  *prometheus.CounterVec
	offsetFailures *prometheus.CounterVec
	taskStates     *prometheus.GaugeVec
	taskStarts     *prometheus.CounterVec
	groupLeader    prometheus.Gauge
	groupGen       prometheus.Gauge
	rebalances     prometheus.Counter
	buffered       *bufferedBytes
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		polled: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "penstock_source_records_polled_total",
			Help: "Records returned by source tasks' Poll."}, []string{"connector"}),
		produced: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "penstock_source_records_produced_total",
			Help: "Source records acknowledged by the broker."}, []string{"connector"}),
		consumed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "penstock_sink_records_consumed_total",
			Help: "Records consumed for sink tasks."}, []string{"connector"}),
		put: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "penstock_sink_records_put_total",
			Help: "Records handed to sink tasks' Put."}, []string{"connector"}),
		recordErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "penstock_record_errors_total",
			Help: "Record processing failures (converters, transforms, produce, put), tolerated or not."}, []string{"connector"}),
		dlqRecords: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "penstock_deadletterqueue_records_total",
			Help: "Records written to dead letter queues."}, []string{"connector"}),
		offsetCommits: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "penstock_offset_commits_total",
			Help: "Successful offset flushes (source) and commits (sink)."}, []string{"connector"}),
		offsetFailures: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "penstock_offset_commit_failures_total",
			Help: "Failed offset flushes (source) and commits (sink)."}, []string{"connector"}),
		taskStates: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "penstock_tasks",
			Help: "Tasks running on this worker by connector and state."}, []string{"connector", "state"}),
		taskStarts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "penstock_task_starts_total",
			Help: "Times each task was started on this worker (rebalances that move a task start it elsewhere)."}, []string{"connector", "task"}),
		groupLeader: prometheus.NewGauge(prometheus.GaugeOpts{Name: "penstock_group_leader",
			Help: "1 when this worker leads its group (computes assignments, writes task configs), else 0."}),
		groupGen: prometheus.NewGauge(prometheus.GaugeOpts{Name: "penstock_group_generation",
			Help: "Generation of the worker group's last completed rebalance."}),
		rebalances: prometheus.NewCounter(prometheus.CounterOpts{Name: "penstock_group_rebalances_total",
			Help: "Rebalance rounds this worker completed."}),
		buffered: &bufferedBytes{gauges: map[bufferedKey]*func() int64{}},
	}
	if reg != nil {
		reg.MustRegister(m.polled, m.produced, m.consumed, m.put, m.recordErrors, m.dlqRecords, m.offsetCommits, m.offsetFailures, m.taskStates, m.taskStarts,
			m.groupLeader, m.groupGen, m.rebalances, m.buffered)
	}
	return m
}

// bufferedBytes reports, at each scrape, the record bytes each running
// task's Kafka client holds: a source task's records waiting for the
// broker (bounded by producer.buffer.memory), a sink task's fetched records
// not yet handed to Put (bounded by the fetch sizes).
type bufferedBytes struct {
	mu     sync.Mutex
	gauges map[bufferedKey]*func() int64
}

type bufferedKey struct {
	task   TaskID
	client string // producer or consumer
}

var bufferedDesc = prometheus.NewDesc("penstock_task_buffered_bytes",
	"Record bytes a task's Kafka client buffers: producer (source records not yet acknowledged) or consumer (fetched, not yet put).",
	[]string{"connector", "task", "client"}, nil)

// add reports f as the buffered bytes of the task's client until the
// returned function is called (which leaves a later add of the same task,
// restarted, in place).
func (b *bufferedBytes) add(id TaskID, client string, f func() int64) (remove func()) {
	k, p := bufferedKey{id, client}, &f
	b.mu.Lock()
	b.gauges[k] = p
	b.mu.Unlock()
	return func() {
		b.mu.Lock()
		if b.gauges[k] == p {
			delete(b.gauges, k)
		}
		b.mu.Unlock()
	}
}

// Describe implements prometheus.Collector.
func (b *bufferedBytes) Describe(ch chan<- *prometheus.Desc) { ch <- bufferedDesc }

// Collect implements prometheus.Collector.
func (b *bufferedBytes) Collect(ch chan<- prometheus.Metric) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for k, f := range b.gauges {
		ch <- prometheus.MustNewConstMetric(bufferedDesc, prometheus.GaugeValue, float64((*f)()),
			k.task.Connector, strconv.Itoa(k.task.Task), k.client)
	}
}
