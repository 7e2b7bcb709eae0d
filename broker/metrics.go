package broker

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the broker's Prometheus metrics (Config.Metrics).
type metrics struct {
	storageErrors prometheus.Counter
}

func newMetrics(s *Server, reg prometheus.Registerer) *metrics {
	m := &metrics{
		storageErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "penstock_broker_storage_errors_total",
			Help: "Write and fsync errors that took a partition log offline."}),
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
		reg.MustRegister(m.storageErrors, offline)
	}
	return m
}
