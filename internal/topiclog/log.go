// Package topiclog is a compacted Kafka topic used as a replicated log of
// key/value state, Kafka Connect's KafkaBasedLog: the worker's config and
// status stores and the source offset store are each one topic read from
// the beginning at start, consumed in the background afterwards, and written
// with acknowledged sends.
//
// It reaches the broker only through franz-go, so it works against Penstock's
// broker and any Kafka cluster alike.
package topiclog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Config says which topic a Log uses and how to reach it.
type Config struct {
	// Topic is the topic's name.
	Topic string
	// Partitions is the partition count used when the topic is created.
	Partitions int32
	// ReplicationFactor is used when the topic is created; -1 takes the
	// broker's default.
	ReplicationFactor int16
	// ClientOpts are the connection options (seed brokers, TLS, SASL...).
	ClientOpts []kgo.Opt
	// Apply receives every record read, in offset order per partition, from
	// one goroutine. A nil Value is a tombstone.
	Apply func(r *kgo.Record)
	// Logger receives background read errors; nil discards them.
	Logger *slog.Logger
}

// Log is an open topic log. Its methods are safe for concurrent use.
type Log struct {
	cfg    Config
	cl     *kgo.Client
	adm    *kadm.Client
	log    *slog.Logger
	cancel context.CancelFunc
	done   chan struct{}

	mu      sync.Mutex
	next    map[int32]int64 // next offset to read per partition
	changed chan struct{}   // closed and replaced whenever next moves
}

// Open creates the topic when it is missing (cleanup.policy=compact), reads
// it from the beginning to its end, applying every record, and keeps reading
// in the background until Close.
func Open(ctx context.Context, cfg Config) (*Log, error) {
	if cfg.Topic == "" {
		return nil, errors.New("topiclog: no topic")
	}
	if cfg.Partitions <= 0 {
		cfg.Partitions = 1
	}
	if cfg.ReplicationFactor == 0 {
		cfg.ReplicationFactor = -1
	}
	opts := append([]kgo.Opt{
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.RecordPartitioner(kgo.StickyKeyPartitioner(nil)),
		kgo.ProducerLinger(0),
		kgo.FetchMaxWait(500 * time.Millisecond),
	}, cfg.ClientOpts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("topiclog %s: client: %w", cfg.Topic, err)
	}
	l := &Log{cfg: cfg, cl: cl, adm: kadm.NewClient(cl), log: cfg.Logger, next: map[int32]int64{}, changed: make(chan struct{}), done: make(chan struct{})}
	if l.log == nil {
		l.log = slog.New(slog.DiscardHandler)
	}
	parts, err := l.ensureTopic(ctx)
	if err != nil {
		cl.Close()
		return nil, err
	}
	start := map[int32]kgo.Offset{}
	for p := int32(0); p < parts; p++ {
		start[p] = kgo.NewOffset().AtStart()
		l.next[p] = 0
	}
	cl.AddConsumePartitions(map[string]map[int32]kgo.Offset{cfg.Topic: start})
	rctx, cancel := context.WithCancel(context.Background())
	l.cancel = cancel
	go l.run(rctx)
	if err := l.ReadToEnd(ctx); err != nil {
		l.Close()
		return nil, err
	}
	return l, nil
}

