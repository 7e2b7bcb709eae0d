package storage

import (
	"errors"
	"io"
	"io/fs"
	"maps"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// FaultFS is an in-memory FS for crash tests. It keeps, for every file, the
// bytes written and the bytes made durable by its last completed fsync, and
// for every directory the entries it has and the entries made durable by
// its last SyncDir. PowerLoss throws away everything that is not durable,
// as a machine losing power does, with no leniency: a new file whose
// directory was not synced is gone even if the file was. Hooks make fsyncs
// and writes fail (or block) on demand; a failed fsync behaves like
// Linux's: the dirty bytes are dropped and a later fsync succeeds without
// them, leaving zeroes on "disk".
//
// It is for tests, but lives in the package so that the broker's tests can
// run a broker on it (Options.FS, broker.Config.FS).
type FaultFS struct {
	mu        sync.Mutex
	root      *memDir
	epoch     int
	syncHook  func(name string) error
	writeHook func(name string) error
}

type memDir struct {
	cur, durable map[string]any // *memDir or *memFile
}

type memFile struct {
	data, synced []byte
	lostFrom     int64 // with lostTo: bytes a failed fsync dropped
	lostTo       int64
	mtime        time.Time
}

// NewFaultFS returns an empty FaultFS; the directories given exist durably.
func NewFaultFS(dirs ...string) *FaultFS {
	f := &FaultFS{root: newMemDir()}
	for _, d := range dirs {
		f.MkdirAll(d, 0o755)
		for p := filepath.Clean(d); ; p = filepath.Dir(p) {
			f.SyncDir(p)
			if filepath.Dir(p) == p {
				break
			}
		}
	}
	return f
}

func newMemDir() *memDir { return &memDir{cur: map[string]any{}, durable: map[string]any{}} }

// SetSyncHook installs fn, called (without locks held, so it may block)
// before every file fsync with the file's name; a non-nil error fails the
// fsync. nil removes the hook.
func (f *FaultFS) SetSyncHook(fn func(name string) error) {
	f.mu.Lock()
	f.syncHook = fn
	f.mu.Unlock()
}

// SetWriteHook installs fn, called before every write with the file's name;
// a non-nil error fails the write (nothing written). nil removes the hook.
func (f *FaultFS) SetWriteHook(fn func(name string) error) {
	f.mu.Lock()
	f.writeHook = fn
	f.mu.Unlock()
}

// PowerLoss forgets every write, file creation, rename and removal not made
// durable by a completed fsync. Files opened before it fail every operation
// afterwards: they belong to the machine that lost power.
func (f *FaultFS) PowerLoss() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.epoch++
	var restore func(d *memDir)
	restore = func(d *memDir) {
		d.cur = maps.Clone(d.durable)
		for _, n := range d.cur {
			switch n := n.(type) {
			case *memDir:
				restore(n)
			case *memFile:
				n.data = slices.Clone(n.synced)
				n.lostFrom, n.lostTo = 0, 0
			}
		}
	}
	restore(f.root)
}

func splitPath(name string) []string {
	name = filepath.ToSlash(filepath.Clean(name))
	return strings.FieldsFunc(name, func(r rune) bool { return r == '/' })
}

// lookup returns the parent directory of name, its base name and the node
// (nil when missing). Called with f.mu held.
func (f *FaultFS) lookup(name string) (parent *memDir, base string, node any, err error) {
	parts := splitPath(name)
	if len(parts) == 0 {
		return nil, "", f.root, nil
	}
	d := f.root
	for _, p := range parts[:len(parts)-1] {
		next, ok := d.cur[p].(*memDir)
		if !ok {
			return nil, "", nil, &fs.PathError{Op: "lookup", Path: name, Err: fs.ErrNotExist}
		}
		d = next
	}
	base = parts[len(parts)-1]
	return d, base, d.cur[base], nil
}

// OpenFile implements FS.
func (f *FaultFS) OpenFile(name string, flag int, _ os.FileMode) (File, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	parent, base, node, err := f.lookup(name)
	if err != nil {
		return nil, err
	}
	var mf *memFile
	switch n := node.(type) {
	case *memFile:
		mf = n
		if flag&os.O_TRUNC != 0 {
			mf.data = mf.data[:0:0]
			mf.lostFrom, mf.lostTo = 0, 0
		}
	case *memDir:
		return nil, &fs.PathError{Op: "open", Path: name, Err: errors.New("is a directory")}
	default:
		if flag&os.O_CREATE == 0 || parent == nil {
			return nil, &fs.PathError{Op: "open", Path: name, Err: fs.ErrNotExist}
		}
		mf = &memFile{mtime: time.Now()}
		parent.cur[base] = mf
	}
	return &memHandle{fs: f, f: mf, name: name, epoch: f.epoch}, nil
}

