// Command tls measures the broker's produce and consume throughput over a
// TLS listener beside a plaintext one, in one run and one process:
//
//	go run ./bench/tls [-mb 256] [-record 1024]
//
// The broker serves PLAINTEXT and SSL listeners on loopback (a certificate
// made for the run); one franz-go producer (acks=all) writes -mb megabytes
// through each listener to its own topic, then one consumer reads them
// back (plaintext consume uses sendfile, TLS cannot); each runs twice and the second round is reported. It prints MB/s
// per listener, TLS as a share of plaintext, and the
// process's peak RSS.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/penstockhq/penstock/broker"
	"github.com/penstockhq/penstock/internal/gctune"
	"github.com/penstockhq/penstock/internal/testcerts"
	"github.com/penstockhq/penstock/worker/clientconfig"
)

var (
	totalMB    = flag.Int("mb", 256, "megabytes produced through each listener")
	recordSize = flag.Int("record", 1024, "record value size in bytes")
)

func main() {
	fmt.Printf("GOGC=%d, as the penstock binary runs\n", gctune.Apply())
	flag.Parse()
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

	type result struct{ produce, consume float64 }
	round := 0
	run := func(name string, props map[string]string) result {
		sec, err := clientconfig.Opts(clientconfig.Layers(props, ""))
		check(err)
		round++
		topic := fmt.Sprintf("bench-%s-%d", name, round)
		opts := append([]kgo.Opt{kgo.SeedBrokers(addr(name)), kgo.AllowAutoTopicCreation(), kgo.DefaultProduceTopic(topic),
			kgo.ProducerLinger(time.Millisecond), kgo.RequiredAcks(kgo.AllISRAcks())}, sec...)
		p, err := kgo.NewClient(opts...)
		check(err)
		n := *totalMB << 20 / *recordSize
		val := make([]byte, *recordSize)
		ctx := context.Background()
		start := time.Now()
		for range n {
			p.Produce(ctx, &kgo.Record{Value: val}, func(_ *kgo.Record, err error) { check(err) })
		}
		check(p.Flush(ctx))
		prod := float64(*totalMB) / time.Since(start).Seconds()
		p.Close()

		c, err := kgo.NewClient(append(opts, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))...)
		check(err)
		defer c.Close()
		start = time.Now()
		for got := 0; got < n; {
			fs := c.PollFetches(ctx)
			fs.EachError(func(_ string, _ int32, err error) { check(err) })
			got += fs.NumRecords()
		}
		return result{prod, float64(*totalMB) / time.Since(start).Seconds()}
	}
	sslProps := map[string]string{"security.protocol": "SSL", "ssl.truststore.location": ca.CertFile}
	// A first round warms both paths up (topic creation, page cache,
	// connections); the second is reported.
	run("PLAINTEXT", nil)
	run("SSL", sslProps)
	plain := run("PLAINTEXT", nil)
	tls := run("SSL", sslProps)
	fmt.Printf("%d MB of %d-byte records, acks=all, one producer and one consumer, loopback\n", *totalMB, *recordSize)
	fmt.Printf("%-10s %12s %12s\n", "listener", "produce MB/s", "consume MB/s")
	fmt.Printf("%-10s %12.1f %12.1f\n", "PLAINTEXT", plain.produce, plain.consume)
	fmt.Printf("%-10s %12.1f %12.1f\n", "SSL", tls.produce, tls.consume)
	fmt.Printf("TLS / plaintext: produce %.0f%%, consume %.0f%%\n", 100*tls.produce/plain.produce, 100*tls.consume/plain.consume)
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	fmt.Printf("peak RSS: %d MiB\n", ru.Maxrss>>10)
}

func check(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "bench/tls:", err)
		os.Exit(1)
	}
}
