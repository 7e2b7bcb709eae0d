package debezium

import (
	"fmt"
	"math/big"
	"testing"
	"time"

	"github.com/penstockhq/penstock/connect"
	names "github.com/penstockhq/penstock/internal/debeziumnames"
)

func TestValuesEqual(t *testing.T) {
	for _, c := range []struct {
		x, y any
		want bool
	}{
		{int64(5), int64(5), true}, {int64(5), int64(6), false}, {int64(5), int32(5), true},
		{"a", "a", true}, {"a", "b", false}, {int16(1), int16(1), true}, {true, false, false},
		{connect.Decimal{Unscaled: big.NewInt(15), Scale: 1}, connect.Decimal{Unscaled: big.NewInt(15), Scale: 1}, true},
		{nil, nil, true}, {nil, int64(0), false},
	} {
		if got := valuesEqual(c.x, c.y); got != c.want || got != (fmt.Sprint(c.x) == fmt.Sprint(c.y)) {
			t.Errorf("valuesEqual(%v, %v) = %v", c.x, c.y, got)
		}
	}
}

// mysqlSource is the source block of Debezium's MySQL connector, built as a
// MySQL connector would build it.
func mysqlSource() *Source {
	s := SourceSchema("io.debezium.connector.mysql.Source",
		connect.F("table", connect.OptionalStringSchema),
		connect.F("server_id", connect.Int64Schema),
		connect.F("gtid", connect.OptionalStringSchema),
		connect.F("file", connect.StringSchema),
		connect.F("pos", connect.Int64Schema),
		connect.F("row", connect.Int32Schema),
		connect.F("thread", connect.OptionalInt64Schema),
		connect.F("query", connect.OptionalStringSchema))
	return NewSource(s, "mysql", "0.1.0", "dbserver1")
}

func TestMySQLEventValidates(t *testing.T) {
	src := mysqlSource()
	want := []string{"version", "connector", "name", "ts_ms", "snapshot", "db", "sequence", "ts_us", "ts_ns",
		"table", "server_id", "gtid", "file", "pos", "row", "thread", "query"}
	for i, f := range src.Schema.Fields {
		if f.Name != want[i] {
			t.Fatalf("field %d = %s, want %s", i, f.Name, want[i])
		}
	}
	val := connect.NewStructSchema("dbserver1.inventory.orders.Value", connect.F("id", connect.Int32Schema))
	val.Optional = true
	env := EnvelopeSchema("dbserver1.inventory.orders", val, src.Schema)
	if env.Name != "dbserver1.inventory.orders.Envelope" || env.Version != 2 {
		t.Fatalf("envelope schema %s v%d", env.Name, env.Version)
	}
	ts := NewTimes(time.UnixMilli(1700000000123))
	b := src.New(ts, SnapshotFalse, "inventory")
	b.SetAt(SourceFields+0, "orders")
	b.SetAt(SourceFields+1, int64(223344))
	b.SetAt(SourceFields+3, "mysql-bin.000003")
	b.SetAt(SourceFields+4, int64(154))
	b.SetAt(SourceFields+5, int32(0))
	row := connect.NewStruct(val)
	row.SetAt(0, int32(7))
	e := connect.NewStruct(env)
	FillEnvelope(e, OpCreate, nil, row, b, ts)
	if err := e.Validate(); err != nil {
		t.Fatal(err)
	}
	if got := e.Get("source").(*connect.Struct).Get("ts_ms"); got != int64(1700000000123) {
		t.Fatalf("source.ts_ms = %v", got)
	}
	if e.Get("before") != nil || e.Get("op") != "c" {
		t.Fatalf("envelope %v", e)
	}
	rec := &connect.Record{Value: e}
	SetSnapshot(rec, SnapshotLast)
	if Snapshot(rec) != "last" || b.GetAt(SourceSnapshot) != "false" {
		t.Fatal("SetSnapshot must copy the shared source block")
	}
}

func TestHeartbeatAndTransactionRecords(t *testing.T) {
	now := time.UnixMilli(42)
	hb := Heartbeat(HeartbeatTopic(DefaultHeartbeatTopicsPrefix, "pg"), "pg", now)
	if hb.Topic != "__debezium-heartbeat.pg" || hb.Key.(*connect.Struct).Get("serverName") != "pg" ||
		hb.Value.(*connect.Struct).Get("ts_ms") != int64(42) {
		t.Fatalf("heartbeat %+v", hb)
	}
	end := TransactionEnd(TransactionTopic("pg"), "571:53195832", now,
		[]CollectionCount{{"public.a", 2}, {"public.b", 1}})
	v := end.Value.(*connect.Struct)
	if err := v.Validate(); err != nil {
		t.Fatal(err)
	}
	if end.Topic != "pg.transaction" || v.Get("status") != TxEnd || v.Get("event_count") != int64(3) {
		t.Fatalf("transaction end %v", v)
	}
	begin := TransactionBegin(TransactionTopic("pg"), "571:53195832", now)
	if err := begin.Value.(*connect.Struct).Validate(); err != nil || begin.Value.(*connect.Struct).Get("event_count") != nil {
		t.Fatalf("transaction begin %v %v", begin.Value, err)
	}
}

func TestTemporalModes(t *testing.T) {
	us := int64(-1500) // 1.5 ms before the epoch
	for _, c := range []struct {
		mode      string
		precision int
		name      string
		want      any
	}{
		{TimeAdaptive, 3, names.Timestamp, int64(-2)},
		{TimeAdaptive, 6, names.MicroTimestamp, us},
		{TimeAdaptiveMicroseconds, 3, names.Timestamp, int64(-2)},
		{TimeConnect, 6, connect.TimestampName, time.UnixMicro(us).UTC()},
	} {
		s, f := TimestampSchema(c.mode, c.precision)
		if s.Name != c.name || f(us) != c.want {
			t.Errorf("%s/%d: %s %v", c.mode, c.precision, s.Name, f(us))
		}
	}
	if s, f := TimeSchema(TimeAdaptive, 3); s.Name != names.Time || f(1500) != int32(1) {
		t.Errorf("adaptive time(3): %s", s.Name)
	}
	if s, _ := TimeSchema(TimeAdaptiveMicroseconds, 3); s.Name != names.MicroTime {
		t.Errorf("adaptive_time_microseconds time(3): %s", s.Name)
	}
	if got := FormatZonedTime(-1); got != "23:59:59.999999Z" {
		t.Errorf("FormatZonedTime(-1) = %s", got)
	}
	if got := MicroDuration(1, 1, 1); got != int64(365.25/12*86400e6)+86400e6+1 {
		t.Errorf("MicroDuration = %d", got)
	}
}

func TestPlaceholderAndHeader(t *testing.T) {
	if Placeholder(connect.StringSchema, "x") != "x" || Placeholder(connect.Int32Schema, "x") != nil ||
		Placeholder(connect.DecimalSchema(2), "x") != nil {
		t.Fatal("placeholder by type")
	}
	rec := &connect.Record{}
	AddUnavailableColumns(rec, nil)
	AddUnavailableColumns(rec, []string{"a", "b"})
	if h, ok := rec.Headers.Last(UnavailableColumnsHeader); !ok || h.Value != "a,b" || len(rec.Headers) != 1 {
		t.Fatalf("headers %v", rec.Headers)
	}
}
