package schemaregistry

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// DefaultTopic is the topic the registry keeps its state in, as Confluent's.
const DefaultTopic = "_schemas"

// schemaDef is what an id stands for: a schema's type, text and references.
type schemaDef struct {
	Type       string
	Schema     string // canonical text (compacted JSON for Avro and JSON Schema)
	References []Reference
}

func (d schemaDef) equal(o schemaDef) bool {
	return d.Type == o.Type && d.Schema == o.Schema && slices.Equal(d.References, o.References)
}

// state is the registry's state: a pure function of the _schemas records
// applied in offset order.
type state struct {
	subjects map[string]map[int]*schemaValue // subject -> version -> schema
	ids      map[int]schemaDef
	maxID    int
	config   map[string]string // subject ("" global) -> compatibility level
	mode     map[string]string // subject ("" global) -> mode
}

func newState() state {
	return state{subjects: map[string]map[int]*schemaValue{}, ids: map[int]schemaDef{},
		config: map[string]string{}, mode: map[string]string{}}
}

// apply applies one record. A SCHEMA record that gives an existing subject
// version a different schema, or an id a different schema, lost a race with
// an earlier record from another registry process and is ignored: the record
// order in the topic decides which claim stands.
func (st *state) apply(key, value []byte) error {
	var k recordKey
	if err := json.Unmarshal(key, &k); err != nil {
		return fmt.Errorf("key %q: %w", key, err)
	}
	subject := k.subject()
	switch k.KeyType {
	case keySchema:
		if value == nil {
			st.hardDelete(subject, k.Version)
			return nil
		}
		var v schemaValue
		if err := json.Unmarshal(value, &v); err != nil {
			return fmt.Errorf("schema %s version %d: %w", subject, k.Version, err)
		}
		if v.SchemaType == "" {
			v.SchemaType = TypeAvro
		}
		def := schemaDef{Type: v.SchemaType, Schema: v.Schema, References: v.References}
		if old, ok := st.subjects[subject][k.Version]; ok && (old.ID != v.ID || !st.ids[old.ID].equal(def)) {
			return nil // lost a race: the earlier record stands
		}
		if d, ok := st.ids[v.ID]; ok && !d.equal(def) {
			return nil
		}
		st.ids[v.ID] = def
		st.maxID = max(st.maxID, v.ID)
		if st.subjects[subject] == nil {
			st.subjects[subject] = map[int]*schemaValue{}
		}
		st.subjects[subject][k.Version] = &v
	case keyConfig, keyMode:
		m := st.config
		if k.KeyType == keyMode {
			m = st.mode
		}
		if value == nil {
			delete(m, subject)
			return nil
		}
		var v struct {
			configValue
			modeValue
		}
		if err := json.Unmarshal(value, &v); err != nil {
			return fmt.Errorf("%s %q: %w", k.KeyType, subject, err)
		}
		m[subject] = v.CompatibilityLevel + v.Mode
	case keyDeleteSubject:
		if value == nil {
			return nil
		}
		var v deleteSubjectValue
		if err := json.Unmarshal(value, &v); err != nil {
			return fmt.Errorf("delete subject %q: %w", subject, err)
		}
		for ver, s := range st.subjects[subject] {
			if ver <= v.Version {
				s.Deleted = true
			}
		}
	}
	return nil
}

func (st *state) hardDelete(subject string, version int) {
	vs := st.subjects[subject]
	s, ok := vs[version]
	if !ok {
		return
	}
	delete(vs, version)
	if len(vs) == 0 {
		delete(st.subjects, subject)
	}
	// The id stays resolvable while another version uses it; maxID stays,
	// so a hard-deleted id is not handed out again by this process.
	for _, vs := range st.subjects {
		for _, o := range vs {
			if o.ID == s.ID {
				return
			}
		}
	}
	delete(st.ids, s.ID)
}

// Store is the registry's state, kept in a compacted topic and read back
// from it: every change is produced (acks=all) and applied only when read
// from the topic, so every process reading the topic agrees on it.
type Store struct {
	topic string
	cl    *kgo.Client
	adm   *kadm.Client
	log   *slog.Logger

	mu      sync.RWMutex
	st      state
	next    int64         // offset of the next record to apply
	changed chan struct{} // closed and replaced when next advances
	readErr error         // the tail loop's fatal error

	writeMu sync.Mutex // one write at a time in this process
	cancel  context.CancelFunc
	done    chan struct{}
}

