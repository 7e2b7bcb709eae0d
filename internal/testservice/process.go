package testservice

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// cacheBinDir is where scripts/deps.sh puts the binaries it builds.
func cacheBinDir() string {
	home, err := os.UserHomeDir()
	if err != nil || home == "" {
		return ""
	}
	return filepath.Join(home, ".cache", "penstock", "bin")
}

// searchDirs lists the directories searched after PATH, in order.
func searchDirs() []string {
	dirs := []string{"/usr/local/bin", "/usr/local/sbin", "/usr/bin", "/usr/sbin", "/bin", "/sbin"}
	// Debian/Ubuntu keep PostgreSQL server binaries in /usr/lib/postgresql/<major>/bin: newest first.
	pg, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(pg, func(i, j int) bool { return pgMajor(pg[i]) > pgMajor(pg[j]) })
	dirs = append(dirs, pg...)
	if d := cacheBinDir(); d != "" {
		dirs = append(dirs, d)
	}
	return dirs
}

func pgMajor(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

// lookPath finds an executable named name in PATH, then in searchDirs. It
// returns the path with symlinks resolved, so that sibling binaries (initdb
// next to postgres) can be found in the same directory.
func lookPath(name string) (string, bool) {
	candidates := []string{}
	if p, err := exec.LookPath(name); err == nil {
		candidates = append(candidates, p)
	}
	for _, d := range searchDirs() {
		candidates = append(candidates, filepath.Join(d, name))
	}
	for _, c := range candidates {
		if isExecutable(c) {
			if r, err := filepath.EvalSymlinks(c); err == nil {
				c = r
			}
			if abs, err := filepath.Abs(c); err == nil {
				c = abs
			}
			return c, true
		}
	}
	return "", false
}

func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// findBinary looks up the first of names that exists, and when none does,
// skips the test (or fails it when CI=true) with a message naming what to
// install.
func findBinary(t testing.TB, install string, names ...string) string {
	t.Helper()
	for _, n := range names {
		if p, ok := lookPath(n); ok {
			return p
		}
	}
	unavailable(t, "%s not found in PATH, the standard install locations or %s; %s",
		strings.Join(names, " or "), cacheBinDir(), install)
	return ""
}

// unavailable skips the test, or fails it when the environment has CI=true.
func unavailable(t testing.TB, format string, args ...any) {
	t.Helper()
	msg := "testservice: " + fmt.Sprintf(format, args...)
	if os.Getenv("CI") == "true" {
		t.Fatal(msg + " (CI=true: a missing server is a failure)")
	}
	t.Skip(msg + " (skipped; with CI=true this fails)")
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	if err := l.Close(); err != nil {
		return 0, fmt.Errorf("find a free port: close listener: %w", err)
	}
	return port, nil
}

// serviceUser is the account a server runs as: nil means the current user.
type serviceUser struct {
	name     string
	uid, gid int
}

func (u *serviceUser) credential() *syscall.Credential {
	if u == nil {
		return nil
	}
	return &syscall.Credential{Uid: uint32(u.uid), Gid: uint32(u.gid)}
}

// unprivilegedUser returns the account named name when the test runs as root,
// and nil (run as the current user) otherwise.
func unprivilegedUser(name string) (*serviceUser, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	u, err := user.Lookup(name)
	if err != nil {
		return nil, fmt.Errorf("running as root, and the unprivileged account %q is needed: %w", name, err)
	}
	uid, err := strconv.Atoi(u.Uid)
	if err != nil {
		return nil, fmt.Errorf("account %q: uid %q: %w", name, u.Uid, err)
	}
	gid, err := strconv.Atoi(u.Gid)
	if err != nil {
		return nil, fmt.Errorf("account %q: gid %q: %w", name, u.Gid, err)
	}
	return &serviceUser{name: name, uid: uid, gid: gid}, nil
}

// handOver makes dir owned by u and lets u traverse the directories between
// the system temp dir and dir (t.TempDir creates them with mode 0700). Only
// the search bit for others is added; nothing becomes readable.
func handOver(dir string, u *serviceUser) error {
	if u == nil {
		return nil
	}
	if err := os.Chown(dir, u.uid, u.gid); err != nil {
		return fmt.Errorf("chown %s to %s: %w", dir, u.name, err)
	}
	tmp := filepath.Clean(os.TempDir())
	for d := filepath.Dir(dir); strings.HasPrefix(d, tmp+string(filepath.Separator)); d = filepath.Dir(d) {
		if err := addSearch(d); err != nil {
			return err
		}
	}
	if !strings.HasPrefix(dir, tmp+string(filepath.Separator)) {
		return nil // not under the temp dir: the caller made it reachable
	}
	fi, err := os.Stat(tmp)
	if err != nil {
		return fmt.Errorf("stat temp dir: %w", err)
	}
	if fi.Mode().Perm()&0o001 == 0 {
		return fmt.Errorf("temp dir %s (mode %v) is not traversable by %s: set TMPDIR to a directory such as /tmp", tmp, fi.Mode().Perm(), u.name)
	}
	return nil
}

func addSearch(dir string) error {
	fi, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("stat %s: %w", dir, err)
	}
	if mode := fi.Mode().Perm(); mode&0o011 != 0o011 {
		if err := os.Chmod(dir, mode|0o011); err != nil {
			return fmt.Errorf("make %s traversable: %w", dir, err)
		}
	}
	return nil
}

