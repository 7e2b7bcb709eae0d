package main

import (
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/penstockhq/penstock/broker"
)

func init() {
	var (
		dataDir, listen, advertise, configFile string
		registry                               registryFlags
	)
	cmd := &cobra.Command{
		Use:   "broker",
		Short: "Run the Kafka-protocol event log broker",
		Long: "Run Penstock's broker: a durable, Kafka-protocol event log. Settings come from a Kafka-style\n" +
			"properties file (--config); flags override it. Stops cleanly on SIGTERM or SIGINT.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := broker.LoadConfig(configFile)
			if err != nil {
				return err
			}
			if cmd.Flags().Changed("data") || cfg.DataDir == "" {
				cfg.DataDir = dataDir
			}
			if cmd.Flags().Changed("listen") || cfg.Listen == "" {
				cfg.Listen = listen
			}
			if cmd.Flags().Changed("advertise") {
				cfg.Advertise = advertise
			}
			cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
			ctx, stop := signal.NotifyContext(commandContext(cmd), syscall.SIGTERM, os.Interrupt)
			defer stop()
			brokerAddr := cfg.Advertise
			if brokerAddr == "" {
				brokerAddr = cfg.Listen
			}
			waitRegistry, err := startSchemaRegistry(ctx, registry, brokerAddr)
			if err != nil {
				return err
			}
			defer waitRegistry()
			defer stop()
			return broker.Run(ctx, cfg)
		},
	}
	cmd.Flags().StringVar(&dataDir, "data", "./data", "data directory (log.dirs)")
	cmd.Flags().StringVar(&listen, "listen", "127.0.0.1:9092", "address to listen on")
	cmd.Flags().StringVar(&advertise, "advertise", "", "host:port advertised to clients (default: the listen address)")
	cmd.Flags().StringVar(&configFile, "config", "", "Kafka-style broker properties file")
	memoryLimitFlag(cmd)
	registerSchemaRegistryFlags(cmd, &registry)
	rootCmd.AddCommand(cmd)
}
