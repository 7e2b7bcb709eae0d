package worker_test

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/penstockhq/penstock/internal/brokertest"
	"github.com/penstockhq/penstock/internal/e2e"
)

// TestE2ETransformChain is issue 7: a pipeline created through the REST API
// whose transforms and predicate are configured by Kafka Connect's original
// class names, checked record by record in the sink's file.
//
// Two generators write the topics orders.a and orders.b (the second with a
// source-side InsertField); one file sink reads both through the chain
//
//	route  RegexRouter         orders\.(.*) -> routed-$1
//	insert InsertField$Value   topic.field=topic, static origin=e2e
//	rename ReplaceField$Value  exclude payload, rename seq:n
//	cast   Cast$Value          task:string
//	mark   InsertField$Value   static not_a=yes, predicate isA negated
//	(isA:  TopicNameMatches    pattern routed-a, evaluated after the route)
func TestE2ETransformChain(t *testing.T) {
	b := brokertest.Start(t)
	w := e2e.StartWorker(t, b.Addr, nil)
	out := filepath.Join(t.TempDir(), "sink.txt")
	const n = 100

	e2e.Expect(t, 201, "POST", w.URL+"/connectors", map[string]any{"name": "gen-a", "config": map[string]string{
		"connector.class": "io.penstock.connect.datagen.DatagenConnector", "topic": "orders.a", "count": fmt.Sprint(n), "batch.size": "25"}})
	e2e.Expect(t, 201, "POST", w.URL+"/connectors", map[string]any{"name": "gen-b", "config": map[string]string{
		"connector.class": "io.penstock.connect.datagen.DatagenConnector", "topic": "orders.b", "count": fmt.Sprint(n), "batch.size": "25",
		"transforms":                   "side",
		"transforms.side.type":         "org.apache.kafka.connect.transforms.InsertField$Value",
		"transforms.side.static.field": "source_side",
		"transforms.side.static.value": "b",
	}})
	sinkCfg := map[string]string{
		"connector.class": "org.apache.kafka.connect.file.FileStreamSinkConnector",
		"topics":          "orders.a,orders.b",
		"file":            out,
		"transforms":      "route,insert,rename,cast,mark",

		"transforms.route.type":        "org.apache.kafka.connect.transforms.RegexRouter",
		"transforms.route.regex":       `orders\.(.*)`,
		"transforms.route.replacement": "routed-$1",

		"transforms.insert.type":         "org.apache.kafka.connect.transforms.InsertField$Value",
		"transforms.insert.topic.field":  "topic",
		"transforms.insert.static.field": "origin",
		"transforms.insert.static.value": "e2e",

		"transforms.rename.type":    "org.apache.kafka.connect.transforms.ReplaceField$Value",
		"transforms.rename.exclude": "payload",
		"transforms.rename.renames": "seq:n",

		"transforms.cast.type": "org.apache.kafka.connect.transforms.Cast$Value",
		"transforms.cast.spec": "task:string",

		"transforms.mark.type":         "org.apache.kafka.connect.transforms.InsertField$Value",
		"transforms.mark.static.field": "not_a",
		"transforms.mark.static.value": "yes",
		"transforms.mark.predicate":    "isA",
		"transforms.mark.negate":       "true",

		"predicates":             "isA",
		"predicates.isA.type":    "org.apache.kafka.connect.transforms.predicates.TopicNameMatches",
		"predicates.isA.pattern": "routed-a",
	}
	// The chain validates through the endpoint too.
	var vi struct {
		ErrorCount int `json:"error_count"`
	}
	withName := map[string]string{"name": "sink"}
	for k, v := range sinkCfg {
		withName[k] = v
	}
	vr := e2e.Expect(t, 200, "PUT", w.URL+"/connector-plugins/FileStreamSinkConnector/config/validate", withName)
	vr.JSON(t, &vi)
	if vi.ErrorCount != 0 {
		t.Fatalf("validate the sink's chain: error_count %d: %s", vi.ErrorCount, vr.Body)
	}
	e2e.Expect(t, 201, "POST", w.URL+"/connectors", map[string]any{"name": "sink", "config": sinkCfg})
	for _, name := range []string{"gen-a", "gen-b", "sink"} {
		e2e.WaitState(t, w.URL, name, "RUNNING", "RUNNING", 1)
	}

	// Each record: the fields it must have, exactly.
	check := func(line map[string]any) (string, int, error) {
		topic, _ := line["topic"].(string)
		nf, ok := line["n"].(float64)
		if !ok {
			return "", 0, fmt.Errorf("no numeric n")
		}
		want := map[string]bool{"n": true, "task": true, "ts": true, "name": true, "topic": true, "origin": true}
		switch topic {
		case "routed-a":
		case "routed-b":
			want["not_a"], want["source_side"] = true, true
			if line["not_a"] != "yes" || line["source_side"] != "b" {
				return "", 0, fmt.Errorf("not_a %v source_side %v", line["not_a"], line["source_side"])
			}
		default:
			return "", 0, fmt.Errorf("topic field %q, want routed-a or routed-b", topic)
		}
		var keys []string
		for k := range line {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var wantKeys []string
		for k := range want {
			wantKeys = append(wantKeys, k)
		}
		sort.Strings(wantKeys)
		if !reflect.DeepEqual(keys, wantKeys) {
			return "", 0, fmt.Errorf("fields %v, want %v", keys, wantKeys)
		}
		if line["origin"] != "e2e" {
			return "", 0, fmt.Errorf("origin %v", line["origin"])
		}
		if line["task"] != "0" {
			return "", 0, fmt.Errorf("task %#v, want the string \"0\"", line["task"])
		}
		if _, ok := line["ts"].(float64); !ok {
			return "", 0, fmt.Errorf("ts %#v", line["ts"])
		}
		return topic, int(nf), nil
	}

	e2e.Eventually(t, 60*time.Second, "every transformed record in the file", func() error {
		f, err := os.Open(out)
		if err != nil {
			return err
		}
		defer f.Close()
		seen := map[string]map[int]bool{"routed-a": {}, "routed-b": {}}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 1<<20), 1<<24)
		lineNo := 0
		for sc.Scan() {
			lineNo++
			var line map[string]any
			if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
				t.Fatalf("line %d %q: %v", lineNo, sc.Text(), err)
			}
			topic, seq, err := check(line)
			if err != nil {
				t.Fatalf("line %d %s: %v", lineNo, sc.Text(), err)
			}
			seen[topic][seq] = true
		}
		var missing []string
		for topic, s := range seen {
			for i := 0; i < n; i++ {
				if !s[i] {
					missing = append(missing, fmt.Sprintf("%s/%d", topic, i))
				}
			}
		}
		if len(missing) > 0 {
			sort.Strings(missing)
			if len(missing) > 10 {
				missing = append(missing[:10], "...")
			}
			return fmt.Errorf("%d lines; missing %s", lineNo, strings.Join(missing, " "))
		}
		return nil
	})
	// The sink's offsets are on the source topics, not the routed ones.
	r := e2e.Expect(t, 200, "GET", w.URL+"/connectors/sink/offsets", nil)
	if strings.Contains(string(r.Body), "routed-") {
		t.Errorf("sink offsets name a routed topic: %s", r.Body)
	}
}