// ReadFile implements FS.
func (f *FaultFS) ReadFile(name string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, _, node, err := f.lookup(name)
	if err != nil {
		return nil, err
	}
	mf, ok := node.(*memFile)
	if !ok {
		return nil, &fs.PathError{Op: "read", Path: name, Err: fs.ErrNotExist}
	}
	return slices.Clone(mf.data), nil
}

// ReadDir implements FS.
func (f *FaultFS) ReadDir(name string) ([]fs.DirEntry, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, _, node, err := f.lookup(name)
	if err != nil {
		return nil, err
	}
	d, ok := node.(*memDir)
	if !ok {
		return nil, &fs.PathError{Op: "readdir", Path: name, Err: fs.ErrNotExist}
	}
	var out []fs.DirEntry
	for _, n := range slices.Sorted(maps.Keys(d.cur)) {
		out = append(out, memEntry{infoOf(n, d.cur[n])})
	}
	return out, nil
}

// Stat implements FS.
func (f *FaultFS) Stat(name string) (fs.FileInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, base, node, err := f.lookup(name)
	if err != nil {
		return nil, err
	}
	if node == nil {
		return nil, &fs.PathError{Op: "stat", Path: name, Err: fs.ErrNotExist}
	}
	return infoOf(base, node), nil
}

// Chtimes implements FS (the modification time only).
func (f *FaultFS) Chtimes(name string, _, mtime time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, _, node, err := f.lookup(name)
	if err != nil {
		return err
	}
	mf, ok := node.(*memFile)
	if !ok {
		return &fs.PathError{Op: "chtimes", Path: name, Err: fs.ErrNotExist}
	}
	mf.mtime = mtime
	return nil
}

// MkdirAll implements FS.
func (f *FaultFS) MkdirAll(name string, _ os.FileMode) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	d := f.root
	for _, p := range splitPath(name) {
		switch n := d.cur[p].(type) {
		case *memDir:
			d = n
		case nil:
			nd := newMemDir()
			d.cur[p] = nd
			d = nd
		default:
			return &fs.PathError{Op: "mkdir", Path: name, Err: fs.ErrExist}
		}
	}
	return nil
}

// Remove implements FS.
func (f *FaultFS) Remove(name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	parent, base, node, err := f.lookup(name)
	if err != nil {
		return err
	}
	if node == nil || parent == nil {
		return &fs.PathError{Op: "remove", Path: name, Err: fs.ErrNotExist}
	}
	if d, ok := node.(*memDir); ok && len(d.cur) > 0 {
		return &fs.PathError{Op: "remove", Path: name, Err: errors.New("directory not empty")}
	}
	delete(parent.cur, base)
	return nil
}

// RemoveAll implements FS.
func (f *FaultFS) RemoveAll(name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	parent, base, _, err := f.lookup(name)
	if err == nil && parent != nil {
		delete(parent.cur, base)
	}
	return nil
}

// Rename implements FS.
func (f *FaultFS) Rename(oldpath, newpath string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	op, ob, node, err := f.lookup(oldpath)
	if err != nil {
		return err
	}
	if node == nil || op == nil {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: fs.ErrNotExist}
	}
	np, nb, _, err := f.lookup(newpath)
	if err != nil || np == nil {
		return &os.LinkError{Op: "rename", Old: oldpath, New: newpath, Err: fs.ErrNotExist}
	}
	delete(op.cur, ob)
	np.cur[nb] = node
	return nil
}

// SyncDir implements FS.
func (f *FaultFS) SyncDir(name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, _, node, err := f.lookup(name)
	if err != nil {
		return err
	}
	d, ok := node.(*memDir)
	if !ok {
		return &fs.PathError{Op: "sync", Path: name, Err: fs.ErrNotExist}
	}
	d.durable = maps.Clone(d.cur)
	return nil
}

// infoOf describes a node; called with f.mu held.
func infoOf(name string, node any) memInfo {
	if mf, ok := node.(*memFile); ok {
		return memInfo{name, int64(len(mf.data)), mf.mtime, false}
	}
	return memInfo{name, 0, time.Time{}, true}
}

// memEntry is a directory entry, described when the directory was read.
type memEntry struct{ info memInfo }

func (e memEntry) Name() string               { return e.info.name }
func (e memEntry) IsDir() bool                { return e.info.dir }
func (e memEntry) Type() fs.FileMode          { return e.info.Mode().Type() }
func (e memEntry) Info() (fs.FileInfo, error) { return e.info, nil }

