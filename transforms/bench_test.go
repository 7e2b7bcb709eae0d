package transforms

import (
	"syscall"
	"testing"
	"time"

	"github.com/penstockhq/penstock/connect"
)

// benchChainProps is a typical CDC sink chain of five transforms: unwrap the
// Debezium envelope (adding two metadata fields), drop and rename fields, add
// a static field, cast a string column to a number, and route the topic.
var benchChainProps = map[string]string{
	"transforms":                     "unwrap,replace,insert,cast,route",
	"transforms.unwrap.type":         "io.debezium.transforms.ExtractNewRecordState",
	"transforms.unwrap.add.fields":   "op,source.ts_ms",
	"transforms.replace.type":        "org.apache.kafka.connect.transforms.ReplaceField$Value",
	"transforms.replace.exclude":     "email",
	"transforms.replace.renames":     "first_name:name",
	"transforms.insert.type":         "org.apache.kafka.connect.transforms.InsertField$Value",
	"transforms.insert.static.field": "origin",
	"transforms.insert.static.value": "pg-main",
	"transforms.cast.type":           "org.apache.kafka.connect.transforms.Cast$Value",
	"transforms.cast.spec":           "qty:int32",
	"transforms.route.type":          "org.apache.kafka.connect.transforms.RegexRouter",
	"transforms.route.regex":         `([^.]+)\.([^.]+)\.([^.]+)`,
	"transforms.route.replacement":   "sink.$3",
}

// BenchmarkChain measures records/s through the five-transform chain and,
// in the same run, through an empty chain, for schema'd and schemaless
// change events: go test -run '^$' -bench Chain ./transforms. It reports
// wall-clock records/s and records per CPU-second (records/cpu-s, the
// per-core figure, robust to other load on the machine).
func BenchmarkChain(b *testing.B) {
	const n = 1024
	schemaRecs := make([]*connect.Record, n)
	mapRecs := make([]*connect.Record, n)
	for i := range n {
		schemaRecs[i] = change(b, "u", row(b, int32(i), "Old"), row(b, int32(i), "Ann"))
		mapRecs[i] = changeMap("u", rowMap(i, "Old"), rowMap(i, "Ann"))
	}
	for _, data := range []struct {
		name string
		recs []*connect.Record
	}{{"schema", schemaRecs}, {"schemaless", mapRecs}} {
		for _, chain := range []struct {
			name  string
			props map[string]string
		}{{"five", benchChainProps}, {"empty", map[string]string{}}} {
			b.Run(data.name+"/"+chain.name, func(b *testing.B) {
				c := newChain(b, chain.props)
				// Check the chain does its work before timing it.
				if out, err := c.Apply(data.recs[0]); err != nil || out == nil {
					b.Fatal(out, err)
				} else if chain.name == "five" && out.Topic != "sink.customers" {
					b.Fatal(out.Topic)
				}
				b.ReportAllocs()
				cpu0 := cpuTime()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if _, err := c.Apply(data.recs[i%n]); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
				b.ReportMetric(float64(b.N)/(cpuTime()-cpu0).Seconds(), "records/cpu-s")
			})
		}
	}
}

// cpuTime is the CPU time this process used so far (all threads, so GC
// work counts). On a shared machine records per CPU-second says more about
// a chain's cost than wall-clock records/s.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
