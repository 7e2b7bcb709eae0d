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
	}
	if reg != nil {
		reg.MustRegister(m.polled, m.produced, m.consumed, m.put, m.recordErrors, m.dlqRecords, m.offsetCommits, m.offsetFailures, m.taskStates)
	}
	return m
}
