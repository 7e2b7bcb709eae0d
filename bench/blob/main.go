// Command blob benchmarks the object storage sink: records/s and MB/s of
// its task writing Parquet and JSON lines to file:// and to versitygw (S3
// API), beside a bare program writing the same records with parquet-go (or
// encoding/json) and a gocloud blob.Writer directly, in the same run. Each
// measurement runs in its own child process, which reports its peak RSS.
//
//	go run ./bench/blob [-records 500000] [-flush 100000] [-reps 3]
//
// The sink encodes Parquet on a second goroutine beside Put (a worker's
// task does too); the bare program is parquet-go's GenericWriter on one, as
// a program using it plainly is. records/s compares the two as they run;
// the CPU columns compare the work.
//
// The sink task gets records in Puts of 500 (max.poll.records), as the
// runtime hands them; both sides generate their records on the fly, so RSS
// is the writer's. The target is 70% of bare or more, and a peak RSS within
// a 64 MiB budget per task: each child runs with Penstock's GOGC (400, see
// internal/gctune) and a Go memory limit of -budget bytes (64 MiB), as a
// worker running one task under its limit would; GOGC and GOMEMLIMIT, when
// set, override them (GOGC=100 shows the live memory more closely).
//
// The sink's input is Connect records, which the runtime's converter makes,
// and the bare program's is rows: the CPU making them is measured apart
// (the thread's CPU time around each batch's making) and the "write"
// columns leave it out on both sides, so they compare the writers alone;
// the "records/CPU-s" columns count everything. "write-GC" also leaves out
// the GC's background work (the runtime's estimate), which on the sink's
// side is mostly the discarded records' (its writer allocates almost
// nothing per record). Peak RSS counts the binary's code too, the same on
// both sides: the bare line is the floor.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"os"
	"os/exec"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/parquet-go/parquet-go"
	"gocloud.dev/blob"
	_ "gocloud.dev/blob/fileblob"
	_ "gocloud.dev/blob/s3blob"

	"github.com/penstockhq/penstock/connect"
	blobsink "github.com/penstockhq/penstock/connectors/blob"
	"github.com/penstockhq/penstock/internal/gctune"
	"github.com/penstockhq/penstock/internal/testservice"
)

var (
	records = flag.Int("records", 500000, "records per measurement")
	flush   = flag.Int("flush", 100000, "records per object (flush.size)")
	child   = flag.String("child", "", "internal: run one measurement: sink|bare,parquet|json,URL")
	cpuprof = flag.String("cpuprofile", "", "with -child: write a CPU profile of the measurement to this file")
	reps    = flag.Int("reps", 3, "bare/sink pairs per store and format, run alternately; the line of each is the run of median CPU")
	budget  = flag.Int64("budget", 64<<20, "memory budget of the child in bytes (its Go memory limit, as a task's share of a worker's)")
)

// row is one benchmark record, as the bare program writes it.
type row struct {
	Seq    int64     `parquet:"seq" json:"seq"`
	Name   string    `parquet:"name" json:"name"`
	Amount float64   `parquet:"amount" json:"amount"`
	At     time.Time `parquet:"at,timestamp(millisecond)" json:"at"`
	Note   *string   `parquet:"note,optional" json:"note"`
}

var schema = connect.NewStructSchema("bench.Value",
	connect.F("seq", connect.Int64Schema), connect.F("name", connect.StringSchema),
	connect.F("amount", connect.Float64Schema), connect.F("at", connect.TimestampSchema()),
	connect.F("note", connect.OptionalStringSchema))

var base = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// note is record i's optional field: none for every third record.
func note(i int) (string, bool) {
	if i%3 == 0 {
		return "", false
	}
	return fmt.Sprintf("note number %d for the benchmark", i), true
}

// notePtr is note as the bare row's *string.
func notePtr(i int) *string {
	if s, ok := note(i); ok {
		return &s
	}
	return nil
}

type sinkCtx struct{}

