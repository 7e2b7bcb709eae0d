package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/penstockhq/penstock/broker/schemaregistry"
	"github.com/penstockhq/penstock/broker/security"
	"github.com/penstockhq/penstock/internal/clientconfig"
	"github.com/penstockhq/penstock/internal/httpauth"
	"github.com/penstockhq/penstock/internal/properties"
	"github.com/penstockhq/penstock/internal/tlsconfig"
)

// defaultSchemaRegistry is where `penstock broker` and `penstock dev` serve
// the schema registry, Confluent's default port.
const defaultSchemaRegistry = "127.0.0.1:8081"

// registryFlags are the schema registry's listener flags.
type registryFlags struct {
	addr, usersFile, tokensFile, keystore, truststore, clientAuth, clientConfig string
}

// registerSchemaRegistryFlags adds --schema-registry and its security
// flags to cmd.
func registerSchemaRegistryFlags(cmd *cobra.Command, f *registryFlags) {
	cmd.Flags().StringVar(&f.addr, "schema-registry", defaultSchemaRegistry,
		"address the Confluent-compatible schema registry listens on, its state in the _schemas topic (\"\": no registry)")
	cmd.Flags().StringVar(&f.usersFile, "schema-registry-users-file", "",
		"the registry's basic users, one \"user: password[,role]\" per line (the REST API's rest.auth.basic.users.file format; "+
			"role admin or read-only); when set (or the tokens file), requests without valid credentials get 401")
	cmd.Flags().StringVar(&f.tokensFile, "schema-registry-tokens-file", "",
		"the registry's bearer tokens, one \"name: token[,role]\" per line (as rest.auth.bearer.tokens.file)")
	cmd.Flags().StringVar(&f.keystore, "schema-registry-keystore", "",
		"PEM file with the private key and certificate chain of the registry's HTTPS listener (as ssl.keystore.location; reloaded when it changes)")
	cmd.Flags().StringVar(&f.truststore, "schema-registry-truststore", "",
		"PEM file of the CA certificates that sign clients' certificates, for --schema-registry-client-auth (as ssl.truststore.location)")
	cmd.Flags().StringVar(&f.clientAuth, "schema-registry-client-auth", "none",
		"client certificates the HTTPS listener asks for (as Confluent's ssl.client.authentication): none, requested "+
			"(checked when given) or required (connections without one signed by --schema-registry-truststore are refused)")
	cmd.Flags().StringVar(&f.clientConfig, "schema-registry-client-config", "",
		"Kafka client properties file the registry reaches the broker with (bootstrap.servers, security.protocol, sasl.mechanism, "+
			"sasl.jaas.config, ssl.truststore.location, ...), for brokers whose listeners require TLS or SASL")
}

// startSchemaRegistry listens on f.addr (nothing when it is "") and serves
// the schema registry there, with HTTPS and authentication when f asks for
// them, reaching the broker at brokerAddr as a client, until ctx ends; wait
// returns once it stopped.
func startSchemaRegistry(ctx context.Context, f registryFlags, brokerAddr string) (wait func(), err error) {
	if f.addr == "" {
		return func() {}, nil
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil)).With("logger", "penstock.schemaregistry")
	var opts []schemaregistry.Option
	auth := f.usersFile != "" || f.tokensFile != ""
	if auth {
		creds, err := httpauth.Load(f.usersFile, f.tokensFile)
		if err != nil {
			return nil, fmt.Errorf("schema registry: %w", err)
		}
		opts = append(opts, schemaregistry.WithCredentials(creds))
	}
	seeds := []string{brokerAddr}
	if f.clientConfig != "" {
		props, err := properties.ReadFile(f.clientConfig)
		if err != nil {
			return nil, fmt.Errorf("schema registry: --schema-registry-client-config: %w", err)
		}
		kopts, err := clientconfig.Opts(clientconfig.Layers(props, ""))
		if err != nil {
			return nil, fmt.Errorf("schema registry: --schema-registry-client-config %s: %w", f.clientConfig, err)
		}
		opts = append(opts, schemaregistry.WithClientOpts(kopts...))
		if bs := strings.TrimSpace(props["bootstrap.servers"]); bs != "" {
			seeds = strings.Split(bs, ",")
		}
	}
	var tc *tls.Config
	if f.keystore == "" && (f.truststore != "" || !strings.EqualFold(f.clientAuth, "none") && f.clientAuth != "") {
		return nil, fmt.Errorf("schema registry: --schema-registry-truststore and --schema-registry-client-auth need HTTPS (--schema-registry-keystore)")
	}
	if f.keystore != "" {
		props := map[string]string{tlsconfig.KeyKeystoreLocation: f.keystore, tlsconfig.KeyTruststoreLoc: f.truststore,
			tlsconfig.KeyClientAuth: f.clientAuth}
		if tc, err = tlsconfig.Server(tlsconfig.Prefixed(props, "", false)); err != nil {
			return nil, fmt.Errorf("schema registry: %w", err)
		}
	}
	ln, err := net.Listen("tcp", f.addr)
	if err != nil {
		return nil, fmt.Errorf("schema registry: listen: %w", err)
	}
	if !security.Loopback(ln.Addr().String()) && (tc == nil || !auth) {
		log.Warn("the schema registry listens beyond loopback without HTTPS or authentication: anyone who reaches it may "+
			"read and change schemas; set --schema-registry-keystore and --schema-registry-users-file",
			"addr", ln.Addr().String(), "https", tc != nil, "authentication", auth)
	}
	if tc != nil {
		ln = tls.NewListener(ln, tc)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := schemaregistry.Run(ctx, ln, seeds, log, opts...); err != nil {
			log.Error("schema registry stopped", "err", err)
		}
	}()
	return func() { <-done }, nil
}
