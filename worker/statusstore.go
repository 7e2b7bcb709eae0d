package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/penstockhq/penstock/internal/topiclog"
	"github.com/penstockhq/penstock/worker/rest"
)

// status is a status-connector-* or status-task-* value.
type status struct {
	State      string `json:"state"`
	Trace      string `json:"trace,omitempty"`
	WorkerID   string `json:"worker_id"`
	Generation int64  `json:"generation"`
}

// topicStatus is a status-topic-<topic>:connector-<name> value.
type topicStatus struct {
	Topic struct {
		Name              string `json:"name"`
		Connector         string `json:"connector"`
		Task              int    `json:"task"`
		DiscoverTimestamp int64  `json:"discoverTimestamp"`
	} `json:"topic"`
}

// statusStore is the status topic: connector and task states and the
// topics each connector used, in Kafka Connect's format. Writes update the
// local view at once and reach the topic asynchronously; the view also
// follows what other workers write.
type statusStore struct {
	log  *topiclog.Log
	slog *slog.Logger

	// generation returns the group generation statuses are written in
	// (the "generation" field, as Kafka Connect writes it); nil: 0.
	generation func() int64

	mu     sync.RWMutex
	states map[string]status          // status key -> status
	topics map[string]map[string]bool // connector -> topics
}

func openStatusStore(ctx context.Context, cfg *Config, opts []kgo.Opt, lg *slog.Logger) (*statusStore, error) {
	s := &statusStore{slog: lg, states: map[string]status{}, topics: map[string]map[string]bool{}}
	l, err := topiclog.Open(ctx, topiclog.Config{Topic: cfg.StatusTopic, Partitions: cfg.StatusPartitions, ReplicationFactor: cfg.StatusReplication,
		ClientOpts: opts, Apply: s.apply, Logger: lg})
	if err != nil {
		return nil, fmt.Errorf("status store: %w", err)
	}
	s.log = l
	return s, nil
}

func (s *statusStore) close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = s.log.Flush(ctx)
	s.log.Close()
}

func connectorStatusKey(name string) string { return "status-connector-" + name }

func taskStatusKey(name string, task int) string { return fmt.Sprintf("status-task-%s-%d", name, task) }

func topicStatusKey(topic, connector string) string {
	return "status-topic-" + topic + ":connector-" + connector
}

func (s *statusStore) apply(r *kgo.Record) {
	key := string(r.Key)
	s.mu.Lock()
	defer s.mu.Unlock()
	if strings.HasPrefix(key, "status-topic-") {
		rest := strings.TrimPrefix(key, "status-topic-")
		i := strings.LastIndex(rest, ":connector-")
		if i < 0 {
			return
		}
		topic, conn := rest[:i], rest[i+len(":connector-"):]
		if r.Value == nil {
			delete(s.topics[conn], topic)
			return
		}
		if s.topics[conn] == nil {
			s.topics[conn] = map[string]bool{}
		}
		s.topics[conn][topic] = true
		return
	}
	if r.Value == nil {
		delete(s.states, key)
		return
	}
	var st status
	if err := json.Unmarshal(r.Value, &st); err != nil {
		s.slog.Warn("status store: ignoring unreadable status", "key", key, "err", err)
		return
	}
	s.states[key] = st
}

func (s *statusStore) get(key string) (status, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	st, ok := s.states[key]
	return st, ok
}

// workerIDs returns the workers that tasks' statuses name, unless the task
// is unassigned: the workers running something.
func (s *statusStore) workerIDs() []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	seen := map[string]bool{}
	var out []string
	for key, st := range s.states {
		if strings.HasPrefix(key, "status-task-") && st.WorkerID != "" && st.State != rest.StateUnassigned && !seen[st.WorkerID] {
			seen[st.WorkerID] = true
			out = append(out, st.WorkerID)
		}
	}
	return out
}

// put records a state locally and writes it to the topic in the background.
func (s *statusStore) put(key string, st status) {
	if st.Generation == 0 && s.generation != nil {
		st.Generation = s.generation()
	}
	s.mu.Lock()
	s.states[key] = st
	s.mu.Unlock()
	b, _ := json.Marshal(st)
	s.log.SendAsync(context.Background(), []byte(key), b, func(err error) {
		if err != nil {
			s.slog.Warn("status store: write failed", "key", key, "err", err)
		}
	})
}

// flush waits until every status written so far is acknowledged.
func (s *statusStore) flush(ctx context.Context) error { return s.log.Flush(ctx) }

// putSafe is put unless another worker wrote the status in a later
// generation (Kafka Connect's putSafe): a worker that stopped a task never
// overwrites the RUNNING of the task's new owner.
func (s *statusStore) putSafe(key string, st status) {
	if st.Generation == 0 && s.generation != nil {
		st.Generation = s.generation()
	}
	s.mu.RLock()
	cur, ok := s.states[key]
	s.mu.RUnlock()
	if ok && cur.WorkerID != st.WorkerID && cur.Generation > st.Generation {
		return
	}
	s.put(key, st)
}

// remove forgets a status and writes its tombstone.
func (s *statusStore) remove(key string) {
	s.mu.Lock()
	delete(s.states, key)
	s.mu.Unlock()
	s.log.SendAsync(context.Background(), []byte(key), nil, nil)
}

// addTopic records that a connector used a topic; it writes only the first time.
func (s *statusStore) addTopic(connector string, task int, topic string) {
	s.mu.Lock()
	if s.topics[connector][topic] {
		s.mu.Unlock()
		return
	}
	if s.topics[connector] == nil {
		s.topics[connector] = map[string]bool{}
	}
	s.topics[connector][topic] = true
	s.mu.Unlock()
	var v topicStatus
	v.Topic.Name, v.Topic.Connector, v.Topic.Task, v.Topic.DiscoverTimestamp = topic, connector, task, time.Now().UnixMilli()
	b, _ := json.Marshal(v)
	s.log.SendAsync(context.Background(), []byte(topicStatusKey(topic, connector)), b, nil)
}

func (s *statusStore) activeTopics(connector string) []string {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]string, 0, len(s.topics[connector]))
	for t := range s.topics[connector] {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// resetTopics forgets a connector's active topics, with acknowledged tombstones.
func (s *statusStore) resetTopics(ctx context.Context, connector string) error {
	s.mu.Lock()
	topics := s.topics[connector]
	delete(s.topics, connector)
	s.mu.Unlock()
	for t := range topics {
		if err := s.log.Send(ctx, []byte(topicStatusKey(t, connector)), nil); err != nil {
			return err
		}
	}
	return nil
}
