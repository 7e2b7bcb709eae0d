// Package registrytest starts Penstock's schema registry in process for
// tests, over a broker from internal/brokertest (or a given one), on a free
// loopback port, stopped when the test ends.
package registrytest

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/penstockhq/penstock/broker/schemaregistry"
	"github.com/penstockhq/penstock/internal/brokertest"
)

// Start starts a broker and a registry on it and returns the registry's
// URL and the broker.
func Start(t testing.TB) (string, *brokertest.Broker) {
	t.Helper()
	b := brokertest.Start(t)
	return On(t, b.Addr), b
}

// On starts a registry over the broker at addr and returns its URL.
func On(t testing.TB, addr string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	log := slog.New(slog.DiscardHandler)
	store, err := schemaregistry.Open(ctx, []string{addr}, schemaregistry.DefaultTopic, log)
	if err != nil {
		t.Fatalf("registrytest: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		store.Close()
		t.Fatalf("registrytest: %v", err)
	}
	srv := &http.Server{Handler: schemaregistry.Handler(store), ReadHeaderTimeout: 10 * time.Second}
	go srv.Serve(ln) //nolint:errcheck // ErrServerClosed at cleanup
	t.Cleanup(func() {
		srv.Close()
		store.Close()
	})
	return "http://" + ln.Addr().String()
}
