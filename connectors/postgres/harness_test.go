package postgres

import (
	"context"
	"fmt"
	"math/rand"
	"os"
	"runtime/pprof"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/internal/testservice"
)

// fakeWorker drives a task as the worker would: it polls, and "flushes"
// offsets by storing the offset of a chosen record and calling Commit with
// it. Its OffsetReader returns the last offset Commit received.
type fakeWorker struct {
	mu      sync.Mutex
	stored  map[string]any
	records []*connect.Record
}

func (w *fakeWorker) ConnectorName() string { return "pg-test" }
func (w *fakeWorker) TaskID() int           { return 0 }
func (w *fakeWorker) Offsets() connect.OffsetReader {
	return w
}
func (w *fakeWorker) Offset(ctx context.Context, partition map[string]any) (map[string]any, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.stored, nil
}

// commit stores rec's offset and hands it to the task's Commit.
func (w *fakeWorker) commit(t *testing.T, task *Task, rec *connect.Record) {
	t.Helper()
	w.mu.Lock()
	w.stored = rec.SourceOffset
	w.mu.Unlock()
	if err := task.Commit(context.Background(), []connect.SourceOffset{{Partition: rec.SourcePartition, Offset: rec.SourceOffset}}); err != nil {
		t.Fatal(err)
	}
}

type pgEnv struct {
	srv  *testservice.PostgresServer
	conn *pgx.Conn
}

func startPG(t *testing.T) *pgEnv {
	t.Helper()
	srv := testservice.Postgres(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, srv.DSN)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return &pgEnv{srv: srv, conn: conn}
}

func (e *pgEnv) exec(t *testing.T, sqls ...string) {
	t.Helper()
	for _, q := range sqls {
		if _, err := e.conn.Exec(context.Background(), q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
}

func (e *pgEnv) props(extra map[string]string) map[string]string {
	p := map[string]string{
		KeyHostname: e.srv.Host, KeyPort: strconv.Itoa(e.srv.Port), KeyUser: e.srv.User,
		KeyDBName: e.srv.Database, KeySSLMode: "disable", KeyTopicPrefix: "srv",
		KeyStatusInterval: "100", KeyPollInterval: "50",
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

func countOps(recs []*connect.Record, topic string) map[string]int {
	m := map[string]int{}
	for _, r := range recs {
		if r.Topic != topic {
			continue
		}
		if r.Value == nil {
			m["tombstone"]++
			continue
		}
		if env, ok := r.Value.(*connect.Struct); ok {
			if op, ok := env.Get("op").(string); ok {
				m[op]++
			}
		}
	}
	return m
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

func slotConfirmed(t *testing.T, e *pgEnv, slot string) string {
	t.Helper()
	var lsn *string
	err := e.conn.QueryRow(context.Background(), "SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name=$1", slot).Scan(&lsn)
	if err != nil {
		t.Fatal(err)
	}
	if lsn == nil {
		return ""
	}
	return *lsn
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(fmt.Sprint(err))
	}
	return v
}

// writeItems starts n writers that insert, update or delete random rows of
// items (id int PRIMARY KEY, v int NOT NULL, note text) with ids in
// [1, ids] until the returned stop is called; stop waits for them and
// returns how many writes they made.
func writeItems(t *testing.T, e *pgEnv, n, ids int) (stop func() int64) {
	t.Helper()
	var done atomic.Bool
	var wg sync.WaitGroup
	var writes atomic.Int64
	for g := 0; g < n; g++ {
		wg.Add(1)
		go func(seed int64) {
			defer wg.Done()
			conn, err := pgx.Connect(context.Background(), e.srv.DSN)
			if err != nil {
				t.Error(err)
				return
			}
			defer conn.Close(context.Background())
			rnd := rand.New(rand.NewSource(seed))
			for !done.Load() {
				id := rnd.Intn(ids) + 1
				var q string
				switch rnd.Intn(3) {
				case 0:
					q = "INSERT INTO items VALUES ($1, $1, 'ins') ON CONFLICT (id) DO UPDATE SET v = items.v + 1"
				case 1:
					q = "UPDATE items SET v = v + 1, note = 'upd' WHERE id = $1"
				default:
					q = "DELETE FROM items WHERE id = $1"
				}
				if _, err := conn.Exec(context.Background(), q, id); err != nil {
					t.Error(err)
					return
				}
				writes.Add(1)
			}
		}(int64(g))
	}
	return func() int64 {
		done.Store(true)
		wg.Wait()
		return writes.Load()
	}
}

// checkItems fails unless state, the (v, note) of each id that the events
// applied in order give, equals the rows of items.
func checkItems(t *testing.T, e *pgEnv, state map[int32][2]any) {
	t.Helper()
	rows, err := e.conn.Query(context.Background(), "SELECT id, v, note FROM items")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var id, v int32
		var note *string
		if err := rows.Scan(&id, &v, &note); err != nil {
			t.Fatal(err)
		}
		n++
		got, ok := state[id]
		if !ok {
			t.Fatalf("row %d missing from the events", id)
		}
		var wantNote any
		if note != nil {
			wantNote = *note
		}
		if got[0] != v || got[1] != wantNote {
			t.Fatalf("row %d: events say %v, table says (%d, %v)", id, got, v, wantNote)
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if n != len(state) {
		t.Fatalf("table has %d rows, events %d", n, len(state))
	}
}
