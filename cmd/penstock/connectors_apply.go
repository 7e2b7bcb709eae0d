package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/penstockhq/penstock/internal/apply"
	"github.com/penstockhq/penstock/internal/connfile"
)

// fileFormats is the help text naming the formats of connector files.
const fileFormats = "Kafka Connect's REST body JSON ({\"name\": ..., \"config\": {...}, \"initial_state\": ...}), a bare\n" +
	"config map with \"name\" (.json or .yaml), YAML of the REST body's shape (.yaml, .yml; several\n" +
	"documents allowed) or a properties file as connect-standalone takes it (.properties). The REST\n" +
	"body form may add \"offsets\", the list PATCH /connectors/{name}/offsets takes, written before a\n" +
	"new connector first starts; the flat forms give the initial state as " + connfile.StateKey + "."

// newApplyCmd returns `penstock connectors apply`.
func newApplyCmd(flags *apiFlags) *cobra.Command {
	var files []string
	var prune, dryRun bool
	cmd := &cobra.Command{
		Use:   "apply -f FILE|DIR... [--prune] [--dry-run]",
		Short: "Make the cluster's connectors match connector files, after printing the plan",
		Long: "Read connector definitions from files and directories (-f, repeatable; a directory's files with\n" +
			"a known extension) and make the cluster match: create what is missing, update what differs (only\n" +
			"the differing keys are sent), leave equal connectors alone and, with --prune, delete connectors no\n" +
			"file defines. The plan is printed first (secrets masked); --dry-run stops there. Every config to\n" +
			"write is validated by its plugin first: if any is invalid, the problems are printed by file and key\n" +
			"and nothing changes. The initial state and offsets apply when a connector is created.\n\n" +
			"Formats: " + fileFormats,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(files) == 0 {
				return errors.New("no file: give connector files or directories with -f")
			}
			if flags.output != "table" {
				return errors.New("apply prints a plan; --output does not apply to it")
			}
			c, err := flags.client()
			if err != nil {
				return err
			}
			want, err := connfile.Load(files...)
			if err != nil {
				return fmt.Errorf("nothing changed: %w", err)
			}
			cluster := apply.Remote{Client: c, RetryFor: time.Minute}
			opts := apply.Options{}
			if prune {
				opts.Prune = func(string) bool { return true }
			}
			plan, err := apply.Make(cmd.Context(), cluster, want, opts)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if err := plan.Write(out); err != nil {
				return err
			}
			if len(plan.Problems) > 0 {
				return fmt.Errorf("%d invalid connector config value(s); nothing changed", len(plan.Problems))
			}
			if dryRun || !plan.Pending() {
				return nil
			}
			fmt.Fprintln(out)
			if err := plan.Apply(cmd.Context(), cluster, out); err != nil {
				return err
			}
			n := plan.Counts()
			fmt.Fprintf(out, "Apply complete: %d created, %d updated, %d deleted.\n", n[apply.Create], n[apply.Update], n[apply.Delete])
			return nil
		},
	}
	cmd.Flags().StringArrayVarP(&files, "file", "f", nil, "connector file or directory (repeatable)")
	cmd.Flags().BoolVar(&prune, "prune", false, "delete connectors that no file defines")
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "print the plan and change nothing")
	return cmd
}

// newExportCmd returns `penstock connectors export`.
func newExportCmd(flags *apiFlags) *cobra.Command {
	var format, dir string
	cmd := &cobra.Command{
		Use:   "export [NAME...]",
		Short: "Write connectors' configs as connector files, for apply",
		Long: "Write the configs of the named connectors (all by default) in a format apply reads: json (the\n" +
			"REST body; an array for several), yaml (one document each) or properties (one connector; use\n" +
			"--dir for several). --dir writes one file per connector, NAME.json, NAME.yaml or NAME.properties.\n" +
			"Secrets show as their provider reference (${env:...}) where they came from one and masked\n" +
			"([hidden]) otherwise: apply keeps a masked secret of an existing connector and refuses\n" +
			"one for a new connector. A PAUSED or STOPPED connector is exported with that initial state.",
		RunE: func(cmd *cobra.Command, args []string) error {
			if connfile.Format("x."+format) == "" || format == "yml" {
				return fmt.Errorf("--output %q: must be one of %s", format, strings.Join(connfile.Formats(), ", "))
			}
			c, err := flags.client()
			if err != nil {
				return err
			}
			cs, err := apply.Export(cmd.Context(), apply.Remote{Client: c}, args)
			if err != nil {
				return err
			}
			if dir == "" {
				return connfile.Write(cmd.OutOrStdout(), format, cs)
			}
			if err := os.MkdirAll(dir, 0o755); err != nil {
				return fmt.Errorf("export: %w", err)
			}
			for _, conn := range cs {
				path := filepath.Join(dir, fileName(conn.Name)+"."+format)
				if err := writeConnectorFile(path, format, conn); err != nil {
					return err
				}
				fmt.Fprintf(cmd.OutOrStdout(), "wrote %s\n", path)
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&format, "output", "o", connfile.JSON, "format: "+strings.Join(connfile.Formats(), ", "))
	cmd.Flags().StringVar(&dir, "dir", "", "write one file per connector into this directory")
	return cmd
}

// fileName makes a connector name safe as a file name.
func fileName(name string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == 0 {
			return '_'
		}
		return r
	}, name)
}

// writeConnectorFile writes one connector's file (mode 0600: it may hold
// provider references to secrets).
func writeConnectorFile(path, format string, c connfile.Connector) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	if err := connfile.Write(f, format, []connfile.Connector{c}); err != nil {
		f.Close()
		return fmt.Errorf("export %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("export %s: %w", path, err)
	}
	return nil
}
