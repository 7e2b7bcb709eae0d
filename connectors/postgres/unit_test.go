package postgres

import (
	"encoding/json"
	"math"
	"reflect"
	"testing"

	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connectors/debezium"
	names "github.com/penstockhq/penstock/internal/debeziumnames"
)

func testSettings(t testing.TB, extra map[string]string) *settings {
	t.Helper()
	props := map[string]string{KeyHostname: "h", KeyUser: "u", KeyDBName: "d", KeyTopicPrefix: "srv"}
	for k, v := range extra {
		props[k] = v
	}
	s, err := parseSettings(props)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The configs of Debezium's PostgreSQL tutorial and documentation parse verbatim.
func TestDebeziumTutorialConfig(t *testing.T) {
	tutorial := `{
  "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
  "tasks.max": "1",
  "database.hostname": "postgres",
  "database.port": "5432",
  "database.user": "postgres",
  "database.password": "postgres",
  "database.dbname" : "postgres",
  "topic.prefix": "dbserver1",
  "schema.include.list": "inventory"
}`
	docs := `{
  "connector.class": "io.debezium.connector.postgresql.PostgresConnector",
  "database.hostname": "192.168.99.100",
  "database.port": "5432",
  "database.user": "postgres",
  "database.password": "postgres",
  "database.dbname" : "postgres",
  "topic.prefix": "fulfillment",
  "table.include.list": "public.inventory",
  "plugin.name": "pgoutput",
  "slot.name": "debezium",
  "publication.autocreate.mode": "filtered",
  "snapshot.mode": "initial",
  "tombstones.on.delete": "true",
  "decimal.handling.mode": "precise",
  "heartbeat.interval.ms": "10000"
}`
	for _, raw := range []string{tutorial, docs} {
		var props map[string]string
		if err := json.Unmarshal([]byte(raw), &props); err != nil {
			t.Fatal(err)
		}
		if _, err := ConfigDef().Parse(props); err != nil {
			t.Fatalf("Parse: %v", err)
		}
		if _, err := parseSettings(props); err != nil {
			t.Fatalf("settings: %v", err)
		}
	}
}

func TestConfigErrors(t *testing.T) {
	for name, props := range map[string]map[string]string{
		"no prefix":    {KeyHostname: "h", KeyUser: "u", KeyDBName: "d"},
		"bad plugin":   {KeyHostname: "h", KeyUser: "u", KeyDBName: "d", KeyTopicPrefix: "p", KeyPluginName: "decoderbufs"},
		"bad regex":    {KeyHostname: "h", KeyUser: "u", KeyDBName: "d", KeyTopicPrefix: "p", KeyTableInclude: "a("},
		"both lists":   {KeyHostname: "h", KeyUser: "u", KeyDBName: "d", KeyTopicPrefix: "p", KeyTableInclude: "a", KeyTableExclude: "b"},
		"bad snapshot": {KeyHostname: "h", KeyUser: "u", KeyDBName: "d", KeyTopicPrefix: "p", KeySnapshotMode: "sometimes"},
		"bad key cols": {KeyHostname: "h", KeyUser: "u", KeyDBName: "d", KeyTopicPrefix: "p", KeyMessageKeyCols: "public.t"},
		"tx metadata":  {KeyHostname: "h", KeyUser: "u", KeyDBName: "d", KeyTopicPrefix: "p", KeyTxMetadata: "true"},
	} {
		if _, err := parseSettings(props); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestFilter(t *testing.T) {
	s := testSettings(t, map[string]string{KeySchemaInclude: "inv.*", KeyColumnExclude: `inventory\.customers\.email`})
	cases := []struct {
		schema, table string
		want          bool
	}{{"inventory", "customers", true}, {"public", "x", false}, {"pg_catalog", "pg_class", false}, {"xinventory", "a", false}}
	for _, c := range cases {
		if got := s.filter.Table(c.schema, c.table); got != c.want {
			t.Errorf("table(%s.%s) = %v", c.schema, c.table, got)
		}
	}
	if s.filter.Column("inventory", "customers", "email") || !s.filter.Column("inventory", "customers", "name") {
		t.Error("column filter")
	}
	s = testSettings(t, map[string]string{KeyTableInclude: `public\.a,public\.b.*`, KeyMessageKeyCols: `public\.a:x,y;public\.b.*:z`})
	if !s.filter.Table("public", "a") || s.filter.Table("public", "ab") || !s.filter.Table("public", "bc") {
		t.Error("table include")
	}
	if got := s.keyColumnsFor("public", "a"); !reflect.DeepEqual(got, []string{"x", "y"}) {
		t.Errorf("key columns = %v", got)
	}
	if got := s.keyColumnsFor("public", "b1"); !reflect.DeepEqual(got, []string{"z"}) {
		t.Errorf("key columns = %v", got)
	}
}

func decodeWith(t *testing.T, c codec, text string) any {
	t.Helper()
	v, err := c.decode([]byte(text))
	if err != nil {
		t.Fatalf("decode %q: %v", text, err)
	}
	if err := c.schema.Validate(v); err != nil && v != nil {
		t.Fatalf("decode %q: value %#v does not match schema %s: %v", text, v, c.schema, err)
	}
	return v
}

func TestTypeMapping(t *testing.T) {
	s := testSettings(t, nil)
	tm := &typeMap{byOID: map[uint32]*pgType{
		1007:  {oid: 1007, name: "_int4", category: 'A', elem: oidInt4},
		1009:  {oid: 1009, name: "_text", category: 'A', elem: oidText},
		50000: {oid: 50000, name: "mood", typtype: 'e', labels: []string{"sad", "ok", "happy"}},
		50001: {oid: 50001, name: "posint", typtype: 'd', base: oidInt4, typmod: -1},
	}}
	num := func(p, sc int32) int32 { return (p<<16 | sc) + 4 }
	cases := []struct {
		oid    uint32
		typmod int32
		text   string
		name   string
		want   any
	}{
		{oidBool, -1, "t", "", true},
		{oidInt2, -1, "-32768", "", int16(-32768)},
		{oidInt4, -1, "2147483647", "", int32(2147483647)},
		{oidInt8, -1, "-9223372036854775808", "", int64(math.MinInt64)},
		{oidFloat4, -1, "1.5", "", float32(1.5)},
		{oidFloat8, -1, "-Infinity", "", math.Inf(-1)},
		{oidText, -1, "héllo", "", "héllo"},
		{oidBytea, -1, `\x00ff10`, "", []byte{0, 0xff, 0x10}},
		{oidDate, -1, "2024-03-01", names.Date, int32(19783)},
		{oidDate, -1, "1969-12-31", names.Date, int32(-1)},
		{oidTime, -1, "13:14:15.123456", names.MicroTime, int64(47655123456)},
		{oidTime, 3, "13:14:15.123", names.Time, int32(47655123)},
		{oidTimestamp, -1, "2024-03-01 00:00:01.5", names.MicroTimestamp, int64(1709251201500000)},
		{oidTimestamp, 3, "2024-03-01 00:00:01.5", names.Timestamp, int64(1709251201500)},
		{oidTimestamp, -1, "1969-12-31 23:59:59.999999", names.MicroTimestamp, int64(-1)},
		{oidTimestamptz, -1, "2024-03-01 01:00:01.25+01", names.ZonedTimestamp, "2024-03-01T00:00:01.25Z"},
		{oidTimestamptz, -1, "2024-03-01 00:00:00+00", names.ZonedTimestamp, "2024-03-01T00:00:00Z"},
		{oidTimetz, -1, "10:15:30+02", names.ZonedTime, "08:15:30Z"},
		{oidInterval, -1, "1 day 02:00:00", names.MicroDuration, int64(26 * 3600 * 1e6)},
		{oidInterval, -1, "1 mon -00:00:01", names.MicroDuration, int64(30.4375*86400e6) - 1e6},
		{oidInterval, -1, "1 year", names.MicroDuration, int64(365.25 * 86400e6)},
		{oidUUID, -1, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", names.UUID, "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"},
		{oidJSONB, -1, `{"a": 1}`, names.JSON, `{"a": 1}`},
		{50000, -1, "ok", names.Enum, "ok"},
		{50001, -1, "7", "", int32(7)},
		{1007, -1, "{1,NULL,3}", "", []any{int32(1), nil, int32(3)}},
		{1009, -1, `{a,"b c","d\"e",NULL,"NULL"}`, "", []any{"a", "b c", `d"e`, nil, "NULL"}},
		{12345678, -1, "(1,2)", "", "(1,2)"},
	}
	for _, c := range cases {
		cd := s.codecFor(tm, c.oid, c.typmod)
		if cd.schema.Name != c.name {
			t.Errorf("oid %d: schema name %q, want %q", c.oid, cd.schema.Name, c.name)
		}
		got := decodeWith(t, cd, c.text)
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("oid %d %q: got %#v, want %#v", c.oid, c.text, got, c.want)
		}
	}
	if p := s.codecFor(tm, 50000, -1).schema.Parameters["allowed"]; p != "sad,ok,happy" {
		t.Errorf("enum allowed = %q", p)
	}

	// Numeric in its three modes.
	d := decodeWith(t, s.codecFor(tm, oidNumeric, num(10, 2)), "-12.5").(connect.Decimal)
	if d.String() != "-12.50" {
		t.Errorf("numeric(10,2) = %s", d)
	}
	if sc := s.codecFor(tm, oidNumeric, num(10, 2)).schema; sc.Name != connect.DecimalName || sc.Parameters["scale"] != "2" {
		t.Errorf("numeric(10,2) schema %v", sc)
	}
	vs := decodeWith(t, s.codecFor(tm, oidNumeric, -1), "123.456").(*connect.Struct)
	if u, sc := unscaledBig(vs); u.Int64() != 123456 || sc != 3 {
		t.Errorf("variable scale decimal = %v %d", u, sc)
	}
	if v := decodeWith(t, s.codecFor(tm, oidNumeric, -1), "NaN"); v != nil {
		t.Errorf("NaN = %v", v)
	}
	sd := testSettings(t, map[string]string{KeyDecimalMode: "double"})
	if v := decodeWith(t, sd.codecFor(tm, oidNumeric, -1), "1.25"); v != 1.25 {
		t.Errorf("double mode = %v", v)
	}
	ss := testSettings(t, map[string]string{KeyDecimalMode: "string", KeyBinaryMode: "hex"})
	if v := decodeWith(t, ss.codecFor(tm, oidNumeric, -1), "1.250"); v != "1.250" {
		t.Errorf("string mode = %v", v)
	}
	if v := decodeWith(t, ss.codecFor(tm, oidBytea, -1), `\xcafe`); v != "cafe" {
		t.Errorf("hex bytea = %v", v)
	}
	if v := decodeWith(t, s.codecFor(tm, oidMoney, -1), "-$1,234.50"); v.(connect.Decimal).String() != "-1234.50" {
		t.Errorf("money = %v", v)
	}
	// Unavailable placeholders follow the physical type.
	if s.codecFor(tm, oidText, -1).unavailable != "__debezium_unavailable_value" {
		t.Error("text placeholder")
	}
	if !reflect.DeepEqual(s.codecFor(tm, oidBytea, -1).unavailable, []byte("__debezium_unavailable_value")) {
		t.Error("bytea placeholder")
	}
	if s.codecFor(tm, oidNumeric, -1).unavailable != nil {
		t.Error("numeric placeholder")
	}
}

func TestNumericTypmod(t *testing.T) {
	p, s, ok := numericTypmod((12<<16 | 4) + 4)
	if !ok || p != 12 || s != 4 {
		t.Fatal(p, s, ok)
	}
	// numeric(3,-2) in PostgreSQL 15: scale stored as 11-bit two's complement.
	p, s, ok = numericTypmod((3<<16 | (0x7fe)) + 4)
	if !ok || p != 3 || s != -2 {
		t.Fatal(p, s, ok)
	}
	if _, _, ok := numericTypmod(-1); ok {
		t.Fatal("unconstrained")
	}
}

func TestCopyParser(t *testing.T) {
	var rows [][]string
	p := &copyParser{row: func(kinds []byte, data [][]byte) error {
		var r []string
		for i, k := range kinds {
			if k == kindNull {
				r = append(r, "<null>")
			} else {
				r = append(r, string(data[i]))
			}
		}
		rows = append(rows, r)
		return nil
	}}
	input := "1\ta\\tb\t\\N\n2\tline\\nbreak\\\\x\t\\x41\\101\n3\t\t"
	// Feed in awkward pieces.
	for _, piece := range []string{input[:5], input[5:17], input[17:]} {
		if _, err := p.Write([]byte(piece)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := p.Write([]byte("z\n")); err != nil {
		t.Fatal(err)
	}
	if err := p.finish(); err != nil {
		t.Fatal(err)
	}
	want := [][]string{{"1", "a\tb", "<null>"}, {"2", "line\nbreak\\x", "AA"}, {"3", "", "z"}}
	if !reflect.DeepEqual(rows, want) {
		t.Fatalf("rows = %q", rows)
	}
}

func TestInterpretOffset(t *testing.T) {
	if st := interpretOffset(nil); st.present || st.snapshotComplete {
		t.Fatal("nil offset")
	}
	st := interpretOffset(map[string]any{"lsn": float64(100), "snapshot": true, "last_snapshot_record": false})
	if !st.present || st.snapshotComplete {
		t.Fatal("mid-snapshot offset")
	}
	st = interpretOffset(map[string]any{"lsn": json.Number("500"), "lsn_proc": int64(400), "lsn_commit": "600", "tx_event": 3})
	if !st.snapshotComplete || st.resume.start != 400 || st.resume.commit != 600 || st.resume.skip != 3 {
		t.Fatalf("resume = %+v", st.resume)
	}
	// A Debezium offset: restart at lsn_proc.
	st = interpretOffset(map[string]any{"lsn": int64(900), "lsn_proc": int64(900), "lsn_commit": int64(900), "txId": 7})
	if st.resume.start != 900 || st.resume.commit != 0 {
		t.Fatalf("debezium resume = %+v", st.resume)
	}
}

func TestConfirmable(t *testing.T) {
	// Inside a transaction, first or last record alike: its commit LSN,
	// which the restart's comparison with the slot derives the same way.
	for _, ev := range []int64{2, 3} {
		off := map[string]any{"lsn_proc": int64(400), "lsn_commit": int64(600), "tx_event": ev}
		if got := confirmable(off); got != 600 {
			t.Fatalf("record %d of the transaction: %d, want its commit 600", ev, got)
		}
		if got := interpretOffset(off).through; got != 600 {
			t.Fatalf("record %d: stored offset covers %d, want 600", ev, got)
		}
	}
	if got := confirmable(map[string]any{"lsn": int64(900), "lsn_proc": int64(900), "txId": 7}); got != 900 {
		t.Fatalf("heartbeat: %d", got)
	}
	// A Debezium offset inside a transaction: Debezium confirms lsn_commit.
	if got := interpretOffset(map[string]any{"lsn": int64(950), "lsn_proc": int64(900), "lsn_commit": int64(1000)}).through; got != 1000 {
		t.Fatalf("Debezium offset covers %d, want its lsn_commit 1000", got)
	}
	if got := confirmable(map[string]any{"lsn": int64(100), "snapshot": true}); got != 0 {
		t.Fatalf("snapshot: %d", got)
	}
}

func TestSourceSchemaShape(t *testing.T) {
	want := []string{"version", "connector", "name", "ts_ms", "snapshot", "db", "sequence", "ts_us", "ts_ns", "schema", "table", "txId", "lsn", "xmin"}
	for i, f := range sourceSchema.Fields {
		if f.Name != want[i] {
			t.Fatalf("field %d = %s, want %s", i, f.Name, want[i])
		}
	}
}

func TestFastPaths(t *testing.T) {
	for _, in := range []string{"2024-03-01 00:00:01.25+00", "2024-03-01 00:00:00+00", "1999-12-31 23:59:59.999999+00"} {
		fast, _ := decodeTimestamptz([]byte(in))
		us, _ := parseTimestampMicros(in[:len(in)-3])
		if slow := debezium.FormatZonedTimestamp(us); fast != slow {
			t.Errorf("%s: fast %v, slow %v", in, fast, slow)
		}
	}
	for _, c := range []struct {
		in    string
		scale int32
		want  string
		ok    bool
	}{{"1.5", 2, "1.50", true}, {"-0.01", 2, "-0.01", true}, {"12", 0, "12", true}, {"1.234", 2, "", false}, {"1e5", 0, "", false}} {
		d, ok := fastDecimal([]byte(c.in), c.scale)
		if ok != c.ok || (ok && d.String() != c.want) {
			t.Errorf("%s: %v %v", c.in, d, ok)
		}
	}
}
