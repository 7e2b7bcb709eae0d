package mysql

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/internal/brokertest"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The schema model follows the DDL forms it handles: CREATE, ALTER (add,
// drop, modify, change, rename column; rename table), RENAME TABLE, DROP.
func TestSchemaModelAppliesDDL(t *testing.T) {
	m := newSchemaModel(true)
	steps := []struct{ sql, table, cols string }{
		{"CREATE TABLE t (id INT UNSIGNED NOT NULL, v VARCHAR(10) CHARACTER SET latin1, d DECIMAL(8,2), PRIMARY KEY (id)) DEFAULT CHARSET=utf8mb4", "app.t", "id int u !null,v varchar latin1,d decimal 8.2"},
		{"ALTER TABLE t ADD COLUMN x DATETIME(3) AFTER id, ADD COLUMN b VARBINARY(4) FIRST", "app.t", "b varbinary bin,id int u !null,x datetime fsp3,v varchar latin1,d decimal 8.2"},
		{"ALTER TABLE t DROP COLUMN v, MODIFY COLUMN d BIGINT NOT NULL", "app.t", "b varbinary bin,id int u !null,x datetime fsp3,d bigint !null"},
		{"ALTER TABLE t CHANGE COLUMN d e ENUM('a','b'), RENAME COLUMN x TO y", "app.t", "b varbinary bin,id int u !null,y datetime fsp3,e enum [a b]"},
		{"ALTER TABLE t ADD COLUMN j JSON, RENAME TO u", "app.u", "b varbinary bin,id int u !null,y datetime fsp3,e enum [a b],j longtext"},
		{"RENAME TABLE u TO other.w", "other.w", "b varbinary bin,id int u !null,y datetime fsp3,e enum [a b],j longtext"},
	}
	for _, s := range steps {
		if _, _, err := m.apply("app", s.sql); err != nil {
			t.Fatalf("%s: %v", s.sql, err)
		}
		d := m.tables[s.table]
		if d == nil || len(m.tables) != 1 {
			t.Fatalf("after %s: tables %v", s.sql, m.tables)
		}
		if got := describeDef(d); got != s.cols {
			t.Fatalf("after %s:\n got %s\nwant %s", s.sql, got, s.cols)
		}
		// The history's description reads back to the same definition.
		if back := describeDef(historyTableOf(d).defOf(d.db, d.name)); back != s.cols {
			t.Fatalf("history round trip after %s:\n got %s\nwant %s", s.sql, back, s.cols)
		}
	}
	if _, _, err := m.apply("app", "DROP TABLE IF EXISTS other.w, nothere"); err != nil || len(m.tables) != 0 {
		t.Fatalf("drop: %v %v", err, m.tables)
	}
	_, need, err := m.apply("app", "CREATE TABLE s AS SELECT 1 AS a")
	if err != nil || len(need) != 1 || need[0] != [2]string{"app", "s"} {
		t.Fatalf("CREATE ... SELECT: need %v, err %v", need, err)
	}
}

func describeDef(d *tableDef) string {
	var parts []string
	for _, c := range d.cols {
		p := c.name + " " + c.dataType
		if c.unsigned {
			p += " u"
		}
		if !c.nullable {
			p += " !null"
		}
		if c.binary {
			p += " bin"
		}
		if c.charset == "latin1" {
			p += " latin1"
		}
		if c.dataType == "decimal" {
			p += " " + strconv.Itoa(c.precision) + "." + strconv.Itoa(c.scale)
		}
		if c.fsp > 0 {
			p += " fsp" + strconv.Itoa(c.fsp)
		}
		if len(c.values) > 0 {
			p += " [" + strings.Join(c.values, " ") + "]"
		}
		parts = append(parts, p)
	}
	return strings.Join(parts, ",")
}

// logCapture collects the default logger's output while a test runs.
type logCapture struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logCapture) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *logCapture) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func captureLog(t *testing.T) *logCapture {
	l := &logCapture{}
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(l, nil)))
	t.Cleanup(func() { slog.SetDefault(prev) })
	return l
}

