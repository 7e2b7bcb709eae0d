package mysql

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connectors/debezium"
)

// TestMetricsMove: a snapshot sets its table's rows read and estimated; a
// streamed change sets the time behind the source (the binlog event's
// timestamp).
func TestMetricsMove(t *testing.T) {
	e := startMariaDB(t)
	e.exec(t, "CREATE TABLE metered (id INT PRIMARY KEY)",
		"INSERT INTO metered WITH RECURSIVE s(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < 300) SELECT n FROM s",
		"ANALYZE TABLE metered")
	w := &fakeWorker{}
	task := startTask(t, w, e.props(map[string]string{KeyTopicPrefix: "msrv"}))
	pollUntil(t, task, w, 60*time.Second, func(r []*connect.Record) bool {
		n := 0
		for _, rec := range r {
			if strings.HasSuffix(rec.Topic, ".metered") {
				n++
			}
		}
		return n >= 300
	})
	if v := testutil.ToFloat64(debezium.SnapshotRowsRead.WithLabelValues("msrv", "app.metered")); v != 300 {
		t.Errorf("penstock_snapshot_rows_read = %v, want 300", v)
	}
	if v := testutil.ToFloat64(debezium.SnapshotRowsEstimated.WithLabelValues("msrv", "app.metered")); v <= 0 {
		t.Errorf("penstock_snapshot_rows_estimated = %v, want InnoDB's estimate", v)
	}
	lag := debezium.SourceLagSeconds.WithLabelValues("msrv")
	lag.Set(-1)
	e.exec(t, "INSERT INTO metered VALUES (301)")
	pollUntil(t, task, w, 60*time.Second, func(r []*connect.Record) bool {
		for _, rec := range r {
			if k, ok := rec.Key.(*connect.Struct); ok && k.Get("id") == int32(301) {
				return true
			}
		}
		return false
	})
	if v := testutil.ToFloat64(lag); v < 0 || v > 60 {
		t.Errorf("penstock_cdc_source_lag_seconds = %v after a streamed change", v)
	}
}
