// Package datagen is a source connector that generates records: a
// deterministic stream of structs for demos, tests and benchmarks, with no
// outside system to set up.
//
// Each task produces its own sequence, seq = 0, 1, 2, ... and records its
// position as the source offset {"seq": N} of the source partition
// {"task": T}, so a restarted task continues after the last flushed record
// (at-least-once: records after that offset may repeat, none are skipped).
// Every field except ts is a function of (seed, task, seq), so the same
// configuration always yields the same data.
package datagen

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connect/config"
)

// Configuration keys. kafka.topic and iterations are the names Confluent's
// datagen connector uses, accepted as aliases of topic and count.
const (
	TopicConfig      = "topic"
	KafkaTopicConfig = "kafka.topic"
	CountConfig      = "count"
	IterationsConfig = "iterations"
	RateConfig       = "rate"
	KeysConfig       = "keys"
	SeedConfig       = "seed"
	BatchSizeConfig  = "batch.size"
	ValueSizeConfig  = "value.size"
)

// ValueSchemaName is the name of the generated values' schema.
const ValueSchemaName = "io.penstock.datagen.Value"

// ValueSchema is the schema of every generated value.
var ValueSchema = connect.NewStructSchema(ValueSchemaName,
	connect.F("seq", connect.Int64Schema),
	connect.F("task", connect.Int32Schema),
	connect.F("ts", connect.TimestampSchema()),
	connect.F("name", connect.StringSchema),
	connect.F("payload", connect.OptionalStringSchema),
)

// settings are the parsed keys.
type settings struct {
	topic, kafkaTopic string
	count, iterations int64
	rate              float64
	keys              int64
	seed              int64
	batchSize         int
	valueSize         int
}

// binding declares the connector's keys and the settings they fill.
var binding = config.Bind(
	config.StringField(config.Key{Name: TopicConfig, Importance: config.High, Group: "Datagen", OrderInGroup: 0,
		Doc: "Topic to write the generated records to. Required (or its alias kafka.topic)."},
		func(s *settings) *string { return &s.topic }),
	config.StringField(config.Key{Name: KafkaTopicConfig, Importance: config.Low, Group: "Datagen", OrderInGroup: 1,
		Doc: "Alias of topic, as Confluent's datagen connector names it."},
		func(s *settings) *string { return &s.kafkaTopic }),
	config.LongField(config.Key{Name: CountConfig, Default: int64(-1), Validator: config.AtLeast(-1),
		Importance: config.Medium, Group: "Datagen", OrderInGroup: 2,
		Doc: "Records each task generates in total (its sequence stops at this number, across restarts); -1 for no limit."},
		func(s *settings) *int64 { return &s.count }),
	config.LongField(config.Key{Name: IterationsConfig, Validator: config.AtLeast(-1), Importance: config.Low,
		Group: "Datagen", OrderInGroup: 3, Doc: "Alias of count, as Confluent's datagen connector names it."},
		func(s *settings) *int64 { return &s.iterations }),
	config.DoubleField(config.Key{Name: RateConfig, Default: 0.0, Validator: config.AtLeast(0),
		Importance: config.Medium, Group: "Datagen", OrderInGroup: 4,
		Doc: "Records per second each task generates; 0 generates as fast as the pipeline accepts them."},
		func(s *settings) *float64 { return &s.rate }),
	config.LongField(config.Key{Name: KeysConfig, Default: int64(0), Validator: config.AtLeast(0),
		Importance: config.Medium, Group: "Datagen", OrderInGroup: 5,
		Doc: "Size of the key space: the key is seq % keys as an int64. 0 writes records without a key."},
		func(s *settings) *int64 { return &s.keys }),
	config.LongField(config.Key{Name: SeedConfig, Default: int64(0), Importance: config.Low, Group: "Datagen", OrderInGroup: 6,
		Doc: "Seed of the generated names and payloads: the same seed gives the same data."},
		func(s *settings) *int64 { return &s.seed }),
	config.IntField(config.Key{Name: BatchSizeConfig, Default: 1000, Validator: config.Between(1, 1e6),
		Importance: config.Low, Group: "Datagen", OrderInGroup: 7,
		Doc: "Most records returned by one poll."},
		func(s *settings) *int { return &s.batchSize }),
	config.IntField(config.Key{Name: ValueSizeConfig, Default: 0, Validator: config.Between(0, 16<<20),
		Importance: config.Low, Group: "Datagen", OrderInGroup: 8,
		Doc: "Length of the payload string field, to make records bigger for benchmarks; 0 leaves payload null."},
		func(s *settings) *int { return &s.valueSize }),
)

