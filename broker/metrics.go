package broker

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// metrics are the broker's Prometheus metrics (Config.Metrics). Counters
// Kafka has take the names the Prometheus JMX exporter's usual Kafka rules
// give Kafka's MBeans (kafka_server_brokertopicmetrics_*, kafka_log_log_size)
// and group lag the name kafka_exporter gives it (kafka_consumergroup_lag),
// so existing dashboards read them; the rest are penstock_broker_*
// (docs/metrics.md).
type metrics struct {
	storageErrors prometheus.Counter
	bytesIn       *prometheus.CounterVec
	bytesOut      *prometheus.CounterVec
	messagesIn    *prometheus.CounterVec
	requests      *prometheus.HistogramVec
}

// requestBuckets are the request latency histogram's buckets, in seconds
// (0.1 ms to about 26 s).
var requestBuckets = prometheus.ExponentialBuckets(0.0001, 4, 10)

var (
	logSizeDesc = prometheus.NewDesc("kafka_log_log_size",
		"Bytes of a partition's log on disk (Kafka's kafka.log:type=Log,name=Size).", []string{"topic", "partition"}, nil)
	groupLagDesc = prometheus.NewDesc("kafka_consumergroup_lag",
		"Records between a group's committed offset and the partition's high watermark (kafka_exporter's name).",
		[]string{"consumergroup", "topic", "partition"}, nil)
	groupLagSumDesc = prometheus.NewDesc("kafka_consumergroup_lag_sum",
		"A group's lag summed over the partitions of a topic (kafka_exporter's name).", []string{"consumergroup", "topic"}, nil)
)

func newMetrics(s *Server, reg prometheus.Registerer) *metrics {
	topic := []string{"topic"}
	m := &metrics{
		storageErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "penstock_broker_storage_errors_total",
			Help: "Write and fsync errors that took a partition log offline."}),
		bytesIn: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kafka_server_brokertopicmetrics_bytesin_total",
			Help: "Record batch bytes produced to a topic and appended (Kafka's BytesInPerSec)."}, topic),
		bytesOut: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kafka_server_brokertopicmetrics_bytesout_total",
			Help: "Record batch bytes of a topic sent in fetch responses (Kafka's BytesOutPerSec)."}, topic),
		messagesIn: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "kafka_server_brokertopicmetrics_messagesin_total",
			Help: "Records produced to a topic and appended (Kafka's MessagesInPerSec)."}, topic),
		requests: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "penstock_broker_request_duration_seconds",
			Help:    "Time from a request read to its response written, by API (Kafka's RequestMetrics TotalTimeMs; delayed fetches and acks=all produces include their wait).",
			Buckets: requestBuckets}, []string{"request"}),
	}
	offline := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "penstock_broker_offline_partitions",
		Help: "Partitions offline after a storage error (KAFKA_STORAGE_ERROR until a restart recovers them)."},
		func() float64 {
			n := 0
			for _, t := range s.topicList() {
				for _, l := range t.partitions() {
					if l.Failed() != nil {
						n++
					}
				}
			}
			return float64(n)
		})
	if reg != nil {
		reg.MustRegister(m.storageErrors, offline, m.bytesIn, m.bytesOut, m.messagesIn, m.requests, &scrapeCollector{s})
	}
	return m
}

// produced counts a batch of n records and size bytes appended to topic.
func (m *metrics) produced(topic string, size int, n int64) {
	m.bytesIn.WithLabelValues(topic).Add(float64(size))
	m.messagesIn.WithLabelValues(topic).Add(float64(n))
}

// topicDeleted removes a deleted topic's series, as Kafka removes its
// BrokerTopicMetrics, so they do not pile up with every topic ever created.
func (m *metrics) topicDeleted(topic string) {
	m.bytesIn.DeleteLabelValues(topic)
	m.bytesOut.DeleteLabelValues(topic)
	m.messagesIn.DeleteLabelValues(topic)
}

// fetched counts the record bytes of a fetch response by topic.
func (m *metrics) fetched(s *Server, r *fetchResponse) {
	for i := range r.Topics {
		t := &r.Topics[i]
		var n int64
		for j := range t.Partitions {
			n += int64(len(t.Partitions[j].RecordBatches))
			if r.ranges != nil {
				n += r.ranges[i][j].Len
			}
		}
		if n == 0 {
			continue
		}
		m.bytesOut.WithLabelValues(s.topicName(t.Topic, t.TopicID)).Add(float64(n))
	}
}

// requestDone observes the latency of a request whose response was
// written (or dropped, for acks=0).
func (m *metrics) requestDone(p pending) {
	m.requests.WithLabelValues(kmsg.NameForKey(p.key)).Observe(time.Since(p.start).Seconds())
}

// scrapeCollector computes, at each scrape, the metrics read from the
// broker's state: log sizes and consumer group lag.
type scrapeCollector struct{ s *Server }

// Describe implements prometheus.Collector.
func (c *scrapeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- logSizeDesc
	ch <- groupLagDesc
	ch <- groupLagSumDesc
}

// Collect implements prometheus.Collector.
func (c *scrapeCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.s
	for _, t := range s.topicList() {
		for p, l := range t.partitions() {
			ch <- prometheus.MustNewConstMetric(logSizeDesc, prometheus.GaugeValue, float64(l.Size()), t.name, strconv.Itoa(p))
		}
	}
	if s.coord == nil || s.coord.groups == nil {
		return
	}
	type groupTopic struct{ group, topic string }
	sums := map[groupTopic]int64{}
	for _, o := range s.coord.groups.CommittedOffsets() {
		t := s.lookupTopic(o.Topic)
		if t == nil {
			continue
		}
		l := t.partition(o.Partition)
		if l == nil {
			continue
		}
		lag := max(l.HighWatermark()-o.Offset, 0)
		ch <- prometheus.MustNewConstMetric(groupLagDesc, prometheus.GaugeValue, float64(lag),
			o.Group, o.Topic, strconv.Itoa(int(o.Partition)))
		sums[groupTopic{o.Group, o.Topic}] += lag
	}
	for k, v := range sums {
		ch <- prometheus.MustNewConstMetric(groupLagSumDesc, prometheus.GaugeValue, float64(v), k.group, k.topic)
	}
}
