package worker

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/penstockhq/penstock/internal/brokertest"
	"github.com/penstockhq/penstock/plugins/builtin"
	"github.com/penstockhq/penstock/worker/rest"
)

var (
	brokerGroupsOnce sync.Once
	brokerHasGroups  bool
)

// startKafka returns the address of a broker for the test: Penstock's own
// (internal/brokertest) once it coordinates consumer groups, which sink
// connectors need; franz-go's in-memory kfake cluster until then.
func startKafka(t *testing.T) string {
	t.Helper()
	brokerGroupsOnce.Do(func() {
		b := brokertest.Start(t) // stopped at the test's end
		brokerHasGroups = supportsGroups(b.Addr)
		if !brokerHasGroups {
			t.Log("internal/brokertest has no consumer group support yet: using kfake")
		}
	})
	if brokerHasGroups {
		return brokertest.Start(t).Addr
	}
	return startKfake(t)
}

func startKfake(t *testing.T) string {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.AllowAutoTopicCreation(), kfake.DefaultNumPartitions(3))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()[0]
}

func supportsGroups(addr string) bool {
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr))
	if err != nil {
		return false
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := kmsg.NewPtrApiVersionsRequest().RequestWith(ctx, cl)
	if err != nil {
		return false
	}
	need := map[int16]bool{int16(kmsg.FindCoordinator): false, int16(kmsg.JoinGroup): false, int16(kmsg.SyncGroup): false,
		int16(kmsg.OffsetCommit): false, int16(kmsg.OffsetFetch): false, int16(kmsg.Heartbeat): false}
	for _, k := range resp.ApiKeys {
		if _, ok := need[k.ApiKey]; ok {
			need[k.ApiKey] = true
		}
	}
	for _, ok := range need {
		if !ok {
			return false
		}
	}
	return true
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

func testConfig(t *testing.T, addr string, extra map[string]string) *Config {
	t.Helper()
	props := DevProps(addr)
	props[KeyOffsetFlushInterval] = "200"
	props[KeyOffsetPartitions] = "5"
	props[KeyStatusPartitions] = "2"
	props[KeyListeners] = "http://127.0.0.1:18083"
	for k, v := range extra {
		props[k] = v
	}
	cfg, err := ParseConfig(props)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func startHerder(t *testing.T, cfg *Config, opts Options) *Herder {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = testLogger(t)
	}
	if opts.Registry == nil {
		opts.Registry = builtin.Registry()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	h, err := New(ctx, cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.Close() })
	return h
}

// eventually retries fn until it returns nil or the time is up.
func eventually(t *testing.T, d time.Duration, what string, fn func() error) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		err := fn()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func waitState(t *testing.T, h *Herder, name, connState, taskState string, tasks int) {
	t.Helper()
	eventually(t, 30*time.Second, fmt.Sprintf("%s to be %s/%s", name, connState, taskState), func() error {
		st, err := h.ConnectorStatus(context.Background(), name)
		if err != nil {
			return err
		}
		if st.Connector.State != connState {
			return fmt.Errorf("connector %s (%s)", st.Connector.State, st.Connector.Trace)
		}
		if len(st.Tasks) != tasks {
			return fmt.Errorf("%d tasks, want %d", len(st.Tasks), tasks)
		}
		for _, ts := range st.Tasks {
			if ts.State != taskState {
				return fmt.Errorf("task %d %s (%s)", ts.ID, ts.State, ts.Trace)
			}
		}
		return nil
	})
}

// seqsInFile returns how many times each (task, seq) of datagen records
// appears in a file sink's file.
func seqsInFile(t *testing.T, path string) map[[2]int64]int {
	t.Helper()
	out := map[[2]int64]int{}
	f, err := os.Open(path)
	if os.IsNotExist(err) {
		return out
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var v struct {
			Seq  *int64 `json:"seq"`
			Task int64  `json:"task"`
		}
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil || v.Seq == nil {
			continue // a torn last line after a kill
		}
		out[[2]int64{v.Task, *v.Seq}]++
	}
	return out
}

func restStatus(err error) int {
	if err == nil {
		return 0
	}
	return rest.StatusOf(err)
}
