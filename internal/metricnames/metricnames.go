// Package metricnames lists the metric names Prometheus collectors
// describe, so tests can check that dashboards and documents query only
// what Penstock exports (a registry lists its series, not the metrics a
// vector without series yet would export), and reads a series' value, so
// tests can check that a metric moves.
package metricnames

import (
	"regexp"
	"sort"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// Recorder is a prometheus.Registerer that records the names of what is
// registered on it and collects nothing.
type Recorder struct {
	mu    sync.Mutex
	names map[string]bool
}

var _ prometheus.Registerer = (*Recorder)(nil)

// fqName finds a descriptor's name in its String form, the only place
// client_golang exposes it.
var fqName = regexp.MustCompile(`fqName: "([^"]+)"`)

// Register records c's metric names.
func (r *Recorder) Register(c prometheus.Collector) error {
	ch := make(chan *prometheus.Desc)
	go func() {
		c.Describe(ch)
		close(ch)
	}()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.names == nil {
		r.names = map[string]bool{}
	}
	for d := range ch {
		if m := fqName.FindStringSubmatch(d.String()); m != nil {
			r.names[m[1]] = true
		}
	}
	return nil
}

// MustRegister records the names of cs.
func (r *Recorder) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		_ = r.Register(c)
	}
}

// Unregister does nothing: names once recorded stay.
func (r *Recorder) Unregister(prometheus.Collector) bool { return false }

// Names returns the recorded names, sorted.
func (r *Recorder) Names() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]string, 0, len(r.names))
	for n := range r.names {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Value is the value of the series of name whose labels include labels,
// as g gathers it: a counter's or gauge's value, a histogram's sample
// count; -1 when there is no such series.
func Value(g prometheus.Gatherer, name string, labels map[string]string) (float64, error) {
	fams, err := g.Gather()
	if err != nil {
		return 0, err
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
	series:
		for _, m := range f.GetMetric() {
			have := map[string]string{}
			for _, l := range m.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			for k, v := range labels {
				if have[k] != v {
					continue series
				}
			}
			switch {
			case m.Counter != nil:
				return m.Counter.GetValue(), nil
			case m.Gauge != nil:
				return m.Gauge.GetValue(), nil
			case m.Histogram != nil:
				return float64(m.Histogram.GetSampleCount()), nil
			}
		}
	}
	return -1, nil
}