// shortDir returns dir when a unix socket path of extra bytes under it fits
// the kernel's limit (108 bytes with the terminator), and otherwise a new short
// directory under /tmp, removed on cleanup.
func shortDir(t testing.TB, dir string, extra int, u *serviceUser) (string, error) {
	if len(dir)+extra < 100 {
		return dir, nil
	}
	d, err := os.MkdirTemp("/tmp", "ts")
	if err != nil {
		return "", fmt.Errorf("create a short socket directory: %w", err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(d) })
	if err := handOver(d, u); err != nil {
		return "", err
	}
	return d, nil
}

// procSpec describes a server process.
type procSpec struct {
	name       string   // for messages
	path       string   // executable
	args       []string // arguments
	env        []string // added to the (filtered) environment
	dropEnv    []string // prefixes of inherited variables to drop
	dir        string   // working directory
	logPath    string   // stdout and stderr are appended here
	user       *serviceUser
	stopSignal syscall.Signal // graceful stop; SIGKILL follows after stopGrace
	stopGrace  time.Duration
}

// process is a started server: the leader of its own process group.
type process struct {
	spec     procSpec
	cmd      *exec.Cmd
	done     chan struct{} // closed when the leader has exited
	waitErr  error         // set before done is closed
	stopOnce sync.Once
}

// startProcess starts spec in a new process group. The child receives SIGKILL
// if the test binary dies (Pdeathsig), so a crashed or timed-out test leaks no
// server; stop ends it normally.
func startProcess(spec procSpec) (*process, error) {
	logf, err := os.OpenFile(spec.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open %s log: %w", spec.name, err)
	}
	defer logf.Close() // the child has its own descriptor
	if spec.user != nil {
		if err := logf.Chown(spec.user.uid, spec.user.gid); err != nil {
			return nil, fmt.Errorf("chown %s log: %w", spec.name, err)
		}
	}
	cmd := exec.Command(spec.path, spec.args...)
	cmd.Dir = spec.dir
	cmd.Env = append(filterEnv(os.Environ(), spec.dropEnv), spec.env...)
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Setpgid:    true,
		Pdeathsig:  syscall.SIGKILL,
		Credential: spec.user.credential(),
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s (%s): %w", spec.name, spec.path, err)
	}
	p := &process{spec: spec, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

func filterEnv(env, dropPrefixes []string) []string {
	out := env[:0:0]
next:
	for _, kv := range env {
		for _, p := range dropPrefixes {
			if strings.HasPrefix(kv, p) {
				continue next
			}
		}
		out = append(out, kv)
	}
	return out
}

// exited reports whether the process has exited, and how.
func (p *process) exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.waitErr
	default:
		return false, nil
	}
}

// stop asks the leader to stop, kills the whole group after the grace period,
// and waits for the leader. Safe to call more than once.
func (p *process) stop() {
	p.stopOnce.Do(func() {
		pgid := p.cmd.Process.Pid
		sig := p.spec.stopSignal
		if sig == 0 {
			sig = syscall.SIGTERM
		}
		grace := p.spec.stopGrace
		if grace == 0 {
			grace = 10 * time.Second
		}
		if done, _ := p.exited(); !done {
			// The graceful signal goes to the leader only (as pg_ctl does: a
			// postgres backend reads SIGINT as "cancel query"); SIGKILL goes to
			// the whole group.
			_ = syscall.Kill(pgid, sig)
			select {
			case <-p.done:
			case <-time.After(grace):
				_ = syscall.Kill(-pgid, syscall.SIGKILL)
				select {
				case <-p.done:
				case <-time.After(10 * time.Second):
				}
			}
		}
		// Children that outlived the leader, if any.
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
	})
}