type memInfo struct {
	name  string
	size  int64
	mtime time.Time
	dir   bool
}

func (i memInfo) Name() string       { return i.name }
func (i memInfo) Size() int64        { return i.size }
func (i memInfo) ModTime() time.Time { return i.mtime }
func (i memInfo) IsDir() bool        { return i.dir }
func (i memInfo) Sys() any           { return nil }
func (i memInfo) Mode() fs.FileMode {
	if i.dir {
		return fs.ModeDir | 0o755
	}
	return 0o644
}

// rewrote notes that bytes from..to were written again (or cut): they are
// no longer among the bytes a failed fsync dropped.
func (f *memFile) rewrote(from, to int64) {
	switch {
	case from <= f.lostFrom && to >= f.lostTo:
		f.lostFrom, f.lostTo = 0, 0
	case from <= f.lostFrom && to > f.lostFrom:
		f.lostFrom = to
	case from < f.lostTo && to >= f.lostTo:
		f.lostTo = from
	}
}

// memHandle is an open FaultFS file.
type memHandle struct {
	fs     *FaultFS
	f      *memFile
	name   string
	epoch  int
	closed bool
}

// errPowerLost is what a file opened before a PowerLoss answers.
var errPowerLost = errors.New("faultfs: file opened before the power loss")

// check is called with fs.mu held.
func (h *memHandle) check(op string) error {
	if h.closed {
		return &fs.PathError{Op: op, Path: h.name, Err: os.ErrClosed}
	}
	if h.epoch != h.fs.epoch {
		return &fs.PathError{Op: op, Path: h.name, Err: errPowerLost}
	}
	return nil
}

func (h *memHandle) Name() string { return h.name }

func (h *memHandle) ReadAt(p []byte, off int64) (int, error) {
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	if err := h.check("read"); err != nil {
		return 0, err
	}
	if off >= int64(len(h.f.data)) {
		return 0, io.EOF
	}
	n := copy(p, h.f.data[off:])
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

func (h *memHandle) WriteAt(p []byte, off int64) (int, error) {
	h.fs.mu.Lock()
	hook := h.fs.writeHook
	h.fs.mu.Unlock()
	if hook != nil {
		if err := hook(h.name); err != nil {
			return 0, &fs.PathError{Op: "write", Path: h.name, Err: err}
		}
	}
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	if err := h.check("write"); err != nil {
		return 0, err
	}
	if end := off + int64(len(p)); end > int64(len(h.f.data)) {
		h.f.data = append(h.f.data, make([]byte, end-int64(len(h.f.data)))...)
	}
	copy(h.f.data[off:], p)
	h.f.mtime = time.Now()
	h.f.rewrote(off, off+int64(len(p)))
	return len(p), nil
}

func (h *memHandle) Truncate(size int64) error {
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	if err := h.check("truncate"); err != nil {
		return err
	}
	if size <= int64(len(h.f.data)) {
		h.f.data = h.f.data[:size]
		h.f.rewrote(size, math.MaxInt64)
	} else {
		h.f.data = append(h.f.data, make([]byte, size-int64(len(h.f.data)))...)
	}
	return nil
}

func (h *memHandle) Sync() error {
	h.fs.mu.Lock()
	if err := h.check("sync"); err != nil {
		h.fs.mu.Unlock()
		return err
	}
	hook := h.fs.syncHook
	h.fs.mu.Unlock()
	var herr error
	if hook != nil {
		herr = hook(h.name)
	}
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	if err := h.check("sync"); err != nil {
		return err
	}
	f := h.f
	if herr != nil {
		// The kernel drops the dirty pages and forgets the error.
		f.lostFrom, f.lostTo = int64(min(len(f.synced), len(f.data))), int64(len(f.data))
		return &fs.PathError{Op: "sync", Path: h.name, Err: herr}
	}
	f.synced = slices.Clone(f.data)
	if f.lostTo > f.lostFrom {
		clear(f.synced[min(f.lostFrom, int64(len(f.synced))):min(f.lostTo, int64(len(f.synced)))])
		f.lostFrom, f.lostTo = 0, 0
	}
	return nil
}

func (h *memHandle) Stat() (os.FileInfo, error) {
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	if err := h.check("stat"); err != nil {
		return nil, err
	}
	return memInfo{filepath.Base(h.name), int64(len(h.f.data)), h.f.mtime, false}, nil
}

func (h *memHandle) Close() error {
	h.fs.mu.Lock()
	defer h.fs.mu.Unlock()
	if h.closed {
		return &fs.PathError{Op: "close", Path: h.name, Err: os.ErrClosed}
	}
	h.closed = true
	return nil
}
