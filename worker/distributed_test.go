package worker

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/penstockhq/penstock/internal/brokertest"
	"github.com/penstockhq/penstock/worker/rest"
)

// TestDistributedWorkers runs worker processes in one group, against
// Penstock's broker and against franz-go's kfake (proof that the group
// protocol needs nothing of our broker's internals): three workers share
// four connectors; a fourth worker joins and the work spreads evenly
// without restarting anything that did not move; a config change restarts
// only the changed connector's tasks; a task restart sent to any worker
// reaches the task's owner; a worker killed with SIGKILL, then the leader,
// have their tasks running elsewhere after session.timeout.ms +
// scheduled.rebalance.max.delay.ms, and the datagen -> file sink pipeline
// loses no sequence number across both; REST writes sent to any worker
// succeed (non-leaders forward them). Task start counts come from each
// worker's penstock_task_starts_total at /metrics.
func TestDistributedWorkers(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the penstock binary")
	}
	bin := buildPenstock(t)
	t.Run("penstock-broker", func(t *testing.T) { runDistributed(t, bin, brokertest.Start(t).Addr) })
	t.Run("kfake", func(t *testing.T) { runDistributed(t, bin, startKfake(t)) })
}

type distWorker struct {
	*workerProc
	url string // http://127.0.0.1:port
	id  string // 127.0.0.1:port
}

func startDistWorker(t *testing.T, bin, dir, addr string, extra string) *distWorker {
	t.Helper()
	port := freePort(t)
	props := fmt.Sprintf(`bootstrap.servers=%s
group.id=dist
config.storage.topic=dist-configs
offset.storage.topic=dist-offsets
status.storage.topic=dist-status
offset.storage.partitions=3
status.storage.partitions=2
offset.flush.interval.ms=300
session.timeout.ms=6000
heartbeat.interval.ms=500
scheduled.rebalance.max.delay.ms=3000
consumer.session.timeout.ms=6000
listeners=http://127.0.0.1:%d
rest.advertised.host.name=127.0.0.1
%s`, addr, port, extra)
	f := filepath.Join(dir, fmt.Sprintf("worker-%d.properties", port))
	if err := os.WriteFile(f, []byte(props), 0o600); err != nil {
		t.Fatal(err)
	}
	w := &distWorker{workerProc: startWorkerProc(t, bin, f), url: fmt.Sprintf("http://127.0.0.1:%d", port), id: fmt.Sprintf("127.0.0.1:%d", port)}
	eventually(t, 60*time.Second, "worker "+w.id+" REST API up", func() error {
		_, _, err := restCall("GET", w.url+"/", nil)
		return err
	})
	t.Cleanup(func() {
		if w.cmd.ProcessState == nil {
			w.cmd.Process.Kill()
			w.cmd.Wait()
		}
		if t.Failed() {
			t.Logf("---- log of worker %s ----\n%s", w.id, tail(w.log.String(), 60))
		}
	})
	return w
}

func tail(s string, lines int) string {
	b := []byte(s)
	n := 0
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] == '\n' {
			n++
			if n > lines {
				return string(b[i+1:])
			}
		}
	}
	return s
}

// clusterStatus returns every connector's status as one worker reports it.
func clusterStatus(url string) (map[string]rest.ConnectorStateInfo, error) {
	code, body, err := restCall("GET", url+"/connectors?expand=status", nil)
	if err != nil {
		return nil, err
	}
	if code != http.StatusOK {
		return nil, fmt.Errorf("GET /connectors: %d %s", code, body)
	}
	var out map[string]struct {
		Status rest.ConnectorStateInfo `json:"status"`
	}
	if err := json.Unmarshal(body, &out); err != nil {
		return nil, err
	}
	m := map[string]rest.ConnectorStateInfo{}
	for k, v := range out {
		m[k] = v.Status
	}
	return m, nil
}

// owners returns the owner of every task ("conn/n" -> worker id) and of
// every connector ("conn" -> worker id), requiring all RUNNING on live workers.
func owners(url string, want map[string]int, live map[string]bool) (map[string]string, error) {
	st, err := clusterStatus(url)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for name, n := range want {
		s, ok := st[name]
		if !ok {
			return nil, fmt.Errorf("connector %s missing", name)
		}
		if s.Connector.State != rest.StateRunning || !live[s.Connector.WorkerID] {
			return nil, fmt.Errorf("connector %s: %s on %q", name, s.Connector.State, s.Connector.WorkerID)
		}
		out[name] = s.Connector.WorkerID
		if len(s.Tasks) != n {
			return nil, fmt.Errorf("connector %s: %d tasks, want %d", name, len(s.Tasks), n)
		}
		for _, ts := range s.Tasks {
			if ts.State != rest.StateRunning || !live[ts.WorkerID] {
				return nil, fmt.Errorf("task %s-%d: %s on %q %s", name, ts.ID, ts.State, ts.WorkerID, ts.Trace)
			}
			out[fmt.Sprintf("%s/%d", name, ts.ID)] = ts.WorkerID
		}
	}
	return out, nil
}

