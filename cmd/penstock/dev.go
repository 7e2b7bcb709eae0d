package main

import (
	"fmt"
	"github.com/prometheus/client_golang/prometheus"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/penstockhq/penstock/broker"
	"github.com/penstockhq/penstock/worker"
)

// devFlushIntervalMs is penstock dev's offset.flush.interval.ms: short, so
// `tail -f` on a file sink shows records within a second.
const devFlushIntervalMs = "1000"

func init() {
	var dataDir, brokerAddr, restAddr, connectorsDir string
	var registry registryFlags
	cmd := &cobra.Command{
		Use:   "dev [CONNECTOR-FILE...]",
		Short: "Run a broker and a worker in one process, for development",
		Long: "Run Penstock's broker and one worker in this process with Kafka Connect's sample worker settings:\n" +
			"JsonConverter with schemas, group connect-cluster, topics connect-configs, connect-offsets and\n" +
			"connect-status with replication factor 1, and the env and file config providers; offsets\n" +
			"(and sinks) flush every second (offset.flush.interval.ms=" + devFlushIntervalMs + ").\n" +
			"The worker reaches the broker over TCP like any Kafka client. Stops cleanly on SIGTERM or SIGINT.\n" +
			"Connector files given as arguments are applied at start, as connect-standalone does (and again when\n" +
			"they change); --connectors DIR watches a directory of them.\n" +
			"Nothing is secured (no TLS, authentication or ACLs): keep the default loopback addresses.",
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(commandContext(cmd), syscall.SIGTERM, os.Interrupt)
			defer stop()
			bcfg := broker.DefaultConfig()
			bcfg.DataDir = dataDir
			bcfg.Listen = brokerAddr
			bcfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil)).With("logger", "penstock.broker")
			// One registry for the broker and the worker: the worker's /metrics
			// shows the broker's too (offline partitions, storage errors).
			metrics := prometheus.NewRegistry()
			bcfg.Metrics = metrics
			srv, err := broker.New(bcfg)
			if err != nil {
				return err
			}
			ln, err := net.Listen("tcp", brokerAddr)
			if err != nil {
				srv.Close()
				return fmt.Errorf("dev: broker listen: %w", err)
			}
			berr := make(chan error, 1)
			go func() { berr <- srv.Serve(ln) }()
			defer func() {
				srv.Close()
				<-berr
			}()
			bcfg.Logger.Info("penstock dev is open: no TLS, no authentication, no ACLs on the broker and the REST API; "+
				"it is meant for one developer on loopback (use penstock broker and penstock worker with listeners=SASL_SSL://... "+
				"and rest.auth.basic.users.file elsewhere)", "broker", ln.Addr().String(), "rest", restAddr)
			waitRegistry, err := startSchemaRegistry(ctx, registry, ln.Addr().String())
			if err != nil {
				return err
			}
			defer waitRegistry()
			defer stop()
			props := worker.DevProps(ln.Addr().String())
			props[worker.KeyListeners] = "http://" + restAddr
			// Flush offsets (and so sink files) every second, so a newcomer
			// sees data at once; `penstock worker` keeps Kafka Connect's 60 s.
			props[worker.KeyOffsetFlushInterval] = devFlushIntervalMs
			cfg, err := worker.ParseConfig(props)
			if err != nil {
				return err
			}
			return runWorker(ctx, cfg, append(nonEmpty(connectorsDir), args...), metrics)
		},
	}
	cmd.Flags().StringVar(&dataDir, "data", "./penstock-data", "the broker's data directory")
	cmd.Flags().StringVar(&brokerAddr, "broker", "127.0.0.1:9092", "address the broker listens on")
	cmd.Flags().StringVar(&restAddr, "rest", "127.0.0.1:8083", "address the worker's REST API listens on")
	registerSchemaRegistryFlags(cmd, &registry)
	cmd.Flags().StringVar(&connectorsDir, "connectors", "", connectorsFlagHelp)
	memoryLimitFlag(cmd)
	rootCmd.AddCommand(cmd)
}
