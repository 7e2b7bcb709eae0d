package mysql

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/internal/brokertest"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// A baseline of many wide tables is larger than the broker accepts in one
// record (message.max.bytes, 1 MiB by default): it is written one record
// per table, so the connector starts, and after a restart the history
// replays and describes the rows of those tables. A baseline left
// incomplete by a start that stopped while writing it is not accepted (a
// new one is written, with a warning); one written by an earlier version,
// one record per database, still replays.
func TestSchemaHistoryBaselineOfManyTables(t *testing.T) {
	logs := captureLog(t)
	t.Cleanup(func() {
		if t.Failed() {
			t.Log(logs.String())
		}
	})
	e := startMariaDB(t)
	e.exec(t, "SET GLOBAL binlog_row_metadata = MINIMAL")
	const tables, cols = 100, 40
	comment := strings.Repeat("a column comment long enough to make the definitions wide; ", 3)
	for i := range tables {
		var q strings.Builder
		fmt.Fprintf(&q, "CREATE TABLE t%03d (id INT PRIMARY KEY", i)
		for c := range cols {
			fmt.Fprintf(&q, ", c%02d VARCHAR(100) COMMENT '%s'", c, comment)
		}
		fmt.Fprintf(&q, ") COMMENT '%s'", strings.Repeat("t", 1000))
		e.exec(t, q.String())
	}
	b := brokertest.Start(t)
	props := e.props(map[string]string{KeyHistoryTopic: "srv-history", KeyHistoryServers: b.Addr,
		KeySnapshotMode: SnapshotNoData, KeySchemaChanges: "false"})
	w := &fakeWorker{}
	task := startTask(t, w, props)
	pollUntil(t, task, w, 60*time.Second, func([]*connect.Record) bool { return strings.Contains(logs.String(), "streaming started") })
	e.exec(t, "INSERT INTO t007 (id, c00) VALUES (1, 'a')")
	recs := pollUntil(t, task, w, 60*time.Second, func(r []*connect.Record) bool { return hasKey(r, "srv.app.t007", int32(1)) })
	w.store(recs[len(recs)-1])
	if err := task.Stop(); err != nil {
		t.Fatal(err)
	}

	// One record per table, all of one baseline, together more than one
	// record may hold.
	values := readHistoryValues(t, b.Addr, "srv-history")
	total := 0
	for _, v := range values {
		total += len(v)
	}
	if len(values) != tables || total <= 1048588 {
		t.Fatalf("history: %d records of %d bytes, want %d records of more than 1 MiB", len(values), total, tables)
	}
	var first historyRecord
	for i, v := range values {
		var r historyRecord
		if err := json.Unmarshal(v, &r); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = r
		}
		name := fmt.Sprintf("t%03d", i)
		if len(r.TableChanges) != 1 || r.TableChanges[0].ID != tableID("app", name) || !strings.HasPrefix(r.DDL, "CREATE TABLE `"+name+"`") ||
			r.Position.Baseline == "" || r.Position.Baseline != first.Position.Baseline || r.Position.BaselineRecords != tables {
			t.Fatalf("history record %d: ddl %.40q, position %+v, %d table changes", i, r.DDL, r.Position, len(r.TableChanges))
		}
	}

	e.exec(t, "ALTER TABLE t007 ADD COLUMN extra INT DEFAULT 7")
	// step starts the connector at the stored offset, writes row id of
	// t007, checks its description, stores its offset and stops.
	step := func(id int32) {
		t.Helper()
		w2 := &fakeWorker{stored: w.stored}
		task := startTask(t, w2, props)
		e.exec(t, fmt.Sprintf("INSERT INTO t007 (id, c00, extra) VALUES (%d, 'r', %d)", id, id))
		got := pollUntil(t, task, w2, 60*time.Second, func(r []*connect.Record) bool { return hasKey(r, "srv.app.t007", id) })
		if s, want := afterString(got[len(got)-1]), fmt.Sprintf("id=%d c00=r extra=%d", id, id); s != want {
			t.Fatalf("row %d: %s, want %s", id, s, want)
		}
		w2.store(got[len(got)-1])
		if err := task.Stop(); err != nil {
			t.Fatal(err)
		}
		w = w2
	}
	step(2)
	if !strings.Contains(logs.String(), fmt.Sprintf("topic=srv-history records=%d tables=%d", tables, tables)) {
		t.Fatalf("history not replayed whole")
	}
	warns := func() int { return strings.Count(logs.String(), "level=WARN") }
	if warns() != 0 {
		t.Fatalf("warnings with a complete history")
	}

	// A start that stopped while writing a baseline left only some of its
	// records (written here with the connector's own writer, the last ones
	// left out): replay does not accept it, the connector warns and writes
	// a new baseline, and that one serves the next start.
	s, err := parseSettings(props)
	if err != nil {
		t.Fatal(err)
	}
	conn, err := s.connect(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	info, err := s.checkServer(conn)
	if err != nil {
		t.Fatal(err)
	}
	hist, err := openHistory(b.Addr, "srv-history", s.historyClients)
	if err != nil {
		t.Fatal(err)
	}
	defer hist.close()
	st := &streamer{s: s, info: info, ctx: context.Background(), meta: conn}
	baselineHere := func() []historyRecord { // at the binlog's current position
		t.Helper()
		p, err := binlogPosition(conn, info)
		if err != nil {
			t.Fatal(err)
		}
		_, recs, err := st.baseline(p, true)
		if err != nil {
			t.Fatal(err)
		}
		return recs
	}
	partial := baselineHere()
	if len(partial) != tables || partial[0].Position.BaselineRecords != tables {
		t.Fatalf("baseline of %d records, marked %d", len(partial), partial[0].Position.BaselineRecords)
	}
	step(3) // the stored offset is now after the baseline's position
	if err := hist.append(context.Background(), partial[:tables-3]...); err != nil {
		t.Fatal(err)
	}
	step(4)
	if n := warns(); n != 1 || !strings.Contains(logs.String(), fmt.Sprintf("is incomplete (%d of its %d records", tables-3, tables)) {
		t.Fatalf("%d warnings, want one about the incomplete baseline", n)
	}
	step(5)
	if warns() != 1 {
		t.Fatalf("warnings at a start after the rebuild")
	}

	// A baseline written by an earlier version: one record per database,
	// without its number of records, replays as before.
	cur := baselineHere()
	old := cur[0]
	old.Position.BaselineRecords = 0
	for _, r := range cur[1:10] {
		old.DDL += ";\n" + r.DDL
		old.TableChanges = append(old.TableChanges, r.TableChanges...)
	}
	step(6)
	if err := hist.append(context.Background(), old); err != nil {
		t.Fatal(err)
	}
	step(7)
	if warns() != 1 || !strings.Contains(logs.String(), "topic=srv-history records=1 tables=10") {
		t.Fatalf("the old-style baseline did not replay")
	}
}

