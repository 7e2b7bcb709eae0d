package mysql

import (
	"github.com/penstockhq/penstock/connectors/debezium"
	"github.com/prometheus/client_golang/prometheus"
)

var (
	streamLagSeconds = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "penstock_mysql_binlog_lag_seconds",
		Help: "Seconds between the timestamp of the last binlog event read and the time it was read.",
	}, []string{"server"})
	snapshotRowsRead = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "penstock_mysql_snapshot_rows_read",
		Help: "Rows of a table read by the running or last snapshot.",
	}, []string{"server", "table"})
	snapshotRowsEstimated = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "penstock_mysql_snapshot_rows_estimated",
		Help: "The server's row estimate (information_schema.TABLES.TABLE_ROWS) of a snapshotted table.",
	}, []string{"server", "table"})
)

// Collectors returns the connector's Prometheus metrics. They are registered
// with prometheus.DefaultRegisterer when the package loads; a runtime with
// its own registry registers them there.
func Collectors() []prometheus.Collector {
	return []prometheus.Collector{streamLagSeconds, snapshotRowsRead, snapshotRowsEstimated}
}

func init() {
	for _, c := range Collectors() {
		_ = prometheus.DefaultRegisterer.Register(c)
	}
}

// TableProgress is one table's snapshot progress; Table is database.table
// and Estimated information_schema.TABLES.TABLE_ROWS at the start (an
// estimate for InnoDB).
type TableProgress = debezium.TableProgress