// waitReady polls check until it succeeds, the process exits, or timeout.
func (p *process) waitReady(timeout time.Duration, check func() error) error {
	deadline := time.Now().Add(timeout)
	delay := 20 * time.Millisecond
	for {
		err := check()
		if err == nil {
			return nil
		}
		if done, werr := p.exited(); done {
			return fmt.Errorf("%s exited before it was ready (%v); last check: %w", p.spec.name, exitDesc(werr), err)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready after %v: %w", p.spec.name, timeout, err)
		}
		time.Sleep(delay)
		if delay < 250*time.Millisecond {
			delay *= 2
		}
	}
}

func exitDesc(err error) string {
	if err == nil {
		return "exit status 0"
	}
	return err.Error()
}

// run runs a one-shot command (initdb, mariadb-install-db) with its output
// appended to logPath.
func run(spec procSpec, timeout time.Duration) error {
	p, err := startProcess(spec)
	if err != nil {
		return err
	}
	select {
	case <-p.done:
		if p.waitErr != nil {
			return fmt.Errorf("%s: %w", spec.name, p.waitErr)
		}
		return nil
	case <-time.After(timeout):
		p.spec.stopSignal = syscall.SIGKILL
		p.stop()
		return fmt.Errorf("%s: did not finish in %v", spec.name, timeout)
	}
}

// bindErrors are log lines that mean the port was taken between freePort and
// the server's bind: the start is retried on another port.
var bindErrors = []string{
	"address already in use",
	"could not bind",
	"could not create any tcp/ip sockets",
	"do you already have another mysqld server running",
	"can't start server: bind",
}

// startOnFreePort starts a server on a free port, retrying with another port
// when the start fails because the port was taken meanwhile. start returns the
// process and its readiness check; the process is stopped on test cleanup.
func startOnFreePort(t testing.TB, name, logPath string, start func(port int) (*process, func() error, error), timeout time.Duration) (int, *process) {
	t.Helper()
	const attempts = 3
	for attempt := 1; ; attempt++ {
		port, err := freePort()
		if err != nil {
			t.Fatalf("testservice: %s: %v", name, err)
		}
		offset := fileSize(logPath)
		p, ready, err := start(port)
		if err != nil {
			t.Fatalf("testservice: %s: %v%s", name, err, logTail(logPath))
		}
		t.Cleanup(p.stop)
		err = p.waitReady(timeout, ready)
		if err == nil {
			return port, p
		}
		p.stop()
		if attempt < attempts && containsAny(readFrom(logPath, offset), bindErrors) {
			t.Logf("testservice: %s: port %d was taken, retrying on another", name, port)
			continue
		}
		t.Fatalf("testservice: %s failed to start: %v%s", name, err, logTail(logPath))
	}
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

func readFrom(path string, offset int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return ""
	}
	b, _ := io.ReadAll(io.LimitReader(f, 1<<20))
	return string(b)
}

func containsAny(s string, subs []string) bool {
	s = strings.ToLower(s)
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// logTail formats the last lines of a log file for a failure message.
func logTail(path string) string {
	const maxBytes, maxLines = 8 << 10, 40
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return ""
		}
		return fmt.Sprintf("\n(cannot read log %s: %v)", path, err)
	}
	if len(b) > maxBytes {
		b = b[len(b)-maxBytes:]
	}
	lines := bytes.Split(bytes.TrimRight(b, "\n"), []byte("\n"))
	if len(lines) > maxLines {
		lines = lines[len(lines)-maxLines:]
	}
	return fmt.Sprintf("\n--- last lines of %s ---\n%s\n---", path, bytes.Join(lines, []byte("\n")))
}

// mkdirs creates directories owned by u.
func mkdirs(u *serviceUser, dirs ...string) error {
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("create %s: %w", d, err)
		}
		if u != nil {
			if err := os.Chown(d, u.uid, u.gid); err != nil {
				return fmt.Errorf("chown %s to %s: %w", d, u.name, err)
			}
		}
	}
	return nil
}
