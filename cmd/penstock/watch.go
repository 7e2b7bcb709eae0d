package main

import (
	"context"
	"log/slog"
	"sync"

	"github.com/penstockhq/penstock/internal/apply"
	"github.com/penstockhq/penstock/worker"
)

// connectorsFlagHelp is the help of the worker's and dev's --connectors.
const connectorsFlagHelp = "directory of connector files (JSON, YAML, properties) to apply at start and again on every change;\n" +
	"in a group only the leader applies, and a connector whose file is removed is deleted"

// watchConnectorFiles applies paths to h at start and on every change,
// while h leads its group, until ctx is done or the returned stop is
// called (which waits for an apply under way). No paths, no watcher.
func watchConnectorFiles(ctx context.Context, h *worker.Herder, paths []string, log *slog.Logger) (stop func()) {
	if len(paths) == 0 {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	w := &apply.Watcher{Paths: paths, Cluster: h, Log: log, IsLeader: func() bool {
		_, leader := h.Leader()
		return leader
	}}
	var wg sync.WaitGroup
	wg.Go(func() { w.Run(ctx) })
	log.Info("watching connector files", "paths", paths)
	return func() {
		cancel()
		wg.Wait()
	}
}

// nonEmpty returns []string{s}, or nil for "".
func nonEmpty(s string) []string {
	if s == "" {
		return nil
	}
	return []string{s}
}
