package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/penstockhq/penstock/internal/connfile"
	"github.com/penstockhq/penstock/internal/restclient"
	"github.com/penstockhq/penstock/worker/rest"
)

func init() { rootCmd.AddCommand(newConnectorsCmd()) }

// urlEnv names the environment variable that sets the default of --url.
const urlEnv = "PENSTOCK_URL"

// apiFlags are the flags of the commands that call a worker's REST API.
type apiFlags struct {
	url    string
	output string
	creds  credFlags
}

// register adds --url and --output to cmd and its subcommands.
func (f *apiFlags) register(cmd *cobra.Command) {
	def := restclient.DefaultURL
	if env := os.Getenv(urlEnv); env != "" {
		def = env
	}
	cmd.PersistentFlags().StringVar(&f.url, "url", def, "REST API of a worker (default from $"+urlEnv+" when set)")
	registerOutput(cmd, &f.output)
	f.creds.register(cmd)
}

// client returns a REST client of --url, after checking --output.
func (f *apiFlags) client() (*restclient.Client, error) {
	if err := checkOutput(f.output); err != nil {
		return nil, err
	}
	hc, err := f.creds.httpClient()
	if err != nil {
		return nil, err
	}
	return restclient.New(f.url, hc)
}

// registerOutput adds --output (-o) to cmd and its subcommands.
func registerOutput(cmd *cobra.Command, output *string) {
	cmd.PersistentFlags().StringVarP(output, "output", "o", "table", "output format: table or json")
}

// checkOutput checks an --output value.
func checkOutput(output string) error {
	switch output {
	case "table", "json":
		return nil
	}
	return fmt.Errorf("--output %q: must be table or json", output)
}

// writeJSON prints v as indented JSON.
func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("write JSON: %w", err)
	}
	return nil
}

// newTable returns a tabwriter for aligned columns; call Flush when done.
func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
}

// firstLine returns the first line of s, for traces in tables.
func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " ..."
	}
	return s
}

