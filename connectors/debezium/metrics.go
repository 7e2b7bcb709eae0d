package debezium

import "github.com/prometheus/client_golang/prometheus"

// The CDC connectors' shared metrics, labelled by server (topic.prefix):
// snapshot progress per table and how far the stream is behind the source
// (Debezium's RowsScanned and MilliSecondsBehindSource MBean attributes).
// Connector-specific ones (the PostgreSQL slot's lag in bytes) stay in their
// package.
var (
	// SnapshotRowsRead is the rows of a table the running or last snapshot read.
	SnapshotRowsRead = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "penstock_snapshot_rows_read",
		Help: "Rows of a table read by the running or last snapshot (Debezium's RowsScanned).",
	}, []string{"server", "table"})
	// SnapshotRowsEstimated is the server's row estimate of a snapshotted table.
	SnapshotRowsEstimated = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "penstock_snapshot_rows_estimated",
		Help: "The server's row estimate of a snapshotted table (PostgreSQL pg_class.reltuples, MySQL information_schema.TABLES.TABLE_ROWS).",
	}, []string{"server", "table"})
	// SourceLagSeconds is how far the stream is behind the source.
	SourceLagSeconds = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "penstock_cdc_source_lag_seconds",
		Help: "Seconds between the source's timestamp of the last change event read (commit or binlog event time) and the time it was read (Debezium's MilliSecondsBehindSource).",
	}, []string{"server"})
)

// Collectors returns the shared CDC metrics. They are registered with
// prometheus.DefaultRegisterer when the package loads; a runtime with its own
// registry registers them there too.
func Collectors() []prometheus.Collector {
	return []prometheus.Collector{SnapshotRowsRead, SnapshotRowsEstimated, SourceLagSeconds}
}

func init() {
	for _, c := range Collectors() {
		_ = prometheus.DefaultRegisterer.Register(c)
	}
}
