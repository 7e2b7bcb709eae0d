package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/spf13/cobra"

	"github.com/penstockhq/penstock/plugins/builtin"
	"github.com/penstockhq/penstock/worker"
	"github.com/penstockhq/penstock/worker/rest"
)

func init() {
	var configFile, connectorsDir string
	cmd := &cobra.Command{
		Use:   "worker",
		Short: "Run a Connect worker: connectors, tasks and the REST API",
		Long: "Run a Penstock worker. Settings come from a Kafka Connect-style worker properties file (--config):\n" +
			"bootstrap.servers, group.id, config.storage.topic, offset.storage.topic, status.storage.topic,\n" +
			"key.converter, value.converter, listeners, ... The REST API listens on the first of listeners\n" +
			"(default http://:8083). Stops cleanly on SIGTERM or SIGINT.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if configFile == "" {
				return errors.New("worker: --config FILE is required")
			}
			cfg, err := worker.LoadConfig(configFile)
			if err != nil {
				return err
			}
			ctx, stop := signal.NotifyContext(commandContext(cmd), syscall.SIGTERM, os.Interrupt)
			defer stop()
			return runWorker(ctx, cfg, nonEmpty(connectorsDir), nil)
		},
	}
	cmd.Flags().StringVar(&configFile, "config", "", "worker properties file (Kafka Connect's connect-distributed.properties keys)")
	cmd.Flags().StringVar(&connectorsDir, "connectors", "", connectorsFlagHelp)
	memoryLimitFlag(cmd)
	rootCmd.AddCommand(cmd)
}

func commandContext(cmd *cobra.Command) context.Context {
	if ctx := cmd.Context(); ctx != nil {
		return ctx
	}
	return context.Background()
}

// runWorker runs a worker and its REST API until ctx is done, then stops
// both cleanly: the REST server first, then every task (flushing offsets).
// With connectorFiles (files and directories) it applies them whenever they
// change, while this worker leads the group.
// runWorker runs a worker with its REST API until ctx ends. metrics, when
// not nil, is the registry its metrics go to (dev shares it with the broker,
// so /metrics shows both); nil makes a new one.
func runWorker(ctx context.Context, cfg *worker.Config, connectorFiles []string, metrics *prometheus.Registry) error {
	levels := rest.NewLevels(slog.LevelInfo)
	base := slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})
	log := levels.Logger(base, "penstock.worker")
	h, err := worker.New(ctx, cfg, worker.Options{Registry: builtin.Registry(), Logger: log, Version: version, Commit: buildCommit(), Metrics: metrics})
	if err != nil {
		return err
	}
	reg := h.Metrics()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg.MustRegister(builtin.Collectors()...) // the connectors' snapshot progress and CDC lag
	secOpts, err := cfg.RESTOptions()
	if err != nil {
		h.Close()
		return err
	}
	srv := rest.New(h, append([]rest.Option{rest.WithLogger(levels.Logger(base, "penstock.rest")), rest.WithGatherer(reg),
		rest.WithLogLevels(levels), rest.WithCluster(h)}, secOpts...)...)
	listener := "http://:8083"
	if len(cfg.Listeners) > 0 {
		listener = cfg.Listeners[0]
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe(listener) }()
	log.Info("REST API starting", "listener", listener)
	warnOpenREST(log, cfg, listener)
	stopWatch := watchConnectorFiles(ctx, h, connectorFiles, levels.Logger(base, "penstock.apply"))
	var serveErr error
	select {
	case <-ctx.Done():
		log.Info("worker shutting down", "reason", context.Cause(ctx))
	case serveErr = <-errc:
		if serveErr != nil {
			serveErr = fmt.Errorf("worker: REST API: %w", serveErr)
		}
	}
	stopWatch()
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		log.Warn("REST API shutdown", "err", err)
	}
	if err := h.Close(); err != nil && serveErr == nil {
		serveErr = err
	}
	return serveErr
}
