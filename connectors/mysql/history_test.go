package mysql

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
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
