package blob

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/penstockhq/penstock/connect"
)

// TestSchemaCompatibility: with NONE every schema change closes the open
// objects; with BACKWARD a record of an older version is projected onto
// the open (newer) schema and a newer version closes them; FORWARD the
// other way round.
func TestSchemaCompatibility(t *testing.T) {
	v1 := connect.NewStructSchema("v", connect.F("id", connect.Int64Schema))
	v1.Version = 1
	v2 := connect.NewStructSchema("v", connect.F("id", connect.Int64Schema), connect.F("note", &connect.Schema{Type: connect.TypeString, Optional: true, Default: "none"}))
	v2.Version = 2
	rec := func(off int64, s *connect.Schema) *connect.Record {
		st := connect.NewStruct(s)
		st.SetAt(0, off)
		if s == v2 {
			st.SetAt(1, fmt.Sprint("n", off))
		}
		return &connect.Record{Topic: "t", Partition: 0, Offset: off, ValueSchema: s, Value: st}
	}
	for _, tc := range []struct {
		compat  string
		objects string // rows per object, in offset order
		reports int
	}{
		{CompatNone, "[0]=2 [2]=1 [3]=2 [5]=1", 0},
		{CompatBackward, "[0]=2 [2]=4", 0}, // v1,v1 | v2,v1→v2,v1→v2,v2
		{CompatFull, "[0]=2 [2]=4", 0},     // as BACKWARD
		{CompatForward, "[0]=6", 0},        // v2 records projected onto v1
	} {
		t.Run(tc.compat, func(t *testing.T) {
			dir := t.TempDir()
			ctx := context.Background()
			task := &Task{}
			tctx := &fakeTaskContext{tolerate: true}
			if err := task.Start(ctx, tctx, map[string]string{StoreURLConfig: "file://" + dir, FormatConfig: "ParquetFormat",
				FlushSizeConfig: "100", SchemaCompatConfig: tc.compat, RotateScheduleConfig: "1"}); err != nil {
				t.Fatal(err)
			}
			defer task.Stop()
			recs := []*connect.Record{rec(0, v1), rec(1, v1), rec(2, v2), rec(3, v1), rec(4, v1), rec(5, v2)}
			if err := task.Put(ctx, recs); err != nil {
				t.Fatal(err)
			}
			// rotate.schedule.interval.ms=1 closes what is open at PreCommit.
			time.Sleep(2 * time.Millisecond)
			if _, err := task.PreCommit(ctx, map[connect.TopicPartition]int64{{Topic: "t", Partition: 0}: 6}); err != nil {
				t.Fatal(err)
			}
			rows := duckdb(t, fmt.Sprintf(`SELECT string_agg(format('[{}]={}', start, n), ' ' ORDER BY start) AS o FROM (
				SELECT min(id) AS start, count(*) AS n FROM read_parquet('%s/topics/t/partition=0/*.parquet', filename=true, hive_partitioning=false, union_by_name=true) GROUP BY filename)`, dir))
			if rows[0]["o"] != tc.objects || len(tctx.reported) != tc.reports {
				t.Fatalf("objects %v, %d reported; want %s", rows[0]["o"], len(tctx.reported), tc.objects)
			}
		})
	}
}