// newConnectorsCmd returns `penstock connectors` and its subcommands.
func newConnectorsCmd() *cobra.Command {
	var flags apiFlags
	cmd := &cobra.Command{
		Use:     "connectors",
		Aliases: []string{"connector", "conn"},
		Short:   "Manage connectors through a worker's REST API",
		Long: "List, create, inspect, pause, resume, restart, stop and delete connectors through a worker's\n" +
			"REST API (Kafka Connect's API shape). Errors show the server's message.",
		Args: cobra.NoArgs,
	}
	flags.register(cmd)

	cmd.AddCommand(&cobra.Command{
		Use:   "list",
		Short: "List connectors with their type, state and tasks",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := flags.client()
			if err != nil {
				return err
			}
			all, err := c.ConnectorsExpanded(cmd.Context())
			if err != nil {
				return err
			}
			if flags.output == "json" {
				return writeJSON(cmd.OutOrStdout(), all)
			}
			names := make([]string, 0, len(all))
			for n := range all {
				names = append(names, n)
			}
			sort.Strings(names)
			tw := newTable(cmd.OutOrStdout())
			fmt.Fprintln(tw, "NAME\tTYPE\tSTATE\tTASKS\tCLASS")
			for _, n := range names {
				e := all[n]
				typ, state, tasks, class := "", "", "", ""
				if e.Status != nil {
					typ, state = e.Status.Type, e.Status.Connector.State
					tasks = taskSummary(e.Status.Tasks)
				}
				if e.Info != nil {
					if typ == "" {
						typ = e.Info.Type
					}
					class = e.Info.Config["connector.class"]
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", n, typ, state, tasks, class)
			}
			return tw.Flush()
		},
	})

	var files []string
	create := &cobra.Command{
		Use:   "create -f FILE...",
		Short: "Create connectors from connector files (the body of POST /connectors, a flat config, YAML, properties)",
		Long: "Create the connectors of each file given with -f (- reads JSON or YAML from standard input); all files\n" +
			"are read before any connector is created. To make the cluster match files, use apply.\n\n" +
			"Formats: " + fileFormats,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if len(files) == 0 {
				return errors.New("no file: give the connector JSON with -f FILE")
			}
			c, err := flags.client()
			if err != nil {
				return err
			}
			var reqs []restclient.CreateRequest
			for _, f := range files {
				rs, err := readConnectorFile(f, cmd.InOrStdin())
				if err != nil {
					return err
				}
				reqs = append(reqs, rs...)
			}
			for _, req := range reqs {
				info, err := c.Create(cmd.Context(), req)
				if err != nil {
					return fmt.Errorf("create connector %s: %w", req.Name, err)
				}
				if flags.output == "json" {
					if err := writeJSON(cmd.OutOrStdout(), info); err != nil {
						return err
					}
					continue
				}
				fmt.Fprintf(cmd.OutOrStdout(), "created %s connector %s\n", info.Type, info.Name)
			}
			return nil
		},
	}
	create.Flags().StringArrayVarP(&files, "file", "f", nil, "connector JSON file (repeatable; - for standard input)")
	cmd.AddCommand(create)

	cmd.AddCommand(&cobra.Command{
		Use:   "config NAME",
		Short: "Print a connector's configuration (passwords masked)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := flags.client()
			if err != nil {
				return err
			}
			cfg, err := c.Config(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if flags.output == "json" {
				return writeJSON(cmd.OutOrStdout(), cfg)
			}
			keys := make([]string, 0, len(cfg))
			for k := range cfg {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			tw := newTable(cmd.OutOrStdout())
			fmt.Fprintln(tw, "KEY\tVALUE")
			for _, k := range keys {
				fmt.Fprintf(tw, "%s\t%s\n", k, cfg[k])
			}
			return tw.Flush()
		},
	})

	cmd.AddCommand(&cobra.Command{
		Use:   "status NAME",
		Short: "Show the state of a connector and of its tasks",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := flags.client()
			if err != nil {
				return err
			}
			st, err := c.Status(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if flags.output == "json" {
				return writeJSON(cmd.OutOrStdout(), st)
			}
			if err := printStatus(cmd.OutOrStdout(), st); err != nil {
				return err
			}
			// Snapshot progress and lag, from workers that report them.
			if p, err := c.Progress(cmd.Context(), args[0]); err == nil {
				return printProgress(cmd.OutOrStdout(), p)
			}
			return nil
		},
	})

	// simple is a subcommand that calls one action and prints what it did.
	simple := func(use, short, done string, call func(c *restclient.Client, cmd *cobra.Command, name string) error) {
		cmd.AddCommand(&cobra.Command{
			Use:   use + " NAME",
			Short: short,
			Args:  cobra.ExactArgs(1),
			RunE: func(cmd *cobra.Command, args []string) error {
				c, err := flags.client()
				if err != nil {
					return err
				}
				if err := call(c, cmd, args[0]); err != nil {
					return err
				}
				if flags.output == "table" {
					fmt.Fprintf(cmd.OutOrStdout(), "%s %s\n", done, args[0])
				}
				return nil
			},
		})
	}
	simple("pause", "Pause a connector and its tasks", "paused", func(c *restclient.Client, cmd *cobra.Command, name string) error {
		return c.Pause(cmd.Context(), name)
	})
	simple("resume", "Resume a paused or stopped connector", "resumed", func(c *restclient.Client, cmd *cobra.Command, name string) error {
		return c.Resume(cmd.Context(), name)
	})
	simple("stop", "Stop a connector and its tasks (before changing its offsets)", "stopped", func(c *restclient.Client, cmd *cobra.Command, name string) error {
		return c.Stop(cmd.Context(), name)
	})
	simple("delete", "Delete a connector", "deleted", func(c *restclient.Client, cmd *cobra.Command, name string) error {
		return c.Delete(cmd.Context(), name)
	})

	var includeTasks, onlyFailed bool
	restart := &cobra.Command{
		Use:   "restart NAME",
		Short: "Restart a connector and, with --include-tasks, its tasks",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := flags.client()
			if err != nil {
				return err
			}
			st, err := c.Restart(cmd.Context(), args[0], includeTasks, onlyFailed)
			if err != nil {
				return err
			}
			if flags.output == "json" {
				if st == nil {
					return nil
				}
				return writeJSON(cmd.OutOrStdout(), st)
			}
			if st == nil {
				fmt.Fprintf(cmd.OutOrStdout(), "restarted %s\n", args[0])
				return nil
			}
			return printStatus(cmd.OutOrStdout(), *st)
		},
	}
	restart.Flags().BoolVar(&includeTasks, "include-tasks", false, "restart the tasks too")
	restart.Flags().BoolVar(&onlyFailed, "only-failed", false, "restart only the instances that are FAILED")
	cmd.AddCommand(restart)
	cmd.AddCommand(newApplyCmd(&flags), newExportCmd(&flags))
	return cmd
}

