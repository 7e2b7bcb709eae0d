package worker

import (
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
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
	connect        connectMetrics
}

// connectMetrics are Kafka Connect's task metrics (its JMX MBeans
// source-task-metrics, sink-task-metrics, connector-task-metrics,
// task-error-metrics and connect-worker-metrics), named as the Prometheus
// JMX exporter's usual Kafka Connect rules name them:
// kafka_connect_<group>_<attribute>, labelled connector and task. Rates and
// averages are left to PromQL: a -rate/-total pair is one counter, an
// -avg/-max pair one histogram (docs/metrics.md).
type connectMetrics struct {
	pollTotal, writeTotal        *prometheus.CounterVec
	active                       *prometheus.GaugeVec
	pollTime                     *prometheus.HistogramVec
	readTotal, sendTotal         *prometheus.CounterVec
	putTime                      *prometheus.HistogramVec
	commitCompletion, commitSkip *prometheus.CounterVec
	commitSuccess, commitFailure *prometheus.CounterVec
	commitTime, batchSize        *prometheus.HistogramVec
	taskStatus                   *prometheus.GaugeVec
	connTaskCount                *prometheus.GaugeVec
	recordErrors, recordFailures *prometheus.CounterVec
	recordsSkipped, retries      *prometheus.CounterVec
	errorsLogged                 *prometheus.CounterVec
	dlqRequests, dlqFailures     *prometheus.CounterVec
	stageErrors                  *prometheus.CounterVec
	writeBytes, readBytes        *prometheus.CounterVec // Penstock's: Kafka Connect has no byte counts
}

// Buckets of the time histograms (seconds, 0.5 ms to about 33 s) and of the
// batch size one (records, 1 to 65536).
var (
	timeBuckets  = prometheus.ExponentialBuckets(0.0005, 4, 9)
	batchBuckets = prometheus.ExponentialBuckets(1, 4, 9)
)

func newConnectMetrics() connectMetrics {
	task := []string{"connector", "task"}
	counter := func(name, help string, labels ...string) *prometheus.CounterVec {
		return prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: help}, append(task, labels...))
	}
	hist := func(name, help string, buckets []float64) *prometheus.HistogramVec {
		return prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name, Help: help, Buckets: buckets}, task)
	}
	return connectMetrics{
		pollTotal: counter("kafka_connect_source_task_source_record_poll_total",
			"Records a source task's Poll returned, before transforms (source-record-poll-total; rate() gives source-record-poll-rate)."),
		writeTotal: counter("kafka_connect_source_task_source_record_write_total",
			"Source records after transforms that the broker acknowledged (source-record-write-total)."),
		active: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "kafka_connect_source_task_source_record_active_count",
			Help: "Records a source task polled that are not yet written, skipped or dropped (source-record-active-count)."}, task),
		pollTime: hist("kafka_connect_source_task_poll_batch_time_seconds",
			"Time a source task's Poll took, per batch (poll-batch-avg-time-ms and -max-time-ms).", timeBuckets),
		readTotal: counter("kafka_connect_sink_task_sink_record_read_total",
			"Records a sink task consumed, before transforms (sink-record-read-total)."),
		sendTotal: counter("kafka_connect_sink_task_sink_record_send_total",
			"Records handed to a sink task's Put after transforms (sink-record-send-total)."),
		putTime: hist("kafka_connect_sink_task_put_batch_time_seconds",
			"Time a sink task's Put took, per batch, retries included (put-batch-avg-time-ms and -max-time-ms).", timeBuckets),
		commitCompletion: counter("kafka_connect_sink_task_offset_commit_completion_total",
			"Sink offset commits that completed (offset-commit-completion-total)."),
		commitSkip: counter("kafka_connect_sink_task_offset_commit_skip_total",
			"Sink offset commits due that had nothing new to commit (offset-commit-skip-total)."),
		commitSuccess: counter("kafka_connect_connector_task_offset_commit_success_total",
			"Offset flushes (sources) and commits (sinks) that succeeded (the count behind offset-commit-success-percentage)."),
		commitFailure: counter("kafka_connect_connector_task_offset_commit_failure_total",
			"Offset flushes (sources) and commits (sinks) that failed (the count behind offset-commit-failure-percentage)."),
		commitTime: hist("kafka_connect_connector_task_offset_commit_time_seconds",
			"Time an offset flush or commit took (offset-commit-avg-time-ms and -max-time-ms).", timeBuckets),
		batchSize: hist("kafka_connect_connector_task_batch_size",
			"Records per batch a task polled or put (batch-size-avg and -max).", batchBuckets),
		taskStatus: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "kafka_connect_connector_task_status",
			Help: "1 for a task's current status on this worker (status: running, paused, failed, ...)."}, append(task, "status")),
		connTaskCount: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "kafka_connect_worker_connector_task_count",
			Help: "Tasks of a connector on this worker by status (connector-running-task-count, -paused-, -failed-, ...)."}, []string{"connector", "status"}),
		recordErrors: counter("kafka_connect_task_error_total_record_errors",
			"Records that failed a stage (converter, transform, produce, put), tolerated or not (total-record-errors)."),
		recordFailures: counter("kafka_connect_task_error_total_record_failures",
			"Failed attempts at a stage, retries included (total-record-failures)."),
		recordsSkipped: counter("kafka_connect_task_error_total_records_skipped",
			"Records skipped under errors.tolerance=all (total-records-skipped)."),
		retries: counter("kafka_connect_task_error_total_retries",
			"Retries of a stage after a retriable error (total-retries)."),
		errorsLogged: counter("kafka_connect_task_error_total_errors_logged",
			"Errors logged under errors.log.enable=true (total-errors-logged)."),
		dlqRequests: counter("kafka_connect_task_error_deadletterqueue_produce_requests",
			"Records a task sent to its dead letter queue (deadletterqueue-produce-requests)."),
		dlqFailures: counter("kafka_connect_task_error_deadletterqueue_produce_failures",
			"Dead letter queue writes that failed (deadletterqueue-produce-failures)."),
		stageErrors: counter("penstock_task_stage_errors_total",
			"Record failures by stage (KEY_CONVERTER, VALUE_CONVERTER, HEADER_CONVERTER, TRANSFORMATION, KAFKA_PRODUCE, TASK_PUT) and the class that failed.", "stage", "class"),
		writeBytes: counter("penstock_source_task_record_write_bytes_total",
			"Key, value and header bytes of the source records the broker acknowledged (as source-record-write-total counts them)."),
		readBytes: counter("penstock_sink_task_record_read_bytes_total",
			"Key, value and header bytes of the records a sink task consumed (as sink-record-read-total counts them)."),
	}
}

