package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"

	"github.com/spf13/cobra"

	"github.com/penstockhq/penstock/internal/restclient"
	"github.com/penstockhq/penstock/worker/rest"
)

func init() { rootCmd.AddCommand(newOffsetsCmd()) }

// newOffsetsCmd returns `penstock offsets` and its subcommands.
func newOffsetsCmd() *cobra.Command {
	var flags apiFlags
	cmd := &cobra.Command{
		Use:   "offsets",
		Short: "Read, alter and reset connector offsets through a worker's REST API",
		Long: "Read, alter and reset a connector's offsets (KIP-875). Source connectors' offsets are their\n" +
			"source partitions and positions; sink connectors' are their consumer group's topic-partition\n" +
			"offsets. A connector must be STOPPED (penstock connectors stop NAME) before its offsets change.",
		Args: cobra.NoArgs,
	}
	flags.register(cmd)

	cmd.AddCommand(&cobra.Command{
		Use:   "get NAME",
		Short: "Print a connector's offsets",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := flags.client()
			if err != nil {
				return err
			}
			offs, err := c.Offsets(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if flags.output == "json" {
				return writeJSON(cmd.OutOrStdout(), offs)
			}
			return printOffsets(cmd.OutOrStdout(), offs)
		},
	})

	cmd.AddCommand(&cobra.Command{
		Use:   "reset NAME",
		Short: "Remove every offset of a stopped connector, so it starts over",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := flags.client()
			if err != nil {
				return err
			}
			msg, err := c.ResetOffsets(cmd.Context(), args[0])
			if err != nil {
				return stoppedHint(err, args[0])
			}
			return printMessage(cmd.OutOrStdout(), flags.output, msg)
		},
	})

	var file string
	alter := &cobra.Command{
		Use:   "alter NAME -f FILE",
		Short: "Write offsets of a stopped connector from a JSON file ({\"offsets\":[{\"partition\":{},\"offset\":{}}]})",
		Long: "Write offsets of a stopped connector. The file (- for standard input) has the shape GET\n" +
			"/connectors/NAME/offsets returns; an \"offset\": null resets that partition.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if file == "" {
				return errors.New("no file: give the offsets JSON with -f FILE")
			}
			c, err := flags.client()
			if err != nil {
				return err
			}
			var data []byte
			if file == "-" {
				data, err = io.ReadAll(cmd.InOrStdin())
			} else {
				data, err = os.ReadFile(file)
			}
			if err != nil {
				return fmt.Errorf("read offsets file: %w", err)
			}
			var offs rest.ConnectorOffsets
			if err := json.Unmarshal(data, &offs); err != nil {
				return fmt.Errorf("%s: not an offsets document: %w", file, err)
			}
			msg, err := c.AlterOffsets(cmd.Context(), args[0], offs)
			if err != nil {
				return stoppedHint(err, args[0])
			}
			return printMessage(cmd.OutOrStdout(), flags.output, msg)
		},
	}
	alter.Flags().StringVarP(&file, "file", "f", "", "offsets JSON file (- for standard input)")
	cmd.AddCommand(alter)
	return cmd
}

// stoppedHint adds how to stop a connector to a 400 answer of an offsets
// write, the usual cause of which is a connector that is not STOPPED.
func stoppedHint(err error, name string) error {
	var e *restclient.APIError
	if errors.As(err, &e) && e.Status == http.StatusBadRequest {
		return fmt.Errorf("%w\n(offsets change only while the connector is STOPPED: penstock connectors stop %s)", err, name)
	}
	return err
}

// printMessage prints the message of an offsets write answer.
func printMessage(w io.Writer, output, msg string) error {
	if output == "json" {
		return writeJSON(w, map[string]string{"message": msg})
	}
	_, err := fmt.Fprintln(w, msg)
	return err
}

// printOffsets prints one row per partition, partition and offset as
// compact JSON.
func printOffsets(w io.Writer, offs rest.ConnectorOffsets) error {
	tw := newTable(w)
	fmt.Fprintln(tw, "PARTITION\tOFFSET")
	for _, o := range offs.Offsets {
		p, err := json.Marshal(o.Partition)
		if err != nil {
			return fmt.Errorf("render partition: %w", err)
		}
		off, err := json.Marshal(o.Offset)
		if err != nil {
			return fmt.Errorf("render offset: %w", err)
		}
		fmt.Fprintf(tw, "%s\t%s\n", p, off)
	}
	return tw.Flush()
}