// taskSummary renders tasks as "running/total", with failed ones counted.
func taskSummary(tasks []rest.TaskState) string {
	running, failed := 0, 0
	for _, t := range tasks {
		switch t.State {
		case rest.StateRunning:
			running++
		case rest.StateFailed:
			failed++
		}
	}
	s := fmt.Sprintf("%d/%d running", running, len(tasks))
	if failed > 0 {
		s += fmt.Sprintf(", %d failed", failed)
	}
	return s
}

// printStatus prints a connector's and its tasks' states as a table; the
// first line of each trace follows its row.
func printStatus(w io.Writer, st rest.ConnectorStateInfo) error {
	tw := newTable(w)
	fmt.Fprintln(tw, "NAME\tTASK\tSTATE\tWORKER\tTRACE")
	fmt.Fprintf(tw, "%s\t-\t%s\t%s\t%s\n", st.Name, st.Connector.State, st.Connector.WorkerID, firstLine(st.Connector.Trace))
	for _, t := range st.Tasks {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", st.Name, t.ID, t.State, t.WorkerID, firstLine(t.Trace))
	}
	return tw.Flush()
}

// barWidth is the width of a snapshot progress bar, in characters.
const barWidth = 30

// printProgress prints what follows the status table: each table's
// snapshot progress as a bar, and the connector's lag (a sink's consumer
// lag, a CDC source's lag behind its database). It prints nothing when
// there is neither.
func printProgress(w io.Writer, p rest.ConnectorProgress) error {
	var tables, lags []string
	for _, t := range p.Tasks {
		for _, tb := range t.Snapshot {
			pct := 0
			switch {
			case tb.Done:
				pct = 100
			case tb.Estimated > 0:
				pct = min(99, int(100*tb.RowsRead/tb.Estimated))
			}
			fill := pct * barWidth / 100
			est := "no estimate"
			if tb.Estimated >= 0 {
				est = fmt.Sprintf("~%d", tb.Estimated)
			}
			tables = append(tables, fmt.Sprintf("%s\t[%s%s]\t%3d%%\t%d of %s rows\ttask %d",
				tb.Table, strings.Repeat("#", fill), strings.Repeat(".", barWidth-fill), pct, tb.RowsRead, est, t.ID))
		}
		if t.SourceLagBytes != nil {
			lags = append(lags, fmt.Sprintf("task %d\tsource lag\t%d bytes", t.ID, *t.SourceLagBytes))
		}
		if t.SourceLagMs != nil {
			lags = append(lags, fmt.Sprintf("task %d\tbehind the source\t%.1f s", t.ID, float64(*t.SourceLagMs)/1000))
		}
	}
	if p.Type == "sink" {
		lags = append(lags, fmt.Sprintf("consumer group\tconsumer lag\t%d records on %d partitions", p.TotalLag, len(p.ConsumerLag)))
	}
	section := func(title string, lines []string) error {
		if len(lines) == 0 {
			return nil
		}
		tw := newTable(w)
		fmt.Fprintf(tw, "\n%s\n", title)
		for _, l := range lines {
			fmt.Fprintln(tw, l)
		}
		return tw.Flush()
	}
	if err := section("SNAPSHOT", tables); err != nil {
		return err
	}
	if err := section("LAG", lags); err != nil {
		return err
	}
	for _, e := range p.Errors {
		if _, err := fmt.Fprintf(w, "warning: %s\n", e); err != nil {
			return err
		}
	}
	return nil
}

// readConnectorFile reads the connector definitions of a file in any format
// package connfile reads (by extension; "-" reads JSON or YAML from stdin).
// Offsets are refused: they need the connector STOPPED first, which apply
// does.
func readConnectorFile(path string, stdin io.Reader) ([]restclient.CreateRequest, error) {
	var data []byte
	var err error
	name := path
	if path == "-" {
		data, err = io.ReadAll(stdin)
		name = "stdin.yaml" // YAML reads JSON too
	} else {
		data, err = os.ReadFile(path)
	}
	if err != nil {
		return nil, fmt.Errorf("read connector file: %w", err)
	}
	cs, err := connfile.Parse(data, name)
	if err != nil {
		return nil, err
	}
	out := make([]restclient.CreateRequest, len(cs))
	for i, c := range cs {
		if len(c.Offsets) > 0 {
			return nil, fmt.Errorf("%s: connector %s: offsets: create does not write offsets; use `penstock connectors apply`", path, c.Name)
		}
		out[i] = restclient.CreateRequest{Name: c.Name, Config: c.Config, InitialState: c.InitialState}
	}
	return out, nil
}