// Open connects to the brokers at seeds, creates topic (one partition,
// compacted) if it does not exist, reads it to its end and keeps following
// it until Close.
func Open(ctx context.Context, seeds []string, topic string, log *slog.Logger, opts ...kgo.Opt) (*Store, error) {
	if topic == "" {
		topic = DefaultTopic
	}
	if log == nil {
		log = slog.Default()
	}
	opts = append([]kgo.Opt{
		kgo.SeedBrokers(seeds...),
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{topic: {0: kgo.NewOffset().AtStart()}}),
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerLinger(0),
		kgo.RecordPartitioner(kgo.ManualPartitioner()),
		kgo.FetchMaxWait(500 * time.Millisecond),
	}, opts...)
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("schema registry: client for %v: %w", seeds, err)
	}
	s := &Store{topic: topic, cl: cl, adm: kadm.NewClient(cl), log: log, st: newState(),
		changed: make(chan struct{}), done: make(chan struct{})}
	if err := s.createTopic(ctx); err != nil {
		cl.Close()
		return nil, err
	}
	tctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	go s.tail(tctx)
	if err := s.sync(ctx); err != nil {
		s.Close()
		return nil, err
	}
	return s, nil
}

// Close stops following the topic and closes the client.
func (s *Store) Close() {
	s.cancel()
	<-s.done
	s.cl.Close()
}

func (s *Store) createTopic(ctx context.Context) error {
	cfg := map[string]*string{"cleanup.policy": kadm.StringPtr("compact")}
	resp, err := s.adm.CreateTopic(ctx, 1, -1, cfg, s.topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil && !errors.Is(err, kerr.TopicAlreadyExists) {
		return fmt.Errorf("schema registry: create topic %s: %w", s.topic, err)
	}
	return nil
}

// tail applies the topic's records in order until ctx ends.
func (s *Store) tail(ctx context.Context) {
	defer close(s.done)
	for {
		fs := s.cl.PollFetches(ctx)
		if ctx.Err() != nil {
			return
		}
		fs.EachError(func(t string, p int32, err error) {
			s.log.Warn("schema registry: read topic", "topic", t, "partition", p, "err", err)
		})
		last := int64(-1)
		s.mu.Lock()
		fs.EachRecord(func(r *kgo.Record) {
			if err := s.st.apply(r.Key, r.Value); err != nil {
				s.log.Warn("schema registry: skip record", "topic", s.topic, "offset", r.Offset, "err", err)
			}
			last = r.Offset
		})
		if last >= 0 {
			s.next = last + 1
			close(s.changed)
			s.changed = make(chan struct{})
		}
		s.mu.Unlock()
	}
}

// waitFor waits until the record at offset off was applied.
func (s *Store) waitFor(ctx context.Context, off int64) error {
	for {
		s.mu.RLock()
		next, ch := s.next, s.changed
		s.mu.RUnlock()
		if next > off {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return &Error{Code: CodeTimeout, Message: fmt.Sprintf("reading %s back to offset %d: %v", s.topic, off, ctx.Err())}
		}
	}
}

// sync waits until every record in the topic now was applied, so that a
// write decides on the latest state, including other processes' writes.
func (s *Store) sync(ctx context.Context) error {
	for {
		end, err := s.endOffset(ctx)
		if err == nil {
			if end == 0 {
				return nil
			}
			return s.waitFor(ctx, end-1)
		}
		// A topic just created may not be in the metadata yet.
		select {
		case <-ctx.Done():
			return err
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// endOffset returns the end offset of the topic's partition.
func (s *Store) endOffset(ctx context.Context) (int64, error) {
	ends, err := s.adm.ListEndOffsets(ctx, s.topic)
	if err != nil {
		return 0, fmt.Errorf("schema registry: end offset of %s: %w", s.topic, err)
	}
	o, ok := ends.Lookup(s.topic, 0)
	if !ok {
		return 0, fmt.Errorf("schema registry: end offset of %s: partition 0 missing", s.topic)
	}
	if o.Err != nil {
		return 0, fmt.Errorf("schema registry: end offset of %s: %w", s.topic, o.Err)
	}
	return o.Offset, nil
}

// produce writes one record (value nil: a tombstone), waits for the
// broker's acks=all and until it was applied.
func (s *Store) produce(ctx context.Context, k recordKey, value any) error {
	r := &kgo.Record{Topic: s.topic, Partition: 0, Key: k.marshal()}
	if value != nil {
		b, err := json.Marshal(value)
		if err != nil {
			return fmt.Errorf("schema registry: encode %s record: %w", k.KeyType, err)
		}
		r.Value = b
	}
	res := s.cl.ProduceSync(ctx, r)
	if err := res.FirstErr(); err != nil {
		return &Error{Code: CodeStoreError, Message: fmt.Sprintf("write to %s: %v", s.topic, err)}
	}
	return s.waitFor(ctx, r.Offset)
}

// read runs fn under the read lock.
func (s *Store) read(fn func(st *state)) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	fn(&s.st)
}
