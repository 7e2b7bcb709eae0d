package main

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"

	"github.com/spf13/cobra"

	"github.com/penstockhq/penstock/internal/gctune"
)

// pprofEnv names a loopback address on which a server command serves Go's
// profiles (/debug/pprof/), for measuring where memory and CPU go
// (bench/memory -profile). Unset, nothing is served.
const pprofEnv = "PENSTOCK_PPROF_ADDR"

// memoryLimitFlag gives a server command --memory-limit, the process's soft
// memory limit, set before the command runs; it also starts the Go profiles'
// server when $PENSTOCK_PPROF_ADDR is set (pprofEnv), so every server
// command has both.
func memoryLimitFlag(cmd *cobra.Command) {
	limit := cmd.Flags().String("memory-limit", fmt.Sprintf("%dMiB", gctune.DefaultMemoryLimit>>20),
		"soft memory limit of the whole process (GOMEMLIMIT), e.g. 256MiB or 1GiB; 0 for none. "+
			"The garbage collector works harder near it instead of letting the process grow. "+
			"The GOMEMLIMIT environment variable, when set, takes precedence")
	run := cmd.RunE
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		n, err := gctune.ParseSize(*limit)
		if err != nil {
			return fmt.Errorf("--memory-limit: %w", err)
		}
		gctune.SetMemoryLimit(n)
		if addr := os.Getenv(pprofEnv); addr != "" {
			if err := servePprof(addr); err != nil {
				return err
			}
		}
		return run(cmd, args)
	}
}

// servePprof serves net/http/pprof's handlers on addr until the process ends.
func servePprof(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("%s: %w", pprofEnv, err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	slog.Info("serving Go profiles", "addr", ln.Addr().String(), "env", pprofEnv)
	go func() { _ = http.Serve(ln, mux) }()
	return nil
}
