package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/penstockhq/penstock/internal/e2e"
	"github.com/penstockhq/penstock/internal/restclient"
)

// TestTopOnce: against a real broker and worker running a datagen source
// at 500 records/s, `penstock top --once` prints the connector RUNNING with
// its task and records/s above zero, and -o json the same data.
func TestTopOnce(t *testing.T) {
	w, c, _ := startCluster(t)
	if _, err := c.Create(t.Context(), restclient.CreateRequest{Name: "gen", Config: map[string]string{
		"connector.class": "io.penstock.connect.datagen.DatagenConnector", "kafka.topic": "top-out", "rate": "500"}}); err != nil {
		t.Fatal(err)
	}
	e2e.WaitState(t, w.URL, "gen", "RUNNING", "RUNNING", 1)

	out := mustRun(t, newTopCmd(), "top", "--once", "--url", w.URL)
	t.Log("\n" + out)
	wantContains(t, out, "connectors: 1 (1 running)", "tasks: 1", "NAME", "IN/S", "gen", "source", "RUNNING", "task 0")
	if strings.ContainsRune(out, 0x1b) {
		t.Errorf("--once output has terminal escapes:\n%q", out)
	}

	js := mustRun(t, newTopCmd(), "top", "-o", "json", "--url", w.URL)
	var f topFrame
	if err := json.Unmarshal([]byte(js), &f); err != nil {
		t.Fatalf("%v\n%s", err, js)
	}
	if len(f.Connectors) != 1 || f.Connectors[0].State != "RUNNING" || len(f.Connectors[0].Tasks) != 1 ||
		f.Connectors[0].Rates == nil || f.Connectors[0].Rates.InPerSec <= 0 || f.Connectors[0].Rates.RecordsOut <= 0 {
		t.Errorf("json frame: %s", js)
	}

	if _, err := run(t, newTopCmd(), "top", "--once", "--url", "http://127.0.0.1:1"); err == nil {
		t.Error("no error from an unreachable worker")
	}
}
