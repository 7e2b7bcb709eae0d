package broker

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/penstockhq/penstock/broker/storage"
)

// topic is one topic: its partitions' logs and its config overrides, kept
// durably in topic.json next to the partition directories.
type topic struct {
	name string
	id   [16]byte
	dir  string
	fs   storage.FS

	mu      sync.RWMutex
	parts   []*storage.Log
	configs map[string]string
}

// topicFile is topic.json.
type topicFile struct {
	Name       string            `json:"name"`
	ID         string            `json:"id"`
	Partitions int32             `json:"partitions"`
	Configs    map[string]string `json:"configs,omitempty"`
}

// partitions returns a snapshot of the partition logs.
func (t *topic) partitions() []*storage.Log {
	t.mu.RLock()
	defer t.mu.RUnlock()
	return t.parts
}

// partition returns partition p, or nil.
func (t *topic) partition(p int32) *storage.Log {
	t.mu.RLock()
	defer t.mu.RUnlock()
	if p < 0 || int(p) >= len(t.parts) {
		return nil
	}
	return t.parts[p]
}

func (t *topic) configSnapshot() map[string]string {
	t.mu.RLock()
	defer t.mu.RUnlock()
	m := make(map[string]string, len(t.configs))
	for k, v := range t.configs {
		m[k] = v
	}
	return m
}

// save writes topic.json atomically. Called with t.mu held.
func (t *topic) save() error {
	tf := topicFile{Name: t.name, ID: hex.EncodeToString(t.id[:]), Partitions: int32(len(t.parts)), Configs: t.configs}
	b, err := json.MarshalIndent(tf, "", "  ")
	if err != nil {
		return fmt.Errorf("encode topic %s: %w", t.name, err)
	}
	return storage.WriteFileAtomic(t.fs, filepath.Join(t.dir, "topic.json"), b)
}

// validTopicName applies Kafka's rules.
func validTopicName(name string) error {
	if name == "" || name == "." || name == ".." {
		return fmt.Errorf("topic name %q is illegal", name)
	}
	if len(name) > 249 {
		return fmt.Errorf("topic name is longer than 249 characters")
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return fmt.Errorf("topic name %q contains %q; only ASCII alphanumerics, '.', '_' and '-' are allowed", name, c)
		}
	}
	return nil
}

func (s *Server) topicsDir() string { return filepath.Join(s.cfg.DataDir, "topics") }

func (s *Server) openPartition(t *topic, p int) (*storage.Log, error) {
	return storage.Open(filepath.Join(t.dir, strconv.Itoa(p)), storage.Options{
		Config: s.cfg.storageConfig(t.configs),
		Syncer: s.syncer,
		Logger: s.log.With("topic", t.name, "partition", p),
		Hook:   s.appendHook(t.name, int32(p)),
		FS:     s.fs,
		OnFailure: func(error) {
			s.metrics.storageErrors.Inc()
		},
	})
}

// loadTopics opens every topic in the data dir (recovering each partition).
func (s *Server) loadTopics() error {
	dir := s.topicsDir()
	s.fs.RemoveAll(filepath.Join(s.cfg.DataDir, "deleted"))
	if err := storage.MkdirDurable(s.fs, dir); err != nil {
		return fmt.Errorf("create topics dir: %w", err)
	}
	entries, err := s.fs.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("read topics dir: %w", err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		tdir := filepath.Join(dir, e.Name())
		b, err := s.fs.ReadFile(filepath.Join(tdir, "topic.json"))
		if errors.Is(err, os.ErrNotExist) {
			s.log.Warn("ignoring topic directory without topic.json", "dir", tdir)
			continue
		}
		if err != nil {
			return fmt.Errorf("read topic: %w", err)
		}
		var tf topicFile
		if err := json.Unmarshal(b, &tf); err != nil {
			return fmt.Errorf("decode %s/topic.json: %w", tdir, err)
		}
		t := &topic{name: tf.Name, dir: tdir, fs: s.fs, configs: tf.Configs}
		if t.configs == nil {
			t.configs = map[string]string{}
		}
		if id, err := hex.DecodeString(tf.ID); err == nil && len(id) == 16 {
			copy(t.id[:], id)
		} else {
			return fmt.Errorf("topic %s: bad id %q", tf.Name, tf.ID)
		}
		for p := range int(tf.Partitions) {
			l, err := s.openPartition(t, p)
			if err != nil {
				return fmt.Errorf("open %s-%d: %w", t.name, p, err)
			}
			t.parts = append(t.parts, l)
		}
		s.topics[t.name] = t
		s.topicIDs[t.id] = t
	}
	return nil
}