var startsLine = regexp.MustCompile(`^penstock_task_starts_total\{connector="([^"]+)",task="(\d+)"\} (\d+)`)

// taskStarts sums penstock_task_starts_total over workers: "conn/n" -> starts.
func taskStarts(t *testing.T, ws []*distWorker) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, w := range ws {
		code, body, err := restCall("GET", w.url+"/metrics", nil)
		if err != nil || code != http.StatusOK {
			t.Fatalf("metrics of %s: %d %v", w.id, code, err)
		}
		sc := bufio.NewScanner(bytes.NewReader(body))
		for sc.Scan() {
			if m := startsLine.FindStringSubmatch(sc.Text()); m != nil {
				n, _ := strconv.Atoi(m[3])
				out[m[1]+"/"+m[2]] += n
			}
		}
	}
	return out
}

func spread(own map[string]string, live map[string]bool) (taskLo, taskHi, connLo, connHi int) {
	tasks, conns := map[string]int{}, map[string]int{}
	for w := range live {
		tasks[w], conns[w] = 0, 0
	}
	for k, w := range own {
		if bytes.ContainsRune([]byte(k), '/') {
			tasks[w]++
		} else {
			conns[w]++
		}
	}
	taskLo, connLo = 1<<30, 1<<30
	for w := range live {
		taskLo, taskHi = min(taskLo, tasks[w]), max(taskHi, tasks[w])
		connLo, connHi = min(connLo, conns[w]), max(connHi, conns[w])
	}
	return
}

