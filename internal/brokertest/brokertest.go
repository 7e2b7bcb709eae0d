// Package brokertest starts Penstock's broker in process for tests: on a
// free loopback port, with its data in the test's temp dir, stopped when the
// test ends.
package brokertest

import (
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/penstockhq/penstock/broker"
)

// Broker is a running test broker.
type Broker struct {
	// Server is the broker itself.
	Server *broker.Server
	// Addr is its host:port, for kgo.SeedBrokers.
	Addr string
	// Dir is its data directory.
	Dir string
}

// Option adjusts the broker's Config before it starts.
type Option func(*broker.Config)

// WithConfig applies fn to the config.
func WithConfig(fn func(*broker.Config)) Option { return Option(fn) }

// WithProps applies Kafka-style broker properties (e.g. "num.partitions").
func WithProps(props map[string]string) Option {
	return func(c *broker.Config) {
		if err := c.Apply(props); err != nil {
			panic(err)
		}
	}
}

// WithDir uses dir as the data directory (to restart a broker on the same
// data); by default a fresh t.TempDir().
func WithDir(dir string) Option { return func(c *broker.Config) { c.DataDir = dir } }

// Start starts a broker on 127.0.0.1:0 and stops it with t.Cleanup.
// group.initial.rebalance.delay.ms is 0 unless an option sets it.
func Start(t testing.TB, opts ...Option) *Broker {
	t.Helper()
	cfg := broker.DefaultConfig()
	cfg.DataDir = t.TempDir()
	cfg.Listen = "127.0.0.1:0"
	cfg.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	// Groups form at once in tests (Kafka's 3 s default delays every
	// new group's first rebalance); WithProps can set it back.
	cfg.Props = map[string]string{"group.initial.rebalance.delay.ms": "0"}
	for _, o := range opts {
		o(&cfg)
	}
	srv, err := broker.New(cfg)
	if err != nil {
		t.Fatalf("brokertest: %v", err)
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		srv.Close()
		t.Fatalf("brokertest: listen: %v", err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil {
			t.Errorf("brokertest: serve: %v", err)
		}
	}()
	b := &Broker{Server: srv, Addr: ln.Addr().String(), Dir: cfg.DataDir}
	t.Cleanup(func() {
		b.Stop()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Errorf("brokertest: broker did not stop")
		}
	})
	return b
}

// Stop closes the broker (also done at cleanup; calling it twice is fine).
func (b *Broker) Stop() {
	b.Server.Close()
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}
