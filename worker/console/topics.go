package console

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// Topics is the console's read-only view of the cluster: topics with their
// partitions and sizes, the latest records of a topic, consumer groups and
// their lag. It reads through a worker's admin client and, for the tail, a
// short-lived consumer with the worker's client settings (security
// included). Safe for concurrent use.
type Topics struct {
	adm  *kadm.Client
	opts []kgo.Opt

	dec    *Decoder
	decErr error
}

// NewTopics returns the view through adm; opts make the tail's consumers;
// registry (the registry client's keys, see NewDecoder; none: no decoding)
// decodes records in the registry's wire format.
func NewTopics(adm *kadm.Client, opts []kgo.Opt, registry map[string]string) *Topics {
	t := &Topics{adm: adm, opts: opts}
	t.dec, t.decErr = NewDecoder(registry)
	return t
}

// TopicInfo is one topic in the list.
type TopicInfo struct {
	Name       string `json:"name"`
	Partitions int    `json:"partitions"`
	Replicas   int    `json:"replication_factor"`
	Internal   bool   `json:"internal"`
	// Records is the sum over partitions of end minus start offsets.
	Records int64 `json:"records"`
	// SizeBytes is the size of its logs on the leaders; -1 when the
	// brokers do not say (DescribeLogDirs unsupported).
	SizeBytes int64 `json:"size_bytes"`
}

// List returns every topic, by name.
func (t *Topics) List(ctx context.Context) ([]TopicInfo, error) {
	details, err := t.adm.ListTopicsWithInternal(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing topics: %w", err)
	}
	names := details.Names()
	starts, err := t.adm.ListStartOffsets(ctx, names...)
	if err != nil {
		return nil, fmt.Errorf("start offsets: %w", err)
	}
	ends, err := t.adm.ListEndOffsets(ctx, names...)
	if err != nil {
		return nil, fmt.Errorf("end offsets: %w", err)
	}
	sizes := t.sizes(ctx, details)
	out := make([]TopicInfo, 0, len(details))
	for _, d := range details.Sorted() {
		ti := TopicInfo{Name: d.Topic, Partitions: len(d.Partitions), Replicas: d.Partitions.NumReplicas(), Internal: d.IsInternal, SizeBytes: -1}
		if sizes != nil {
			ti.SizeBytes = sizes[d.Topic]
		}
		for _, o := range ends[d.Topic] {
			if o.Err != nil {
				continue
			}
			if s, ok := starts.Lookup(o.Topic, o.Partition); ok && s.Err == nil {
				ti.Records += o.Offset - s.Offset
			}
		}
		out = append(out, ti)
	}
	return out, nil
}

// sizes returns each topic's log size on its partitions' leaders, or nil
// when the brokers do not answer DescribeLogDirs.
func (t *Topics) sizes(ctx context.Context, details kadm.TopicDetails) map[string]int64 {
	dirs, err := t.adm.DescribeAllLogDirs(ctx, nil)
	if err != nil {
		return nil
	}
	out := map[string]int64{}
	answered := false
	dirs.Each(func(d kadm.DescribedLogDir) {
		if d.Err != nil {
			return
		}
		answered = true
		d.Topics.Each(func(p kadm.DescribedLogDirPartition) {
			if pd, ok := details[p.Topic].Partitions[p.Partition]; ok && pd.Leader == p.Broker {
				out[p.Topic] += p.Size
			}
		})
	})
	if !answered {
		return nil
	}
	return out
}

// Record is a record of the tail, decoded.
type Record struct {
	Partition int32             `json:"partition"`
	Offset    int64             `json:"offset"`
	Timestamp int64             `json:"timestamp"` // Unix ms
	Key       json.RawMessage   `json:"key"`
	Value     json.RawMessage   `json:"value"`
	Headers   map[string]string `json:"headers,omitempty"`
	// Error says why a key or value in the registry's format was shown
	// undecoded.
	Error string `json:"error,omitempty"`
}

// tailWait bounds how long a tail reads.
const tailWait = 3 * time.Second

