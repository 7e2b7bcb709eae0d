package main

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/penstockhq/penstock/worker/rest"
)

// TestTopOnce: `penstock top --once` prints a frame with each connector's
// state, tasks and record totals, read from the REST API and the worker's
// rates endpoint (over a registry holding the worker's counters), and
// -o json prints the same data.
func TestTopOnce(t *testing.T) {
	h := newFakeHerder()
	ctx := context.Background()
	for name, class := range map[string]string{"gen": "DatagenSource", "out": "FileStreamSink"} {
		if _, _, err := h.PutConnectorConfig(ctx, name, map[string]string{"connector.class": class}, "", false); err != nil {
			t.Fatal(err)
		}
	}
	reg := prometheus.NewRegistry()
	polled := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "penstock_source_records_polled_total", Help: "test"}, []string{"connector"})
	produced := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "penstock_source_records_produced_total", Help: "test"}, []string{"connector"})
	reg.MustRegister(polled, produced)
	polled.WithLabelValues("gen").Add(1234)
	produced.WithLabelValues("gen").Add(1200)
	srv := httptest.NewServer(rest.New(h, rest.WithGatherer(reg)).Handler())
	t.Cleanup(srv.Close)

	out := mustRun(t, newTopCmd(), "top", "--once", "--url", srv.URL)
	wantContains(t, out, "connectors: 2 (2 running)", "tasks: 2", "NAME", "IN/S", "gen", "source", "RUNNING", "1234", "1200", "out", "sink", "task 0")
	t.Log("\n" + out)
	if strings.ContainsRune(out, 0x1b) {
		t.Errorf("--once output has terminal escapes:\n%q", out)
	}

	js := mustRun(t, newTopCmd(), "top", "-o", "json", "--url", srv.URL)
	var f topFrame
	if err := json.Unmarshal([]byte(js), &f); err != nil {
		t.Fatalf("%v\n%s", err, js)
	}
	if len(f.Connectors) != 2 || f.Connectors[0].Name != "gen" || f.Connectors[0].Rates == nil || f.Connectors[0].Rates.RecordsIn != 1234 ||
		f.Connectors[1].Rates != nil || len(f.Connectors[1].Tasks) != 1 {
		t.Errorf("json frame: %s", js)
	}

	if _, err := run(t, newTopCmd(), "top", "--once", "--url", "http://127.0.0.1:1"); err == nil {
		t.Error("no error from an unreachable worker")
	}
}
