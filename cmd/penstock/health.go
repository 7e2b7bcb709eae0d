package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func init() { rootCmd.AddCommand(newHealthCmd()) }

// newHealthCmd returns `penstock health`: it exits 0 when the worker's GET
// /health answers 200, non-zero otherwise, so it serves as a container
// health check in images without a shell or curl.
func newHealthCmd() *cobra.Command {
	var flags apiFlags
	cmd := &cobra.Command{
		Use:   "health",
		Short: "Check a worker's health (GET /health); exits non-zero unless it is healthy",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := flags.client()
			if err != nil {
				return err
			}
			if err := c.Health(cmd.Context()); err != nil {
				return fmt.Errorf("worker at %s is not healthy: %w", c.URL(), err)
			}
			if flags.output == "json" {
				return writeJSON(cmd.OutOrStdout(), map[string]string{"status": "healthy"})
			}
			fmt.Fprintf(cmd.OutOrStdout(), "worker at %s is healthy\n", c.URL())
			return nil
		},
	}
	flags.register(cmd)
	return cmd
}
