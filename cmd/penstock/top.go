package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/penstockhq/penstock/internal/restclient"
	"github.com/penstockhq/penstock/worker/console"
	"github.com/penstockhq/penstock/worker/rest"
)

func init() { rootCmd.AddCommand(newTopCmd()) }

// ANSI sequences of the live view: cursor home and clear the screen. A
// plain redraw needs nothing more, so no terminal UI library.
const ansiRedraw = "\x1b[H\x1b[2J"

// newTopCmd returns `penstock top`.
func newTopCmd() *cobra.Command {
	var flags apiFlags
	var once bool
	var interval time.Duration
	cmd := &cobra.Command{
		Use:   "top",
		Short: "Live view of connectors and tasks: state and records/s in and out",
		Long: "Redraws, every --interval, the connectors and tasks of the cluster with their state, and\n" +
			"the records/s in and out the worker at --url measures for the connectors it runs (GET\n" +
			console.MetricsPath + " and /connectors?expand=status). --once prints one frame and exits;\n" +
			"-o json prints the frame's data. Rates are averaged over the last seconds, so the first\n" +
			"frames of a fresh view show 0.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if interval <= 0 {
				return fmt.Errorf("--interval %v: must be positive", interval)
			}
			c, err := flags.client()
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			ctx := cmd.Context()
			if once || flags.output == "json" {
				// The worker computes rates between the samples it takes when
				// asked (at most one a second): ask once first, so a worker no
				// console polls still answers a rate.
				if _, err := c.ConnectorRates(ctx); err == nil {
					select {
					case <-ctx.Done():
						return ctx.Err()
					case <-time.After(1100 * time.Millisecond):
					}
				}
				f, err := fetchTopFrame(ctx, c)
				if err != nil {
					return err
				}
				if flags.output == "json" {
					return writeJSON(out, f)
				}
				return f.render(out)
			}
			tick := time.NewTicker(interval)
			defer tick.Stop()
			for {
				var buf bytes.Buffer
				buf.WriteString(ansiRedraw)
				if f, err := fetchTopFrame(ctx, c); err != nil {
					fmt.Fprintf(&buf, "penstock top: %s: %v\n", c.URL(), err) // keep trying: the worker may be restarting
				} else if err := f.render(&buf); err != nil {
					return err
				}
				if _, err := out.Write(buf.Bytes()); err != nil {
					return err
				}
				select {
				case <-ctx.Done():
					return nil
				case <-tick.C:
				}
			}
		},
	}
	flags.register(cmd)
	cmd.Flags().BoolVar(&once, "once", false, "print one frame and exit")
	cmd.Flags().DurationVar(&interval, "interval", time.Second, "time between redraws")
	return cmd
}

// topFrame is what one redraw shows.
type topFrame struct {
	URL        string         `json:"url"`
	Time       time.Time      `json:"time"`
	Connectors []topConnector `json:"connectors"`
}

// topConnector is one connector's row and its tasks.
type topConnector struct {
	Name  string           `json:"name"`
	Type  string           `json:"type"`
	State string           `json:"state"`
	Tasks []rest.TaskState `json:"tasks"`
	// Rates are nil when the worker at --url runs none of its tasks.
	Rates *console.ConnectorRates `json:"rates,omitempty"`
}

// fetchTopFrame reads the statuses and the rates.
func fetchTopFrame(ctx context.Context, c *restclient.Client) (topFrame, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	all, err := c.ConnectorsExpanded(ctx)
	if err != nil {
		return topFrame{}, err
	}
	rates, err := c.ConnectorRates(ctx)
	if err != nil && !restclient.IsNotFound(err) { // a worker without metrics: states only
		return topFrame{}, err
	}
	byName := map[string]*console.ConnectorRates{}
	for i := range rates.Connectors {
		byName[rates.Connectors[i].Name] = &rates.Connectors[i]
	}
	f := topFrame{URL: c.URL(), Time: time.Now(), Connectors: []topConnector{}}
	for name, e := range all {
		tc := topConnector{Name: name, Rates: byName[name]}
		if e.Status != nil {
			tc.Type, tc.State, tc.Tasks = e.Status.Type, e.Status.Connector.State, e.Status.Tasks
		}
		sort.Slice(tc.Tasks, func(i, j int) bool { return tc.Tasks[i].ID < tc.Tasks[j].ID })
		f.Connectors = append(f.Connectors, tc)
	}
	sort.Slice(f.Connectors, func(i, j int) bool { return f.Connectors[i].Name < f.Connectors[j].Name })
	return f, nil
}

// render writes the frame as a header line and a table: a row per
// connector, then a row per task.
func (f topFrame) render(w io.Writer) error {
	var in, out float64
	states := map[string]int{}
	tasks := 0
	for _, c := range f.Connectors {
		states[c.State]++
		tasks += len(c.Tasks)
		if c.Rates != nil {
			in += c.Rates.InPerSec
			out += c.Rates.OutPerSec
		}
	}
	var counts []string
	for s, n := range states {
		counts = append(counts, fmt.Sprintf("%d %s", n, strings.ToLower(s)))
	}
	sort.Strings(counts)
	fmt.Fprintf(w, "penstock top  %s  %s\n", f.URL, f.Time.Format("15:04:05"))
	fmt.Fprintf(w, "connectors: %d (%s)  tasks: %d  records/s in: %s  out: %s\n\n",
		len(f.Connectors), strings.Join(counts, ", "), tasks, rateText(in), rateText(out))
	tw := newTable(w)
	fmt.Fprintln(tw, "NAME\tTYPE\tSTATE\tIN/S\tOUT/S\tIN\tOUT\tERRORS\tDLQ\tWORKER")
	for _, c := range f.Connectors {
		r := c.Rates
		if r == nil {
			r = &console.ConnectorRates{}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%.0f\t%.0f\t%.0f\t%.0f\t\n", c.Name, c.Type, c.State,
			rateText(r.InPerSec), rateText(r.OutPerSec), r.RecordsIn, r.RecordsOut, r.RecordErrors, r.DLQRecords)
		for _, t := range c.Tasks {
			fmt.Fprintf(tw, "  task %d\t\t%s\t\t\t\t\t\t\t%s\n", t.ID, t.State, t.WorkerID)
		}
	}
	return tw.Flush()
}

// rateText formats records/s compactly: 0, 12.5, 1234, 12.3k, 4.56M.
func rateText(v float64) string {
	switch {
	case v >= 1e6:
		return fmt.Sprintf("%.2fM", v/1e6)
	case v >= 1e4:
		return fmt.Sprintf("%.1fk", v/1e3)
	case v >= 100 || v == 0:
		return fmt.Sprintf("%.0f", v)
	}
	return fmt.Sprintf("%.1f", v)
}
