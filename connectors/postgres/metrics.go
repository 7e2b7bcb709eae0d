package postgres

import (
	"github.com/penstockhq/penstock/connectors/debezium"
	"github.com/prometheus/client_golang/prometheus"
)

// slotLagBytes is PostgreSQL's own; snapshot progress and the time behind
// the source (from commit timestamps) are the shared CDC metrics of
// connectors/debezium.
var slotLagBytes = prometheus.NewGaugeVec(prometheus.GaugeOpts{
	Name: "penstock_postgres_slot_lag_bytes",
	Help: "WAL bytes between the server's current position and the slot's confirmed flush LSN: what the server keeps for the connector.",
}, []string{"server", "slot"})

// Collectors returns the connector's own Prometheus metrics (the shared
// ones are debezium.Collectors). They are registered with
// prometheus.DefaultRegisterer when the package loads; a runtime with its
// own registry registers them there.
func Collectors() []prometheus.Collector {
	return []prometheus.Collector{slotLagBytes}
}

func init() {
	for _, c := range Collectors() {
		_ = prometheus.DefaultRegisterer.Register(c)
	}
}

// TableProgress is one table's snapshot progress; Table is schema.table and
// Estimated is pg_class.reltuples at the start (-1 when never analyzed).
type TableProgress = debezium.TableProgress
