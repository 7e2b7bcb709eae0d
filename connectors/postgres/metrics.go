package postgres

import (
	"github.com/penstockhq/penstock/connectors/debezium"
	"github.com/prometheus/client_golang/prometheus"
)

var (
	slotLagBytes = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "penstock_postgres_slot_lag_bytes",
		Help: "WAL bytes between the server's current position and the slot's confirmed flush LSN: what the server keeps for the connector.",
	}, []string{"server", "slot"})
	snapshotRowsRead = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "penstock_postgres_snapshot_rows_read",
		Help: "Rows of a table read by the running or last snapshot.",
	}, []string{"server", "table"})
	snapshotRowsEstimated = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "penstock_postgres_snapshot_rows_estimated",
		Help: "The planner's row estimate (pg_class.reltuples) of a snapshotted table.",
	}, []string{"server", "table"})
)

// Collectors returns the connector's Prometheus metrics. They are registered
// with prometheus.DefaultRegisterer when the package loads; a runtime with
// its own registry registers them there.
func Collectors() []prometheus.Collector {
	return []prometheus.Collector{slotLagBytes, snapshotRowsRead, snapshotRowsEstimated}
}

func init() {
	for _, c := range Collectors() {
		_ = prometheus.DefaultRegisterer.Register(c)
	}
}

// TableProgress is one table's snapshot progress; Table is schema.table and
// Estimated is pg_class.reltuples at the start (-1 when never analyzed).
type TableProgress = debezium.TableProgress
