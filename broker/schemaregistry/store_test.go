package schemaregistry_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/penstockhq/penstock/internal/brokertest"
	"github.com/penstockhq/penstock/internal/e2e"
	"github.com/penstockhq/penstock/internal/registrytest"
)

func avroRecord(name string, fields ...string) sr.Schema {
	s := `{"type":"record","name":"` + name + `","fields":[`
	for i, f := range fields {
		if i > 0 {
			s += ","
		}
		s += `{"name":"` + f + `","type":"int","default":0}`
	}
	return sr.Schema{Schema: s + "]}"}
}

// TestTwoRegistriesNoDuplicateIDs registers different schemas through two
// registries on the same topic at once: no id stands for two schemas, no
// subject version for two ids, and both registries end in the same state.
func TestTwoRegistriesNoDuplicateIDs(t *testing.T) {
	b := brokertest.Start(t)
	urls := make([]string, 2)
	for i := range urls {
		urls[i] = registrytest.On(t, b.Addr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	const n = 15
	if err := setCompat(ctx, urls[0], "race-value", sr.CompatNone); err != nil {
		t.Fatal(err)
	}
	ids := make([][]int, 2)
	var wg sync.WaitGroup
	for i, u := range urls {
		cl, err := sr.NewClient(sr.URLs(u))
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < n; j++ {
				// Both registries race for the same subject and the next id.
				s, err := cl.CreateSchema(ctx, "race-value", avroRecord(fmt.Sprintf("r%d_%d", i, j), "a"))
				if err != nil {
					t.Errorf("registry %d schema %d: %v", i, j, err)
					return
				}
				ids[i] = append(ids[i], s.ID)
			}
		}()
	}
	wg.Wait()
	seen := map[int]bool{}
	for _, l := range ids {
		for _, id := range l {
			if seen[id] {
				t.Fatalf("id %d handed out twice: %v", id, ids)
			}
			seen[id] = true
		}
	}
	// Reads answer from each registry's view of the topic, which follows
	// the other's writes shortly after them.
	e2e.Eventually(t, 30*time.Second, "both registries hold every version alike", func() error {
		var states [2][]sr.SubjectSchema
		for i, u := range urls {
			cl, _ := sr.NewClient(sr.URLs(u))
			all, err := cl.Schemas(ctx, "race-value")
			if err != nil {
				return err
			}
			states[i] = all
		}
		if len(states[0]) != 2*n || fmt.Sprint(states[0]) != fmt.Sprint(states[1]) {
			return fmt.Errorf("registries disagree or lost versions:\n%v\n%v", states[0], states[1])
		}
		return nil
	})
}

func setCompat(ctx context.Context, url, subject string, level sr.CompatibilityLevel) error {
	cl, err := sr.NewClient(sr.URLs(url))
	if err != nil {
		return err
	}
	return cl.SetCompatibility(ctx, sr.SetCompatibility{Level: level}, subject)[0].Err
}

// TestSurvivesBrokerKill registers schemas through `penstock broker`, kills
// it with SIGKILL, starts it again on the same data: the ids and versions are
// the same and a new schema gets a new id.
func TestSurvivesBrokerKill(t *testing.T) {
	bin := e2e.BuildPenstock(t)
	dir := t.TempDir()
	brokerAddr := fmt.Sprintf("127.0.0.1:%d", e2e.FreePort(t))
	url := fmt.Sprintf("http://127.0.0.1:%d", e2e.FreePort(t))
	start := func() *exec.Cmd {
		cmd := exec.Command(bin, "broker", "--data", filepath.Join(dir, "data"), "--listen", brokerAddr,
			"--schema-registry", url[len("http://"):])
		f, err := os.OpenFile(filepath.Join(dir, "log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stdout, cmd.Stderr = f, f
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait(); f.Close() })
		e2e.Eventually(t, 60*time.Second, "schema registry answers", func() error {
			_, err := e2e.Do("GET", url+"/subjects", nil)
			return err
		})
		return cmd
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := start()
	cl, err := sr.NewClient(sr.URLs(url))
	if err != nil {
		t.Fatal(err)
	}
	var before []sr.SubjectSchema
	for i, fields := range [][]string{{"a"}, {"a", "b"}, {"a", "b", "c"}} {
		s, err := cl.CreateSchema(ctx, fmt.Sprintf("t%d-value", i%2), avroRecord("r", fields...))
		if err != nil {
			t.Fatal(err)
		}
		before = append(before, s)
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	start()
	for _, s := range before {
		got, err := cl.SchemaByVersion(ctx, s.Subject, s.Version)
		if err != nil {
			t.Fatalf("after SIGKILL: %s version %d: %v\n%s", s.Subject, s.Version, err, e2e.LogTail(filepath.Join(dir, "log")))
		}
		if got.ID != s.ID || got.Schema.Schema != s.Schema.Schema {
			t.Fatalf("after SIGKILL: %s version %d is id %d, was %d", s.Subject, s.Version, got.ID, s.ID)
		}
	}
	s, err := cl.CreateSchema(ctx, "t0-value", avroRecord("r", "a", "b", "c", "d"))
	if err != nil {
		t.Fatal(err)
	}
	if s.ID != before[len(before)-1].ID+1 || s.Version != 3 {
		t.Fatalf("new schema after restart: id %d version %d, want id %d version 3", s.ID, s.Version, before[len(before)-1].ID+1)
	}
}
