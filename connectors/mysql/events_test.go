package mysql

import (
	"strings"
	"testing"
	"time"

	"github.com/penstockhq/penstock/connect"
)

// Streamed events carry MySQL's source block (gtid, file, pos, row, thread,
// query), transaction metadata when asked for, a delete and a tombstone for
// a delete or a key change, and heartbeats while the tables are idle.
func TestStreamedEvents(t *testing.T) {
	e := startMariaDB(t)
	e.exec(t, "CREATE TABLE items (id INT PRIMARY KEY, v INT NOT NULL, note VARCHAR(40))")
	w := &fakeWorker{}
	task := startTask(t, w, e.props(map[string]string{KeyIncludeQuery: "true", KeyTxMetadata: "true",
		KeyHeartbeatMs: "300", KeySchemaChanges: "false"}))
	pollUntil(t, task, w, 30*time.Second, func(r []*connect.Record) bool { return len(r) > 0 }) // a heartbeat
	e.exec(t, "BEGIN; INSERT INTO items VALUES (1, 1, 'a'), (2, 2, 'b'); UPDATE items SET id = 3 WHERE id = 2; DELETE FROM items WHERE id = 1; COMMIT")
	recs := pollUntil(t, task, w, 30*time.Second, func(r []*connect.Record) bool {
		return len(topicRecords(r, "srv.transaction")) >= 2
	})
	items := topicRecords(recs, "srv.app.items")
	var ops []string
	for _, r := range items {
		ops = append(ops, opOf(r))
	}
	if got := strings.Join(ops, " "); got != "c c d tombstone c d tombstone" {
		t.Fatalf("ops %s", got)
	}
	first := items[0]
	if q, _ := sourceField(first, "query").(string); !strings.HasPrefix(q, "INSERT INTO items") {
		t.Errorf("source.query = %q", q)
	}
	if g, _ := sourceField(first, "gtid").(string); !strings.HasPrefix(g, "0-") {
		t.Errorf("source.gtid = %q", g)
	}
	// MariaDB writes no BEGIN query event (whose thread id source.thread
	// takes) before a transaction with a GTID, so thread stays null there.
	if sourceField(first, "file") == "" || sourceField(items[1], "row") != int32(1) {
		t.Errorf("source block %v", first.Value.(*connect.Struct).Get("source"))
	}
	blk := items[4].Value.(*connect.Struct).Get("transaction").(*connect.Struct)
	if blk.Get("total_order") != int64(4) || blk.Get("id") != sourceField(first, "gtid") {
		t.Errorf("transaction block %v", blk)
	}
	txs := topicRecords(recs, "srv.transaction")
	begin, end := txs[0].Value.(*connect.Struct), txs[1].Value.(*connect.Struct)
	if begin.Get("status") != "BEGIN" || end.Get("status") != "END" || end.Get("event_count") != int64(5) {
		t.Errorf("transaction events %v %v", begin, end)
	}
	hb := topicRecords(recs, "__debezium-heartbeat.srv")
	if len(hb) == 0 || hb[0].SourceOffset[offFile] == "" {
		t.Fatalf("heartbeats %v", hb)
	}
}

// Rows events of a table not captured are left undecoded, yet still count
// in the offsets' event numbers, so a restart skips the right events.
func TestStreamSkipsExcludedTables(t *testing.T) {
	e := startMariaDB(t)
	e.exec(t, "CREATE TABLE items (id INT PRIMARY KEY, v INT)", "CREATE TABLE other (id INT PRIMARY KEY, v INT)",
		"INSERT INTO items VALUES (0, 0)")
	w := &fakeWorker{}
	task := startTask(t, w, e.props(map[string]string{KeyTableInclude: `app\.items`, KeySchemaChanges: "false"}))
	pollUntil(t, task, w, 60*time.Second, func(recs []*connect.Record) bool {
		return len(recs) > 0 && sourceField(recs[len(recs)-1], "snapshot") == "last"
	})
	e.exec(t, "BEGIN", "INSERT INTO other VALUES (1, 1), (2, 2)", "INSERT INTO items VALUES (1, 10)",
		"INSERT INTO other VALUES (3, 3)", "INSERT INTO items VALUES (2, 20)", "COMMIT")
	recs := pollUntil(t, task, w, 60*time.Second, func(recs []*connect.Record) bool {
		return len(topicRecords(recs, "srv.app.items")) == 3
	})
	if n := len(topicRecords(recs, "srv.app.other")); n != 0 {
		t.Fatalf("%d records of the excluded table", n)
	}
	for i, r := range topicRecords(recs, "srv.app.items")[1:] {
		if v := field(r, "after", "v"); v != int32(10*(i+1)) {
			t.Errorf("record %d: v = %v", i, v)
		}
		if ev, row := r.SourceOffset[offEvent], r.SourceOffset[offRow]; ev != int64(2*i+1) || row != int64(1) {
			t.Errorf("record %d: offset event %v row %v, want %d and 1", i, ev, row, 2*i+1)
		}
	}
}
