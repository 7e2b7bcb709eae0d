package broker_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/penstockhq/penstock/broker"
)

// TestMain lets the test binary act as a broker subprocess for the crash
// test: with PENSTOCK_TEST_BROKER_DIR set it runs a broker until killed.
func TestMain(m *testing.M) {
	if dir := os.Getenv("PENSTOCK_TEST_BROKER_DIR"); dir != "" {
		cfg := broker.DefaultConfig()
		cfg.DataDir = dir
		cfg.Listen = "127.0.0.1:0"
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
		if err := broker.Run(context.Background(), cfg); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

type subBroker struct {
	cmd  *exec.Cmd
	addr string
	mu   sync.Mutex
	log  strings.Builder
	done chan struct{}
}

var readyRE = regexp.MustCompile(`broker ready"? listen=(\S+)`)

func startSubBroker(t *testing.T, dir string) *subBroker {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "PENSTOCK_TEST_BROKER_DIR="+dir)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sb := &subBroker{cmd: cmd, done: make(chan struct{})}
	addrc := make(chan string, 1)
	go func() {
		defer close(sb.done)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			sb.mu.Lock()
			sb.log.WriteString(line + "\n")
			sb.mu.Unlock()
			if m := readyRE.FindStringSubmatch(line); m != nil {
				select {
				case addrc <- m[1]:
				default:
				}
			}
		}
		io.Copy(io.Discard, stderr)
	}()
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	select {
	case sb.addr = <-addrc:
	case <-time.After(30 * time.Second):
		t.Fatalf("broker subprocess did not become ready:\n%s", sb.logs())
	}
	return sb
}

func (sb *subBroker) logs() string {
	sb.mu.Lock()
	defer sb.mu.Unlock()
	return sb.log.String()
}

func (sb *subBroker) kill(t *testing.T) {
	if err := sb.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	sb.cmd.Wait()
	<-sb.done
}

// TestCrashAcksAll kills a broker subprocess with SIGKILL while acks=all
// producers are writing, then restarts it: every acknowledged record must be
// at its acknowledged offset, in order, and every partition readable to its
// end. A torn write is then simulated and must be truncated with a log line.
func TestCrashAcksAll(t *testing.T) {
	if testing.Short() {
		t.Skip("crash test starts subprocesses")
	}
	dir := t.TempDir()
	sb := startSubBroker(t, dir)
	const topic, partitions = "crash", 3
	cl := newClient(t, sb.addr, kgo.DefaultProduceTopic(topic), kgo.RecordRetries(3),
		kgo.RecordDeliveryTimeout(5*time.Second), kgo.ProducerLinger(time.Millisecond), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	adm := newAdmin(t, cl)
	if _, err := adm.CreateTopic(context.Background(), partitions, 1, nil, topic); err != nil {
		t.Fatal(err)
	}

	type ack struct {
		partition int32
		offset    int64
	}
	var (
		mu    sync.Mutex
		acked = map[int]ack{}
		wg    sync.WaitGroup
	)
	stop := make(chan struct{})
	killAt := make(chan struct{})
	var once sync.Once
	producing := make(chan struct{}) // closed when the producer loop returns: no wg.Add after it
	go func() {
		defer close(producing)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			wg.Add(1)
			r := &kgo.Record{Key: []byte(strconv.Itoa(i % partitions)), Value: []byte(fmt.Sprintf("%09d", i)), Partition: int32(i % partitions)}
			cl.Produce(context.Background(), r, func(r *kgo.Record, err error) {
				defer wg.Done()
				if err != nil {
					return
				}
				mu.Lock()
				acked[i] = ack{r.Partition, r.Offset}
				n := len(acked)
				mu.Unlock()
				if n >= 10000 {
					once.Do(func() { close(killAt) })
				}
			})
			if i%100 == 99 {
				time.Sleep(time.Millisecond)
			}
		}
	}()
	select {
	case <-killAt:
	case <-time.After(60 * time.Second):
		t.Fatalf("producer made no progress:\n%s", sb.logs())
	}
	sb.kill(t)
	close(stop)
	// Closing the client fails whatever is still buffered or in flight;
	// successes seen until then were acknowledged before the kill.
	go cl.Close()
	waited := make(chan struct{})
	go func() { <-producing; wg.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-time.After(30 * time.Second):
		t.Log("some produce callbacks never returned; checking the acknowledgements seen")
	}
	mu.Lock()
	t.Logf("%d records acknowledged before the kill", len(acked))

	// Restart and check every acknowledged record.
	sb2 := startSubBroker(t, dir)
	byPart := map[int32]map[int64]string{}
	hw := map[int32]int64{}
	for p := range int32(partitions) {
		recs := consumeAll(t, sb2.addr, topic, p)
		byPart[p] = map[int64]string{}
		prev := -1
		for _, r := range recs {
			byPart[p][r.Offset] = string(r.Value)
			n, _ := strconv.Atoi(string(r.Value))
			if n <= prev {
				t.Fatalf("partition %d: value %d after %d at offset %d", p, n, prev, r.Offset)
			}
			prev = n
		}
		if len(recs) > 0 {
			hw[p] = recs[len(recs)-1].Offset + 1
		}
	}
	for i, a := range acked {
		if got := byPart[a.partition][a.offset]; got != fmt.Sprintf("%09d", i) {
			t.Fatalf("acknowledged record %d at %d/%d: found %q", i, a.partition, a.offset, got)
		}
	}
	mu.Unlock()

	// Simulate a torn write on partition 0 and restart again.
	sb2.kill(t)
	segs, _ := filepath.Glob(filepath.Join(dir, "topics", topic, "0", "*.log"))
	sort.Strings(segs)
	f, err := os.OpenFile(segs[len(segs)-1], os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Write([]byte{0, 0, 0, 0, 0, 0, 0, 9, 0, 0, 1, 0, 0, 0, 0, 0, 2, 1, 2, 3}) // a header cut short
	f.Close()
	sb3 := startSubBroker(t, dir)
	if !strings.Contains(sb3.logs(), "truncating torn segment tail") || !strings.Contains(sb3.logs(), "truncated_bytes=20") {
		t.Fatalf("no truncation logged:\n%s", sb3.logs())
	}
	recs := consumeAll(t, sb3.addr, topic, 0)
	if int64(len(recs)) != hw[0] {
		t.Fatalf("partition 0 after torn write: %d records, want %d", len(recs), hw[0])
	}
}

// consumeAll reads one partition from its start to its high watermark.
func consumeAll(t *testing.T, addr, topic string, p int32) []*kgo.Record {
	t.Helper()
	cl := newClient(t, addr)
	adm := newAdmin(t, cl)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		t.Fatal(err)
	}
	end, _ := ends.Lookup(topic, p)
	if end.Offset == 0 {
		return nil
	}
	cl2 := newClient(t, addr, kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {p: kgo.NewOffset().AtStart()}}))
	var out []*kgo.Record
	for len(out) == 0 || out[len(out)-1].Offset < end.Offset-1 {
		fs := cl2.PollFetches(ctx)
		if ctx.Err() != nil {
			t.Fatalf("partition %d: read to %d of %d", p, len(out), end.Offset)
		}
		fs.EachError(func(_ string, _ int32, err error) { t.Fatalf("fetch: %v", err) })
		out = append(out, fs.Records()...)
	}
	return out
}