func runDistributed(t *testing.T, bin, addr string) {
	dir := t.TempDir()
	out := filepath.Join(dir, "sink.txt")
	var ws []*distWorker
	for range 3 {
		ws = append(ws, startDistWorker(t, bin, dir, addr, ""))
	}
	live := func() map[string]bool {
		m := map[string]bool{}
		for _, w := range ws {
			if w.cmd.ProcessState == nil {
				m[w.id] = true
			}
		}
		return m
	}
	const n = 24000 // per gen task
	connectors := []map[string]any{
		{"name": "gen", "config": map[string]string{"connector.class": "datagen", "topic": "dgen", "count": fmt.Sprint(n), "rate": "800", "batch.size": "100", "tasks.max": "2"}},
		{"name": "sink", "config": map[string]string{"connector.class": "FileStreamSink", "topics": "dgen", "file": out}},
		{"name": "load1", "config": map[string]string{"connector.class": "datagen", "topic": "dload1", "rate": "5", "tasks.max": "3"}},
		{"name": "load2", "config": map[string]string{"connector.class": "datagen", "topic": "dload2", "rate": "5", "tasks.max": "3"}},
	}
	want := map[string]int{"gen": 2, "sink": 1, "load1": 3, "load2": 3}
	// Writes sent to every worker: the non-leaders forward them.
	for i, c := range connectors {
		w := ws[i%len(ws)]
		var code int
		var body []byte
		eventually(t, 30*time.Second, "create "+c["name"].(string)+" via "+w.id, func() error {
			var err error
			code, body, err = restCall("POST", w.url+"/connectors", c)
			if err != nil || code != http.StatusCreated {
				return fmt.Errorf("%d %s %v", code, body, err)
			}
			return nil
		})
	}
	var own map[string]string
	eventually(t, 60*time.Second, "every task RUNNING on the three workers", func() error {
		var err error
		own, err = owners(ws[0].url, want, live())
		return err
	})
	tl, th, cl, ch := spread(own, live())
	t.Logf("3 workers: tasks per worker %d..%d, connectors %d..%d", tl, th, cl, ch)
	if th-tl > 1 || ch-cl > 1 {
		t.Errorf("uneven spread over 3 workers: %v", own)
	}
	// GETs answer the same everywhere (from the status topic).
	for _, w := range ws[1:] {
		eventually(t, 10*time.Second, "status on "+w.id, func() error {
			o, err := owners(w.url, want, live())
			if err == nil && fmt.Sprint(o) != fmt.Sprint(own) {
				return fmt.Errorf("%v vs %v", o, own)
			}
			return err
		})
	}

	// A fourth worker: an even spread, and only what moved restarted.
	before := taskStarts(t, ws)
	ws = append(ws, startDistWorker(t, bin, dir, addr, ""))
	eventually(t, 60*time.Second, "an even spread over four workers", func() error {
		o, err := owners(ws[0].url, want, live())
		if err != nil {
			return err
		}
		tl, th, cl, ch := spread(o, live())
		if th-tl > 1 || ch-cl > 1 {
			return fmt.Errorf("tasks %d..%d connectors %d..%d: %v", tl, th, cl, ch, o)
		}
		own2 := o
		own = own2
		return nil
	})
	after := taskStarts(t, ws)
	moved := 0
	for k, w := range own {
		if !bytes.ContainsRune([]byte(k), '/') {
			continue
		}
		if after[k] != before[k] {
			moved++
			if after[k] != before[k]+1 {
				t.Errorf("task %s started %d times during the rebalance", k, after[k]-before[k])
			}
			if w != ws[3].id {
				t.Errorf("task %s restarted but it was not moved to the new worker (%s)", k, w)
			}
		}
	}
	t.Logf("4 workers: %d tasks moved to the new worker, the others untouched; owners %v", moved, own)
	if moved == 0 {
		t.Errorf("no task moved to the fourth worker")
	}

	// A task restart sent to a worker that does not run the task is
	// forwarded to its owner, and restarts that task only.
	before = taskStarts(t, ws)
	var via *distWorker
	for _, w := range ws {
		if w.id != own["load2/0"] {
			via = w
		}
	}
	code, body, err := restCall("POST", via.url+"/connectors/load2/tasks/0/restart", nil)
	if err != nil || code != http.StatusNoContent {
		t.Fatalf("restart load2/0 via %s (owner %s): %d %s %v", via.id, own["load2/0"], code, body, err)
	}
	eventually(t, 30*time.Second, "load2/0 restarted on its owner", func() error {
		if now := taskStarts(t, ws); now["load2/0"] != before["load2/0"]+1 {
			return fmt.Errorf("starts %d -> %d", before["load2/0"], now["load2/0"])
		}
		_, err := owners(ws[0].url, want, live())
		return err
	})
	after = taskStarts(t, ws)
	for k := range before {
		if k != "load2/0" && after[k] != before[k] {
			t.Errorf("task %s restarted by load2/0's restart", k)
		}
	}
	// The internal task-configs call needs the session key's signature.
	for _, w := range ws {
		req, _ := http.NewRequest("POST", w.url+"/connectors/load1/tasks?forward=true", bytes.NewReader([]byte(`[]`)))
		req.Header.Set(rest.SignatureHeader, "AAAA")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden && resp.StatusCode != http.StatusConflict {
			t.Errorf("unsigned task configs on %s: %d, want 403 (leader) or 409", w.id, resp.StatusCode)
		}
	}

	// A config change restarts the changed connector's tasks only.
	before = taskStarts(t, ws)
	cfg := connectors[2]["config"].(map[string]string)
	cfg["rate"] = "6"
	code, body, err = restCall("PUT", ws[3].url+"/connectors/load1/config", cfg)
	if err != nil || code != http.StatusOK {
		t.Fatalf("PUT load1 config via %s: %d %s %v", ws[3].id, code, body, err)
	}
	eventually(t, 30*time.Second, "load1's tasks restarted", func() error {
		now := taskStarts(t, ws)
		for i := range 3 {
			if k := fmt.Sprintf("load1/%d", i); now[k] == before[k] {
				return fmt.Errorf("%s not restarted", k)
			}
		}
		return nil
	})
	time.Sleep(time.Second)
	after = taskStarts(t, ws)
	for k := range before {
		if k[:5] != "load1" && after[k] != before[k] {
			t.Errorf("task %s restarted by another connector's config change", k)
		}
	}

	// SIGKILL a worker that is not the leader (a dead leader's work is
	// unknown to the next leader, which reassigns it without the delay, as
	// Kafka Connect does), preferably one in the datagen -> file pipeline.
	victim := -1
	for _, k := range []string{"gen/0", "gen/1", "sink/0", "load1/0", "load2/0", "load1/1", "load2/1", "load1/2", "load2/2"} {
		for i, w := range ws {
			if victim < 0 && w.id == own[k] && !isLeader(t, w) {
				victim = i
			}
		}
	}
	if victim < 0 {
		t.Fatalf("no non-leader worker runs a task: %v", own)
	}
	eventually(t, 60*time.Second, "a part of the stream in the file", func() error {
		if got := len(seqsInFile(t, out)); got < n/4 {
			return fmt.Errorf("%d records", got)
		}
		return nil
	})
	var victimTasks []string
	for k, w := range own {
		if w == ws[victim].id {
			victimTasks = append(victimTasks, k)
		}
	}
	sort.Strings(victimTasks)
	if err := ws[victim].cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	ws[victim].cmd.Wait()
	killed := time.Now()
	t.Logf("killed worker %s running %v with %d records in the file", ws[victim].id, victimTasks, len(seqsInFile(t, out)))
	other := ws[(victim+1)%len(ws)]
	eventually(t, 90*time.Second, "the killed worker's work RUNNING elsewhere", func() error {
		var err error
		own, err = owners(other.url, want, live())
		return err
	})
	took := time.Since(killed)
	t.Logf("the killed worker's work ran elsewhere %v after the kill (session timeout 6s + delay 3s)", took.Round(100*time.Millisecond))
	if took < 6*time.Second {
		t.Errorf("the killed worker's work moved after %v: before session timeout + scheduled.rebalance.max.delay.ms", took)
	}
	tl, th, cl, ch = spread(own, live())
	t.Logf("3 workers left: tasks per worker %d..%d, connectors %d..%d", tl, th, cl, ch)

	// Writes to every live worker still succeed.
	for _, w := range ws {
		if !live()[w.id] {
			continue
		}
		cfg["rate"] = fmt.Sprint(7 + len(w.id)%3)
		eventually(t, 30*time.Second, "PUT via "+w.id, func() error {
			code, body, err := restCall("PUT", w.url+"/connectors/load2/config", cfg2(connectors[3], w))
			if err != nil || code != http.StatusOK {
				return fmt.Errorf("%d %s %v", code, body, err)
			}
			return nil
		})
	}

	// SIGKILL the leader: the next leader learns the departed worker's work
	// from the status topic and holds it for the delay too.
	leader := -1
	for i, w := range ws {
		if live()[w.id] && isLeader(t, w) {
			leader = i
		}
	}
	if leader < 0 {
		t.Fatal("no leader among the live workers")
	}
	if err := ws[leader].cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	ws[leader].cmd.Wait()
	killed = time.Now()
	for _, w := range ws {
		if live()[w.id] {
			other = w
		}
	}
	eventually(t, 90*time.Second, "the killed leader's work RUNNING elsewhere", func() error {
		var err error
		own, err = owners(other.url, want, live())
		return err
	})
	took = time.Since(killed)
	t.Logf("the killed leader's work ran elsewhere %v after the kill", took.Round(100*time.Millisecond))
	if took < 6*time.Second {
		t.Errorf("the killed leader's work moved after %v: before session timeout + scheduled.rebalance.max.delay.ms", took)
	}

	eventually(t, 120*time.Second, "every sequence number in the file", func() error {
		seqs := seqsInFile(t, out)
		for task := int64(0); task < 2; task++ {
			for i := int64(0); i < n; i++ {
				if seqs[[2]int64{task, i}] == 0 {
					return fmt.Errorf("task %d seq %d missing (%d distinct of %d)", task, i, len(seqs), 2*n)
				}
			}
		}
		return nil
	})
	seqs := seqsInFile(t, out)
	dups := 0
	for _, c := range seqs {
		dups += c - 1
	}
	t.Logf("all %d sequence numbers in the file across the kill; %d duplicates (at-least-once)", 2*n, dups)
}

// cfg2 returns load2's config with a rate that differs per worker, so each
// PUT is a real change.
func cfg2(c map[string]any, w *distWorker) map[string]string {
	cfg := map[string]string{}
	for k, v := range c["config"].(map[string]string) {
		cfg[k] = v
	}
	cfg["rate"] = w.id[len(w.id)-2:]
	return cfg
}

// isLeader reads the worker's penstock_group_leader gauge.
func isLeader(t *testing.T, w *distWorker) bool {
	t.Helper()
	_, body, err := restCall("GET", w.url+"/metrics", nil)
	if err != nil {
		t.Fatal(err)
	}
	return bytes.Contains(body, []byte("\npenstock_group_leader 1\n"))
}
