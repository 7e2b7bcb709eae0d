package blob

import (
	"context"
	"fmt"
	"testing"

	"github.com/penstockhq/penstock/connect"
)

// TestChangeLogRows writes Debezium change events with cdc.change.log=true:
// each becomes the row after the change (before it, for a delete) with its
// operation, source time and position beside it.
func TestChangeLogRows(t *testing.T) {
	row := connect.NewStructSchema("db.public.items.Value", connect.F("id", connect.Int32Schema), connect.F("name", connect.OptionalStringSchema))
	source := connect.NewStructSchema("io.debezium.connector.postgresql.Source",
		connect.F("ts_ms", connect.Int64Schema), connect.F("lsn", connect.OptionalInt64Schema))
	env := connect.NewStructSchema("db.public.items.Envelope",
		connect.F("before", connect.OptionalOf(row)), connect.F("after", connect.OptionalOf(row)),
		connect.F("source", source), connect.F("op", connect.StringSchema), connect.F("ts_ms", connect.OptionalInt64Schema))
	event := func(off int64, op string, id int32, name string) *connect.Record {
		r := connect.NewStruct(row)
		r.SetAt(0, id)
		r.SetAt(1, name)
		src := connect.NewStruct(source)
		src.SetAt(0, 1000+off)
		src.SetAt(1, 5000+off)
		e := connect.NewStruct(env)
		if op == "d" {
			e.SetAt(0, r)
		} else {
			e.SetAt(1, r)
		}
		e.SetAt(2, src)
		e.SetAt(3, op)
		e.SetAt(4, 2000+off)
		return &connect.Record{Topic: "t", Partition: 0, Offset: off, ValueSchema: env, Value: e}
	}
	dir := t.TempDir()
	ctx := context.Background()
	task := &Task{}
	if err := task.Start(ctx, &fakeTaskContext{}, map[string]string{StoreURLConfig: "file://" + dir, FormatConfig: "ParquetFormat",
		FlushSizeConfig: "4", ChangeLogConfig: "true", NullValuesConfig: "ignore"}); err != nil {
		t.Fatal(err)
	}
	defer task.Stop()
	recs := []*connect.Record{event(0, "r", 1, "a"), event(1, "c", 2, "b"), event(2, "u", 1, "a2"),
		{Topic: "t", Partition: 0, Offset: 3}, // the tombstone after a delete, ignored
		event(4, "d", 2, "b")}
	if err := task.Put(ctx, recs); err != nil {
		t.Fatal(err)
	}
	rows := duckdb(t, fmt.Sprintf(`SELECT string_agg(format('{}:{}:{}:{}:{}:{}', id, name, __op, __source_ts_ms, __source_pos, __ts_ms), ' ') AS r
		FROM read_parquet('%s/topics/t/partition=0/t+0+0000000000.snappy.parquet')`, dir))
	want := "1:a:r:1000:5000:2000 2:b:c:1001:5001:2001 1:a2:u:1002:5002:2002 2:b:d:1004:5004:2004"
	if rows[0]["r"] != want {
		t.Fatalf("rows %v, want %s", rows[0]["r"], want)
	}
}