func (c *connectMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{c.pollTotal, c.writeTotal, c.active, c.pollTime, c.readTotal, c.sendTotal, c.putTime,
		c.commitCompletion, c.commitSkip, c.commitSuccess, c.commitFailure, c.commitTime, c.batchSize, c.taskStatus,
		c.connTaskCount, c.recordErrors, c.recordFailures, c.recordsSkipped, c.retries, c.errorsLogged, c.dlqRequests,
		c.dlqFailures, c.stageErrors, c.writeBytes, c.readBytes}
}

// taskMetrics are one task's series, resolved once when it starts so the
// record path does no label lookup. A nil *taskMetrics records nothing.
type taskMetrics struct {
	c                                           *connectMetrics
	labels                                      []string // connector, task
	pollTotal, writeTotal, readTotal, sendTotal prometheus.Counter
	writeBytes, readBytes                       prometheus.Counter
	active                                      prometheus.Gauge
	pollTime, putTime, commitTime, batchSize    prometheus.Observer
	recordErrors, recordFailures, skipped       prometheus.Counter
	retries, logged, dlqRequests, dlqFailures   prometheus.Counter
}

// task returns id's series.
func (m *metrics) task(id TaskID) *taskMetrics {
	c := &m.connect
	l := []string{id.Connector, strconv.Itoa(id.Task)}
	return &taskMetrics{c: c, labels: l, commitTime: c.commitTime.WithLabelValues(l...),
		batchSize: c.batchSize.WithLabelValues(l...), recordErrors: c.recordErrors.WithLabelValues(l...),
		recordFailures: c.recordFailures.WithLabelValues(l...), skipped: c.recordsSkipped.WithLabelValues(l...),
		retries: c.retries.WithLabelValues(l...), logged: c.errorsLogged.WithLabelValues(l...),
		dlqRequests: c.dlqRequests.WithLabelValues(l...), dlqFailures: c.dlqFailures.WithLabelValues(l...),
	}
}

// source resolves the series only source tasks have (Kafka Connect's
// source-task-metrics); sink those of sink tasks.
func (t *taskMetrics) source() {
	c, l := t.c, t.labels
	t.pollTotal, t.writeTotal = c.pollTotal.WithLabelValues(l...), c.writeTotal.WithLabelValues(l...)
	t.writeBytes = c.writeBytes.WithLabelValues(l...)
	t.active, t.pollTime = c.active.WithLabelValues(l...), c.pollTime.WithLabelValues(l...)
	t.active.Set(0) // a failed run's records in flight were abandoned
}

// sink: see source.
func (t *taskMetrics) sink() {
	c, l := t.c, t.labels
	t.readTotal, t.sendTotal = c.readTotal.WithLabelValues(l...), c.sendTotal.WithLabelValues(l...)
	t.readBytes = c.readBytes.WithLabelValues(l...)
	t.putTime = c.putTime.WithLabelValues(l...)
}