func (sinkCtx) ConnectorName() string                   { return "bench" }
func (sinkCtx) TaskID() int                             { return 0 }
func (sinkCtx) Assignment() []connect.TopicPartition    { return nil }
func (sinkCtx) Pause(...connect.TopicPartition)         {}
func (sinkCtx) Resume(...connect.TopicPartition)        {}
func (sinkCtx) Rewind(map[connect.TopicPartition]int64) {}
func (sinkCtx) RequestCommit()                          {}
func (sinkCtx) Report(_ context.Context, r *connect.Record, err error) error {
	return err
}

// genCPU is the CPU time the measuring goroutine spent making records (see
// threadCPU), summed over the run.
var genCPU time.Duration

// threadCPU is the CPU time of the calling OS thread. The measuring
// goroutine is locked to its thread, so the difference of two readings
// around the making of a batch is the time making it took (GC assists
// included, background GC workers on other threads not).
func threadCPU() time.Duration {
	var ts syscall.Timespec
	const clockThreadCPUTimeID = 3 // CLOCK_THREAD_CPUTIME_ID
	if _, _, errno := syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPUTimeID, uintptr(unsafe.Pointer(&ts)), 0); errno != 0 {
		log.Fatalf("clock_gettime: %v", errno)
	}
	return time.Duration(ts.Nano())
}

// runSink puts the records through the sink task. The Connect records are
// what the runtime hands a sink after its converter: making them is not the
// sink's work, and their CPU is counted apart (genCPU).
func runSink(ctx context.Context, format, url string) error {
	task := &blobsink.Task{}
	class := map[string]string{"parquet": "ParquetFormat", "json": "JsonFormat"}[format]
	if err := task.Start(ctx, sinkCtx{}, map[string]string{"store.url": url, "format.class": class,
		"flush.size": fmt.Sprint(*flush), "parquet.codec": "snappy"}); err != nil {
		return err
	}
	defer task.Stop()
	batch := make([]*connect.Record, 500)
	slab := make([]connect.Record, 500)
	for i := 0; i < *records; i += len(batch) {
		t0 := threadCPU()
		for j := range batch {
			n := i + j
			v := connect.NewStruct(schema)
			v.SetAt(0, int64(n))
			v.SetAt(1, fmt.Sprintf("order %d", n))
			v.SetAt(2, float64(n)/8)
			v.SetAt(3, base.Add(time.Duration(n)*time.Millisecond))
			if s, ok := note(n); ok {
				v.SetAt(4, s) // boxed once, as a converter's string
			}
			slab[j] = connect.Record{Topic: "bench", Partition: 0, Offset: int64(n), ValueSchema: schema, Value: v}
			batch[j] = &slab[j]
		}
		genCPU += threadCPU() - t0
		if err := task.Put(ctx, batch); err != nil {
			return err
		}
	}
	return nil
}

// runBare writes the same records with parquet-go or encoding/json into
// gocloud writers directly, one object per flush records.
func runBare(ctx context.Context, format, url string) error {
	b, err := blob.OpenBucket(ctx, url)
	if err != nil {
		return err
	}
	defer b.Close()
	rows := make([]row, 500)
	for obj := 0; obj < *records; obj += *flush {
		w, err := b.NewWriter(ctx, fmt.Sprintf("bare/bench+0+%010d.%s", obj, format), &blob.WriterOptions{BufferSize: 5 << 20})
		if err != nil {
			return err
		}
		var pw *parquet.GenericWriter[row]
		var enc *json.Encoder
		bw := bufio.NewWriterSize(w, 64<<10) // as the sink's lines are: a store write per line would be the bare side's loss
		if format == "parquet" {
			pw = parquet.NewGenericWriter[row](w, parquet.Compression(&parquet.Snappy))
		} else {
			enc = json.NewEncoder(bw)
		}
		for i := obj; i < min(obj+*flush, *records); i += len(rows) {
			t0 := threadCPU()
			for j := range rows {
				n := i + j
				rows[j] = row{Seq: int64(n), Name: fmt.Sprintf("order %d", n), Amount: float64(n) / 8,
					At: base.Add(time.Duration(n) * time.Millisecond), Note: notePtr(n)}
			}
			genCPU += threadCPU() - t0
			if pw != nil {
				if _, err := pw.Write(rows); err != nil {
					return err
				}
				continue
			}
			for j := range rows {
				if err := enc.Encode(&rows[j]); err != nil {
					return err
				}
			}
		}
		if pw != nil {
			if err := pw.Close(); err != nil {
				return err
			}
		}
		if err := bw.Flush(); err != nil {
			return err
		}
		if err := w.Close(); err != nil {
			return err
		}
	}
	return nil
}