// Def describes the connector's keys.
var Def = binding.Def()

func parse(props map[string]string) (settings, error) {
	var st settings
	if _, err := binding.Parse(props, &st); err != nil {
		return settings{}, err
	}
	if st.topic == "" {
		st.topic = st.kafkaTopic
	}
	if st.topic == "" {
		return settings{}, config.MissingError(TopicConfig)
	}
	_, countSet := props[CountConfig]
	if _, itSet := props[IterationsConfig]; itSet && !countSet {
		st.count = st.iterations
	}
	return st, nil
}

// Connector is the datagen source connector.
type Connector struct {
	props map[string]string
}

// New returns a datagen connector.
func New() *Connector { return &Connector{} }

// Config returns the connector's keys.
func (c *Connector) Config() *config.Def { return Def }

// ValidateConfig reports a missing topic (given neither as topic nor as kafka.topic).
func (c *Connector) ValidateConfig(props map[string]string, infos *config.Infos) {
	if props[TopicConfig] == "" && props[KafkaTopicConfig] == "" {
		infos.AddError(TopicConfig, config.MissingError(TopicConfig).Error())
	}
}

// Start checks the properties.
func (c *Connector) Start(ctx context.Context, cctx connect.ConnectorContext, props map[string]string) error {
	if _, err := parse(props); err != nil {
		return fmt.Errorf("datagen: %w", err)
	}
	c.props = props
	return nil
}

// TaskConfigs gives every task the connector's properties; each task's
// sequence is told apart by its task id.
func (c *Connector) TaskConfigs(maxTasks int) ([]map[string]string, error) {
	out := make([]map[string]string, maxTasks)
	for i := range out {
		m := make(map[string]string, len(c.props))
		for k, v := range c.props {
			m[k] = v
		}
		out[i] = m
	}
	return out, nil
}

// Stop does nothing: the connector holds no resources.
func (c *Connector) Stop() error { return nil }

// NewTask returns a datagen task.
func (c *Connector) NewTask() connect.SourceTask { return &Task{} }

// Task generates one sequence of records.
type Task struct {
	cfg       settings
	task      int32
	partition map[string]any
	next      int64 // the next seq to generate
	started   time.Time
	produced  int64 // records generated since started, for the rate
	now       func() time.Time
}

// Start reads the stored offset and resumes after it.
func (t *Task) Start(ctx context.Context, tctx connect.SourceTaskContext, props map[string]string) error {
	cfg, err := parse(props)
	if err != nil {
		return fmt.Errorf("datagen task: %w", err)
	}
	t.cfg = cfg
	t.task = int32(tctx.TaskID())
	t.partition = map[string]any{"task": int64(t.task)}
	if t.now == nil {
		t.now = time.Now
	}
	off, err := tctx.Offsets().Offset(ctx, t.partition)
	if err != nil {
		return fmt.Errorf("datagen task %d: reading offset: %w", t.task, err)
	}
	if off != nil {
		last, err := toInt64(off["seq"])
		if err != nil {
			return fmt.Errorf("datagen task %d: stored offset %v: field seq: %w", t.task, off, err)
		}
		t.next = last + 1
	}
	t.started = t.now()
	return nil
}

func toInt64(v any) (int64, error) {
	switch x := v.(type) {
	case int64:
		return x, nil
	case int:
		return int64(x), nil
	case int32:
		return int64(x), nil
	case float64:
		return int64(x), nil
	case json.Number:
		return x.Int64()
	case string:
		return strconv.ParseInt(x, 10, 64)
	}
	return 0, fmt.Errorf("not a number: %T", v)
}

