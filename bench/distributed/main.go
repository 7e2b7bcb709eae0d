// Command distributed benchmarks distributed workers: three `penstock worker`
// processes in one group against Penstock's broker (in process).
//
//  1. time from POST /connectors (on a non-leader, so it is forwarded) to all
//     of the connector's tasks RUNNING, spread over the three workers;
//  2. time from a worker's SIGKILL to its tasks RUNNING on the others, with
//     scheduled.rebalance.max.delay.ms=0.
//
// Both are printed beside the group's session timeout, the floor of (2): the
// coordinator only notices a dead member when its session expires.
//
//	go run ./bench/distributed [-runs 3] [-tasks 12] [-session 10000] [-heartbeat 3000] [-bin path/to/penstock]
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"syscall"
	"time"

	"github.com/penstockhq/penstock/broker"
)

var (
	runs      = flag.Int("runs", 3, "measurements of each kind")
	tasks     = flag.Int("tasks", 12, "tasks.max of the benchmark connector")
	session   = flag.Int("session", 10000, "session.timeout.ms")
	heartbeat = flag.Int("heartbeat", 3000, "heartbeat.interval.ms")
	binPath   = flag.String("bin", "", "penstock binary (default: go build ./cmd/penstock into a temp dir)")
	verbose   = flag.Bool("v", false, "print the workers' logs")
)

func main() {
	flag.Parse()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

type proc struct {
	cmd *exec.Cmd
	url string
	id  string
}

func run() error {
	dir, err := os.MkdirTemp("", "penstock-bench-distributed")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := *binPath
	if bin == "" {
		bin = filepath.Join(dir, "penstock")
		out, err := exec.Command("go", "build", "-o", bin, "github.com/penstockhq/penstock/cmd/penstock").CombinedOutput()
		if err != nil {
			return fmt.Errorf("go build: %v\n%s", err, out)
		}
	}
	cfg := broker.DefaultConfig()
	cfg.DataDir = filepath.Join(dir, "broker")
	cfg.Listen = "127.0.0.1:0"
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	cfg.Props = map[string]string{"group.initial.rebalance.delay.ms": "0"}
	srv, err := broker.New(cfg)
	if err != nil {
		return err
	}
	defer srv.Close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	go srv.Serve(ln)
	addr := ln.Addr().String()

	var procs []*proc
	defer func() {
		for _, p := range procs {
			if p.cmd.ProcessState == nil {
				p.cmd.Process.Signal(syscall.SIGTERM)
				p.cmd.Wait()
			}
		}
	}()
	start := func() (*proc, error) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		props := fmt.Sprintf(`bootstrap.servers=%s
group.id=bench
config.storage.topic=bench-configs
offset.storage.topic=bench-offsets
status.storage.topic=bench-status
offset.storage.partitions=3
status.storage.partitions=2
session.timeout.ms=%d
heartbeat.interval.ms=%d
scheduled.rebalance.max.delay.ms=0
listeners=http://127.0.0.1:%d
rest.advertised.host.name=127.0.0.1
`, addr, *session, *heartbeat, port)
		f := filepath.Join(dir, fmt.Sprintf("w%d.properties", port))
		if err := os.WriteFile(f, []byte(props), 0o600); err != nil {
			return nil, err
		}
		cmd := exec.Command(bin, "worker", "--config", f)
		if *verbose {
			cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		}
		if err := cmd.Start(); err != nil {
			return nil, err
		}
		p := &proc{cmd: cmd, url: fmt.Sprintf("http://127.0.0.1:%d", port), id: fmt.Sprintf("127.0.0.1:%d", port)}
		procs = append(procs, p)
		return p, wait(60*time.Second, func() error { _, _, err := call("GET", p.url+"/", nil); return err })
	}
	for range 3 {
		if _, err := start(); err != nil {
			return err
		}
	}
	live := func() map[string]bool {
		m := map[string]bool{}
		for _, p := range procs {
			if p.cmd.ProcessState == nil {
				m[p.id] = true
			}
		}
		return m
	}
	fmt.Printf("distributed workers: 3 worker processes, Penstock's broker in process, connector with tasks.max=%d\n", *tasks)
	fmt.Printf("session.timeout.ms=%d heartbeat.interval.ms=%d scheduled.rebalance.max.delay.ms=0\n\n", *session, *heartbeat)

	var creates, moves []time.Duration
	for r := 0; r < *runs; r++ {
		name := fmt.Sprintf("bench-%d", r)
		alive := live()
		var via *proc
		for _, p := range procs {
			if alive[p.id] {
				via = p // the last live one: usually not the leader, so forwarded
			}
		}
		t0 := time.Now()
		code, body, err := call("POST", via.url+"/connectors", map[string]any{"name": name,
			"config": map[string]string{"connector.class": "datagen", "topic": name, "rate": "1", "tasks.max": fmt.Sprint(*tasks)}})
		if err != nil || code != http.StatusCreated {
			return fmt.Errorf("create: %d %s %v", code, body, err)
		}
		var own map[string]string
		if err := wait(120*time.Second, func() error { own, err = running(via.url, name, *tasks, live()); return err }); err != nil {
			return err
		}
		d := time.Since(t0)
		creates = append(creates, d)
		fmt.Printf("run %d: POST /connectors -> %d tasks RUNNING on %d workers: %v\n", r+1, *tasks, workers(own), d.Round(time.Millisecond))

		// Kill the worker running task 0, then time until all tasks run elsewhere.
		var victim *proc
		for _, p := range procs {
			if p.id == own["0"] {
				victim = p
			}
		}
		victim.cmd.Process.Signal(syscall.SIGKILL)
		victim.cmd.Wait()
		t1 := time.Now()
		var other *proc
		for _, p := range procs {
			if p.cmd.ProcessState == nil {
				other = p
			}
		}
		if err := wait(180*time.Second, func() error { own, err = running(other.url, name, *tasks, live()); return err }); err != nil {
			return err
		}
		d = time.Since(t1)
		moves = append(moves, d)
		fmt.Printf("run %d: SIGKILL of %s -> its tasks RUNNING elsewhere: %v (session timeout %v)\n", r+1, victim.id, d.Round(time.Millisecond),
			time.Duration(*session)*time.Millisecond)
		// Back to three workers for the next run.
		if _, err := start(); err != nil {
			return err
		}
	}
	med := func(ds []time.Duration) time.Duration {
		s := append([]time.Duration(nil), ds...)
		sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
		return s[len(s)/2]
	}
	st := time.Duration(*session) * time.Millisecond
	fmt.Printf("\n%-58s %10s %10s\n", "", "median", "/session")
	fmt.Printf("%-58s %10v %9.2fx\n", "POST /connectors -> all tasks RUNNING (3 workers)", med(creates).Round(time.Millisecond), float64(med(creates))/float64(st))
	fmt.Printf("%-58s %10v %9.2fx\n", "worker SIGKILL -> its tasks RUNNING elsewhere (delay 0)", med(moves).Round(time.Millisecond), float64(med(moves))/float64(st))
	fmt.Printf("%-58s %10v\n", "session.timeout.ms", st)
	return nil
}

