package main

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/penstockhq/penstock/broker"
	"github.com/penstockhq/penstock/internal/brokertest"
	"github.com/penstockhq/penstock/internal/metricnames"
	"github.com/penstockhq/penstock/plugins/builtin"
	"github.com/penstockhq/penstock/worker"
)

// exportedMetrics returns the names `penstock dev` serves at /metrics: the
// broker's (a real broker registers them), the worker's, the connectors'
// and the Go runtime's and process's.
func exportedMetrics(t *testing.T) map[string]bool {
	t.Helper()
	rec := &metricnames.Recorder{}
	brokertest.Start(t, brokertest.WithConfig(func(c *broker.Config) { c.Metrics = rec }))
	worker.DescribeMetrics(rec)
	rec.MustRegister(builtin.Collectors()...)
	rec.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	names := map[string]bool{}
	for _, n := range rec.Names() {
		names[n] = true
	}
	return names
}

// known says whether a queried series name is exported: a metric, or a
// histogram's _bucket, _sum or _count series.
func known(exported map[string]bool, name string) bool {
	if exported[name] {
		return true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		if base, ok := strings.CutSuffix(name, suffix); ok && exported[base] {
			return true
		}
	}
	return false
}

// promqlWords are PromQL's keywords and aggregation operators: identifiers
// that are not metric names even when no "(" follows them.
var promqlWords = map[string]bool{
	"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true,
	"bool": true, "and": true, "or": true, "unless": true, "offset": true, "atan2": true,
	"sum": true, "min": true, "max": true, "avg": true, "group": true, "stddev": true, "stdvar": true, "count": true,
	"count_values": true, "bottomk": true, "topk": true, "quantile": true, "limitk": true, "limit_ratio": true,
	"inf": true, "nan": true,
}

// labelLists are the keywords followed by a parenthesized list of labels.
var labelLists = map[string]bool{"by": true, "without": true, "on": true, "ignoring": true, "group_left": true, "group_right": true}

// queriedMetrics returns the metric names a PromQL expression selects. It
// is a tokenizer, not a parser: it skips strings, label matchers ({...}),
// ranges ([...]), numbers, function calls, keywords and label lists, and
// what remains are metric names. (Prometheus's own parser lives in the
// prometheus/prometheus module, whose requirements would upgrade dozens of
// this module's dependencies for one test.)
func queriedMetrics(expr string) []string {
	var out []string
	isStart := func(c byte) bool { return c == '_' || c == ':' || (c|0x20 >= 'a' && c|0x20 <= 'z') }
	isPart := func(c byte) bool { return isStart(c) || (c >= '0' && c <= '9') }
	skipTo := func(i int, close byte) int { // from an opening character, past its match
		open := expr[i]
		depth := 0
		for ; i < len(expr); i++ {
			switch c := expr[i]; {
			case c == '"' || c == '\'' || c == '`':
				for i++; i < len(expr) && expr[i] != c; i++ {
					if expr[i] == '\\' && c != '`' {
						i++
					}
				}
			case c == open:
				depth++
			case c == close:
				if depth--; depth == 0 {
					return i + 1
				}
			}
		}
		return i
	}
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case c == '"' || c == '\'' || c == '`':
			j := i + 1
			for j < len(expr) && expr[j] != c {
				if expr[j] == '\\' && c != '`' {
					j++
				}
				j++
			}
			i = j + 1
		case c == '{':
			i = skipTo(i, '}')
		case c == '[':
			i = skipTo(i, ']')
		case c >= '0' && c <= '9' || c == '.':
			for i < len(expr) && (isPart(expr[i]) || expr[i] == '.') {
				i++
			}
		case isStart(c):
			j := i
			for j < len(expr) && isPart(expr[j]) {
				j++
			}
			word := expr[i:j]
			k := j
			for k < len(expr) && expr[k] == ' ' {
				k++
			}
			switch {
			case labelLists[word] && k < len(expr) && expr[k] == '(':
				j = skipTo(k, ')')
			case promqlWords[strings.ToLower(word)], k < len(expr) && expr[k] == '(':
			default:
				out = append(out, word)
			}
			i = j
		default:
			i++
		}
	}
	return out
}

func TestQueriedMetrics(t *testing.T) {
	for expr, want := range map[string][]string{
		`sum by (connector) (rate(a_total{connector=~"$c", x="}"}[$__rate_interval]))`: {"a_total"},
		`histogram_quantile(0.99, sum by (le, request) (rate(b_bucket[5m])))`:          {"b_bucket"},
		`100 * c / clamp_min(d, 1) > bool 2 or on (x) e offset 5m`:                     {"c", "d", "e"},
		`sum without(le)(f) + count(g{a='{'}) - 1e3`:                                   {"f", "g"},
	} {
		if got := queriedMetrics(expr); !slices.Equal(got, want) {
			t.Errorf("%s: %v, want %v", expr, got, want)
		}
	}
}

// TestGrafanaDashboard: deploy/grafana/penstock.json is valid JSON, and
// every metric its panels and variables query is one Penstock exports.
func TestGrafanaDashboard(t *testing.T) {
	b, err := os.ReadFile("../../deploy/grafana/penstock.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Title  string `json:"title"`
		Panels []struct {
			Title   string `json:"title"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
		Templating struct {
			List []struct {
				Definition string `json:"definition"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("deploy/grafana/penstock.json: %v", err)
	}
	exported := exportedMetrics(t)
	queries := 0
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			names := queriedMetrics(tg.Expr)
			if len(names) == 0 {
				t.Errorf("panel %q: no metric in %q", p.Title, tg.Expr)
			}
			for _, n := range names {
				queries++
				if !known(exported, n) {
					t.Errorf("panel %q queries %s, which Penstock does not export", p.Title, n)
				}
			}
		}
	}
	labelValues := regexp.MustCompile(`label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*,`)
	for _, v := range dash.Templating.List {
		for _, m := range labelValues.FindAllStringSubmatch(v.Definition, -1) {
			if !known(exported, m[1]) {
				t.Errorf("variable query %q: %s is not exported", v.Definition, m[1])
			}
		}
	}
	if queries < 20 {
		t.Errorf("only %d metric queries found: is the dashboard read right?", queries)
	}
}

// TestMetricsDocumented: docs/metrics.md lists exactly the metrics Penstock
// exports under its own and Kafka's names (the Go runtime's and process's
// are client_golang's standard ones).
func TestMetricsDocumented(t *testing.T) {
	b, err := os.ReadFile("../../docs/metrics.md")
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `([a-z_:]+)`").FindAllStringSubmatch(string(b), -1) {
		documented[m[1]] = true
	}
	for n := range exportedMetrics(t) {
		if strings.HasPrefix(n, "go_") || strings.HasPrefix(n, "process_") {
			continue
		}
		if !documented[n] {
			t.Errorf("%s is exported but not in docs/metrics.md", n)
		}
		delete(documented, n)
	}
	for n := range documented {
		t.Errorf("docs/metrics.md lists %s, which is not exported", n)
	}
}