// With binlog_row_metadata=MINIMAL, a connector stopped while DDL and DML
// interleave describes each row, once restarted, with the columns of its
// time, from the schema history; with the history topic deleted it starts
// anyway, rebuilding the history from the current schema with a warning.
func TestSchemaHistoryAcrossRestart(t *testing.T) {
	logs := captureLog(t)
	e := startMariaDB(t)
	e.exec(t, "SET GLOBAL binlog_row_metadata = MINIMAL",
		"CREATE TABLE items (id INT PRIMARY KEY, v INT NOT NULL, note VARCHAR(40))")
	b := brokertest.Start(t)
	props := e.props(map[string]string{KeyHistoryTopic: "srv-history", KeyHistoryServers: b.Addr})
	w := &fakeWorker{}
	task := startTask(t, w, props)
	pollUntil(t, task, w, 30*time.Second, func([]*connect.Record) bool { return strings.Contains(logs.String(), "streaming started") })
	e.exec(t, "INSERT INTO items VALUES (1, 1, 'a')")
	recs := pollUntil(t, task, w, 30*time.Second, func(r []*connect.Record) bool { return hasKey(r, "srv.app.items", int32(1)) })
	w.store(recs[len(recs)-1])
	if err := task.Stop(); err != nil {
		t.Fatal(err)
	}

	e.exec(t, "ALTER TABLE items ADD COLUMN extra VARCHAR(10) DEFAULT 'x'",
		"INSERT INTO items (id, v, note, extra) VALUES (2, 2, 'b', 'e2')",
		"ALTER TABLE items DROP COLUMN note",
		"INSERT INTO items (id, v, extra) VALUES (3, 3, 'e3')",
		"ALTER TABLE items RENAME COLUMN v TO w",
		"INSERT INTO items (id, w, extra) VALUES (4, 4, 'e4')")
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(logs.String())
		}
	})
	w2 := &fakeWorker{stored: w.stored}
	task2 := startTask(t, w2, props)
	got := pollUntil(t, task2, w2, 30*time.Second, func(r []*connect.Record) bool { return hasKey(r, "srv.app.items", int32(4)) })
	want := map[int32]string{2: "id=2 v=2 note=b extra=e2", 3: "id=3 v=3 extra=e3", 4: "id=4 w=4 extra=e4"}
	var last *connect.Record
	for _, r := range topicRecords(got, "srv.app.items") {
		id := r.Key.(*connect.Struct).Get("id").(int32)
		if want[id] == "" {
			continue
		}
		if s := afterString(r); s != want[id] {
			t.Errorf("row %d: %s, want %s", id, s, want[id])
		}
		delete(want, id)
		last = r
	}
	if len(want) > 0 {
		t.Fatalf("rows missing: %v\n%s", want, logs.String())
	}
	if strings.Contains(logs.String(), "level=WARN") {
		t.Fatalf("warnings with a complete history:\n%s", logs.String())
	}

	// The history topic lost: the connector starts, warns, and carries on.
	w2.store(last)
	if err := task2.Stop(); err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	if _, err := kadm.NewClient(cl).DeleteTopics(context.Background(), "srv-history"); err != nil {
		t.Fatal(err)
	}
	w3 := &fakeWorker{stored: w2.stored}
	task3 := startTask(t, w3, props)
	e.exec(t, "INSERT INTO items (id, w, extra) VALUES (5, 5, 'e5')")
	got = pollUntil(t, task3, w3, 30*time.Second, func(r []*connect.Record) bool { return hasKey(r, "srv.app.items", int32(5)) })
	if s := afterString(got[len(got)-1]); s != "id=5 w=5 extra=e5" {
		t.Fatalf("row 5 after the rebuild: %s", s)
	}
	if !strings.Contains(logs.String(), "schema history topic is missing or empty: rebuilt from the current schema") {
		t.Fatalf("no warning about the rebuilt history:\n%s", logs.String())
	}

	// A corrupt record: the same.
	w3.store(got[len(got)-1])
	if err := task3.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := cl.ProduceSync(context.Background(), &kgo.Record{Topic: "srv-history", Value: []byte("not json")}).FirstErr(); err != nil {
		t.Fatal(err)
	}
	w4 := &fakeWorker{stored: w3.stored}
	task4 := startTask(t, w4, props)
	e.exec(t, "INSERT INTO items (id, w, extra) VALUES (6, 6, 'e6')")
	got = pollUntil(t, task4, w4, 30*time.Second, func(r []*connect.Record) bool { return hasKey(r, "srv.app.items", int32(6)) })
	if s := afterString(got[len(got)-1]); s != "id=6 w=6 extra=e6" {
		t.Fatalf("row 6 after the rebuild: %s", s)
	}
	if !strings.Contains(logs.String(), "does not parse") {
		t.Fatalf("no warning about the corrupt history:\n%s", logs.String())
	}
	// The new baseline after the corrupt record serves the next start.
	w4.store(got[len(got)-1])
	if err := task4.Stop(); err != nil {
		t.Fatal(err)
	}
	warnings := strings.Count(logs.String(), "level=WARN")
	w5 := &fakeWorker{stored: w4.stored}
	task5 := startTask(t, w5, props)
	e.exec(t, "INSERT INTO items (id, w, extra) VALUES (7, 7, 'e7')")
	pollUntil(t, task5, w5, 30*time.Second, func(r []*connect.Record) bool { return hasKey(r, "srv.app.items", int32(7)) })
	if n := strings.Count(logs.String(), "level=WARN"); n != warnings {
		t.Fatalf("warnings at a start after the rebuild:\n%s", logs.String())
	}
}