// lookupTopic returns the named topic or nil.
func (s *Server) lookupTopic(name string) *topic {
	s.topicsMu.RLock()
	defer s.topicsMu.RUnlock()
	return s.topics[name]
}

// lookupTopicID returns the topic with the given id or nil.
func (s *Server) lookupTopicID(id [16]byte) *topic {
	s.topicsMu.RLock()
	defer s.topicsMu.RUnlock()
	return s.topicIDs[id]
}

// topicList returns all topics.
func (s *Server) topicList() []*topic {
	s.topicsMu.RLock()
	defer s.topicsMu.RUnlock()
	out := make([]*topic, 0, len(s.topics))
	for _, t := range s.topics {
		out = append(out, t)
	}
	return out
}

// topicError is an error with the Kafka error code to answer with.
type topicError struct {
	code *kerr.Error
	msg  string
}

func (e *topicError) Error() string { return e.msg }

func errCode(code *kerr.Error, format string, args ...any) error {
	return &topicError{code: code, msg: fmt.Sprintf(format, args...)}
}

// kafkaCode maps an error to a Kafka error code and message.
func kafkaCode(err error) (int16, *string) {
	if err == nil {
		return 0, nil
	}
	msg := err.Error()
	var te *topicError
	if errors.As(err, &te) {
		return te.code.Code, &msg
	}
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return ke.Code, &msg
	}
	switch {
	case errors.Is(err, storage.ErrCorruptBatch):
		return kerr.CorruptMessage.Code, &msg
	case errors.Is(err, storage.ErrInvalidRecord):
		return kerr.InvalidRecord.Code, &msg
	case errors.Is(err, storage.ErrBatchTooLarge):
		return kerr.MessageTooLarge.Code, &msg
	case errors.Is(err, storage.ErrOffsetOutOfRange):
		return kerr.OffsetOutOfRange.Code, &msg
	case errors.Is(err, storage.ErrClosed):
		return kerr.UnknownTopicOrPartition.Code, &msg
	case errors.Is(err, storage.ErrLogOffline):
		return kerr.KafkaStorageError.Code, &msg
	}
	return kerr.KafkaStorageError.Code, &msg
}

// CreateTopic creates a topic with the given partition count (-1 for
// num.partitions) and config overrides. It is what CreateTopics and
// auto-creation use, exported for in-process setup by other components.
func (s *Server) CreateTopic(name string, partitions int32, configs map[string]string) error {
	_, err := s.createTopic(name, partitions, configs, false)
	return err
}