// bytesUnder sums the sizes of the objects under prefix.
func bytesUnder(ctx context.Context, url, prefix string) (int64, error) {
	b, err := blob.OpenBucket(ctx, url)
	if err != nil {
		return 0, err
	}
	defer b.Close()
	var total int64
	it := b.List(&blob.ListOptions{Prefix: prefix})
	for {
		o, err := it.Next(ctx)
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return 0, err
		}
		total += o.Size
	}
}

type result struct {
	Seconds float64 `json:"seconds"`
	CPU     float64 `json:"cpu_seconds"`       // user+system of the whole child, the store's client included
	GenCPU  float64 `json:"gen_cpu_seconds"`   // of CPU: making the records (Connect records or rows)
	GCBg    float64 `json:"gc_bg_cpu_seconds"` // of CPU: the GC's background work and pauses (the runtime's estimate)
	Bytes   int64   `json:"bytes"`
	RSSKiB  int64   `json:"rss_kib"`
}

func runChild(spec string) {
	parts := strings.SplitN(spec, ",", 3)
	who, format, url := parts[0], parts[1], parts[2]
	ctx := context.Background()
	if *cpuprof != "" {
		f, err := os.Create(*cpuprof)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatal(err)
		}
		defer pprof.StopCPUProfile()
	}
	gctune.SetMemoryLimit(*budget)
	runtime.LockOSThread() // for threadCPU
	start := time.Now()
	var err error
	prefix := "bare/"
	if who == "sink" {
		err, prefix = runSink(ctx, format, url), "topics/"
	} else {
		err = runBare(ctx, format, url)
	}
	if err != nil {
		log.Fatal(err)
	}
	secs := time.Since(start).Seconds()
	n, err := bytesUnder(ctx, url, prefix)
	if err != nil {
		log.Fatal(err)
	}
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	cpu := time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
	_ = json.NewEncoder(os.Stdout).Encode(result{Seconds: secs, CPU: cpu, Bytes: n, RSSKiB: ru.Maxrss, GenCPU: genCPU.Seconds(), GCBg: gcBackground()})
}

// gcBackground is the runtime's estimate of the CPU its GC spent outside
// the allocating goroutines: dedicated and idle mark workers and pauses.
// (Assists are in the time of the goroutine that allocated.)
func gcBackground() float64 {
	ms := []metrics.Sample{{Name: "/cpu/classes/gc/mark/dedicated:cpu-seconds"}, {Name: "/cpu/classes/gc/mark/idle:cpu-seconds"},
		{Name: "/cpu/classes/gc/pause:cpu-seconds"}}
	metrics.Read(ms)
	var sum float64
	for _, m := range ms {
		if m.Value.Kind() == metrics.KindFloat64 {
			sum += m.Value.Float64()
		}
	}
	return sum
}

func measure(who, format, url string, env []string) (result, error) {
	cmd := exec.Command(os.Args[0], "-records", fmt.Sprint(*records), "-flush", fmt.Sprint(*flush), "-budget", fmt.Sprint(*budget), "-child", who+","+format+","+url)
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return result{}, fmt.Errorf("%s %s: %w", who, format, err)
	}
	var r result
	return r, json.Unmarshal(out, &r)
}