// afterString renders the after image as name=value pairs.
func afterString(r *connect.Record) string {
	img, _ := r.Value.(*connect.Struct).Get("after").(*connect.Struct)
	if img == nil {
		return "<nil>"
	}
	var parts []string
	for i, f := range img.Schema().Fields {
		v := img.GetAt(i)
		if v == nil {
			continue
		}
		parts = append(parts, f.Name+"="+fmt.Sprint(v))
	}
	return strings.Join(parts, " ")
}

// Replaying the history keeps the records at or before the offset, from the
// last baseline on; a history without a baseline there (truncated by
// retention, or written ahead of the offset), with that baseline
// incomplete, or empty cannot describe it.
func TestReplayHistory(t *testing.T) {
	tbl := func(cols ...string) *historyTable {
		ht := &historyTable{}
		for _, c := range cols {
			ht.Columns = append(ht.Columns, historyColumn{Name: c, TypeName: "INT"})
		}
		return ht
	}
	rec := func(file string, pos int64, baseline string, typ string, ht *historyTable) historyRecord {
		return historyRecord{Position: historyPosition{File: file, Pos: pos, Baseline: baseline},
			TableChanges: []historyChange{{Type: typ, ID: tableID("app", "t"), Table: ht}}}
	}
	recs := []historyRecord{
		rec("bin.000001", 100, "b1", "CREATE", tbl("a")),
		rec("bin.000001", 200, "", "ALTER", tbl("a", "b")),
		rec("bin.000002", 50, "b2", "CREATE", tbl("x")),
		rec("bin.000002", 90, "", "ALTER", tbl("x", "y")),
	}
	cols := func(m *schemaModel) string {
		d := m.tables["app.t"]
		if d == nil {
			return "<none>"
		}
		var n []string
		for _, c := range d.cols {
			n = append(n, c.name)
		}
		return strings.Join(n, ",")
	}
	for _, c := range []struct {
		file string
		pos  uint64
		want string
	}{{"bin.000001", 150, "a"}, {"bin.000001", 999, "a,b"}, {"bin.000002", 60, "x"}, {"bin.000003", 4, "x,y"}} {
		m, _, why := replayHistory(recs, position{file: c.file, pos: c.pos}, false)
		if why != "" || cols(m) != c.want {
			t.Errorf("at %s:%d: %q (%s), want %q", c.file, c.pos, cols(m), why, c.want)
		}
	}
	if _, _, why := replayHistory(recs[1:2], position{file: "bin.000001", pos: 999}, false); !strings.Contains(why, "no baseline") {
		t.Errorf("truncated history: %q", why)
	}
	if _, _, why := replayHistory(recs, position{file: "bin.000001", pos: 10}, false); !strings.Contains(why, "no baseline") {
		t.Errorf("history ahead of the offset: %q", why)
	}
	corrupt := append(append([]historyRecord{}, recs[:2]...), historyRecord{corrupt: true})
	if _, _, why := replayHistory(corrupt, position{file: "bin.000001", pos: 999}, false); !strings.Contains(why, "does not parse") {
		t.Errorf("corrupt history: %q", why)
	}
	if m, _, why := replayHistory(append(corrupt, recs[2:]...), position{file: "bin.000003", pos: 4}, false); why != "" || cols(m) != "x,y" {
		t.Errorf("a baseline after a corrupt record: %q (%s)", cols(m), why)
	}
	if _, _, why := replayHistory(nil, position{file: "bin.000001", pos: 10}, false); !strings.Contains(why, "missing or empty") {
		t.Errorf("empty history: %q", why)
	}

	// A baseline of one record per table carries its number of records: it
	// is accepted only whole. One written by an earlier version, one record
	// per database without the number, is accepted as it comes.
	base := func(id string, n int, names ...string) []historyRecord {
		var out []historyRecord
		for _, name := range names {
			out = append(out, historyRecord{Position: historyPosition{File: "bin.000001", Pos: 100, Baseline: id, BaselineRecords: n},
				TableChanges: []historyChange{{Type: "CREATE", ID: tableID("app", name), Table: tbl("a")}}})
		}
		return out
	}
	tables := func(m *schemaModel) string {
		if m == nil {
			return "<none>"
		}
		var n []string
		for id := range m.tables {
			n = append(n, id)
		}
		sort.Strings(n)
		return strings.Join(n, ",")
	}
	at := position{file: "bin.000002", pos: 4}
	whole := base("n1", 3, "t1", "t2", "t3")
	if m, applied, why := replayHistory(whole, at, false); why != "" || tables(m) != "app.t1,app.t2,app.t3" || applied != 3 {
		t.Errorf("whole baseline: %q, %d applied (%s)", tables(m), applied, why)
	}
	for name, recs := range map[string][]historyRecord{
		"the last record missing":       whole[:2],
		"a record missing":              {whole[0], whole[2]},
		"after a whole baseline":        append(append([]historyRecord{}, whole...), base("n2", 3, "t4", "t5")...),
		"ended by a corrupt record":     append(whole[:2:2], historyRecord{corrupt: true}),
		"with a record of DDL after it": append(whole[:2:2], rec("bin.000001", 200, "", "ALTER", tbl("a", "b"))),
	} {
		if m, _, why := replayHistory(recs, at, false); why == "" {
			t.Errorf("incomplete baseline, %s: accepted (%s)", name, tables(m))
		}
	}
	// A record of DDL between a baseline's records (another start's, say)
	// leaves it whole, and its change applies.
	ddl := historyRecord{Position: historyPosition{File: "bin.000001", Pos: 200},
		TableChanges: []historyChange{{Type: "ALTER", ID: tableID("app", "t1"), Table: tbl("a", "b")}}}
	if m, _, why := replayHistory([]historyRecord{whole[0], ddl, whole[1], whole[2]}, at, false); why != "" ||
		tables(m) != "app.t1,app.t2,app.t3" || len(m.tables["app.t1"].cols) != 2 {
		t.Errorf("a baseline with a record of DDL among its records: %q (%s)", tables(m), why)
	}
	if m, _, why := replayHistory(append(whole[:2:2], base("n2", 2, "t4", "t5")...), at, false); why != "" || tables(m) != "app.t4,app.t5" {
		t.Errorf("a whole baseline after an incomplete one: %q (%s)", tables(m), why)
	}
	old := []historyRecord{base("o1", 0, "t1")[0], base("o1", 0, "t2")[0]}
	old[0].TableChanges = append(old[0].TableChanges, base("o1", 0, "t3")[0].TableChanges...) // two tables of one database
	if m, _, why := replayHistory(old, at, false); why != "" || tables(m) != "app.t1,app.t2,app.t3" {
		t.Errorf("a baseline of an earlier version: %q (%s)", tables(m), why)
	}
}

