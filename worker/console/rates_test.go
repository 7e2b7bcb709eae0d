package console

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// TestRates checks the rates computed from a real registry holding the
// worker's counter names, on a clock the test moves.
func TestRates(t *testing.T) {
	reg := prometheus.NewRegistry()
	vec := func(name string) *prometheus.CounterVec {
		v := prometheus.NewCounterVec(prometheus.CounterOpts{Name: name, Help: name}, []string{"connector"})
		reg.MustRegister(v)
		return v
	}
	polled, produced := vec(inCounters[0]), vec(outCounters[0])
	consumed, put := vec(inCounters[1]), vec(outCounters[1])
	errs := vec(errorsCounter)
	srcBytes := prometheus.NewCounterVec(prometheus.CounterOpts{Name: bytesCounters[0], Help: "b"}, []string{"connector", "task"})
	reg.MustRegister(srcBytes)
	leader := prometheus.NewGauge(prometheus.GaugeOpts{Name: leaderGauge, Help: "l"})
	reg.MustRegister(leader)
	leader.Set(1)

	now := time.Unix(1000, 0)
	r := NewRates(reg)
	r.now = func() time.Time { return now }

	polled.WithLabelValues("src").Add(100)
	produced.WithLabelValues("src").Add(90)
	srcBytes.WithLabelValues("src", "0").Add(5000)
	srcBytes.WithLabelValues("src", "1").Add(3000)
	consumed.WithLabelValues("snk").Add(10)
	rep, err := r.Report("")
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Leader || len(rep.Connectors) != 2 || rep.Connectors[0].Name != "snk" || rep.Connectors[1].RecordsIn != 100 {
		t.Fatalf("first report: %+v", rep)
	}
	if c := rep.Connectors[1]; c.InPerSec != 0 || len(c.History) != 0 {
		t.Fatalf("one sample has no rate: %+v", c)
	}

	// A request within minSpacing takes no sample.
	now = now.Add(500 * time.Millisecond)
	polled.WithLabelValues("src").Add(1000)
	if rep, _ = r.Report(""); rep.Connectors[1].RecordsIn != 100 {
		t.Fatalf("sampled again after 500 ms: %+v", rep.Connectors[1])
	}

	now = now.Add(1500 * time.Millisecond) // 2 s after the first sample
	produced.WithLabelValues("src").Add(1000)
	srcBytes.WithLabelValues("src", "0").Add(2000)
	// Task 1 restarted: its count starts again, which is no negative rate
	// and no spike of the other task's bytes.
	srcBytes.DeleteLabelValues("src", "1")
	srcBytes.WithLabelValues("src", "1").Add(200)
	consumed.WithLabelValues("snk").Add(400)
	put.WithLabelValues("snk").Add(300)
	errs.WithLabelValues("snk").Add(2)
	rep, _ = r.Report("")
	src, snk := rep.Connectors[1], rep.Connectors[0]
	if src.InPerSec != 500 || src.OutPerSec != 500 || src.History != nil || src.BytesPerSec != 1100 || src.Bytes != 7200 {
		t.Fatalf("source rates: %+v", src)
	}
	rep, _ = r.Report("src")
	if src = rep.Connectors[0]; len(rep.Connectors) != 1 || src.InPerSec != 500 || len(src.History) != 1 || src.History[0].In != 500 ||
		src.History[0].Bytes != 1100 {
		t.Fatalf("source rates: %+v", src)
	}
	if b, err := json.Marshal(src); err != nil || !strings.Contains(string(b), `"bytes_total":7200,"bytes_per_sec":1100`) ||
		!strings.Contains(string(b), `"bytes":1100}`) {
		t.Fatalf("JSON %s: %v", b, err)
	}
	if snk.InPerSec != 200 || snk.OutPerSec != 150 || snk.RecordErrors != 2 {
		t.Fatalf("sink rates: %+v", snk)
	}

	// The current rate spans about rateSpan; history keeps every interval.
	for range 5 {
		now = now.Add(2 * time.Second)
		polled.WithLabelValues("src").Add(20)
		rep, _ = r.Report("src")
	}
	src = rep.Connectors[0]
	if len(src.History) != 6 || src.InPerSec != 10 {
		t.Fatalf("after 5 more samples: in/s %v, %d points", src.InPerSec, len(src.History))
	}

	// Samples older than the window are dropped.
	now = now.Add(window + time.Second)
	rep, _ = r.Report("src")
	if n := len(rep.Connectors[0].History); n != 0 {
		t.Fatalf("history after the window: %d points", n)
	}
}

// TestMerge sums two workers' reports: totals and rates add up, and history
// points close in time add into one while a lone point stays.
func TestMerge(t *testing.T) {
	a := RatesReport{Time: 5000, Leader: true, Connectors: []ConnectorRates{
		{Name: "x", RecordsIn: 10, RecordsOut: 8, InPerSec: 2, OutPerSec: 1, Bytes: 100, BytesPerSec: 20,
			History: []Point{{Time: 1000, In: 1, Out: 1, Bytes: 10}, {Time: 5000, In: 2, Out: 1, Bytes: 20}}},
	}}
	b := RatesReport{Time: 5100, Connectors: []ConnectorRates{
		{Name: "x", RecordsIn: 5, RecordsOut: 5, InPerSec: 1, OutPerSec: 1, Bytes: 50, BytesPerSec: 10,
			History: []Point{{Time: 5100, In: 1, Out: 1, Bytes: 10}, {Time: 9000, In: 4, Out: 4, Bytes: 40}}},
		{Name: "w", RecordsIn: 1},
	}}
	m := Merge(a, b)
	if !m.Leader || m.Time != 5000 || len(m.Connectors) != 2 || m.Connectors[0].Name != "w" {
		t.Fatalf("merged: %+v", m)
	}
	x := m.Connectors[1]
	if x.RecordsIn != 15 || x.RecordsOut != 13 || x.InPerSec != 3 || x.OutPerSec != 2 || x.Bytes != 150 || x.BytesPerSec != 30 {
		t.Errorf("x totals: %+v", x)
	}
	want := []Point{{Time: 1000, In: 1, Out: 1, Bytes: 10}, {Time: 5000, In: 3, Out: 2, Bytes: 30}, {Time: 9000, In: 4, Out: 4, Bytes: 40}}
	if fmt.Sprint(x.History) != fmt.Sprint(want) {
		t.Errorf("history %v, want %v", x.History, want)
	}
}
