package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

func init() { rootCmd.AddCommand(newTopicsCmd()) }

// defaultBroker is the broker `penstock dev` and `penstock broker` listen on.
const defaultBroker = "127.0.0.1:9092"

// brokerEnv names the environment variable that sets the default of --broker.
const brokerEnv = "PENSTOCK_BROKER"

// registerBroker adds --broker to cmd and its subcommands.
func registerBroker(cmd *cobra.Command, broker *string) {
	def := defaultBroker
	if env := os.Getenv(brokerEnv); env != "" {
		def = env
	}
	cmd.PersistentFlags().StringVar(broker, "broker", def, "bootstrap broker(s), host:port, comma-separated (default from $"+brokerEnv+" when set)")
}

// seeds splits a --broker value.
func seeds(broker string) []string {
	var out []string
	for _, s := range strings.Split(broker, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// newAdmin returns an admin client of broker; close it with Close.
func newAdmin(broker string) (*kadm.Client, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(seeds(broker)...))
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", broker, err)
	}
	return kadm.NewClient(cl), nil
}

// topicRow is one topic in list and describe output.
type topicRow struct {
	Name              string            `json:"name"`
	Partitions        int               `json:"partitions"`
	ReplicationFactor int               `json:"replication_factor"`
	Internal          bool              `json:"internal,omitempty"`
	Configs           map[string]string `json:"configs,omitempty"`
	PartitionDetails  []partitionRow    `json:"partition_details,omitempty"`
}

// partitionRow is one partition in describe output.
type partitionRow struct {
	Partition   int32   `json:"partition"`
	Leader      int32   `json:"leader"`
	Replicas    []int32 `json:"replicas"`
	ISR         []int32 `json:"isr"`
	StartOffset int64   `json:"start_offset"`
	EndOffset   int64   `json:"end_offset"`
}

// newTopicsCmd returns `penstock topics` and its subcommands.
func newTopicsCmd() *cobra.Command {
	var broker, output string
	cmd := &cobra.Command{
		Use:     "topics",
		Aliases: []string{"topic"},
		Short:   "List, create, describe and delete topics on a Kafka-protocol broker",
		Long: "List, create, describe and delete topics through the Kafka admin protocol, on Penstock's broker\n" +
			"or any Kafka-compatible cluster.",
		Args: cobra.NoArgs,
	}
	registerBroker(cmd, &broker)
	registerOutput(cmd, &output)

	// run opens an admin client and calls fn with it.
	run := func(ctx context.Context, fn func(adm *kadm.Client) error) error {
		if err := checkOutput(output); err != nil {
			return err
		}
		adm, err := newAdmin(broker)
		if err != nil {
			return err
		}
		defer adm.Close()
		return fn(adm)
	}

	var internal bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List topics with their partition counts",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return run(cmd.Context(), func(adm *kadm.Client) error {
				var details kadm.TopicDetails
				var err error
				if internal {
					details, err = adm.ListTopicsWithInternal(cmd.Context())
				} else {
					details, err = adm.ListTopics(cmd.Context())
				}
				if err != nil {
					return fmt.Errorf("list topics on %s: %w", broker, err)
				}
				rows := []topicRow{}
				for _, name := range details.Names() {
					d := details[name]
					if d.Err != nil {
						return fmt.Errorf("list topics on %s: topic %s: %w", broker, name, d.Err)
					}
					rows = append(rows, topicRow{Name: name, Partitions: len(d.Partitions),
						ReplicationFactor: d.Partitions.NumReplicas(), Internal: d.IsInternal})
				}
				if output == "json" {
					return writeJSON(cmd.OutOrStdout(), rows)
				}
				tw := newTable(cmd.OutOrStdout())
				fmt.Fprintln(tw, "NAME\tPARTITIONS\tREPLICATION")
				for _, r := range rows {
					fmt.Fprintf(tw, "%s\t%d\t%d\n", r.Name, r.Partitions, r.ReplicationFactor)
				}
				return tw.Flush()
			})
		},
	}
	list.Flags().BoolVar(&internal, "internal", false, "include the broker's internal topics (such as __consumer_offsets)")
	cmd.AddCommand(list)

	var partitions int32
	var replication int16
	var configs []string
	create := &cobra.Command{
		Use:   "create NAME",
		Short: "Create a topic",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg := map[string]*string{}
			for _, kv := range configs {
				k, v, ok := strings.Cut(kv, "=")
				if !ok || strings.TrimSpace(k) == "" {
					return fmt.Errorf("--config %q: want key=value", kv)
				}
				cfg[strings.TrimSpace(k)] = &v
			}
			return run(cmd.Context(), func(adm *kadm.Client) error {
				resps, err := adm.CreateTopics(cmd.Context(), partitions, replication, cfg, args[0])
				if err != nil {
					return fmt.Errorf("create topic %s on %s: %w", args[0], broker, err)
				}
				r, ok := resps[args[0]]
				if !ok {
					return fmt.Errorf("create topic %s on %s: no answer for the topic", args[0], broker)
				}
				if r.Err != nil {
					if r.ErrMessage != "" {
						return fmt.Errorf("create topic %s: %w: %s", args[0], r.Err, r.ErrMessage)
					}
					return fmt.Errorf("create topic %s: %w", args[0], r.Err)
				}
				if output == "json" {
					return writeJSON(cmd.OutOrStdout(), topicRow{Name: r.Topic, Partitions: int(r.NumPartitions), ReplicationFactor: int(r.ReplicationFactor)})
				}
				fmt.Fprintf(cmd.OutOrStdout(), "created topic %s\n", args[0])
				return nil
			})
		},
	}
	create.Flags().Int32VarP(&partitions, "partitions", "p", -1, "number of partitions (-1: the broker's default)")
	create.Flags().Int16VarP(&replication, "replication-factor", "r", -1, "replication factor (-1: the broker's default)")
	create.Flags().StringArrayVarP(&configs, "config", "c", nil, "topic config key=value, e.g. cleanup.policy=compact (repeatable)")
	cmd.AddCommand(create)

	cmd.AddCommand(&cobra.Command{
		Use:   "describe NAME",
		Short: "Show a topic's partitions, offsets and configs that are not defaults",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return run(cmd.Context(), func(adm *kadm.Client) error {
				row, err := describeTopic(cmd.Context(), adm, args[0])
				if err != nil {
					return fmt.Errorf("describe topic %s on %s: %w", args[0], broker, err)
				}
				if output == "json" {
					return writeJSON(cmd.OutOrStdout(), row)
				}
				return printTopic(cmd.OutOrStdout(), row)
			})
		},
	})

	cmd.AddCommand(&cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a topic and its data",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return run(cmd.Context(), func(adm *kadm.Client) error {
				r, err := adm.DeleteTopic(cmd.Context(), args[0])
				if err == nil {
					err = r.Err
				}
				if err != nil {
					if r.ErrMessage != "" {
						return fmt.Errorf("delete topic %s: %w: %s", args[0], err, r.ErrMessage)
					}
					return fmt.Errorf("delete topic %s: %w", args[0], err)
				}
				if output == "table" {
					fmt.Fprintf(cmd.OutOrStdout(), "deleted topic %s\n", args[0])
				}
				return nil
			})
		},
	})
	return cmd
}