// forget removes the task's series (a task stopped cleanly; a failed task
// keeps them until it restarts, so its errors stay visible).
func (t *taskMetrics) forget() {
	if t == nil {
		return
	}
	// Every vector labelled by task, from the one list of them: a metric
	// added there is forgotten too. A vector without a task label (the
	// per-connector task count) matches nothing.
	task := prometheus.Labels{"connector": t.labels[0], "task": t.labels[1]}
	for _, c := range t.c.collectors() {
		if v, ok := c.(interface{ DeletePartialMatch(prometheus.Labels) int }); ok {
			v.DeletePartialMatch(task)
		}
	}
}

// polled records a source Poll of n records that took d.
func (t *taskMetrics) polled(n int, d time.Duration) {
	if t == nil {
		return
	}
	t.pollTime.Observe(d.Seconds())
	if n > 0 {
		t.pollTotal.Add(float64(n))
		t.active.Add(float64(n))
		t.batchSize.Observe(float64(n))
	}
}

// unwritten records that a polled record left the task without being
// written (dropped by a transform, skipped, failed).
func (t *taskMetrics) unwritten() {
	if t != nil {
		t.active.Dec()
	}
}

// wrote records that r, a polled record, left the task written (the broker
// acknowledged it): its count and bytes (one atomic add: the counter adds
// whole numbers without a CAS loop).
func (t *taskMetrics) wrote(r *kgo.Record) {
	if t == nil {
		return
	}
	t.active.Dec()
	t.writeTotal.Inc()
	t.writeBytes.Add(float64(recordBytes(r)))
}

// read records recs consumed for a sink task: their count and bytes, one
// add each per batch.
func (t *taskMetrics) read(recs []*kgo.Record) {
	if t == nil {
		return
	}
	n := 0
	for _, r := range recs {
		n += recordBytes(r)
	}
	t.readTotal.Add(float64(len(recs)))
	t.readBytes.Add(float64(n))
}

// recordBytes is the key, value and header bytes of r: what Kafka's
// clients count as a record's size, less its framing.
func recordBytes(r *kgo.Record) int {
	n := len(r.Key) + len(r.Value)
	for _, h := range r.Headers {
		n += len(h.Key) + len(h.Value)
	}
	return n
}

// put records a Put of n records that took d.
func (t *taskMetrics) put(n int, d time.Duration) {
	if t == nil {
		return
	}
	t.sendTotal.Add(float64(n))
	t.putTime.Observe(d.Seconds())
	t.batchSize.Observe(float64(n))
}

// committed records an offset flush (a source's) or commit (a sink's, which
// also counts a completion) that started at start; err nil is a success.
func (t *taskMetrics) committed(start time.Time, err error, sink bool) {
	if t == nil {
		return
	}
	t.commitTime.Observe(time.Since(start).Seconds())
	if err != nil {
		t.c.commitFailure.WithLabelValues(t.labels...).Inc()
		return
	}
	t.c.commitSuccess.WithLabelValues(t.labels...).Inc()
	if sink {
		t.c.commitCompletion.WithLabelValues(t.labels...).Inc()
	}
}

// commitSkipped records a sink commit that had nothing to commit.
func (t *taskMetrics) commitSkipped() {
	if t != nil {
		t.c.commitSkip.WithLabelValues(t.labels...).Inc()
	}
}

// stageError records a record that failed stage in class.
func (t *taskMetrics) stageError(stage, class string) {
	if t == nil {
		return
	}
	t.recordErrors.Inc()
	t.c.stageErrors.WithLabelValues(t.labels[0], t.labels[1], stage, class).Inc()
}

// setTaskState moves a task's state gauges from prev to state ("" for
// none).
func (m *metrics) setTaskState(id TaskID, prev, state string) {
	task := strconv.Itoa(id.Task)
	if prev != "" {
		m.taskStates.WithLabelValues(id.Connector, prev).Dec()
		m.connect.connTaskCount.WithLabelValues(id.Connector, strings.ToLower(prev)).Dec()
		m.connect.taskStatus.DeleteLabelValues(id.Connector, task, strings.ToLower(prev))
	}
	if state != "" {
		m.taskStates.WithLabelValues(id.Connector, state).Inc()
		m.connect.connTaskCount.WithLabelValues(id.Connector, strings.ToLower(state)).Inc()
		m.connect.taskStatus.WithLabelValues(id.Connector, task, strings.ToLower(state)).Set(1)
	}
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
		connect:  newConnectMetrics(),
	}
	if reg != nil {
		reg.MustRegister(m.polled, m.produced, m.consumed, m.put, m.recordErrors, m.dlqRecords, m.offsetCommits, m.offsetFailures, m.taskStates, m.taskStarts,
			m.groupLeader, m.groupGen, m.rebalances, m.buffered)
		reg.MustRegister(m.connect.collectors()...)
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

// DescribeMetrics registers on reg the metrics a worker exports, without
// running one: for checks that dashboards and documents query only those
// (metricnames.Recorder).
func DescribeMetrics(reg prometheus.Registerer) { newMetrics(reg) }
