package testservice

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// GCSServer is a private Google Cloud Storage API server started by GCS:
// fake-gcs-server with its in-memory backend. Clients reach it through the
// STORAGE_EMULATOR_HOST environment variable (SetEnv), without credentials.
type GCSServer struct {
	// Host is the server's host:port, the value of STORAGE_EMULATOR_HOST.
	Host string
	// LogFile receives the server's output.
	LogFile string
}

// GCS starts a fake-gcs-server for the test and stops it on cleanup,
// listening on a free 127.0.0.1 port. It skips the test when the binary has
// not been built (fails with CI=true): run scripts/deps.sh.
func GCS(t testing.TB) *GCSServer {
	t.Helper()
	bin := findBinary(t, "build it with scripts/deps.sh (or shared/scripts/install-fake-gcs-server.sh)", "fake-gcs-server")
	base := t.TempDir()
	s := &GCSServer{LogFile: filepath.Join(base, "fake-gcs-server.log")}
	port, _ := startOnFreePort(t, "fake-gcs-server", s.LogFile, func(port int) (*process, func() error, error) {
		host := fmt.Sprintf("127.0.0.1:%d", port)
		p, err := startProcess(procSpec{
			name: "fake-gcs-server",
			path: bin,
			args: []string{"-scheme", "http", "-host", "127.0.0.1", "-port", fmt.Sprint(port),
				"-backend", "memory", "-public-host", host, "-log-level", "warn"},
			dropEnv:    []string{"STORAGE_EMULATOR_HOST", "GOOGLE_"},
			dir:        base,
			logPath:    s.LogFile,
			stopSignal: syscall.SIGTERM,
		})
		if err != nil {
			return nil, nil, err
		}
		return p, func() error {
			return httpReady("http://"+host+"/storage/v1/b?project=p", func(c int) bool { return c == http.StatusOK })
		}, nil
	}, 60*time.Second)
	s.Host = fmt.Sprintf("127.0.0.1:%d", port)
	return s
}

// CreateBucket creates an empty bucket and returns its name; it fails the
// test on error.
func (s *GCSServer) CreateBucket(t testing.TB, name string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"name": name})
	resp, err := http.Post("http://"+s.Host+"/storage/v1/b?project=p", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("testservice: gcs: create bucket %q: %v", name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		t.Fatalf("testservice: gcs: create bucket %q: %s: %s", name, resp.Status, msg)
	}
	return name
}

// Object returns an object's bytes; it fails the test on error.
func (s *GCSServer) Object(t testing.TB, bucket, name string) []byte {
	t.Helper()
	resp, err := http.Get("http://" + s.Host + "/storage/v1/b/" + bucket + "/o/" + url.PathEscape(name) + "?alt=media")
	if err != nil {
		t.Fatalf("testservice: gcs: get %s: %v", name, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("testservice: gcs: get %s: %s %v", name, resp.Status, err)
	}
	return b
}

// Objects lists the names of a bucket's objects under prefix.
func (s *GCSServer) Objects(t testing.TB, bucket, prefix string) []string {
	t.Helper()
	resp, err := http.Get("http://" + s.Host + "/storage/v1/b/" + bucket + "/o?prefix=" + url.QueryEscape(prefix))
	if err != nil {
		t.Fatalf("testservice: gcs: list: %v", err)
	}
	defer resp.Body.Close()
	var out struct {
		Items []struct {
			Name string `json:"name"`
		} `json:"items"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("testservice: gcs: list: %v", err)
	}
	var names []string
	for _, it := range out.Items {
		names = append(names, it.Name)
	}
	return names
}

// SetEnv points Google Cloud clients of this process at the server
// (STORAGE_EMULATOR_HOST, restored after the test).
func (s *GCSServer) SetEnv(t testing.TB) {
	t.Helper()
	t.Setenv("STORAGE_EMULATOR_HOST", s.Host)
}