func workers(own map[string]string) int {
	m := map[string]bool{}
	for _, w := range own {
		m[w] = true
	}
	return len(m)
}

// running returns task -> worker id once every task is RUNNING on a live worker.
func running(url, name string, n int, live map[string]bool) (map[string]string, error) {
	code, body, err := call("GET", url+"/connectors/"+name+"/status", nil)
	if err != nil {
		return nil, err
	}
	if code != http.StatusOK {
		return nil, fmt.Errorf("%d %s", code, body)
	}
	var st struct {
		Tasks []struct {
			ID       int    `json:"id"`
			State    string `json:"state"`
			WorkerID string `json:"worker_id"`
		} `json:"tasks"`
	}
	if err := json.Unmarshal(body, &st); err != nil {
		return nil, err
	}
	if len(st.Tasks) != n {
		return nil, fmt.Errorf("%d tasks", len(st.Tasks))
	}
	own := map[string]string{}
	for _, t := range st.Tasks {
		if t.State != "RUNNING" || !live[t.WorkerID] {
			return nil, fmt.Errorf("task %d %s on %s", t.ID, t.State, t.WorkerID)
		}
		own[fmt.Sprint(t.ID)] = t.WorkerID
	}
	return own, nil
}

func wait(d time.Duration, f func() error) error {
	deadline := time.Now().Add(d)
	for {
		err := f()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return err
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func call(method, url string, body any) (int, []byte, error) {
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}
