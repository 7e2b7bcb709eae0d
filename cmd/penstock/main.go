// Command penstock is the one Penstock binary: the broker, the worker, the
// broker and a worker together for development (dev), and small client
// commands. Each subcommand lives in its own file of this package and adds
// itself to the root command in an init function.
package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/penstockhq/penstock/internal/gctune"
)

// rootCmd is the parent of every subcommand; subcommands register themselves
// with rootCmd.AddCommand in their file's init function.
var rootCmd = &cobra.Command{
	Use:           "penstock",
	Short:         "Penstock moves data between databases, search indexes, object stores and HTTP services as streams of events",
	SilenceUsage:  true,
	SilenceErrors: true,
}

func main() {
	gctune.Apply()
	if err := rootCmd.Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "penstock:", err)
		os.Exit(1)
	}
}
