// Package offsets stores source connectors' offsets in the offsets topic, in
// Kafka Connect's format: the key is the JSON array
// ["<connector>", {<source partition>}], the value the JSON offset map, a
// tombstone resets the partition. Records are spread over the topic's
// partitions by murmur2 of the key bytes, like Kafka's default partitioner,
// so a topic written by Kafka Connect reads the same.
//
// A Store keeps an in-memory view per connector, read from the topic at
// start and kept current in the background. A TaskWriter stages a task's
// offsets as the broker acknowledges its records, in submission order, and
// flushes them: the at-least-once guarantee of source connectors.
package offsets

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/internal/topiclog"
)

// Config says where the offsets topic is.
type Config struct {
	// Topic is offset.storage.topic.
	Topic string
	// Partitions is offset.storage.partitions (25 in Kafka Connect).
	Partitions int32
	// ReplicationFactor is offset.storage.replication.factor (-1: broker default).
	ReplicationFactor int16
	// ClientOpts reach the brokers.
	ClientOpts []kgo.Opt
	Logger     *slog.Logger
}

type entry struct {
	partition map[string]any
	offset    map[string]any
}

// Store is the offsets topic and its in-memory view.
type Store struct {
	log  *topiclog.Log
	slog *slog.Logger

	mu   sync.RWMutex
	data map[string]map[string]entry // connector -> canonical partition JSON -> entry
}

// Open opens (creating if needed) the offsets topic and reads it to its end.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	s := &Store{data: map[string]map[string]entry{}, slog: cfg.Logger}
	if s.slog == nil {
		s.slog = slog.New(slog.DiscardHandler)
	}
	l, err := topiclog.Open(ctx, topiclog.Config{
		Topic: cfg.Topic, Partitions: cfg.Partitions, ReplicationFactor: cfg.ReplicationFactor,
		ClientOpts: cfg.ClientOpts, Apply: s.apply, Logger: cfg.Logger,
	})
	if err != nil {
		return nil, fmt.Errorf("offsets: %w", err)
	}
	s.log = l
	return s, nil
}

// Close stops the store's background reading.
func (s *Store) Close() { s.log.Close() }

// ReadToEnd waits until the view holds everything written to the topic so far.
func (s *Store) ReadToEnd(ctx context.Context) error { return s.log.ReadToEnd(ctx) }

func (s *Store) apply(r *kgo.Record) {
	connector, partition, err := DecodeKey(r.Key)
	if err != nil {
		s.slog.Warn("offsets: ignoring record with an unreadable key", "key", string(r.Key), "err", err)
		return
	}
	var offset map[string]any
	if r.Value != nil {
		if offset, err = decodeMap(r.Value); err != nil {
			s.slog.Warn("offsets: ignoring record with an unreadable value", "connector", connector, "err", err)
			return
		}
	}
	s.set(connector, partition, offset)
}

func (s *Store) set(connector string, partition, offset map[string]any) {
	k := canonical(partition)
	s.mu.Lock()
	defer s.mu.Unlock()
	m := s.data[connector]
	if offset == nil {
		delete(m, k)
		if len(m) == 0 {
			delete(s.data, connector)
		}
		return
	}
	if m == nil {
		m = map[string]entry{}
		s.data[connector] = m
	}
	m[k] = entry{partition: normalize(partition), offset: normalize(offset)}
}

// Offsets returns every stored offset of the connector, sorted by partition.
func (s *Store) Offsets(connector string) []connect.SourceOffset {
	s.mu.RLock()
	defer s.mu.RUnlock()
	m := s.data[connector]
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]connect.SourceOffset, 0, len(keys))
	for _, k := range keys {
		out = append(out, connect.SourceOffset{Partition: m[k].partition, Offset: m[k].offset})
	}
	return out
}

// Offset returns the stored offset of one source partition, nil when none is.
func (s *Store) Offset(connector string, partition map[string]any) map[string]any {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.data[connector][canonical(partition)].offset
}

