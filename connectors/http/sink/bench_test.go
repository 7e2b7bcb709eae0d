//go:build unix

package sink

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	"github.com/penstockhq/penstock/connect"
)

// BenchmarkSinkPut puts Puts of 500 JSON-text string records (as a
// StringConverter gives them), each Put of one of three partitions in turn,
// into a task posting JSON arrays of 100 to a local server that reads and
// discards the bodies; an op is one record. The server runs in the same
// process, so the time includes it; the allocations show the sink's.
// cpu-ns/record is the process's CPU time (user and system) per record,
// steadier than the time on a shared machine.
func BenchmarkSinkPut(b *testing.B) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
	}))
	defer srv.Close()
	task := &Task{}
	if err := task.Start(context.Background(), &fakeTaskContext{}, map[string]string{URLConfig: srv.URL,
		BodyFormatConfig: FormatJSON, BatchJSONAsArrayConfig: "true", BatchMaxSizeConfig: "100", MaxInFlightConfig: "3"}); err != nil {
		b.Fatal(err)
	}
	defer task.Stop()
	const perPut = 500
	values := make([]string, 3*8*perPut)
	for n := range values {
		values[n] = fmt.Sprintf(`{"id":%d,"name":"record %d","amount":%d.25,"tags":["a","b"]}`, n, n, n%1000)
	}
	// The records of a Put are made as the runtime makes them: in a slab
	// reused from Put to Put when the task releases them, else anew.
	var slab []connect.Record
	releases := task.ReleasesRecords()
	batch := make([]*connect.Record, perPut)
	ctx := context.Background()
	b.ReportAllocs()
	cpu0 := cpuTime()
	b.ResetTimer()
	for i := 0; i*perPut < b.N; i++ {
		if slab == nil || !releases {
			slab = make([]connect.Record, perPut)
		}
		k := i % (len(values) / perPut)
		for j := range batch {
			n := k*perPut + j
			slab[j] = connect.Record{Topic: "t", Partition: int32(k % 3), Offset: int64(n), Value: values[n]}
			batch[j] = &slab[j]
		}
		if err := task.Put(ctx, batch); err != nil {
			b.Fatal(err)
		}
	}
	fctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := task.Flush(fctx, nil); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/record")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