func (s *Server) createTopic(name string, partitions int32, configs map[string]string, validateOnly bool) (*topic, error) {
	if err := validTopicName(name); err != nil {
		return nil, errCode(kerr.InvalidTopicException, "%v", err)
	}
	if partitions == -1 {
		partitions = s.cfg.NumPartitions
	}
	if partitions < 1 || partitions > 100000 {
		return nil, errCode(kerr.InvalidPartitions, "partition count %d is not allowed", partitions)
	}
	cfgs := map[string]string{}
	for k, v := range configs {
		if err := validateTopicConfig(k, v); err != nil {
			return nil, errCode(kerr.InvalidConfig, "%v", err)
		}
		cfgs[k] = v
	}
	s.topicsMu.Lock()
	defer s.topicsMu.Unlock()
	if _, ok := s.topics[name]; ok {
		return nil, errCode(kerr.TopicAlreadyExists, "topic %q already exists", name)
	}
	if validateOnly {
		return &topic{name: name, parts: make([]*storage.Log, partitions), configs: cfgs}, nil
	}
	t := &topic{name: name, dir: filepath.Join(s.topicsDir(), name), fs: s.fs, configs: cfgs}
	if _, err := rand.Read(t.id[:]); err != nil {
		return nil, fmt.Errorf("topic id: %w", err)
	}
	// The topic directory's entry in topics/ is fsynced too: without it
	// a power loss could take the whole topic away.
	if err := storage.MkdirDurable(s.fs, t.dir); err != nil {
		return nil, fmt.Errorf("create topic dir: %w", err)
	}
	for p := range int(partitions) {
		l, err := s.openPartition(t, p)
		if err != nil {
			for _, l := range t.parts {
				l.Close()
			}
			s.fs.RemoveAll(t.dir)
			return nil, fmt.Errorf("create %s-%d: %w", name, p, err)
		}
		t.parts = append(t.parts, l)
	}
	if err := t.save(); err != nil {
		for _, l := range t.parts {
			l.Close()
		}
		s.fs.RemoveAll(t.dir)
		return nil, err
	}
	s.topics[name] = t
	s.topicIDs[t.id] = t
	s.log.Info("created topic", "topic", name, "partitions", partitions)
	return t, nil
}

// deleteTopic removes a topic and its data.
func (s *Server) deleteTopic(t *topic) error {
	s.topicsMu.Lock()
	if s.topics[t.name] != t {
		s.topicsMu.Unlock()
		return errCode(kerr.UnknownTopicOrPartition, "topic %q does not exist", t.name)
	}
	delete(s.topics, t.name)
	delete(s.topicIDs, t.id)
	s.topicsMu.Unlock()
	s.metrics.topicDeleted(t.name)

	t.mu.Lock()
	defer t.mu.Unlock()
	for _, l := range t.parts {
		l.Close()
	}
	// Move the directory out of topics/ first so that a crash during the
	// removal cannot leave a half-deleted topic behind; both directories
	// are fsynced so that the deletion survives a power loss.
	trash := filepath.Join(s.cfg.DataDir, "deleted")
	if err := storage.MkdirDurable(s.fs, trash); err != nil {
		return fmt.Errorf("delete topic: %w", err)
	}
	dst := filepath.Join(trash, t.name+"-"+hex.EncodeToString(t.id[:]))
	if err := s.fs.Rename(t.dir, dst); err != nil {
		return fmt.Errorf("delete topic: %w", err)
	}
	if err := s.fs.SyncDir(s.topicsDir()); err != nil {
		return fmt.Errorf("delete topic: %w", err)
	}
	if err := s.fs.SyncDir(trash); err != nil {
		return fmt.Errorf("delete topic: %w", err)
	}
	if err := s.fs.RemoveAll(dst); err != nil {
		return fmt.Errorf("delete topic: %w", err)
	}
	s.log.Info("deleted topic", "topic", t.name)
	return nil
}

// addPartitions grows a topic to count partitions.
func (s *Server) addPartitions(t *topic, count int32, validateOnly bool) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	cur := int32(len(t.parts))
	if count <= cur {
		return errCode(kerr.InvalidPartitions, "topic %q has %d partitions, cannot change to %d", t.name, cur, count)
	}
	if count > 100000 {
		return errCode(kerr.InvalidPartitions, "partition count %d is not allowed", count)
	}
	if validateOnly {
		return nil
	}
	parts := t.parts
	for p := cur; p < count; p++ {
		l, err := s.openPartition(t, int(p))
		if err != nil {
			return fmt.Errorf("create %s-%d: %w", t.name, p, err)
		}
		parts = append(parts, l)
	}
	old := t.parts
	t.parts = parts
	if err := t.save(); err != nil {
		t.parts = old
		return err
	}
	return nil
}

// setTopicConfigs replaces a topic's overrides and applies them to its logs.
func (s *Server) setTopicConfigs(t *topic, configs map[string]string) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	old := t.configs
	t.configs = configs
	if err := t.save(); err != nil {
		t.configs = old
		return err
	}
	sc := s.cfg.storageConfig(configs)
	for _, l := range t.parts {
		l.SetConfig(sc)
	}
	return nil
}