// describeTopic gathers a topic's partitions, offsets and non-default configs.
func describeTopic(ctx context.Context, adm *kadm.Client, topic string) (topicRow, error) {
	details, err := adm.ListTopicsWithInternal(ctx, topic)
	if err != nil {
		return topicRow{}, err
	}
	d, ok := details[topic]
	if !ok {
		return topicRow{}, fmt.Errorf("no such topic")
	}
	if d.Err != nil {
		return topicRow{}, d.Err
	}
	starts, err := adm.ListStartOffsets(ctx, topic)
	if err != nil {
		return topicRow{}, fmt.Errorf("start offsets: %w", err)
	}
	ends, err := adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return topicRow{}, fmt.Errorf("end offsets: %w", err)
	}
	row := topicRow{Name: topic, Partitions: len(d.Partitions), ReplicationFactor: d.Partitions.NumReplicas(),
		Internal: d.IsInternal, Configs: map[string]string{}}
	for _, p := range d.Partitions.Sorted() {
		pr := partitionRow{Partition: p.Partition, Leader: p.Leader, Replicas: p.Replicas, ISR: p.ISR, StartOffset: -1, EndOffset: -1}
		if o, ok := starts.Lookup(topic, p.Partition); ok && o.Err == nil {
			pr.StartOffset = o.Offset
		}
		if o, ok := ends.Lookup(topic, p.Partition); ok && o.Err == nil {
			pr.EndOffset = o.Offset
		}
		row.PartitionDetails = append(row.PartitionDetails, pr)
	}
	rcs, err := adm.DescribeTopicConfigs(ctx, topic)
	if err != nil {
		return topicRow{}, fmt.Errorf("configs: %w", err)
	}
	for _, rc := range rcs {
		if rc.Err != nil {
			return topicRow{}, fmt.Errorf("configs: %w", rc.Err)
		}
		for _, c := range rc.Configs {
			if c.Source == kmsg.ConfigSourceDefaultConfig || c.Source == kmsg.ConfigSourceStaticBrokerConfig {
				continue
			}
			row.Configs[c.Key] = c.MaybeValue()
		}
	}
	return row, nil
}

// printTopic prints a described topic.
func printTopic(w io.Writer, row topicRow) error {
	fmt.Fprintf(w, "Topic: %s\tPartitions: %d\tReplicationFactor: %d\n", row.Name, row.Partitions, row.ReplicationFactor)
	if len(row.Configs) > 0 {
		keys := make([]string, 0, len(row.Configs))
		for k := range row.Configs {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + "=" + row.Configs[k]
		}
		fmt.Fprintf(w, "Configs: %s\n", strings.Join(parts, ","))
	}
	tw := newTable(w)
	fmt.Fprintln(tw, "PARTITION\tLEADER\tREPLICAS\tISR\tSTART\tEND")
	for _, p := range row.PartitionDetails {
		fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%d\t%d\n", p.Partition, p.Leader, ints(p.Replicas), ints(p.ISR), p.StartOffset, p.EndOffset)
	}
	return tw.Flush()
}

// ints renders broker ids as "1,2,3".
func ints(xs []int32) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = fmt.Sprint(x)
	}
	return strings.Join(s, ",")
}
