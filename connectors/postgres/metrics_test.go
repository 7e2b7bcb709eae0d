package postgres

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connectors/debezium"
)

// TestMetricsMove: a snapshot sets its table's rows read and estimated; a
// streamed change sets the time behind the source (the gauge and the
// task's SourceLag, as the MySQL connector's); the stream's status updates
// report the slot's lag.
func TestMetricsMove(t *testing.T) {
	e := startPG(t)
	e.exec(t, "CREATE TABLE metered (id int PRIMARY KEY)",
		"INSERT INTO metered SELECT generate_series(1, 500)", "ANALYZE metered")
	w := &fakeWorker{}
	task := startTask(t, w, e.props(map[string]string{KeyTopicPrefix: "msrv", KeyTableInclude: "public.metered",
		KeySlotName: "metered", KeyStatusInterval: "50"}))
	pollUntil(t, task, w, 60*time.Second, func(r []*connect.Record) bool { return len(r) >= 500 })
	if v := testutil.ToFloat64(debezium.SnapshotRowsRead.WithLabelValues("msrv", "public.metered")); v != 500 {
		t.Errorf("penstock_snapshot_rows_read = %v, want 500", v)
	}
	if v := testutil.ToFloat64(debezium.SnapshotRowsEstimated.WithLabelValues("msrv", "public.metered")); v != 500 {
		t.Errorf("penstock_snapshot_rows_estimated = %v, want 500", v)
	}
	lag := debezium.SourceLagSeconds.WithLabelValues("msrv")
	lag.Set(-1)
	e.exec(t, "INSERT INTO metered VALUES (501)")
	pollUntil(t, task, w, 60*time.Second, func(r []*connect.Record) bool { return len(r) >= 501 })
	if v := testutil.ToFloat64(lag); v < 0 || v > 60 {
		t.Errorf("penstock_cdc_source_lag_seconds = %v after a streamed change", v)
	}
	if behind := task.SourceLag().Behind; behind < 0 || behind > time.Minute {
		t.Errorf("SourceLag().Behind = %v after a streamed change", behind)
	}
	slot := slotLagBytes.WithLabelValues("msrv", "metered")
	slot.Set(-1)
	deadline := time.Now().Add(30 * time.Second)
	for testutil.ToFloat64(slot) < 0 {
		if time.Now().After(deadline) {
			t.Fatal("penstock_postgres_slot_lag_bytes never set")
		}
		time.Sleep(20 * time.Millisecond)
	}
}
