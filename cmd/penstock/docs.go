package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/penstockhq/penstock/connect/config"
	"github.com/penstockhq/penstock/internal/docgen"
	"github.com/penstockhq/penstock/plugins/builtin"
	"github.com/penstockhq/penstock/worker"
)

//go:generate go run . docs --out ../../docs

func init() {
	var out string
	cmd := &cobra.Command{
		Use:   "docs",
		Short: "Write the configuration reference (Markdown) generated from the plugins' config definitions",
		Long: "Write the configuration reference: docs/plugins/README.md (the index), one page per plugin under\n" +
			"docs/plugins/<kind>/, and the worker's and the runtime's connector keys under docs/config/.\n" +
			"Markdown files of those directories that are no longer generated are removed.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := docgen.Write(out, docFiles()); err != nil {
				return fmt.Errorf("write docs to %s: %w", out, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "wrote the configuration reference to %s\n", out)
			return nil
		},
	}
	cmd.Flags().StringVar(&out, "out", "docs", "output directory")
	rootCmd.AddCommand(cmd)
}

// docFiles returns the generated reference: every built-in plugin, the
// worker's keys and the runtime's connector keys.
func docFiles() map[string][]byte {
	common, sourceOnly := splitDef(worker.SourceConnectorDef, worker.SinkConnectorDef)
	_, sinkOnly := splitDef(worker.SinkConnectorDef, worker.SourceConnectorDef)
	return docgen.Generate(builtin.Registry(),
		docgen.Page{
			Name:  "worker",
			Title: "Worker configuration",
			Intro: "The keys of the properties file `penstock worker --config FILE` reads (Kafka Connect's " +
				"distributed worker keys). Prefixed keys configure the worker's parts: `key.converter.*`, " +
				"`value.converter.*`, `header.converter.*`, `config.providers.<alias>.*`, and `consumer.*` the " +
				"consumers of sink tasks, which honour `session.timeout.ms`, `max.poll.records` (default 500: the " +
				"most records of one Put), `max.partition.fetch.bytes` (default 262144, where Kafka's is 1 MiB: a " +
				"sink puts one fetch while the next is on its way), `fetch.max.bytes` (default 4194304, where " +
				"Kafka's is 50 MiB), `fetch.min.bytes`, `fetch.max.wait.ms` (default 500) and " +
				"`metadata.max.age.ms`; a connector overrides them with `consumer.override.*`. `producer.*` " +
				"configures the producers of source tasks, which honour `buffer.memory` (default 8388608, where " +
				"Kafka's is 32 MiB: the bytes of records waiting for the broker; poll waits when it is full) and " +
				"`linger.ms` (default 5, as Kafka's since 4.0; 0 answers a webhook's callers sooner); a connector " +
				"overrides them with `producer.override.*`.",
			Sections: []docgen.Section{{Heading: "Keys", Def: worker.ConfigDef}},
		},
		docgen.Page{
			Name:  "connectors",
			Title: "Connector configuration (runtime keys)",
			Intro: "Keys every connector configuration accepts besides its plugin's own keys (see the " +
				"[plugin reference](../plugins/README.md)), as in Kafka Connect.",
			Sections: []docgen.Section{
				{Heading: "All connectors", Def: common},
				{Heading: "Source connectors only", Def: sourceOnly},
				{Heading: "Sink connectors only", Def: sinkOnly},
			},
		},
	)
}

// splitDef returns the keys of a that b has too, and those it has alone.
func splitDef(a, b *config.Def) (shared, only *config.Def) {
	var s, o []config.Key
	for _, k := range a.Keys() {
		if _, ok := b.Key(k.Name); ok {
			s = append(s, k)
		} else {
			o = append(o, k)
		}
	}
	return config.NewDef(s...), config.NewDef(o...)
}
