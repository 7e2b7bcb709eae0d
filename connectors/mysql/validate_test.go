package mysql

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/penstockhq/penstock/connect"
)

// pollError polls until the task fails and returns its error.
func pollError(t *testing.T, task *Task) error {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := task.Poll(context.Background()); err != nil {
			return err
		}
	}
	t.Fatal("task did not fail")
	return nil
}

// Server settings and privileges the connector cannot work with fail the
// task with an error naming the setting.
func TestServerValidation(t *testing.T) {
	e := startMariaDB(t)
	e.exec(t, "CREATE USER 'weak'@'127.0.0.1' IDENTIFIED BY 'pw'", "GRANT SELECT, RELOAD ON *.* TO 'weak'@'127.0.0.1'")
	cases := []struct {
		name  string
		setup []string
		props map[string]string
		want  string
	}{
		{"binlog_format", []string{"SET GLOBAL binlog_format = 'STATEMENT'"}, nil, "binlog_format=ROW"},
		{"binlog_row_image", []string{"SET GLOBAL binlog_row_image = 'MINIMAL'"}, nil, "binlog_row_image=FULL"},
		{"privileges", nil, map[string]string{KeyUser: "weak", KeyPassword: "pw"}, "REPLICATION SLAVE and REPLICATION CLIENT"},
		{"server id", nil, map[string]string{KeyServerID: strconv.Itoa(int(e.srv.ServerID))}, KeyServerID},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e.exec(t, c.setup...)
			defer e.exec(t, "SET GLOBAL binlog_format = 'ROW'", "SET GLOBAL binlog_row_image = 'FULL'")
			task := startTask(t, &fakeWorker{}, e.props(c.props))
			err := pollError(t, task)
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %q does not name %q", err, c.want)
			}
			t.Log(err)
		})
	}
}

// An offset pointing into a purged binlog stops the task with an error
// saying so, unless snapshot.mode=when_needed, which snapshots again.
func TestPurgedBinlog(t *testing.T) {
	e := startMariaDB(t)
	e.exec(t, "CREATE TABLE items (id INT PRIMARY KEY, v INT NOT NULL, note VARCHAR(40))",
		"INSERT INTO items VALUES (1, 1, 'a'), (2, 2, 'b')")
	var file string
	if err := e.db.QueryRow("SHOW MASTER STATUS").Scan(&file, new(any), new(any), new(any)); err != nil {
		t.Fatal(err)
	}
	e.exec(t, "FLUSH BINARY LOGS", "INSERT INTO items VALUES (3, 3, 'c')", "FLUSH BINARY LOGS")
	var cur string
	if err := e.db.QueryRow("SHOW MASTER STATUS").Scan(&cur, new(any), new(any), new(any)); err != nil {
		t.Fatal(err)
	}
	// MariaDB purges a binlog only once InnoDB checkpointed it; retry until then.
	deadline := time.Now().Add(20 * time.Second)
	for {
		e.exec(t, "PURGE BINARY LOGS TO '"+cur+"'")
		var first string
		if err := e.db.QueryRow("SHOW BINARY LOGS").Scan(&first, new(any)); err != nil {
			t.Fatal(err)
		}
		if first == cur {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("binlogs before %s not purged (first is %s)", cur, first)
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, stored := range []map[string]any{
		{offFile: file, offPos: int64(4), offEvent: int64(0), offRow: int64(0)},
		{offFile: file, offPos: int64(4), offGTIDs: "0-" + strconv.Itoa(int(e.srv.ServerID)) + "-1"},
	} {
		w := &fakeWorker{stored: stored}
		err := pollError(t, startTask(t, w, e.props(nil)))
		if !strings.Contains(err.Error(), "purged") || !strings.Contains(err.Error(), "when_needed") {
			t.Fatalf("error %q does not say the binlog was purged", err)
		}
		t.Log(err)

		w = &fakeWorker{stored: stored}
		task := startTask(t, w, e.props(map[string]string{KeySnapshotMode: SnapshotWhenNeeded, KeySchemaChanges: "false"}))
		recs := pollUntil(t, task, w, 30*time.Second, func(r []*connect.Record) bool { return len(r) >= 3 })
		for _, r := range recs {
			if opOf(r) != "r" {
				t.Fatalf("when_needed: op %s, want a snapshot read", opOf(r))
			}
		}
	}
}

// A second connector with the server id of a running one is refused with
// an error naming database.server.id.
func TestServerIDCollision(t *testing.T) {
	e := startMariaDB(t)
	e.exec(t, "CREATE TABLE items (id INT PRIMARY KEY)", "INSERT INTO items VALUES (1)")
	props := e.props(map[string]string{KeyServerID: "4242", KeySchemaChanges: "false"})
	w := &fakeWorker{}
	first := startTask(t, w, props)
	pollUntil(t, first, w, 30*time.Second, func(r []*connect.Record) bool { return len(r) >= 1 })
	e.exec(t, "INSERT INTO items VALUES (2)")
	pollUntil(t, first, w, 30*time.Second, func(r []*connect.Record) bool { return len(r) >= 2 })
	err := pollError(t, startTask(t, &fakeWorker{}, props))
	if !strings.Contains(err.Error(), KeyServerID+"=4242") {
		t.Fatalf("error %q does not name %s", err, KeyServerID)
	}
	t.Log(err)
}
