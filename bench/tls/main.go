// Command tls measures the broker's produce and consume throughput over a
// TLS listener beside a plaintext one, in one run and one process:
//
//	go run ./bench/tls [-mb 128] [-record 1024] [-rounds 5] [-compression none] [-fetch 1048576]
//
// The broker serves PLAINTEXT and SSL listeners on loopback (a certificate
// made for the run). Each round, one franz-go producer (acks=all) writes -mb
// megabytes through each listener to a topic of its own, then one consumer
// per listener reads them back; the two listeners alternate which goes first
// from round to round, after a warm-up round that is not counted. Both paths
// use the same client settings and the same incompressible values, and no
// compression by default, so the megabytes counted are the bytes on the wire
// (franz-go's default, snappy, would make the comparison one of compressing
// zeros). It prints the median MB/s per listener and phase, the process CPU
// time (user+sys, broker and clients together: both share the machine's
// cores) per GB, TLS as a share of plaintext per round, the CPU per GB of
// AES-128-GCM sealing alone (the floor of what TLS adds), and peak RSS.
package main

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/penstockhq/penstock/broker"
	"github.com/penstockhq/penstock/internal/clientconfig"
	"github.com/penstockhq/penstock/internal/gctune"
	"github.com/penstockhq/penstock/internal/testcerts"
)

var (
	totalMB     = flag.Int("mb", 128, "megabytes produced through each listener per round")
	recordSize  = flag.Int("record", 1024, "record value size in bytes")
	rounds      = flag.Int("rounds", 5, "measured rounds (after one warm-up round)")
	compression = flag.String("compression", "none", "producer compression: none, snappy, lz4 or zstd")
	fetchBytes  = flag.Int("fetch", 1<<20, "consumer's max.partition.fetch.bytes (Kafka's default: 1 MiB)")
	cpuProfile  = flag.String("cpuprofile", "", "write a CPU profile of the measured rounds to this file")
)

// phase is one measured produce or consume: wall and CPU seconds.
type phase struct{ wall, cpu float64 }

