package mysql

import (
	"context"
	"database/sql"
	"os"
	"runtime/pprof"
	"strconv"
	"sync"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"
	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/internal/testservice"
)

// fakeWorker drives a task as the worker would: it polls, and "flushes"
// offsets by storing the offset of a chosen record. Its OffsetReader returns
// the last stored offset.
type fakeWorker struct {
	mu      sync.Mutex
	stored  map[string]any
	records []*connect.Record
}

func (w *fakeWorker) ConnectorName() string         { return "mysql-test" }
func (w *fakeWorker) TaskID() int                   { return 0 }
func (w *fakeWorker) Offsets() connect.OffsetReader { return w }
func (w *fakeWorker) Offset(ctx context.Context, partition map[string]any) (map[string]any, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.stored, nil
}

// store keeps rec's offset as the flushed one.
func (w *fakeWorker) store(rec *connect.Record) {
	w.mu.Lock()
	w.stored = rec.SourceOffset
	w.mu.Unlock()
}

type myEnv struct {
	srv *testservice.MariaDBServer
	db  *sql.DB
}

// startMariaDB starts a private MariaDB with a database "app".
func startMariaDB(t *testing.T) *myEnv {
	t.Helper()
	srv := testservice.MariaDB(t)
	root, err := sql.Open("mysql", srv.DSN)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := root.Exec("CREATE DATABASE app"); err != nil {
		t.Fatal(err)
	}
	root.Close()
	db, err := sql.Open("mysql", srv.DSNFor("app")+"?multiStatements=true")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return &myEnv{srv: srv, db: db}
}

func (e *myEnv) exec(t *testing.T, sqls ...string) {
	t.Helper()
	for _, q := range sqls {
		if _, err := e.db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

func (e *myEnv) props(extra map[string]string) map[string]string {
	p := map[string]string{
		KeyHostname: e.srv.Host, KeyPort: strconv.Itoa(e.srv.Port), KeyUser: e.srv.User,
		KeyTopicPrefix: "srv", KeyDBInclude: "app", KeyPollInterval: "50",
	}
	for k, v := range extra {
		p[k] = v
	}
	return p
}

func startTask(t *testing.T, w *fakeWorker, props map[string]string) *Task {
	t.Helper()
	task := NewTask()
	if err := task.Start(context.Background(), w, props); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = task.Stop() })
	return task
}

// pollUntil polls until cond holds for the records received so far.
func pollUntil(t *testing.T, task *Task, w *fakeWorker, timeout time.Duration, cond func([]*connect.Record) bool) []*connect.Record {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if cond(w.records) {
			return w.records
		}
		if time.Now().After(deadline) {
			if testing.Verbose() {
				_ = pprof.Lookup("goroutine").WriteTo(os.Stderr, 1)
			}
			t.Fatalf("timed out after %d records", len(w.records))
		}
		recs, err := task.Poll(context.Background())
		if err != nil {
			t.Fatalf("poll: %v", err)
		}
		w.records = append(w.records, recs...)
	}
}

// topicRecords keeps the records of one topic.
func topicRecords(recs []*connect.Record, topic string) []*connect.Record {
	var out []*connect.Record
	for _, r := range recs {
		if r.Topic == topic {
			out = append(out, r)
		}
	}
	return out
}

func opOf(r *connect.Record) string {
	if r.Value == nil {
		return "tombstone"
	}
	env, ok := r.Value.(*connect.Struct)
	if !ok {
		return ""
	}
	op, _ := env.Get("op").(string)
	return op
}

func field(r *connect.Record, image, name string) any {
	env := r.Value.(*connect.Struct)
	img, _ := env.Get(image).(*connect.Struct)
	if img == nil {
		return nil
	}
	return img.Get(name)
}

func sourceField(r *connect.Record, name string) any {
	return r.Value.(*connect.Struct).Get("source").(*connect.Struct).Get(name)
}

// hasKey reports whether some of the last records has key id = want.
func hasKey(recs []*connect.Record, topic string, want any) bool {
	for i := len(recs) - 1; i >= 0 && i >= len(recs)-5000; i-- {
		r := recs[i]
		if r.Topic == topic && r.Key != nil && r.Key.(*connect.Struct).Get("id") == want {
			return true
		}
	}
	return false
}
