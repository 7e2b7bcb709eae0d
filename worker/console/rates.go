package console

import (
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// The worker's counters the rates are computed from (worker/metrics.go).
// A source's records in are those its tasks polled and out those the broker
// acknowledged; a sink's in are those consumed and out those handed to Put.
var (
	inCounters  = []string{"penstock_source_records_polled_total", "penstock_sink_records_consumed_total"}
	outCounters = []string{"penstock_source_records_produced_total", "penstock_sink_records_put_total"}
	// bytesCounters are per task: the bytes a source wrote to Kafka and a
	// sink read from it.
	bytesCounters = []string{"penstock_source_task_record_write_bytes_total", "penstock_sink_task_record_read_bytes_total"}
)

const (
	errorsCounter = "penstock_record_errors_total"
	dlqCounter    = "penstock_deadletterqueue_records_total"
	leaderGauge   = "penstock_group_leader"
)

// Sampling: a sample is taken when a request comes and the last one is at
// least minSpacing old, and samples older than window are dropped. The
// current rate is measured over about rateSpan.
const (
	minSpacing = time.Second
	window     = 10 * time.Minute
	rateSpan   = 5 * time.Second
)

// Rates computes a worker's own part of MetricsPath (the REST server
// serves it and sums the workers' parts, see Merge): for every connector
// with tasks on this worker, its record and byte totals and its current
// records/s in and out and bytes/s; for one connector (Report's connector,
// ?connector=NAME), only that one, with its rates' history over the last
// minutes (a list of 200 connectors stays small). It samples the worker's counters when asked (the
// console polls every few seconds), so history covers the time a console
// has been open, up to ten minutes; no goroutine runs in between.
type Rates struct {
	g   prometheus.Gatherer
	now func() time.Time

	mu      sync.Mutex
	samples []sample
}

// sample is the counters at one instant.
type sample struct {
	at     time.Time
	conns  map[string]counts
	leader bool
}

// counts is one connector's counters; bytes by task number (a restarted
// task's count starts again, so its rate is taken task by task).
type counts struct {
	in, out, errors, dlq float64
	bytes                map[string]float64
}

// NewRates returns the rates over g, the worker's registry.
func NewRates(g prometheus.Gatherer) *Rates {
	return &Rates{g: g, now: time.Now}
}

// RatesReport is the body of GET MetricsPath.
type RatesReport struct {
	// Time is when the newest sample was taken, in Unix milliseconds.
	Time int64 `json:"time"`
	// Leader is true when this worker leads its group.
	Leader bool `json:"leader"`
	// Connectors are those with tasks on the workers asked (this worker's
	// own only with ?local=true), by name.
	Connectors []ConnectorRates `json:"connectors"`
	// Workers is how many workers' figures the report sums (absent in a
	// worker's local report).
	Workers int `json:"workers,omitempty"`
	// Errors name the workers that could not be asked: their connectors'
	// figures are missing.
	Errors []string `json:"errors,omitempty"`
}

// ConnectorRates is one connector's throughput on this worker.
type ConnectorRates struct {
	Name         string  `json:"name"`
	RecordsIn    float64 `json:"records_in_total"`
	RecordsOut   float64 `json:"records_out_total"`
	RecordErrors float64 `json:"record_errors_total"`
	DLQRecords   float64 `json:"deadletterqueue_records_total"`
	InPerSec     float64 `json:"records_in_per_sec"`
	OutPerSec    float64 `json:"records_out_per_sec"`
	// Bytes are the key, value and header bytes a source's records took in
	// Kafka (those the broker acknowledged) or a sink's (those it read), of
	// the tasks running now: a task's count restarts with it.
	Bytes       float64 `json:"bytes_total"`
	BytesPerSec float64 `json:"bytes_per_sec"`
	// History is the rate between consecutive samples, oldest first; only
	// with ?connector=NAME.
	History []Point `json:"history,omitempty"`
}

// Point is the rates over the interval that ends at Time (Unix ms).
type Point struct {
	Time int64   `json:"time"`
	In   float64 `json:"in"`
	Out  float64 `json:"out"`
	// Bytes is bytes/s (ConnectorRates.Bytes).
	Bytes float64 `json:"bytes"`
}

// Report samples the counters (unless the last sample is recent) and
// computes the rates: of every connector, or of only the named one with its
// history.
func (r *Rates) Report(connector string) (RatesReport, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.now()
	if n := len(r.samples); n == 0 || now.Sub(r.samples[n-1].at) >= minSpacing {
		s, err := r.gather(now)
		if err != nil {
			return RatesReport{}, err
		}
		r.samples = append(r.samples, s)
		drop := 0
		for drop < len(r.samples)-1 && now.Sub(r.samples[drop].at) > window {
			drop++
		}
		r.samples = append(r.samples[:0], r.samples[drop:]...)
	}
	last := r.samples[len(r.samples)-1]
	// base is the newest sample at least rateSpan older than last, or the oldest.
	base := r.samples[0]
	for _, s := range r.samples {
		if last.at.Sub(s.at) >= rateSpan {
			base = s
		}
	}
	rep := RatesReport{Time: last.at.UnixMilli(), Leader: last.leader, Connectors: []ConnectorRates{}}
	for name, c := range last.conns {
		if connector != "" && name != connector {
			continue
		}
		cr := ConnectorRates{Name: name, RecordsIn: c.in, RecordsOut: c.out, RecordErrors: c.errors, DLQRecords: c.dlq}
		for _, b := range c.bytes {
			cr.Bytes += b
		}
		cr.InPerSec, cr.OutPerSec, cr.BytesPerSec = rate(base, last, name)
		for i := 1; connector != "" && i < len(r.samples); i++ {
			in, out, bytes := rate(r.samples[i-1], r.samples[i], name)
			cr.History = append(cr.History, Point{Time: r.samples[i].at.UnixMilli(), In: in, Out: out, Bytes: bytes})
		}
		rep.Connectors = append(rep.Connectors, cr)
	}
	sort.Slice(rep.Connectors, func(i, j int) bool { return rep.Connectors[i].Name < rep.Connectors[j].Name })
	return rep, nil
}

// rate is a connector's records/s in and out and bytes/s between two
// samples; a counter that went down (the connector was recreated, a task
// restarted) counts from zero.
func rate(a, b sample, name string) (in, out, bytes float64) {
	secs := b.at.Sub(a.at).Seconds()
	if secs <= 0 {
		return 0, 0, 0
	}
	ca, cb := a.conns[name], b.conns[name]
	delta := func(x, y float64) float64 {
		if y < x {
			return y
		}
		return y - x
	}
	for task, n := range cb.bytes {
		bytes += delta(ca.bytes[task], n)
	}
	return delta(ca.in, cb.in) / secs, delta(ca.out, cb.out) / secs, bytes / secs
}

// gather reads the counters from the registry.
func (r *Rates) gather(now time.Time) (sample, error) {
	fams, err := r.g.Gather()
	if err != nil && len(fams) == 0 {
		return sample{}, err
	}
	s := sample{at: now, conns: map[string]counts{}}
	for _, f := range fams {
		name := f.GetName()
		if name == leaderGauge {
			for _, m := range f.GetMetric() {
				s.leader = m.GetGauge().GetValue() == 1
			}
			continue
		}
		var field func(c *counts) *float64
		switch {
		case slices.Contains(inCounters, name):
			field = func(c *counts) *float64 { return &c.in }
		case slices.Contains(outCounters, name):
			field = func(c *counts) *float64 { return &c.out }
		case slices.Contains(bytesCounters, name):
			field = nil // per task, below
		case name == errorsCounter:
			field = func(c *counts) *float64 { return &c.errors }
		case name == dlqCounter:
			field = func(c *counts) *float64 { return &c.dlq }
		default:
			continue
		}
		for _, m := range f.GetMetric() {
			var conn, task string
			for _, l := range m.GetLabel() {
				switch l.GetName() {
				case "connector":
					conn = l.GetValue()
				case "task":
					task = l.GetValue()
				}
			}
			if conn == "" {
				continue
			}
			c := s.conns[conn]
			if field != nil {
				*field(&c) += m.GetCounter().GetValue()
			} else {
				if c.bytes == nil {
					c.bytes = map[string]float64{}
				}
				c.bytes[task] += m.GetCounter().GetValue()
			}
			s.conns[conn] = c
		}
	}
	return s, nil
}

// historySlack is how far apart two workers' samples may be and still be
// summed as one point of a cluster-wide history: workers sample when asked,
// and a cluster-wide report asks them all at once.
const historySlack = 2500 * time.Millisecond

// Merge sums other workers' reports into base, the answering worker's:
// totals and rates of a connector add up, and its history points add to
// base's nearest point (within historySlack), so the result is
// cluster-wide. Time and Leader stay base's.
func Merge(base RatesReport, others ...RatesReport) RatesReport {
	byName := map[string]int{}
	for i, c := range base.Connectors {
		byName[c.Name] = i
	}
	for _, o := range others {
		for _, c := range o.Connectors {
			i, ok := byName[c.Name]
			if !ok {
				byName[c.Name] = len(base.Connectors)
				base.Connectors = append(base.Connectors, c)
				continue
			}
			m := &base.Connectors[i]
			m.RecordsIn += c.RecordsIn
			m.RecordsOut += c.RecordsOut
			m.RecordErrors += c.RecordErrors
			m.DLQRecords += c.DLQRecords
			m.InPerSec += c.InPerSec
			m.OutPerSec += c.OutPerSec
			m.Bytes += c.Bytes
			m.BytesPerSec += c.BytesPerSec
			m.History = mergeHistory(m.History, c.History)
		}
	}
	sort.Slice(base.Connectors, func(i, j int) bool { return base.Connectors[i].Name < base.Connectors[j].Name })
	return base
}

// mergeHistory adds each point of b to a's nearest point in time; points
// with none near are kept on their own.
func mergeHistory(a, b []Point) []Point {
	if len(a) == 0 {
		return b
	}
	out := slices.Clone(a)
	for _, p := range b {
		j := sort.Search(len(out), func(i int) bool { return out[i].Time >= p.Time })
		best := -1
		for _, k := range []int{j - 1, j} {
			if k >= 0 && k < len(out) && abs(out[k].Time-p.Time) <= historySlack.Milliseconds() &&
				(best < 0 || abs(out[k].Time-p.Time) < abs(out[best].Time-p.Time)) {
				best = k
			}
		}
		if best >= 0 {
			out[best].In += p.In
			out[best].Out += p.Out
			out[best].Bytes += p.Bytes
			continue
		}
		out = slices.Insert(out, j, p)
	}
	return out
}

func abs(x int64) int64 {
	if x < 0 {
		return -x
	}
	return x
}
