// Package e2e holds what end-to-end tests of several packages share: a real
// worker with its real REST server (in process, or as a `penstock worker`
// subprocess that a test can kill -9), a small HTTP client that returns
// status, headers and raw body, polling with deadlines, and a reader of
// whole topics. Tests drive Penstock only through HTTP with it; the broker
// comes from internal/brokertest.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/penstockhq/penstock/plugins/builtin"
	"github.com/penstockhq/penstock/worker"
	"github.com/penstockhq/penstock/worker/rest"
)

// Worker is an in-process worker: a herder and its REST API served on a
// real loopback listener.
type Worker struct {
	// URL is the REST API's base URL, http://127.0.0.1:PORT.
	URL    string
	Herder *worker.Herder
	srv    *rest.Server
}

// WorkerProps are the worker properties tests start from: DevProps with
// short flush intervals and small internal topics. extra overrides them.
func WorkerProps(bootstrap string, extra map[string]string) map[string]string {
	props := worker.DevProps(bootstrap)
	props[worker.KeyOffsetFlushInterval] = "200"
	props[worker.KeyOffsetPartitions] = "3"
	props[worker.KeyStatusPartitions] = "1"
	for k, v := range extra {
		props[k] = v
	}
	return props
}

// StartWorker starts a worker in process against bootstrap, its REST API
// on a free loopback port, both stopped at the test's end.
func StartWorker(t testing.TB, bootstrap string, extra map[string]string) *Worker {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + ln.Addr().String()
	props := WorkerProps(bootstrap, extra)
	props[worker.KeyListeners] = url
	cfg, err := worker.ParseConfig(props)
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	h, err := worker.New(ctx, cfg, worker.Options{Registry: builtin.Registry(), Logger: log, Version: "e2e"})
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	srv := rest.New(h, rest.WithLogger(log), rest.WithRequestTimeout(30*time.Second), rest.WithGatherer(h.Metrics()))
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil {
			t.Errorf("REST server: %v", err)
		}
	}()
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		<-done
		_ = h.Close()
	})
	return &Worker{URL: url, Herder: h, srv: srv}
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// Response is an HTTP answer, body read whole.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into v or fails the test.
func (r Response) JSON(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decoding %q: %v", r.Body, err)
	}
}

func (r Response) String() string { return fmt.Sprintf("%d %s", r.Status, r.Body) }

var client = &http.Client{Timeout: 60 * time.Second}

// Do sends a request; body is nil (none), a string or []byte (sent as is),
// or any other value (sent as JSON).
func Do(method, url string, body any) (Response, error) {
	var r io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		r = strings.NewReader(b)
	case []byte:
		r = bytes.NewReader(b)
	default:
		data, err := json.Marshal(b)
		if err != nil {
			return Response{}, err
		}
		r = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		return Response{}, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return Response{}, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return Response{Status: resp.StatusCode, Header: resp.Header, Body: data}, err
}