// Tail returns up to limit of the topic's latest records, newest first
// (the console polls it for a live tail). It reads each partition's last
// limit records and keeps the newest limit of them as it goes.
func (t *Topics) Tail(ctx context.Context, topic string, limit int) ([]Record, error) {
	ends, err := t.adm.ListEndOffsets(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("end offsets of %s: %w", topic, err)
	}
	starts, err := t.adm.ListStartOffsets(ctx, topic)
	if err != nil {
		return nil, fmt.Errorf("start offsets of %s: %w", topic, err)
	}
	if err := ends.Error(); err != nil {
		return nil, fmt.Errorf("end offsets of %s: %w", topic, err)
	}
	from := map[int32]kgo.Offset{}
	want := map[int32]int64{} // the last offset to read, per partition
	ends.Each(func(o kadm.ListedOffset) {
		start := int64(0)
		if s, ok := starts.Lookup(o.Topic, o.Partition); ok && s.Err == nil {
			start = s.Offset
		}
		if o.Offset <= start {
			return
		}
		from[o.Partition] = kgo.NewOffset().At(max(start, o.Offset-int64(limit)))
		want[o.Partition] = o.Offset - 1
	})
	out := []Record{}
	if len(from) == 0 {
		return out, nil
	}
	cl, err := kgo.NewClient(append(append([]kgo.Opt(nil), t.opts...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: from}))...)
	if err != nil {
		return nil, fmt.Errorf("consumer of %s: %w", topic, err)
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, tailWait)
	defer cancel()
	// recs holds the newest limit records read so far (at most twice that
	// between trims), not limit per partition: a topic of many partitions
	// costs no more memory than one.
	var recs []*kgo.Record
	newest := func() {
		sort.Slice(recs, func(i, j int) bool {
			if !recs[i].Timestamp.Equal(recs[j].Timestamp) {
				return recs[i].Timestamp.After(recs[j].Timestamp)
			}
			return recs[i].Offset > recs[j].Offset
		})
		if len(recs) > limit {
			clear(recs[limit:])
			recs = recs[:limit]
		}
	}
	for len(want) > 0 && ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		fs.EachRecord(func(r *kgo.Record) {
			recs = append(recs, r)
			if r.Offset >= want[r.Partition] {
				delete(want, r.Partition)
			}
			if len(recs) >= 2*limit {
				newest()
			}
		})
		if err := fs.Err0(); err != nil && ctx.Err() == nil {
			return nil, fmt.Errorf("reading %s: %w", topic, err)
		}
	}
	newest()
	for _, r := range recs {
		rec := Record{Partition: r.Partition, Offset: r.Offset, Timestamp: r.Timestamp.UnixMilli()}
		var kerr, verr error
		rec.Key, kerr = t.dec.Decode(topic, r.Key, false)
		rec.Value, verr = t.dec.Decode(topic, r.Value, false)
		if err := firstErr(t.decErr, kerr, verr); err != nil {
			rec.Error = err.Error()
		}
		if len(r.Headers) > 0 {
			rec.Headers = make(map[string]string, len(r.Headers))
			for _, h := range r.Headers {
				rec.Headers[h.Key] = string(h.Value)
			}
		}
		out = append(out, rec)
	}
	return out, nil
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// Group is a consumer group with its lag.
type Group struct {
	Name     string         `json:"name"`
	State    string         `json:"state"`
	Members  int            `json:"members"`
	TotalLag int64          `json:"total_lag"`
	Lag      []PartitionLag `json:"lag"`
	Error    string         `json:"error,omitempty"`
}

// PartitionLag is a group's lag on one partition.
type PartitionLag struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Committed int64  `json:"committed"` // -1: nothing committed
	End       int64  `json:"end"`
	Lag       int64  `json:"lag"`
	Member    string `json:"member,omitempty"` // the client id assigned it
}

// Groups returns every consumer group with its lag per partition, by name.
func (t *Topics) Groups(ctx context.Context) ([]Group, error) {
	listed, err := t.adm.ListGroups(ctx)
	if err != nil {
		return nil, fmt.Errorf("listing groups: %w", err)
	}
	out := []Group{}
	names := listed.Groups()
	if len(names) == 0 {
		return out, nil
	}
	lags, err := t.adm.Lag(ctx, names...)
	if err != nil {
		return nil, fmt.Errorf("group lag: %w", err)
	}
	for _, gl := range lags.Sorted() {
		g := Group{Name: gl.Group, State: gl.State, Members: len(gl.Members), Lag: []PartitionLag{}}
		if err := gl.Error(); err != nil {
			g.Error = err.Error()
		}
		g.Lag = append(g.Lag, PartitionLags(gl.Lag)...)
		for _, l := range g.Lag {
			g.TotalLag += l.Lag
		}
		out = append(out, g)
	}
	return out, nil
}

// PartitionLags returns a group's lag per partition, by topic and
// partition, leaving out the partitions whose lag could not be had: what
// the groups page and a sink connector's progress show.
func PartitionLags(lag kadm.GroupLag) []PartitionLag {
	var out []PartitionLag
	for _, l := range lag.Sorted() {
		if l.Err != nil {
			continue
		}
		pl := PartitionLag{Topic: l.Topic, Partition: l.Partition, Committed: l.Commit.At, End: l.End.Offset, Lag: l.Lag}
		if l.Member != nil {
			pl.Member = l.Member.ClientID
		}
		out = append(out, pl)
	}
	return out
}
