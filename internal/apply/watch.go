package apply

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/penstockhq/penstock/internal/connfile"
)

// DefaultInterval is how often a Watcher looks at its files.
const DefaultInterval = 2 * time.Second

// maxBackoff caps the wait before a failed apply is tried again.
const maxBackoff = 30 * time.Second

// Watcher applies connector files to a cluster at start and again whenever
// they change (it compares the names, sizes and modification times of the
// files every Interval). Only while IsLeader says so: in a group, the
// leader alone applies, and a worker that becomes leader applies at once.
// A connector whose file was removed while the watcher ran is deleted; one
// that no file named since it started is left alone.
type Watcher struct {
	// Paths are files and directories, as connfile.Load takes them.
	Paths   []string
	Cluster Cluster
	// IsLeader reports whether this worker applies; nil means always.
	IsLeader func() bool
	Log      *slog.Logger
	// Interval between looks; 0 means DefaultInterval.
	Interval time.Duration
}

// Run watches until ctx is done.
func (w *Watcher) Run(ctx context.Context) {
	interval := cmp.Or(w.Interval, DefaultInterval)
	log := w.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	managed := map[string]bool{}
	var applied string // fingerprint of the files last applied (or found invalid)
	leading := false
	var retryAt time.Time
	backoff := interval
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if w.IsLeader == nil || w.IsLeader() {
			fp := fingerprint(w.Paths)
			if fp != applied || !leading || (!retryAt.IsZero() && time.Now().After(retryAt)) {
				leading = true
				err := w.once(ctx, log, managed)
				switch {
				case err == nil || errors.Is(err, ErrInvalid):
					applied, retryAt, backoff = fp, time.Time{}, interval
				case ctx.Err() != nil:
					return
				default:
					log.Warn("applying connector files failed; trying again", "paths", w.Paths, "in", backoff, "err", err)
					applied, retryAt = fp, time.Now().Add(backoff)
					backoff = min(2*backoff, maxBackoff)
				}
			}
		} else {
			leading = false
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// once loads, plans and applies the files once. Invalid files are logged
// and answered with an error wrapping ErrInvalid: they wait for an edit.
func (w *Watcher) once(ctx context.Context, log *slog.Logger, managed map[string]bool) error {
	want, err := connfile.Load(w.Paths...)
	if err != nil {
		log.Error("connector files are invalid; nothing applied", "err", err)
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	for _, c := range want {
		managed[c.Name] = true
	}
	plan, err := Make(ctx, w.Cluster, want, Options{Prune: func(n string) bool { return managed[n] }})
	if err != nil {
		return err
	}
	for _, p := range plan.Problems {
		log.Error("invalid connector config; nothing applied", "problem", p.String())
	}
	if err := plan.Apply(ctx, w.Cluster, io.Discard); err != nil {
		return err
	}
	for _, c := range plan.Changes {
		if c.Action == Unchanged {
			continue
		}
		keys := make([]string, len(c.Keys))
		for i, k := range c.Keys {
			keys[i] = k.Key
		}
		if c.Action == Delete {
			log.Info("connector file applied", "action", string(c.Action), "connector", c.Name, "reason", "its file was removed")
			delete(managed, c.Name)
			continue
		}
		log.Info("connector file applied", "action", string(c.Action), "connector", c.Name, "file", c.Want.File, "keys", strings.Join(keys, ","))
	}
	if !plan.Pending() {
		log.Info("connector files match the cluster", "connectors", plan.Counts()[Unchanged])
	}
	return nil
}

// fingerprint names every file Load would read with its size and
// modification time, so any edit, addition or removal changes it.
func fingerprint(paths []string) string {
	var b strings.Builder
	add := func(p string, fi os.FileInfo) {
		fmt.Fprintf(&b, "%s\x00%d\x00%d\n", p, fi.Size(), fi.ModTime().UnixNano())
	}
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			fmt.Fprintf(&b, "%s\x00missing\n", p)
			continue
		}
		if !fi.IsDir() {
			add(p, fi)
			continue
		}
		entries, _ := os.ReadDir(p)
		names := make([]string, 0, len(entries))
		for _, e := range entries {
			if !e.IsDir() && !strings.HasPrefix(e.Name(), ".") && connfile.Format(e.Name()) != "" {
				names = append(names, e.Name())
			}
		}
		slices.Sort(names)
		for _, n := range names {
			if fi, err := os.Stat(filepath.Join(p, n)); err == nil {
				add(filepath.Join(p, n), fi)
			}
		}
	}
	return b.String()
}
