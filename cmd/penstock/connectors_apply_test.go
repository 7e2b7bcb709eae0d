package main

// These tests run `connectors apply` and `connectors export`, and the
// --connectors watcher, against a running cluster: the broker in process
// and a real worker with its REST API (internal/e2e).

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/penstockhq/penstock/internal/brokertest"
	"github.com/penstockhq/penstock/internal/e2e"
	"github.com/penstockhq/penstock/internal/restclient"
	"github.com/penstockhq/penstock/worker/rest"
)

// put writes a file of dir.
func put(t *testing.T, dir, name, content string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// startCluster starts a broker and one worker; it returns the worker and a
// REST client of it.
func startCluster(t *testing.T) (*e2e.Worker, *restclient.Client, string) {
	t.Helper()
	b := brokertest.Start(t)
	w := e2e.StartWorker(t, b.Addr, nil)
	c, err := restclient.New(w.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	return w, c, b.Addr
}

// configs returns every connector's config (those deleted meanwhile left
// out).
func configs(t *testing.T, c *restclient.Client) map[string]map[string]string {
	t.Helper()
	names, err := c.Connectors(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]map[string]string{}
	for _, n := range names {
		cfg, err := c.Config(t.Context(), n)
		if restclient.IsNotFound(err) {
			continue // deleted since the list
		}
		if err != nil {
			t.Fatal(err)
		}
		out[n] = cfg
	}
	return out
}

func TestConnectorsApplyAndExport(t *testing.T) {
	t.Setenv("PENSTOCK_TEST_ES_PASSWORD", "from-env")
	w, c, bootstrap := startCluster(t)
	dir := t.TempDir()
	// The three formats: REST body JSON, YAML (numbers unquoted), and a
	// connect-standalone properties file with a literal secret and an
	// initial state.
	put(t, dir, "gen.json", `{"name":"gen","config":{"connector.class":"datagen","tasks.max":"1","topic":"gen","rate":"5","count":"100"}}`)
	put(t, dir, "sink.yaml", "name: to-file\nconfig:\n  connector.class: FileStreamSink\n  tasks.max: 1\n  topics: gen\n  file: "+filepath.Join(dir, "a.txt")+"\n")
	put(t, dir, "es.properties", "name=es\nconnector.class=ElasticsearchSink\ntopics=gen\nconnection.url=http://127.0.0.1:1\n"+
		"connection.password=s3cret\ninitial.state=STOPPED\n")
	// Offsets for a new connector: written while it is STOPPED, then it
	// starts (RUNNING) and resumes after them.
	put(t, dir, "resumed.json", `{"name":"resumed","config":{"connector.class":"datagen","tasks.max":"1","topic":"resumed","count":"1000"},
		"offsets":[{"partition":{"task":0},"offset":{"seq":994}}]}`)
	apply := func(args ...string) (string, error) {
		return run(t, newConnectorsCmd(), append([]string{"connectors", "apply", "--url", w.URL, "-f", dir}, args...)...)
	}

	out := mustRun(t, newConnectorsCmd(), "connectors", "apply", "--url", w.URL, "-f", dir, "--dry-run")
	wantContains(t, out, "+ gen (create", "+ to-file (create", "+ es (create", `tasks.max = "1"`,
		"connection.password = (sensitive)", "(initial state STOPPED)", "(offsets of 1 partition(s)", "Plan: 4 to create, 0 to update, 0 to delete, 0 unchanged.")
	if strings.Contains(out, "s3cret") {
		t.Errorf("the plan shows a secret:\n%s", out)
	}
	if got := configs(t, c); len(got) != 0 {
		t.Fatalf("--dry-run created %v", got)
	}

	out, err := apply()
	if err != nil {
		t.Fatalf("apply: %v\n%s", err, out)
	}
	wantContains(t, out, "created gen", "created to-file", "created es", "created resumed", "Apply complete: 4 created, 0 updated, 0 deleted.")
	got := configs(t, c)
	if len(got) != 4 || got["to-file"]["tasks.max"] != "1" || got["es"]["connection.password"] != "[hidden]" {
		t.Fatalf("after apply: %v", got)
	}
	e2e.WaitState(t, w.URL, "es", rest.StateStopped, rest.StateRunning, 0)
	e2e.WaitState(t, w.URL, "gen", rest.StateRunning, rest.StateRunning, 1)
	e2e.Eventually(t, time.Minute, "resumed generates from seq 995 to 999", func() error {
		offs, err := c.Offsets(t.Context(), "resumed")
		if err != nil || len(offs.Offsets) != 1 || fmt.Sprint(offs.Offsets[0].Offset["seq"]) != "999" {
			return fmt.Errorf("offsets %+v, %v", offs, err)
		}
		return nil
	})
	if n := len(e2e.ReadTopic(t, bootstrap, "resumed")); n == 0 || n > 10 {
		t.Errorf("resumed wrote %d records, want the 5 after its offset", n)
	}

	// The same files again: nothing to do, and it says so.
	out = mustRun(t, newConnectorsCmd(), "connectors", "apply", "--url", w.URL, "-f", dir)
	wantContains(t, out, "= gen (unchanged)", "No changes: the cluster matches the files (4 connector(s)).")
	if strings.Contains(out, "created") || strings.Contains(out, "updated") {
		t.Errorf("re-apply changed something:\n%s", out)
	}

	// An edited key shows in the plan, then in the config; the literal
	// secret of an updated connector is written again, never printed.
	put(t, dir, "sink.yaml", "name: to-file\nconfig:\n  connector.class: FileStreamSink\n  tasks.max: 1\n  topics: gen\n  file: "+filepath.Join(dir, "b.txt")+"\n")
	put(t, dir, "es.properties", "name=es\nconnector.class=ElasticsearchSink\ntopics=gen,other\nconnection.url=http://127.0.0.1:1\n"+
		"connection.password=s3cret\ninitial.state=STOPPED\n")
	out = mustRun(t, newConnectorsCmd(), "connectors", "apply", "--url", w.URL, "-f", dir, "--dry-run")
	wantContains(t, out, "~ to-file (update", fmt.Sprintf("~ file: %q -> %q", filepath.Join(dir, "a.txt"), filepath.Join(dir, "b.txt")),
		`~ topics: "gen" -> "gen,other"`, "(secrets written again: connection.password)", "Plan: 0 to create, 2 to update, 0 to delete, 2 unchanged.")
	if strings.Contains(out, "s3cret") {
		t.Errorf("the plan shows a secret:\n%s", out)
	}
	out = mustRun(t, newConnectorsCmd(), "connectors", "apply", "--url", w.URL, "-f", dir)
	wantContains(t, out, "updated to-file", "updated es")
	if got := configs(t, c); got["to-file"]["file"] != filepath.Join(dir, "b.txt") || got["es"]["topics"] != "gen,other" {
		t.Errorf("after the update: %v", got)
	}

	// A secret moved to a provider reference: the reference shows.
	put(t, dir, "es.properties", "name=es\nconnector.class=ElasticsearchSink\ntopics=gen,other\nconnection.url=http://127.0.0.1:1\n"+
		"connection.password=${env:PENSTOCK_TEST_ES_PASSWORD}\ninitial.state=STOPPED\n")
	out = mustRun(t, newConnectorsCmd(), "connectors", "apply", "--url", w.URL, "-f", dir)
	wantContains(t, out, `~ connection.password: (sensitive) -> "${env:PENSTOCK_TEST_ES_PASSWORD}"`, "updated es")

	// An invalid file changes nothing (not even the valid edit beside it)
	// and names its file and key.
	put(t, dir, "gen.json", `{"name":"gen","config":{"connector.class":"datagen","tasks.max":"1","topic":"gen","rate":"-5","count":"100"}}`)
	put(t, dir, "sink.yaml", "name: to-file\nconfig:\n  connector.class: FileStreamSink\n  tasks.max: 1\n  topics: gen\n  file: "+filepath.Join(dir, "c.txt")+"\n")
	before := configs(t, c)
	out, err = apply()
	if err == nil {
		t.Fatalf("an invalid file was applied:\n%s", out)
	}
	wantContains(t, out, filepath.Join(dir, "gen.json")+": connector gen: rate: ", "nothing will change")
	if after := configs(t, c); !equalConfigs(before, after) {
		t.Errorf("an invalid apply changed the cluster:\nbefore %v\nafter  %v", before, after)
	}
	put(t, dir, "gen.json", `{"name":"gen","config":{"connector.class":"datagen","tasks.max":"1","topic":"gen","rate":"5","count":"100"}}`)

	// A connector in no file stays without --prune and goes with it.
	if err := os.Remove(filepath.Join(dir, "gen.json")); err != nil {
		t.Fatal(err)
	}
	out = mustRun(t, newConnectorsCmd(), "connectors", "apply", "--url", w.URL, "-f", dir)
	if strings.Contains(out, "(delete") {
		t.Errorf("apply without --prune plans a delete:\n%s", out)
	}
	if _, ok := configs(t, c)["gen"]; !ok {
		t.Fatal("gen deleted without --prune")
	}
	out = mustRun(t, newConnectorsCmd(), "connectors", "apply", "--url", w.URL, "-f", dir, "--prune")
	wantContains(t, out, "- gen (delete: in no file)", "deleted gen")
	if _, ok := configs(t, c)["gen"]; ok {
		t.Fatal("gen not deleted with --prune")
	}

	// Export in each format, then apply each export to a fresh cluster:
	// the same connectors, configs and states.
	want := configs(t, c)
	for _, format := range []string{"json", "yaml", "properties"} {
		t.Run(format, func(t *testing.T) {
			exportDir := t.TempDir()
			out := mustRun(t, newConnectorsCmd(), "connectors", "export", "--url", w.URL, "-o", format, "--dir", exportDir)
			wantContains(t, out, filepath.Join(exportDir, "es."+format))
			w2, c2, _ := startCluster(t)
			out = mustRun(t, newConnectorsCmd(), "connectors", "apply", "--url", w2.URL, "-f", exportDir)
			wantContains(t, out, "Apply complete: 3 created")
			if got := configs(t, c2); !equalConfigs(got, want) {
				t.Errorf("export then apply:\ngot  %v\nwant %v", got, want)
			}
			e2e.WaitState(t, w2.URL, "es", rest.StateStopped, rest.StateRunning, 0)
		})
	}
	// To standard output, several connectors as one JSON array.
	out = mustRun(t, newConnectorsCmd(), "connectors", "export", "--url", w.URL)
	var bodies []restclient.CreateRequest
	if err := json.Unmarshal([]byte(out), &bodies); err != nil || len(bodies) != 3 || bodies[0].Name != "es" || bodies[0].InitialState != "STOPPED" {
		t.Errorf("export to stdout: %v\n%s", err, out)
	}
}

func equalConfigs(a, b map[string]map[string]string) bool {
	return maps.EqualFunc(a, b, func(x, y map[string]string) bool { return maps.Equal(x, y) })
}

func TestConnectorsWatch(t *testing.T) {
	w, c, _ := startCluster(t)
	dir := t.TempDir()
	put(t, dir, "gen.yaml", "name: gen\nconfig:\n  connector.class: datagen\n  topic: watched\n  rate: 1\n")
	ctx, cancel := context.WithCancel(context.Background())
	logs := &testLog{t: t}
	stop := watchConnectorFiles(ctx, w.Herder, []string{dir}, slog.New(slog.NewTextHandler(logs, nil)))
	t.Cleanup(func() {
		cancel()
		stop()
	})
	// Deadlines are generous: the machine may be loaded; the watcher looks
	// every two seconds.
	waitConfig := func(what string, ok func(map[string]map[string]string) bool) {
		t.Helper()
		e2e.Eventually(t, time.Minute, what, func() error {
			if got := configs(t, c); !ok(got) {
				return fmt.Errorf("connectors %v", got)
			}
			return nil
		})
	}
	waitConfig("the watcher creates gen", func(m map[string]map[string]string) bool { return m["gen"]["rate"] == "1" })

	put(t, dir, "gen.yaml", "name: gen\nconfig:\n  connector.class: datagen\n  topic: watched\n  rate: 2\n")
	waitConfig("the watcher applies the edit", func(m map[string]map[string]string) bool { return m["gen"]["rate"] == "2" })

	put(t, dir, "other.json", `{"name":"other","config":{"connector.class":"datagen","topic":"watched-2"}}`)
	waitConfig("the watcher creates other", func(m map[string]map[string]string) bool { return m["other"] != nil })

	// An invalid edit is logged by key and changes nothing, not even the
	// valid edit beside it; once fixed, both apply.
	put(t, dir, "other.json", `{"name":"other","config":{"connector.class":"datagen","topic":"watched-3"}}`)
	put(t, dir, "gen.yaml", "name: gen\nconfig:\n  connector.class: datagen\n  topic: watched\n  rate: -1\n")
	e2e.Eventually(t, time.Minute, "the watcher reports the invalid key", func() error {
		if !logs.contains("invalid connector config") || !logs.contains("connector gen: rate: ") {
			return fmt.Errorf("not logged")
		}
		return nil
	})
	if got := configs(t, c); got["gen"]["rate"] != "2" || got["other"]["topic"] != "watched-2" {
		t.Errorf("an invalid file was applied: %v", got)
	}
	put(t, dir, "gen.yaml", "name: gen\nconfig:\n  connector.class: datagen\n  topic: watched\n  rate: 3\n")
	waitConfig("the watcher applies the fixed files", func(m map[string]map[string]string) bool {
		return m["gen"]["rate"] == "3" && m["other"]["topic"] == "watched-3"
	})

	// A removed file deletes its connector.
	if err := os.Remove(filepath.Join(dir, "other.json")); err != nil {
		t.Fatal(err)
	}
	waitConfig("the watcher deletes other", func(m map[string]map[string]string) bool { return m["other"] == nil && m["gen"] != nil })
}

// testLog writes log lines to the test's log and keeps them.
type testLog struct {
	t     *testing.T
	mu    sync.Mutex
	lines strings.Builder
}

func (l *testLog) Write(p []byte) (int, error) {
	l.t.Log(strings.TrimSpace(string(p)))
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.lines.Write(p)
}

// contains reports whether a line logged so far holds s.
func (l *testLog) contains(s string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Contains(l.lines.String(), s)
}

// TestConnectorsWatchLeaderOnly runs two workers of one group, each
// watching the same directory: each change is applied once, by the leader.
func TestConnectorsWatchLeaderOnly(t *testing.T) {
	b := brokertest.Start(t)
	dir := t.TempDir()
	put(t, dir, "gen.json", `{"name":"gen","config":{"connector.class":"datagen","topic":"led","rate":"1"}}`)
	var logs []*testLog
	var c *restclient.Client
	for range 2 {
		w := e2e.StartWorker(t, b.Addr, nil)
		if c == nil {
			var err error
			if c, err = restclient.New(w.URL, nil); err != nil {
				t.Fatal(err)
			}
		}
		l := &testLog{t: t}
		logs = append(logs, l)
		ctx, cancel := context.WithCancel(context.Background())
		stop := watchConnectorFiles(ctx, w.Herder, []string{dir}, slog.New(slog.NewTextHandler(l, nil)))
		t.Cleanup(func() {
			cancel()
			stop()
		})
	}
	applied := func(what string) int {
		n := 0
		for _, l := range logs {
			l.mu.Lock()
			n += strings.Count(l.lines.String(), what)
			l.mu.Unlock()
		}
		return n
	}
	e2e.Eventually(t, time.Minute, "gen created", func() error {
		if cfg, err := c.Config(t.Context(), "gen"); err != nil || cfg["rate"] != "1" {
			return fmt.Errorf("gen: %v %v", cfg, err)
		}
		return nil
	})
	put(t, dir, "gen.json", `{"name":"gen","config":{"connector.class":"datagen","topic":"led","rate":"2"}}`)
	e2e.Eventually(t, time.Minute, "gen updated", func() error {
		if cfg, err := c.Config(t.Context(), "gen"); err != nil || cfg["rate"] != "2" {
			return fmt.Errorf("gen: %v %v", cfg, err)
		}
		return nil
	})
	// The other worker never applied, not even to find nothing to do.
	active := 0
	for _, l := range logs {
		if l.contains("connector file applied") || l.contains("connector files match") {
			active++
		}
	}
	if active != 1 {
		t.Errorf("%d workers applied the files, want only the leader", active)
	}
	if n := applied("action=create connector=gen"); n != 1 {
		t.Errorf("gen created %d times by the watchers, want once", n)
	}
	if n := applied("action=update connector=gen"); n != 1 {
		t.Errorf("gen updated %d times by the watchers, want once", n)
	}
}
