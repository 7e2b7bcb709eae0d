package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/penstockhq/penstock/worker/console"
	"github.com/penstockhq/penstock/worker/rest"
)

// TestPrintProgress checks the lines `connectors status` adds after the
// status table: a bar per snapshot table and the lag.
func TestPrintProgress(t *testing.T) {
	lag, ms := int64(2048), int64(1500)
	var buf bytes.Buffer
	err := printProgress(&buf, rest.ConnectorProgress{Name: "pg", Type: "source", Tasks: []rest.TaskProgress{{ID: 0,
		Snapshot:       []rest.TableProgress{{Table: "public.a", RowsRead: 50, Estimated: 200}, {Table: "public.b", RowsRead: 7, Estimated: -1, Done: true}},
		SourceLagBytes: &lag, SourceLagMs: &ms}}})
	if err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"SNAPSHOT", "public.a", "[#######.......................]", " 25%", "50 of ~200 rows",
		"public.b", "[##############################]", "100%", "7 of no estimate rows", "LAG", "2048 bytes", "1.5 s"} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q in:\n%s", want, out)
		}
	}
	buf.Reset()
	if err := printProgress(&buf, rest.ConnectorProgress{Name: "gen", Type: "source", Tasks: []rest.TaskProgress{{ID: 0}}}); err != nil || buf.Len() != 0 {
		t.Errorf("a connector without progress printed %q (%v)", buf.String(), err)
	}
	buf.Reset()
	_ = printProgress(&buf, rest.ConnectorProgress{Name: "s", Type: "sink", TotalLag: 12, ConsumerLag: make([]console.PartitionLag, 3)})
	if !strings.Contains(buf.String(), "12 records on 3 partitions") {
		t.Errorf("sink lag: %q", buf.String())
	}
}