func run(stores map[string]func() (string, []string)) error {
	fmt.Printf("%d records (5 fields, ~70 bytes of values each), %d per object; each line a child process with a %d MiB memory limit\n", *records, *flush, *budget>>20)
	fmt.Printf("records/CPU-s: all the child's CPU; write/CPU-s: without making the records (Connect records for the sink, rows for bare)\n")
	fmt.Printf("write-GC: write/CPU-s without the GC's background work either (most of the sink's garbage is the records')\n")
	fmt.Printf("each line: the run of median CPU of %d, bare and sink run alternately; peak RSS: of all %d\n", *reps, *reps)
	fmt.Printf("%-10s %-8s %-5s %10s %7s %11s %8s %7s %13s %8s %8s %10s %9s %9s\n", "store", "format", "who", "records/s", "MB/s",
		"peak RSS", "gen CPU", "GC bg", "records/CPU-s", "write/CPU-s", "vs bare", "CPU vs bare", "write vs bare", "write-GC vs bare")
	for _, store := range []string{"file", "versitygw"} {
		for _, format := range []string{"parquet", "json"} {
			runs := map[string][]result{}
			for i := 0; i < *reps; i++ {
				for _, who := range []string{"bare", "sink"} {
					url, env := stores[store]()
					r, err := measure(who, format, url, env)
					if err != nil {
						return err
					}
					runs[who] = append(runs[who], r)
				}
			}
			var bare, bareCPU, bareWrite, bareNoGC float64
			for _, who := range []string{"bare", "sink"} {
				rs := runs[who]
				sort.Slice(rs, func(i, j int) bool { return rs[i].CPU < rs[j].CPU })
				r := rs[len(rs)/2]
				for _, o := range rs {
					r.RSSKiB = max(r.RSSKiB, o.RSSKiB) // the peak of all the runs
				}
				rate, perCPU, perWrite := float64(*records)/r.Seconds, float64(*records)/r.CPU, float64(*records)/(r.CPU-r.GenCPU)
				perNoGC := float64(*records) / (r.CPU - r.GenCPU - r.GCBg)
				ratio, cpuRatio, writeRatio, noGCRatio := "", "", "", ""
				if who == "bare" {
					bare, bareCPU, bareWrite, bareNoGC = rate, perCPU, perWrite, perNoGC
				} else {
					ratio, cpuRatio = fmt.Sprintf("%.0f%%", 100*rate/bare), fmt.Sprintf("%.0f%%", 100*perCPU/bareCPU)
					writeRatio, noGCRatio = fmt.Sprintf("%.0f%%", 100*perWrite/bareWrite), fmt.Sprintf("%.0f%%", 100*perNoGC/bareNoGC)
				}
				fmt.Printf("%-10s %-8s %-5s %10.0f %7.1f %7.1f MiB %7.2fs %6.2fs %13.0f %11.0f %8s %10s %9s %9s\n", store, format, who, rate,
					float64(r.Bytes)/r.Seconds/1e6, float64(r.RSSKiB)/1024, r.GenCPU, r.GCBg, perCPU, perWrite, ratio, cpuRatio, writeRatio, noGCRatio)
			}
		}
	}
	return nil
}

func main() {
	gctune.Apply()
	testing.Init()
	flag.Parse()
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	if *child != "" {
		runChild(*child)
		return
	}
	// testing.Benchmark gives a testing.TB for the harness; run once.
	var once sync.Once
	var runErr error
	testing.Benchmark(func(b *testing.B) {
		once.Do(func() {
			s3 := testservice.S3(b)
			n := 0
			stores := map[string]func() (string, []string){
				"file": func() (string, []string) { return "file://" + b.TempDir() + "?create_dir=true", nil },
				"versitygw": func() (string, []string) {
					n++
					return s3.BucketURL(s3.CreateBucket(b, fmt.Sprintf("bench%d", n))), s3.Env()
				},
			}
			runErr = run(stores)
		})
	})
	if runErr != nil {
		log.Fatal(runErr)
	}
}
