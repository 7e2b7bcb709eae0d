package broker_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/penstockhq/penstock/internal/brokertest"
)

// kcatPath finds kcat; outside CI its absence skips, in CI it fails.
func kcatPath(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("kcat")
	if err != nil {
		p, err = exec.LookPath("kafkacat")
	}
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("kcat is not installed (apt-get install -y kcat); required when CI=true")
		}
		t.Skip("kcat is not installed (apt-get install -y kcat); skipping")
	}
	return p
}

func runKcat(t *testing.T, kcat string, stdin string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, kcat, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("kcat %v: %v\nstderr: %s", args, err, errb.String())
	}
	return out.String()
}

func TestKcatProduceConsume(t *testing.T) {
	kcat := kcatPath(t)
	b := brokertest.Start(t)
	for _, codec := range []string{"none", "gzip", "snappy", "lz4", "zstd"} {
		t.Run(codec, func(t *testing.T) {
			topic := "kcat-" + codec
			var in strings.Builder
			const n = 200
			for i := range n {
				fmt.Fprintf(&in, "k%d:v%d-%s\n", i, i, strings.Repeat("x", i%50))
			}
			runKcat(t, kcat, in.String(), "-P", "-b", b.Addr, "-t", topic, "-K", ":", "-H", "source=kcat",
				"-H", "codec="+codec, "-z", codec, "-X", "acks=all")
			out := runKcat(t, kcat, "", "-C", "-b", b.Addr, "-t", topic, "-o", "beginning", "-e", "-q",
				"-f", "%o|%k|%s|%h\n")
			lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
			if len(lines) != n {
				t.Fatalf("kcat consumed %d lines, want %d:\n%s", len(lines), n, out)
			}
			for i, l := range lines {
				want := fmt.Sprintf("%d|k%d|v%d-%s|source=kcat,codec=%s", i, i, i, strings.Repeat("x", i%50), codec)
				if l != want {
					t.Fatalf("line %d: %q, want %q", i, l, want)
				}
			}
			// franz-go reads what librdkafka wrote.
			cl := newClient(t, b.Addr, kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			var got int
			for got < n {
				fs := cl.PollFetches(ctx)
				if ctx.Err() != nil {
					t.Fatalf("kgo read %d of %d", got, n)
				}
				fs.EachRecord(func(r *kgo.Record) {
					if string(r.Key) != fmt.Sprintf("k%d", got) || len(r.Headers) != 2 {
						t.Fatalf("kgo record %d: %q %v", got, r.Key, r.Headers)
					}
					got++
				})
			}
		})
	}
	// kcat reads what franz-go wrote, after a restart.
	cl := newClient(t, b.Addr, kgo.ProducerBatchCompression(kgo.ZstdCompression()))
	produceN(t, cl, "kgo-for-kcat", 100, "z")
	b.Stop()
	b2 := brokertest.Start(t, brokertest.WithDir(b.Dir))
	out := runKcat(t, kcat, "", "-C", "-b", b2.Addr, "-t", "kgo-for-kcat", "-o", "beginning", "-e", "-q", "-f", "%k=%s;")
	var want strings.Builder
	for i := range 100 {
		fmt.Fprintf(&want, "z-key-%d=z-value-%d;", i, i)
	}
	if out != want.String() {
		t.Fatalf("kcat after restart: %q", out)
	}
	// Metadata listing.
	if out := runKcat(t, kcat, "", "-L", "-b", b2.Addr); !strings.Contains(out, `topic "kgo-for-kcat" with 1 partitions`) {
		t.Fatalf("kcat -L:\n%s", out)
	}
}
