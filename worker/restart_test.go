package worker

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// buildPenstock builds the penstock binary into a temp dir.
func buildPenstock(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "penstock")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/penstockhq/penstock/cmd/penstock")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

type workerProc struct {
	cmd *exec.Cmd
	log *bytes.Buffer
}

func startWorkerProc(t *testing.T, bin, configFile string) *workerProc {
	t.Helper()
	cmd := exec.Command(bin, "worker", "--config", configFile)
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &workerProc{cmd: cmd, log: &log}
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			p.cmd.Process.Kill()
			p.cmd.Wait()
		}
	})
	return p
}

func restCall(method, url string, body any) (int, []byte, error) {
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, b, err
}

// TestWorkerSurvivesKill9 runs a datagen -> topic -> file sink pipeline in
// a worker process, kills it with SIGKILL mid-stream, starts it again, and
// checks the file holds every sequence number (at least once).
func TestWorkerSurvivesKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the penstock binary")
	}
	addr := startKafka(t)
	bin := buildPenstock(t)
	dir := t.TempDir()
	port := freePort(t)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	props := fmt.Sprintf(`bootstrap.servers=%s
group.id=kill9
config.storage.topic=k9-configs
offset.storage.topic=k9-offsets
status.storage.topic=k9-status
offset.storage.partitions=3
status.storage.partitions=1
key.converter=org.apache.kafka.connect.json.JsonConverter
value.converter=org.apache.kafka.connect.json.JsonConverter
offset.flush.interval.ms=300
consumer.session.timeout.ms=6000
listeners=%s
`, addr, base)
	cfgFile := filepath.Join(dir, "worker.properties")
	if err := os.WriteFile(cfgFile, []byte(props), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "sink.txt")
	const n = 20000

	w := startWorkerProc(t, bin, cfgFile)
	eventually(t, 30*time.Second, "REST API up", func() error {
		_, _, err := restCall("GET", base+"/", nil)
		return err
	})
	for _, c := range []map[string]any{
		{"name": "gen", "config": map[string]string{"connector.class": "datagen", "topic": "k9", "count": fmt.Sprint(n), "rate": "4000", "batch.size": "200"}},
		{"name": "sink", "config": map[string]string{"connector.class": "FileStreamSink", "topics": "k9", "file": out}},
	} {
		code, body, err := restCall("POST", base+"/connectors", c)
		if err != nil || code != http.StatusCreated {
			t.Fatalf("create %v: %d %s %v", c["name"], code, body, err)
		}
	}
	// Kill once both sides committed something, mid-stream.
	eventually(t, 60*time.Second, "a part of the stream in the file, committed", func() error {
		if got := len(seqsInFile(t, out)); got < n/4 {
			return fmt.Errorf("%d records", got)
		}
		_, body, err := restCall("GET", base+"/connectors/sink/offsets", nil)
		if err != nil || !bytes.Contains(body, []byte("kafka_offset")) {
			return fmt.Errorf("sink offsets %s %v", body, err)
		}
		return nil
	})
	_, offs, _ := restCall("GET", base+"/connectors/gen/offsets", nil)
	_, soffs, _ := restCall("GET", base+"/connectors/sink/offsets", nil)
	t.Logf("offsets before the kill: gen %s sink %s", offs, soffs)
	if err := w.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	w.cmd.Wait()
	before := len(seqsInFile(t, out))
	if before >= n {
		t.Fatalf("the whole stream (%d) was through before the kill; slow datagen down", before)
	}
	t.Logf("killed the worker with %d of %d records in the file", before, n)

	w2 := startWorkerProc(t, bin, cfgFile)
	eventually(t, 120*time.Second, "every sequence number in the file", func() error {
		seqs := seqsInFile(t, out)
		for i := int64(0); i < n; i++ {
			if seqs[[2]int64{0, i}] == 0 {
				return fmt.Errorf("seq %d missing (%d distinct of %d)", i, len(seqs), n)
			}
		}
		return nil
	})
	seqs := seqsInFile(t, out)
	dups := 0
	for _, c := range seqs {
		dups += c - 1
	}
	lo, hi := int64(n), int64(-1)
	for k, c := range seqs {
		if c > 1 {
			lo, hi = min(lo, k[1]), max(hi, k[1])
		}
	}
	t.Logf("all %d records present after the restart; %d duplicates (at-least-once), seqs %d..%d", n, dups, lo, hi)
	code, body, _ := restCall("GET", base+"/connectors/gen/status", nil)
	t.Logf("gen status after restart: %d %s", code, body)

	if err := w2.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- w2.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("worker exit after SIGTERM: %v\n%s", err, w2.log)
		}
	case <-time.After(30 * time.Second):
		t.Errorf("worker did not stop on SIGTERM\n%s", w2.log)
	}
}
