package worker

import (
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
	}
	if reg != nil {
		reg.MustRegister(m.polled, m.produced, m.consumed, m.put, m.recordErrors, m.dlqRecords, m.offsetCommits, m.offsetFailures, m.taskStates, m.taskStarts,
			m.groupLeader, m.groupGen, m.rebalances)
	}
	return m
}
