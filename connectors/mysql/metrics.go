package mysql

import (
	"github.com/penstockhq/penstock/connectors/debezium"
)

// Snapshot progress and the binlog lag are the shared CDC metrics
// (debezium.SnapshotRowsRead, debezium.SnapshotRowsEstimated,
// debezium.SourceLagSeconds from binlog event timestamps).
var (
	snapshotRowsRead      = debezium.SnapshotRowsRead
	snapshotRowsEstimated = debezium.SnapshotRowsEstimated
	streamLagSeconds      = debezium.SourceLagSeconds
)

// TableProgress is one table's snapshot progress; Table is database.table
// and Estimated information_schema.TABLES.TABLE_ROWS at the start (an
// estimate for InnoDB).
type TableProgress = debezium.TableProgress