// Write writes offsets for the connector (a nil Offset is a tombstone that
// resets the partition) and returns once the broker acknowledged them all.
func (s *Store) Write(ctx context.Context, connector string, offs []connect.SourceOffset) error {
	if len(offs) == 0 {
		return nil
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	for _, o := range offs {
		key, err := EncodeKey(connector, o.Partition)
		if err != nil {
			return err
		}
		var value []byte
		if o.Offset != nil {
			if value, err = json.Marshal(o.Offset); err != nil {
				return fmt.Errorf("offsets: encode offset of %s %s: %w", connector, key, err)
			}
		}
		wg.Add(1)
		s.log.SendAsync(ctx, key, value, func(err error) {
			defer wg.Done()
			if err != nil {
				mu.Lock()
				if first == nil {
					first = err
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if first != nil {
		return fmt.Errorf("offsets: write for %s: %w", connector, first)
	}
	// The background reader applies the same records; applying them now too
	// lets a reader see its own writes without waiting.
	for _, o := range offs {
		s.set(connector, o.Partition, o.Offset)
	}
	return nil
}

// Reset writes a tombstone for every stored partition of the connector.
func (s *Store) Reset(ctx context.Context, connector string) error {
	if err := s.ReadToEnd(ctx); err != nil {
		return err
	}
	offs := s.Offsets(connector)
	for i := range offs {
		offs[i].Offset = nil
	}
	return s.Write(ctx, connector, offs)
}

// Reader returns the connector's offsets as a connect.OffsetReader: each
// read first catches up with the topic, so a restarted task sees every
// offset flushed before.
func (s *Store) Reader(connector string) connect.OffsetReader {
	return reader{s: s, connector: connector}
}

type reader struct {
	s         *Store
	connector string
}

func (r reader) Offset(ctx context.Context, partition map[string]any) (map[string]any, error) {
	if err := r.s.ReadToEnd(ctx); err != nil {
		return nil, err
	}
	return r.s.Offset(r.connector, normalize(partition)), nil
}

// EncodeKey returns Kafka Connect's offsets-topic key for a source partition
// of a connector: ["<connector>",{...}].
func EncodeKey(connector string, partition map[string]any) ([]byte, error) {
	b, err := json.Marshal([]any{connector, partition})
	if err != nil {
		return nil, fmt.Errorf("offsets: encode key of %s: %w", connector, err)
	}
	return b, nil
}

// DecodeKey parses an offsets-topic key.
func DecodeKey(key []byte) (connector string, partition map[string]any, err error) {
	var parts []json.RawMessage
	if err := json.Unmarshal(key, &parts); err != nil {
		return "", nil, fmt.Errorf("offsets: key is not a JSON array: %w", err)
	}
	if len(parts) != 2 {
		return "", nil, fmt.Errorf("offsets: key has %d elements, want 2", len(parts))
	}
	if err := json.Unmarshal(parts[0], &connector); err != nil {
		return "", nil, fmt.Errorf("offsets: key's connector name: %w", err)
	}
	if bytes.Equal(bytes.TrimSpace(parts[1]), []byte("null")) {
		return connector, nil, nil
	}
	if partition, err = decodeMap(parts[1]); err != nil {
		return "", nil, fmt.Errorf("offsets: key's partition: %w", err)
	}
	return connector, partition, nil
}

// decodeMap parses a JSON object keeping integers as int64 (offsets such as
// Postgres LSNs exceed float64's precision), other numbers as float64.
func decodeMap(b []byte) (map[string]any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		return nil, err
	}
	return normalize(m), nil
}

// normalize converts json.Number and Go integer types to int64 (floats to
// float64) so values compare and encode the same wherever they came from.
func normalize(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = normalizeValue(v)
	}
	return out
}

func normalizeValue(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	case int:
		return int64(x)
	case int8:
		return int64(x)
	case int16:
		return int64(x)
	case int32:
		return int64(x)
	case uint32:
		return int64(x)
	case float32:
		return float64(x)
	case map[string]any:
		return normalize(x)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = normalizeValue(e)
		}
		return out
	}
	return v
}

// canonical returns a stable text form of a partition map (sorted keys,
// normalized numbers), the identity of a source partition.
func canonical(partition map[string]any) string {
	if partition == nil {
		return "null"
	}
	b, err := json.Marshal(normalize(partition))
	if err != nil {
		return strings.TrimSpace(fmt.Sprint(partition))
	}
	return string(b)
}
