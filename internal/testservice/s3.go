package testservice

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// S3Server is a private S3-API server started by S3: versitygw with its POSIX
// backend, where every directory under Root is a bucket. Clients must use path
// style addressing, region us-east-1 and the server's credentials.
type S3Server struct {
	// Endpoint is the server's URL, e.g. http://127.0.0.1:PORT.
	Endpoint string
	// AccessKey is the root access key id.
	AccessKey string
	// SecretKey is the root secret access key.
	SecretKey string
	// Region is the region clients must sign for: us-east-1.
	Region string
	// Root is the backend directory; each directory in it is a bucket.
	Root string
	// LogFile receives the server's output.
	LogFile string
}

// S3 starts a versitygw server for the test and stops it on cleanup: POSIX
// backend rooted in t.TempDir(), listening on a free 127.0.0.1 port. It skips
// the test when versitygw has not been built (fails with CI=true): run
// scripts/deps.sh.
//
// Clients using the AWS SDK read credentials from the environment: call
// SetEnv (or pass Env to a subprocess) before opening a bucket.
func S3(t testing.TB) *S3Server {
	t.Helper()
	bin := findBinary(t, "build it with scripts/deps.sh (or shared/scripts/install-versitygw.sh)", "versitygw")
	base := t.TempDir()
	s := &S3Server{
		AccessKey: "testkey",
		SecretKey: "testsecret",
		Region:    "us-east-1",
		Root:      filepath.Join(base, "root"),
		LogFile:   filepath.Join(base, "versitygw.log"),
	}
	if err := mkdirs(nil, s.Root); err != nil {
		t.Fatalf("testservice: versitygw: %v", err)
	}
	port, _ := startOnFreePort(t, "versitygw", s.LogFile, func(port int) (*process, func() error, error) {
		p, err := startProcess(procSpec{
			name: "versitygw",
			path: bin,
			args: []string{"--port", fmt.Sprintf("127.0.0.1:%d", port), "posix", s.Root},
			env: []string{
				"ROOT_ACCESS_KEY=" + s.AccessKey,
				"ROOT_SECRET_KEY=" + s.SecretKey,
			},
			dropEnv:    []string{"VGW_", "ROOT_ACCESS_KEY", "ROOT_SECRET_KEY", "AWS_"},
			dir:        base,
			logPath:    s.LogFile,
			stopSignal: syscall.SIGTERM,
		})
		if err != nil {
			return nil, nil, err
		}
		// Any HTTP answer means it serves (403 without credentials).
		root := fmt.Sprintf("http://127.0.0.1:%d/", port)
		return p, func() error { return httpReady(root, func(int) bool { return true }) }, nil
	}, 60*time.Second)
	s.Endpoint = fmt.Sprintf("http://127.0.0.1:%d", port)
	return s
}

// CreateBucket creates an empty bucket named name (a directory under Root)
// and returns name. It fails the test on error.
func (s *S3Server) CreateBucket(t testing.TB, name string) string {
	t.Helper()
	if name == "" || name != filepath.Base(name) || name == "." || name == ".." {
		t.Fatalf("testservice: s3: invalid bucket name %q", name)
	}
	if err := os.Mkdir(filepath.Join(s.Root, name), 0o755); err != nil {
		t.Fatalf("testservice: s3: create bucket %q: %v", name, err)
	}
	return name
}

// BucketURL returns the gocloud.dev/blob URL of bucket on this server:
// s3://BUCKET?endpoint=...&use_path_style=true&region=us-east-1. Opening it
// needs the credentials in the environment (SetEnv).
func (s *S3Server) BucketURL(bucket string) string {
	q := url.Values{}
	q.Set("endpoint", s.Endpoint)
	q.Set("use_path_style", "true")
	q.Set("region", s.Region)
	return (&url.URL{Scheme: "s3", Host: bucket, RawQuery: q.Encode()}).String()
}

// Env returns the environment variables an AWS SDK client needs to reach the
// server: credentials, region, and no cloud metadata lookups.
func (s *S3Server) Env() []string {
	return []string{
		"AWS_ACCESS_KEY_ID=" + s.AccessKey,
		"AWS_SECRET_ACCESS_KEY=" + s.SecretKey,
		"AWS_REGION=" + s.Region,
		"AWS_EC2_METADATA_DISABLED=true",
	}
}

// SetEnv sets Env in the test's process environment with t.Setenv (restored
// after the test). Like t.Setenv it cannot be used in parallel tests; those
// should pass credentials to the client explicitly instead.
func (s *S3Server) SetEnv(t testing.TB) {
	t.Helper()
	t.Setenv("AWS_ACCESS_KEY_ID", s.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", s.SecretKey)
	t.Setenv("AWS_REGION", s.Region)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	// Unset in effect: a session token or profile from the host would be used with our keys.
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_PROFILE", "")
}