// idleWait is how long Poll waits when there is nothing to generate.
const idleWait = time.Second

// Poll returns the next batch, waiting as rate requires.
func (t *Task) Poll(ctx context.Context) ([]*connect.Record, error) {
	n := int64(t.cfg.batchSize)
	if t.cfg.count >= 0 {
		n = min(n, t.cfg.count-t.next)
	}
	if n <= 0 {
		sleep(ctx, idleWait) // done: idle without spinning
		return nil, nil
	}
	if t.cfg.rate > 0 {
		due := int64(t.now().Sub(t.started).Seconds()*t.cfg.rate) - t.produced
		if due <= 0 {
			// Wait for the next record's time, at most idleWait.
			at := t.started.Add(time.Duration(float64(t.produced+1) / t.cfg.rate * float64(time.Second)))
			sleep(ctx, min(at.Sub(t.now()), idleWait))
			due = int64(t.now().Sub(t.started).Seconds()*t.cfg.rate) - t.produced
			if due <= 0 {
				return nil, ctx.Err()
			}
		}
		n = min(n, due)
	}
	ts := t.now().UTC().Truncate(time.Millisecond)
	recs := make([]*connect.Record, n)
	for i := range recs {
		recs[i] = t.record(t.next, ts)
		t.next++
	}
	t.produced += n
	return recs, nil
}

func sleep(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-ctx.Done():
	case <-tm.C:
	}
}

// record builds the record of seq.
func (t *Task) record(seq int64, ts time.Time) *connect.Record {
	v := connect.NewStruct(ValueSchema)
	v.SetAt(0, seq)
	v.SetAt(1, t.task)
	v.SetAt(2, ts)
	r := rng(uint64(t.cfg.seed), uint64(t.task), uint64(seq))
	v.SetAt(3, genName(&r))
	if t.cfg.valueSize > 0 {
		v.SetAt(4, payload(&r, t.cfg.valueSize))
	}
	rec := &connect.Record{
		Topic: t.cfg.topic, Partition: -1, ValueSchema: ValueSchema, Value: v,
		SourcePartition: t.partition, SourceOffset: map[string]any{"seq": seq},
	}
	if t.cfg.keys > 0 {
		rec.KeySchema, rec.Key = connect.Int64Schema, seq%t.cfg.keys
	}
	return rec
}

// Stop does nothing: the task holds no resources.
func (t *Task) Stop() error { return nil }

// splitmix is a tiny deterministic generator (SplitMix64).
type splitmix uint64

func (s *splitmix) next() uint64 {
	*s += 0x9e3779b97f4a7c15
	z := uint64(*s)
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// rng returns the generator of one record, a function of seed, task and seq
// only, so records do not depend on batching or restarts.
func rng(seed, task, seq uint64) splitmix {
	s := splitmix(seed)
	s = splitmix(s.next() ^ task)
	s = splitmix(s.next() ^ seq)
	return s
}

var (
	adjectives = []string{"amber", "brisk", "calm", "dusty", "eager", "fuzzy", "gentle", "hollow", "icy", "jolly",
		"keen", "lucky", "misty", "noble", "odd", "proud", "quiet", "rapid", "shy", "tidy", "urban", "vivid", "witty", "young"}
	nouns = []string{"otter", "falcon", "badger", "heron", "lynx", "marmot", "newt", "osprey", "panda", "quail",
		"raven", "salmon", "tapir", "urchin", "viper", "walrus", "yak", "zebra", "beaver", "cobra"}
)

// genName returns a deterministic "adjective-noun-NNNN" name from r.
func genName(r *splitmix) string {
	x := r.next()
	return adjectives[x%uint64(len(adjectives))] + "-" + nouns[(x>>16)%uint64(len(nouns))] + "-" +
		strconv.FormatUint((x>>32)%10000, 10)
}

func payload(r *splitmix, n int) string {
	const letters = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	var x uint64
	for i := range b {
		if i%8 == 0 {
			x = r.next()
		}
		b[i] = letters[x%uint64(len(letters))]
		x >>= 8
	}
	return string(b)
}
