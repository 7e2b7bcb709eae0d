package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/penstockhq/penstock/worker/console"
)

func init() { rootCmd.AddCommand(newConsumeCmd()) }

// consumeOptions are the flags of `penstock consume`.
type consumeOptions struct {
	broker        string
	output        string
	fromBeginning bool
	max           int
	group         string
	timeout       time.Duration
	raw           bool
	registry      registryConn     // schema registry URL ("": no decoding) and CA
	decoder       *console.Decoder // built from registry by consume
}

// newConsumeCmd returns `penstock consume`.
func newConsumeCmd() *cobra.Command {
	var o consumeOptions
	cmd := &cobra.Command{
		Use:   "consume TOPIC",
		Short: "Print the records of a topic, unwrapping Kafka Connect's JSON envelope",
		Long: "Print the records of a topic, one per line: partition, offset, key and value. Keys and values\n" +
			"written by JsonConverter with schemas.enable=true ({\"schema\":...,\"payload\":...}) print as their\n" +
			"payload; other JSON prints as it is and anything else as text. Records in the Schema Registry wire\n" +
			"format (AvroConverter, JsonSchemaConverter) are decoded through --schema-registry. Without --from-beginning only\n" +
			"records written from now on print (as kafka-console-consumer). Stops on Ctrl-C, after --max\n" +
			"records, or once no record arrived for --timeout.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, stop := signal.NotifyContext(cmd.Context(), os.Interrupt, syscall.SIGTERM)
			defer stop()
			return consume(ctx, cmd.OutOrStdout(), args[0], o)
		},
	}
	registerBroker(cmd, &o.broker)
	cmd.Flags().StringVarP(&o.output, "output", "o", "table", "output format: table (one line per record) or json (one JSON object per line)")
	cmd.Flags().BoolVar(&o.fromBeginning, "from-beginning", false, "start at the earliest record instead of the end (a group with committed offsets resumes from them)")
	cmd.Flags().IntVarP(&o.max, "max", "n", 0, "stop after this many records (0: no limit)")
	cmd.Flags().StringVarP(&o.group, "group", "g", "", "consume as a member of this consumer group, committing offsets")
	cmd.Flags().DurationVar(&o.timeout, "timeout", 0, "stop once no record arrived for this long (0: wait forever)")
	cmd.Flags().BoolVar(&o.raw, "raw", false, "print keys and values as they are, without unwrapping the JSON envelope")
	registerRegistryURL(cmd, &o.registry, "schema registry URL to decode Avro and JSON Schema records with (\"\": do not decode)")
	return cmd
}

// consumedRecord is one record as `consume --output json` prints it.
type consumedRecord struct {
	Topic     string            `json:"topic"`
	Partition int32             `json:"partition"`
	Offset    int64             `json:"offset"`
	Timestamp int64             `json:"timestamp"`
	Key       json.RawMessage   `json:"key"`
	Value     json.RawMessage   `json:"value"`
	Headers   map[string]string `json:"headers,omitempty"`
}

// consume prints the records of topic to w until ctx ends, o.max records
// were printed or o.timeout passed without a record.
func consume(ctx context.Context, w io.Writer, topic string, o consumeOptions) error {
	if err := checkOutput(o.output); err != nil {
		return err
	}
	dec, err := console.NewDecoder(o.registry.props())
	if err != nil {
		return fmt.Errorf("consume: --schema-registry: %w", err)
	}
	o.decoder = dec
	start := kgo.NewOffset().AtEnd()
	if o.fromBeginning {
		start = kgo.NewOffset().AtStart()
	}
	opts := []kgo.Opt{
		kgo.SeedBrokers(seeds(o.broker)...),
		kgo.ConsumeTopics(topic),
		kgo.ConsumeResetOffset(start),
	}
	if o.group != "" {
		// Offsets are committed for the printed records only, not for
		// records fetched beyond --max.
		opts = append(opts, kgo.ConsumerGroup(o.group), kgo.DisableAutoCommit())
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return fmt.Errorf("consume %s from %s: %w", topic, o.broker, err)
	}
	defer cl.Close()
	// commit commits the offsets after recs in the group.
	commit := func(recs []*kgo.Record) error {
		if o.group == "" || len(recs) == 0 {
			return nil
		}
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := cl.CommitRecords(cctx, recs...); err != nil {
			return fmt.Errorf("commit offsets of group %s: %w", o.group, err)
		}
		return nil
	}

	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	printed := 0
	for {
		pctx, cancel := ctx, context.CancelFunc(func() {})
		if o.timeout > 0 {
			pctx, cancel = context.WithTimeout(ctx, o.timeout)
		}
		fetches := cl.PollFetches(pctx)
		timedOut := pctx.Err() != nil && ctx.Err() == nil
		cancel()
		if ctx.Err() != nil {
			return nil // interrupted: a normal end
		}
		var ferr error
		fetches.EachError(func(t string, p int32, err error) {
			if !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) && ferr == nil {
				ferr = fmt.Errorf("consume %s partition %d from %s: %w", t, p, o.broker, err)
			}
		})
		if ferr != nil {
			return ferr
		}
		var werr error
		var done []*kgo.Record
		fetches.EachRecord(func(r *kgo.Record) {
			if werr != nil || (o.max > 0 && printed >= o.max) {
				return
			}
			if werr = printRecord(w, enc, r, o); werr == nil {
				done = append(done, r)
				printed++
			}
		})
		if werr != nil {
			return errors.Join(werr, commit(done))
		}
		if err := commit(done); err != nil {
			return err
		}
		if o.max > 0 && printed >= o.max {
			return nil
		}
		if timedOut && fetches.NumRecords() == 0 {
			return nil
		}
	}
}

// printRecord prints one record in the chosen format.
func printRecord(w io.Writer, enc *json.Encoder, r *kgo.Record, o consumeOptions) error {
	key, value := o.decodeField(r, r.Key), o.decodeField(r, r.Value)
	if o.output == "json" {
		cr := consumedRecord{Topic: r.Topic, Partition: r.Partition, Offset: r.Offset,
			Timestamp: r.Timestamp.UnixMilli(), Key: key, Value: value}
		if len(r.Headers) > 0 {
			cr.Headers = make(map[string]string, len(r.Headers))
			for _, h := range r.Headers {
				cr.Headers[h.Key] = string(h.Value)
			}
		}
		if err := enc.Encode(cr); err != nil {
			return fmt.Errorf("print record: %w", err)
		}
		return nil
	}
	if _, err := fmt.Fprintf(w, "%d@%d\t%s\t%s\n", r.Partition, r.Offset, key, value); err != nil {
		return fmt.Errorf("print record: %w", err)
	}
	return nil
}

// decodeField returns a key or value as JSON for printing (see
// console.Decoder); a record it cannot decode through the registry is
// reported on stderr and printed as it is.
func (o consumeOptions) decodeField(r *kgo.Record, b []byte) json.RawMessage {
	out, err := o.decoder.Decode(r.Topic, b, o.raw)
	if err != nil {
		fmt.Fprintf(os.Stderr, "penstock: %s %d@%d: %v\n", r.Topic, r.Partition, r.Offset, err)
	}
	return out
}