// ensureTopic creates the topic if it does not exist and returns its
// partition count. It creates first: asking for the metadata of a missing
// topic makes clients wait out their unknown-topic retries.
func (l *Log) ensureTopic(ctx context.Context) (int32, error) {
	t := l.cfg.Topic
	resp, err := l.adm.CreateTopic(ctx, l.cfg.Partitions, l.cfg.ReplicationFactor,
		map[string]*string{"cleanup.policy": kadm.StringPtr("compact")}, t)
	if err == nil {
		err = resp.Err
	}
	switch {
	case err == nil:
		l.log.Info("created internal topic", "topic", t, "partitions", l.cfg.Partitions, "replication_factor", l.cfg.ReplicationFactor)
	case errors.Is(err, kerr.TopicAlreadyExists):
	default:
		return 0, fmt.Errorf("topiclog %s: create topic: %w", t, err)
	}
	for attempt := 0; ; attempt++ {
		details, err := l.adm.ListTopics(ctx, t)
		if err != nil {
			return 0, fmt.Errorf("topiclog %s: list topics: %w", t, err)
		}
		if d, ok := details[t]; ok && d.Err == nil && len(d.Partitions) > 0 {
			return int32(len(d.Partitions)), nil
		}
		if attempt > 100 {
			return 0, fmt.Errorf("topiclog %s: topic did not appear after creation", t)
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func (l *Log) run(ctx context.Context) {
	defer close(l.done)
	for {
		fs := l.cl.PollFetches(ctx)
		if fs.IsClientClosed() || ctx.Err() != nil {
			return
		}
		fs.EachError(func(topic string, p int32, err error) {
			if errors.Is(err, context.Canceled) {
				return
			}
			l.log.Warn("topic log read error", "topic", topic, "partition", p, "err", err)
		})
		fs.EachPartition(func(fp kgo.FetchTopicPartition) {
			if len(fp.Records) == 0 {
				return
			}
			for _, r := range fp.Records {
				if l.cfg.Apply != nil {
					l.cfg.Apply(r)
				}
			}
			last := fp.Records[len(fp.Records)-1].Offset
			l.mu.Lock()
			if last+1 > l.next[fp.Partition] {
				l.next[fp.Partition] = last + 1
			}
			close(l.changed)
			l.changed = make(chan struct{})
			l.mu.Unlock()
		})
	}
}

// ReadToEnd returns once every record the topic held when it was called has
// been applied: the barrier a store uses before answering from its view.
func (l *Log) ReadToEnd(ctx context.Context) error {
	ends, err := l.adm.ListEndOffsets(ctx, l.cfg.Topic)
	if err != nil {
		return fmt.Errorf("topiclog %s: list end offsets: %w", l.cfg.Topic, err)
	}
	if err := ends.Error(); err != nil {
		return fmt.Errorf("topiclog %s: list end offsets: %w", l.cfg.Topic, err)
	}
	want := map[int32]int64{}
	ends.Each(func(o kadm.ListedOffset) { want[o.Partition] = o.Offset })
	for {
		l.mu.Lock()
		behind := false
		for p, end := range want {
			if l.next[p] < end {
				behind = true
				break
			}
		}
		ch := l.changed
		l.mu.Unlock()
		if !behind {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("topiclog %s: read to end: %w", l.cfg.Topic, ctx.Err())
		case <-l.done:
			return fmt.Errorf("topiclog %s: closed", l.cfg.Topic)
		case <-ch:
		}
	}
}

// Send writes one record and returns once the broker acknowledged it
// (acks=all, idempotent producer). A nil value is a tombstone.
func (l *Log) Send(ctx context.Context, key, value []byte) error {
	if err := l.cl.ProduceSync(ctx, &kgo.Record{Topic: l.cfg.Topic, Key: key, Value: value}).FirstErr(); err != nil {
		return fmt.Errorf("topiclog %s: send %q: %w", l.cfg.Topic, key, err)
	}
	return nil
}

// SendAsync writes one record and calls done (when not nil) with the
// outcome once the broker answered.
func (l *Log) SendAsync(ctx context.Context, key, value []byte, done func(error)) {
	l.cl.Produce(ctx, &kgo.Record{Topic: l.cfg.Topic, Key: key, Value: value}, func(r *kgo.Record, err error) {
		if err != nil {
			err = fmt.Errorf("topiclog %s: send %q: %w", l.cfg.Topic, key, err)
		}
		if done != nil {
			done(err)
		}
	})
}

// Flush waits until every record sent so far is acknowledged.
func (l *Log) Flush(ctx context.Context) error { return l.cl.Flush(ctx) }

// Topic returns the topic's name.
func (l *Log) Topic() string { return l.cfg.Topic }

// Close stops reading and closes the client; sends not yet acknowledged fail.
func (l *Log) Close() {
	l.cancel()
	l.cl.Close()
	<-l.done
}
