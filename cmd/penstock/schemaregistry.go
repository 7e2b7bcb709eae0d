package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"

	"github.com/spf13/cobra"

	"github.com/penstockhq/penstock/broker/schemaregistry"
)

// defaultSchemaRegistry is where `penstock broker` and `penstock dev` serve
// the schema registry, Confluent's default port.
const defaultSchemaRegistry = "127.0.0.1:8081"

// registerSchemaRegistryFlag adds --schema-registry to cmd.
func registerSchemaRegistryFlag(cmd *cobra.Command, addr *string) {
	cmd.Flags().StringVar(addr, "schema-registry", defaultSchemaRegistry,
		"address the Confluent-compatible schema registry listens on, its state in the _schemas topic (\"\": no registry)")
}

// startSchemaRegistry listens on addr (nothing when addr is "") and serves
// the schema registry there, reaching the broker at brokerAddr as a client,
// until ctx ends; wait returns once it stopped.
func startSchemaRegistry(ctx context.Context, addr, brokerAddr string) (wait func(), err error) {
	if addr == "" {
		return func() {}, nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("schema registry: listen: %w", err)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil)).With("logger", "penstock.schemaregistry")
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := schemaregistry.Run(ctx, ln, []string{brokerAddr}, log); err != nil {
			log.Error("schema registry stopped", "err", err)
		}
	}()
	return func() { <-done }, nil
}