// TestReplayHistoryByGTIDs: history records and offsets carrying GTID sets
// are compared by them, so the history replays right after a failover to a
// server whose binlog files are named and numbered otherwise; equal sets
// (an offset inside the statement's transaction) fall back to the position.
func TestReplayHistoryByGTIDs(t *testing.T) {
	rec := func(file string, pos int64, gtids, baseline string, cols ...string) historyRecord {
		ht := &historyTable{}
		for _, c := range cols {
			ht.Columns = append(ht.Columns, historyColumn{Name: c, TypeName: "INT"})
		}
		return historyRecord{Position: historyPosition{File: file, Pos: pos, GTIDs: gtids, Baseline: baseline},
			TableChanges: []historyChange{{Type: "CREATE", ID: tableID("app", "t"), Table: ht}}}
	}
	cols := func(m *schemaModel) string {
		if m == nil || m.tables["app.t"] == nil {
			return "<none>"
		}
		var n []string
		for _, c := range m.tables["app.t"].cols {
			n = append(n, c.name)
		}
		return strings.Join(n, ",")
	}
	const uuid = "3e11fa47-71ca-11e1-9e33-c80aa9429562"
	for _, c := range []struct {
		name    string
		mariadb bool
		recs    []historyRecord
		at      position
		want    string
	}{
		{"mysql failover, after the ALTER", false, []historyRecord{
			rec("bin.000007", 100, uuid+":1-5", "b1", "a"), rec("bin.000007", 900, uuid+":1-9", "", "a", "b")},
			position{file: "alt-bin.000002", pos: 40, gtids: uuid + ":1-12"}, "a,b"},
		{"mysql failover, before the ALTER", false, []historyRecord{
			rec("bin.000007", 100, uuid+":1-5", "b1", "a"), rec("bin.000007", 900, uuid+":1-9", "", "a", "b")},
			position{file: "replica-bin.000009", pos: 40, gtids: uuid + ":1-7"}, "a"},
		{"mariadb failover, after the ALTER", true, []historyRecord{
			rec("bin.000007", 100, "0-1-5", "b1", "a"), rec("bin.000007", 900, "0-1-9", "", "a", "b")},
			position{file: "alt-bin.000001", pos: 40, gtids: "0-2-10"}, "a,b"},
		{"mariadb failover, before the ALTER", true, []historyRecord{
			rec("bin.000007", 100, "0-1-5", "b1", "a"), rec("bin.000007", 900, "0-1-9", "", "a", "b")},
			position{file: "replica-bin.000008", pos: 40, gtids: "0-2-8"}, "a"},
		{"equal sets: by position", false, []historyRecord{
			rec("bin.000007", 100, uuid+":1-5", "b1", "a"), rec("bin.000007", 900, uuid+":1-9", "", "a", "b")},
			position{file: "bin.000007", pos: 800, gtids: uuid + ":1-9"}, "a"},
	} {
		m, _, why := replayHistory(c.recs, c.at, c.mariadb)
		if why != "" || cols(m) != c.want {
			t.Errorf("%s: %q (%s), want %q", c.name, cols(m), why, c.want)
		}
	}
}

