package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/penstockhq/penstock/internal/gctune"
)

// memoryLimitFlag gives a server command --memory-limit, the process's soft
// memory limit, set before the command runs.
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
		return run(cmd, args)
	}
}