// A record larger than the broker accepts (a table whose definition alone
// is too large) is refused with an error naming its table.
func TestSchemaHistoryRecordTooLarge(t *testing.T) {
	b := brokertest.Start(t)
	h, err := openHistory(b.Addr, "srv-history", [2][]kgo.Opt{})
	if err != nil {
		t.Fatal(err)
	}
	defer h.close()
	if err := h.ensureTopic(context.Background()); err != nil {
		t.Fatal(err)
	}
	small := historyRecord{DDL: "CREATE TABLE small (id INT)", TableChanges: []historyChange{{Type: "CREATE", ID: tableID("app", "small")}}}
	big := historyRecord{DDL: strings.Repeat("x", 2<<20), TableChanges: []historyChange{{Type: "CREATE", ID: tableID("app", "big")}}}
	err = h.append(context.Background(), small, big, small)
	if err == nil || !strings.Contains(err.Error(), `the record of table "app"."big"`) {
		t.Fatalf("got %v, want an error naming the table", err)
	}
}

// readHistoryValues reads the values of a topic's records, partition 0,
// from its start to its end.
func readHistoryValues(t *testing.T, addr, topic string) [][]byte {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(context.Background(), topic)
	if err != nil {
		t.Fatal(err)
	}
	end, _ := ends.Lookup(topic, 0)
	var out [][]byte
	for int64(len(out)) < end.Offset {
		fs := cl.PollFetches(context.Background())
		if err := fs.Err0(); err != nil {
			t.Fatal(err)
		}
		fs.EachRecord(func(r *kgo.Record) { out = append(out, r.Value) })
	}
	return out
}
