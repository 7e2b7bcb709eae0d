package mysql

import (
	"strings"
	"testing"
	"time"

	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/internal/brokertest"
)

// DDL while streaming shows in the next events: an added, dropped or renamed
// column, a created and a dropped table; each statement reaches the schema
// change topic. With binlog_row_metadata=FULL the table-map events name the
// columns; with MINIMAL the connector reads information_schema after each DDL,
// or, with a schema history topic (MINIMAL+history), its model of the DDL.
func TestDDLWhileStreaming(t *testing.T) {
	for _, meta := range []string{"FULL", "MINIMAL", "MINIMAL+history"} {
		t.Run(meta, func(t *testing.T) { testDDLWhileStreaming(t, meta) })
	}
}

func testDDLWhileStreaming(t *testing.T, metadata string) {
	e := startMariaDB(t)
	metadata, history := strings.CutSuffix(metadata, "+history")
	e.exec(t, "SET GLOBAL binlog_row_metadata = "+metadata)
	extra := map[string]string{}
	if history {
		extra = map[string]string{KeyHistoryTopic: "srv-history", KeyHistoryServers: brokertest.Start(t).Addr}
	}
	e.exec(t, "CREATE TABLE items (id INT PRIMARY KEY, v INT NOT NULL, note VARCHAR(40))",
		"INSERT INTO items VALUES (1, 1, 'a')")
	w := &fakeWorker{}
	task := startTask(t, w, e.props(extra))
	pollUntil(t, task, w, 30*time.Second, func(r []*connect.Record) bool { return hasKey(r, "srv.app.items", int32(1)) })

	steps := []struct {
		sql   []string
		topic string
		id    int32
		check func(*connect.Record) string
	}{
		{[]string{"ALTER TABLE items ADD COLUMN extra VARCHAR(10) DEFAULT 'x'", "INSERT INTO items (id, v) VALUES (2, 2)"},
			"srv.app.items", 2, func(r *connect.Record) string {
				if field(r, "after", "extra") != "x" {
					return "added column extra missing"
				}
				return ""
			}},
		{[]string{"ALTER TABLE items DROP COLUMN note", "INSERT INTO items (id, v) VALUES (3, 3)"},
			"srv.app.items", 3, func(r *connect.Record) string {
				if _, ok := r.ValueSchema.Fields[1].Schema.Field("note"); ok {
					return "dropped column note still in the schema"
				}
				return ""
			}},
		{[]string{"ALTER TABLE items RENAME COLUMN v TO w", "UPDATE items SET w = 40 WHERE id = 3"},
			"srv.app.items", 3, func(r *connect.Record) string {
				if field(r, "after", "w") != int32(40) || field(r, "before", "w") != int32(3) {
					return "renamed column w missing"
				}
				return ""
			}},
		{[]string{"CREATE TABLE fresh (id INT PRIMARY KEY, s TEXT)", "INSERT INTO fresh VALUES (7, 'new')"},
			"srv.app.fresh", 7, func(r *connect.Record) string {
				if field(r, "after", "s") != "new" {
					return "row of the new table wrong"
				}
				return ""
			}},
		{[]string{"DROP TABLE fresh", "INSERT INTO items (id, w) VALUES (8, 8)"},
			"srv.app.items", 8, func(r *connect.Record) string { return "" }},
	}
	for _, st := range steps {
		from := len(w.records)
		e.exec(t, st.sql...)
		recs := pollUntil(t, task, w, 30*time.Second, func(r []*connect.Record) bool { return hasKey(r[from:], st.topic, st.id) })
		last := recs[len(recs)-1]
		if msg := st.check(last); msg != "" {
			t.Fatalf("after %q: %s (record %v)", st.sql[0], msg, last.Value)
		}
	}
	var ddls []string
	for _, r := range topicRecords(w.records, "srv") {
		v := r.Value.(*connect.Struct)
		if err := v.Validate(); err != nil {
			t.Fatal(err)
		}
		if r.Key.(*connect.Struct).Get("databaseName") != "app" {
			t.Fatalf("schema change key %v", r.Key)
		}
		ddls = append(ddls, v.Get("ddl").(string))
	}
	joined := strings.Join(ddls, "\n")
	for _, want := range []string{"CREATE TABLE `items`", "ADD COLUMN extra", "DROP COLUMN note", "RENAME COLUMN v TO w",
		"CREATE TABLE fresh", "DROP TABLE"} {
		if !strings.Contains(joined, want) {
			t.Errorf("schema changes lack %q:\n%s", want, joined)
		}
	}
}