// The model's definition of a table parsed from its CREATE statement gives
// the same record schemas as information_schema's description of it on the
// server, type by type (spatial types aside: the parser does not know
// them, and such statements fall back to information_schema).
func TestSchemaModelMatchesServer(t *testing.T) {
	e := startMariaDB(t)
	ddl := `CREATE TABLE types (id INT PRIMARY KEY,
	  ti TINYINT, tiu TINYINT UNSIGNED, si SMALLINT, siu SMALLINT UNSIGNED, mi MEDIUMINT, miu MEDIUMINT UNSIGNED,
	  i INT, iu INT UNSIGNED, bi BIGINT, biu BIGINT UNSIGNED NOT NULL, dec1 DECIMAL(10,3), num NUMERIC(5), f FLOAT, d DOUBLE,
	  b1 BIT(1), b10 BIT(10), bo BOOLEAN, c CHAR(3), vc VARCHAR(10), l1 VARCHAR(10) CHARACTER SET latin1, txt TEXT,
	  mt MEDIUMTEXT, bin BINARY(3), vb VARBINARY(5), bl BLOB, tb TINYBLOB, dt DATE, tm TIME, tm3 TIME(3), dtm DATETIME,
	  dtm3 DATETIME(3), dtm6 DATETIME(6), ts TIMESTAMP NULL, ts3 TIMESTAMP(3) NULL, y YEAR, en ENUM('sad','ok','happy'),
	  st SET('a','b','c'), j JSON, zd DATE, nn INT NOT NULL DEFAULT 3)`
	e.exec(t, ddl)
	s, err := parseSettings(e.props(map[string]string{KeyBigintMode: "precise"}))
	if err != nil {
		t.Fatal(err)
	}
	conn, err := s.connect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	defs, pk, err := describe(conn, "app", "types")
	if err != nil {
		t.Fatal(err)
	}
	m := newSchemaModel(true)
	if _, _, err := m.apply("app", ddl); err != nil {
		t.Fatal(err)
	}
	d := m.tables["app.types"]
	// And after a trip through the history's JSON.
	back := historyTableOf(d).defOf("app", "types")
	server, err := s.buildTable("app", "types", defs, pk)
	if err != nil {
		t.Fatal(err)
	}
	for name, md := range map[string]*tableDef{"model": d, "history": back} {
		model, err := s.buildTable("app", "types", md.cols, md.pk)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := schemaString(model.keySchema), schemaString(server.keySchema); got != want {
			t.Errorf("%s key schema:\n got %s\nwant %s", name, got, want)
		}
		mf, sf := model.valSchema.Fields, server.valSchema.Fields
		if len(mf) != len(sf) {
			t.Fatalf("%s: %d fields, server %d", name, len(mf), len(sf))
		}
		for i := range sf {
			if got, want := mf[i].Name+" "+schemaString(mf[i].Schema), sf[i].Name+" "+schemaString(sf[i].Schema); got != want {
				t.Errorf("%s column %d: %s, server %s", name, i, got, want)
			}
			mc, sc := model.cols[i].codec, server.cols[i].codec
			mc.schema, sc.schema = nil, nil // compared above
			if fmt.Sprintf("%+v", mc) != fmt.Sprintf("%+v", sc) {
				t.Errorf("%s column %s codec: %+v, server %+v", name, sf[i].Name, mc, sc)
			}
		}
	}
}

func schemaString(s *connect.Schema) string {
	if s == nil {
		return "<nil>"
	}
	out := fmt.Sprintf("%v opt=%v %s %v", s.Type, s.Optional, s.Name, s.Parameters)
	for _, f := range s.Fields {
		out += " [" + f.Name + " " + schemaString(f.Schema) + "]"
	}
	return out
}

// replayHistory is historyReplay over recs.
func replayHistory(recs []historyRecord, p position, mariadb bool) (m *schemaModel, applied int, why string) {
	h := newHistoryReplay(p, mariadb)
	for _, r := range recs {
		h.add(r)
	}
	return h.result()
}