func main() {
	fmt.Printf("GOGC=%d, as the penstock binary runs\n", gctune.Apply())
	flag.Parse()
	codec := map[string]kgo.CompressionCodec{"none": kgo.NoCompression(), "snappy": kgo.SnappyCompression(),
		"lz4": kgo.Lz4Compression(), "zstd": kgo.ZstdCompression()}[*compression]
	if codec == (kgo.CompressionCodec{}) && *compression != "none" {
		check(fmt.Errorf("unknown -compression %q", *compression))
	}
	dir, err := os.MkdirTemp("", "penstock-bench-tls-")
	check(err)
	defer os.RemoveAll(dir)
	ca, err := testcerts.Generate(dir, "bench-ca")
	check(err)
	pair, err := ca.Issue("broker", true)
	check(err)

	cfg := broker.DefaultConfig()
	cfg.DataDir = filepath.Join(dir, "data")
	cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	check(cfg.Apply(map[string]string{
		"listeners":             "PLAINTEXT://127.0.0.1:0,SSL://127.0.0.1:0",
		"ssl.keystore.type":     "PEM",
		"ssl.keystore.location": pair.File,
	}))
	srv, err := broker.New(cfg)
	check(err)
	defer srv.Close()
	go srv.ListenAndServe()
	addr := func(name string) string {
		for range 500 {
			if a := srv.ListenerAddr(name); a != nil {
				return a.String()
			}
			time.Sleep(10 * time.Millisecond)
		}
		check(fmt.Errorf("listener %s did not start", name))
		return ""
	}

	// Random values, sliced from a pool larger than any compression
	// window, so that no codec finds repeats.
	pool := make([]byte, 8<<20)
	rand.Read(pool)
	n := *totalMB << 20 / *recordSize
	values := make([][]byte, n)
	for i := range values {
		off := i * *recordSize % (len(pool) - *recordSize)
		values[i] = pool[off : off+*recordSize]
	}

	props := map[string]map[string]string{
		"PLAINTEXT": nil,
		"SSL":       {"security.protocol": "SSL", "ssl.truststore.location": ca.CertFile},
	}
	clientOpts := func(name, topic string) []kgo.Opt {
		sec, err := clientconfig.Opts(clientconfig.Layers(props[name], ""))
		check(err)
		return append([]kgo.Opt{kgo.SeedBrokers(addr(name)), kgo.AllowAutoTopicCreation(), kgo.DefaultProduceTopic(topic),
			kgo.ProducerLinger(time.Millisecond), kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerBatchCompression(codec)}, sec...)
	}
	ctx := context.Background()
	produce := func(name, topic string) phase {
		p, err := kgo.NewClient(clientOpts(name, topic)...)
		check(err)
		defer p.Close()
		// Topic creation and the connection are not part of the measure.
		check(p.ProduceSync(ctx, &kgo.Record{Value: values[0]}).FirstErr())
		m := start()
		for _, v := range values {
			p.Produce(ctx, &kgo.Record{Value: v}, func(_ *kgo.Record, err error) { check(err) })
		}
		check(p.Flush(ctx))
		return m.stop()
	}
	consume := func(name, topic string) phase {
		c, err := kgo.NewClient(append(clientOpts(name, topic), kgo.ConsumeTopics(topic), kgo.FetchMaxPartitionBytes(int32(*fetchBytes)),
			kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))...)
		check(err)
		defer c.Close()
		m := start()
		for got := 0; got < n+1; {
			fs := c.PollFetches(ctx)
			fs.EachError(func(_ string, _ int32, err error) { check(err) })
			got += fs.NumRecords()
		}
		return m.stop()
	}

	// What the clients negotiate: Go prefers AES-GCM (hardware AES) over
	// ChaCha20 when both sides have it, and does not let either change
	// the order.
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM([]byte(ca.CertPEM))
	tc, err := tls.Dial("tcp", addr("SSL"), &tls.Config{RootCAs: roots, ServerName: "127.0.0.1"})
	check(err)
	cs := tc.ConnectionState()
	tc.Close()
	fmt.Printf("TLS: %s, %s\n", tls.VersionName(cs.Version), tls.CipherSuiteName(cs.CipherSuite))

	names := []string{"PLAINTEXT", "SSL"}
	prod := map[string][]phase{}
	cons := map[string][]phase{}
	var ratios [2][]float64 // per round: TLS / plaintext MB/s, produce and consume
	for r := 0; r <= *rounds; r++ {
		if r == 1 && *cpuProfile != "" {
			f, err := os.Create(*cpuProfile)
			check(err)
			check(pprof.StartCPUProfile(f))
			defer pprof.StopCPUProfile()
		}
		order := names
		if r%2 == 1 {
			order = []string{names[1], names[0]}
		}
		p, c := map[string]phase{}, map[string]phase{}
		for _, name := range order {
			p[name] = produce(name, fmt.Sprintf("bench-%s-%d", name, r))
		}
		for _, name := range order {
			c[name] = consume(name, fmt.Sprintf("bench-%s-%d", name, r))
		}
		if r == 0 {
			continue // warm-up
		}
		for _, name := range names {
			prod[name] = append(prod[name], p[name])
			cons[name] = append(cons[name], c[name])
		}
		ratios[0] = append(ratios[0], p["PLAINTEXT"].wall/p["SSL"].wall)
		ratios[1] = append(ratios[1], c["PLAINTEXT"].wall/c["SSL"].wall)
		fmt.Printf("round %d: produce MB/s plaintext %.0f, TLS %.0f; consume MB/s plaintext %.0f, TLS %.0f\n", r,
			mbps(p["PLAINTEXT"]), mbps(p["SSL"]), mbps(c["PLAINTEXT"]), mbps(c["SSL"]))
	}

	fmt.Printf("\n%d MB of %d-byte records per listener and round, compression %s, acks=all, one producer and one consumer "+
		"(max.partition.fetch.bytes %d), loopback\n", *totalMB, *recordSize, *compression, *fetchBytes)
	fmt.Printf("medians of %d rounds (listeners alternating first):\n", *rounds)
	fmt.Printf("%-10s %12s %12s %16s %16s\n", "listener", "produce MB/s", "consume MB/s", "produce CPU s/GB", "consume CPU s/GB")
	for _, name := range names {
		fmt.Printf("%-10s %12.0f %12.0f %16.2f %16.2f\n", name, median(prod[name], mbps), median(cons[name], mbps),
			median(prod[name], cpuPerGB), median(cons[name], cpuPerGB))
	}
	fmt.Printf("TLS / plaintext, median of the rounds' ratios: produce %.0f%%, consume %.0f%% (per round: produce %s; consume %s)\n",
		100*medianOf(ratios[0]), 100*medianOf(ratios[1]), percents(ratios[0]), percents(ratios[1]))
	seal := aesGCMSeconds()
	fmt.Printf("AES-128-GCM alone, 16 KiB records on one core: %.2f CPU s/GB to seal, about as much to open: the floor of what TLS adds\n", seal)
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	fmt.Printf("peak RSS: %d MiB\n", ru.Maxrss>>10)
}

// aesGCMSeconds measures the CPU seconds per GB of sealing 16 KiB records
// with AES-128-GCM, the cipher the clients negotiate.
func aesGCMSeconds() float64 {
	key := make([]byte, 16)
	rand.Read(key)
	block, err := aes.NewCipher(key)
	check(err)
	aead, err := cipher.NewGCM(block)
	check(err)
	nonce := make([]byte, aead.NonceSize())
	rec := make([]byte, 16<<10)
	out := make([]byte, 0, len(rec)+aead.Overhead())
	const total = 256 << 20
	before := cpuSeconds()
	for range total / len(rec) {
		out = aead.Seal(out[:0], nonce, rec, nil)
	}
	return (cpuSeconds() - before) / (float64(total) / (1 << 30))
}

type meter struct {
	t   time.Time
	cpu float64
}

func start() meter { return meter{time.Now(), cpuSeconds()} }

func (m meter) stop() phase {
	return phase{time.Since(m.t).Seconds(), cpuSeconds() - m.cpu}
}

// cpuSeconds is the process's user and system CPU time so far.
func cpuSeconds() float64 {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
}

func mbps(p phase) float64     { return float64(*totalMB) / p.wall }
func cpuPerGB(p phase) float64 { return p.cpu / (float64(*totalMB) / 1024) }

func median(ps []phase, f func(phase) float64) float64 {
	xs := make([]float64, len(ps))
	for i, p := range ps {
		xs[i] = f(p)
	}
	return medianOf(xs)
}

func medianOf(xs []float64) float64 {
	s := slices.Sorted(slices.Values(xs))
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func percents(xs []float64) string {
	var b strings.Builder
	for i, x := range xs {
		if i > 0 {
			b.WriteString(" ")
		}
		fmt.Fprintf(&b, "%.0f%%", 100*x)
	}
	return b.String()
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench/tls:", err)
		os.Exit(1)
	}
}