// Call is Do that fails the test on a transport error.
func Call(t testing.TB, method, url string, body any) Response {
	t.Helper()
	r, err := Do(method, url, body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	return r
}

// Expect is Call that fails the test unless the status is want.
func Expect(t testing.TB, want int, method, url string, body any) Response {
	t.Helper()
	r := Call(t, method, url, body)
	if r.Status != want {
		t.Fatalf("%s %s: %s, want %d", method, url, r, want)
	}
	return r
}

// Eventually retries fn every 100ms until it returns nil, and fails the
// test with fn's last error once d has passed.
func Eventually(t testing.TB, d time.Duration, what string, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still not so after %v: %v", what, d, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Status is Kafka Connect's ConnectorStateInfo as JSON.
type Status struct {
	Name      string `json:"name"`
	Type      string `json:"type"`
	Connector struct {
		State    string `json:"state"`
		WorkerID string `json:"worker_id"`
		Trace    string `json:"trace"`
	} `json:"connector"`
	Tasks []struct {
		ID       int    `json:"id"`
		State    string `json:"state"`
		WorkerID string `json:"worker_id"`
		Trace    string `json:"trace"`
	} `json:"tasks"`
}

// WaitState polls GET /connectors/{name}/status until the connector is in
// connState with tasks tasks, all in taskState.
func WaitState(t testing.TB, base, name, connState, taskState string, tasks int) Status {
	t.Helper()
	var st Status
	Eventually(t, 30*time.Second, fmt.Sprintf("%s %s with %d %s tasks", name, connState, tasks, taskState), func() error {
		r, err := Do("GET", base+"/connectors/"+name+"/status", nil)
		if err != nil {
			return err
		}
		if r.Status != http.StatusOK {
			return fmt.Errorf("status: %s", r)
		}
		st = Status{}
		if err := json.Unmarshal(r.Body, &st); err != nil {
			return err
		}
		if st.Connector.State != connState {
			return fmt.Errorf("connector %s %s", st.Connector.State, st.Connector.Trace)
		}
		if len(st.Tasks) != tasks {
			return fmt.Errorf("%d tasks: %s", len(st.Tasks), r.Body)
		}
		for _, ts := range st.Tasks {
			if ts.State != taskState {
				return fmt.Errorf("task %d %s %s", ts.ID, ts.State, ts.Trace)
			}
		}
		return nil
	})
	return st
}

// FreePort returns a loopback port that was free a moment ago.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// BuildPenstock builds ./cmd/penstock into the test's temp dir and returns
// the binary's path.
func BuildPenstock(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "penstock")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/penstockhq/penstock/cmd/penstock")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// Proc is a `penstock worker` subprocess.
type Proc struct {
	URL  string
	cmd  *exec.Cmd
	done chan struct{}
}

// WriteProps writes worker properties to a file in dir.
func WriteProps(t testing.TB, dir string, props map[string]string) string {
	t.Helper()
	keys := make([]string, 0, len(props))
	for k := range props {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "%s=%s\n", k, props[k])
	}
	path := filepath.Join(dir, "worker.properties")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// StartProc runs `bin worker --config configFile` with env added to the
// environment, and waits until its REST API at url answers GET /. The
// process's output goes to logFile (appended). It is killed at the test's end.
func StartProc(t testing.TB, bin, configFile, url, logFile string, env ...string) *Proc {
	t.Helper()
	f, err := os.OpenFile(logFile, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "worker", "--config", configFile)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		f.Close()
		t.Fatal(err)
	}
	p := &Proc{URL: url, cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); f.Close(); close(p.done) }()
	t.Cleanup(func() { p.Kill() })
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := Do("GET", url+"/", nil); err == nil {
			return p
		}
		select {
		case <-p.done:
			t.Fatalf("worker exited at start: %s", tail(logFile))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("worker REST API not up after 60s: %s", tail(logFile))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Kill sends SIGKILL and waits for the process to be gone.
func (p *Proc) Kill() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// Stop sends SIGTERM and waits up to d for a clean exit; it kills the
// process and reports false when it did not exit in time.
func (p *Proc) Stop(d time.Duration) bool {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return true
	case <-time.After(d):
		p.Kill()
		return false
	}
}

func tail(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 8000 {
		b = b[len(b)-8000:]
	}
	return string(b)
}

// LogTail returns the last part of a log file, for failure messages.
func LogTail(path string) string { return tail(path) }

// ReadTopic reads every record of topic from the beginning up to its end
// offsets at the time of the call.
func ReadTopic(t testing.TB, bootstrap, topic string) []*kgo.Record {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	adm, err := kgo.NewClient(kgo.SeedBrokers(bootstrap))
	if err != nil {
		t.Fatal(err)
	}
	ends, err := kadm.NewClient(adm).ListEndOffsets(ctx, topic)
	adm.Close()
	if err != nil {
		t.Fatal(err)
	}
	want := map[int32]int64{}
	total := int64(0)
	ends.Each(func(o kadm.ListedOffset) {
		if o.Err == nil && o.Offset > 0 {
			want[o.Partition] = o.Offset
			total += o.Offset
		}
	})
	if total == 0 {
		return nil
	}
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap), kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var out []*kgo.Record
	for len(want) > 0 {
		fs := cl.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("reading %s: %v (%d records read, ends left %v)", topic, ctx.Err(), len(out), want)
		}
		fs.EachRecord(func(r *kgo.Record) {
			end, ok := want[r.Partition]
			if !ok {
				return
			}
			if r.Offset < end {
				out = append(out, r)
			}
			if r.Offset+1 >= end {
				delete(want, r.Partition)
			}
		})
	}
	return out
}

// TopicsExist reports an error unless every topic exists on the brokers.
func TopicsExist(bootstrap string, topics ...string) error {
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap))
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	details, err := kadm.NewClient(cl).ListTopics(ctx, topics...)
	if err != nil {
		return err
	}
	for _, tp := range topics {
		if d, ok := details[tp]; !ok || d.Err != nil {
			return fmt.Errorf("topic %s does not exist yet", tp)
		}
	}
	return nil
}
