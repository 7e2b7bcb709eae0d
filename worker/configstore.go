package worker

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/penstockhq/penstock/internal/topiclog"
)

// Target states as the config topic stores them (state.v2).
const (
	targetStarted = "STARTED"
	targetPaused  = "PAUSED"
	targetStopped = "STOPPED"
)

// restartRequest is a restart-connector-<name> record.
type restartRequest struct {
	Connector    string `json:"-"`
	IncludeTasks bool   `json:"include-tasks"`
	OnlyFailed   bool   `json:"only-failed"`
}

// configSnapshot is the cluster's connector state as read from the config
// topic (Kafka Connect's ClusterConfigState).
type configSnapshot struct {
	offset      int64
	connectors  map[string]map[string]string
	targets     map[string]string
	taskConfigs map[string][]map[string]string // committed task configs
}

func (s *configSnapshot) target(name string) string {
	if t, ok := s.targets[name]; ok {
		return t
	}
	return targetStarted
}

// configStore is the config topic: connector configs, task configs applied
// on their commit record, target states and restart requests, in Kafka
// Connect's record format.
type configStore struct {
	log  *topiclog.Log
	slog *slog.Logger

	mu       sync.Mutex
	state    configSnapshot
	pending  map[string]map[int]map[string]string // task-* records waiting for their commit
	restarts []restartRequest
	notify   func()
	key      *sessionKey // the session-key record, signing requests between workers
}

// sessionKey is the session-key record: Kafka Connect's format.
type sessionKey struct {
	Key       string `json:"key"` // base64
	Algorithm string `json:"algorithm"`
	Created   int64  `json:"creation-timestamp"`
}

func openConfigStore(ctx context.Context, cfg *Config, opts []kgo.Opt, lg *slog.Logger, notify func()) (*configStore, error) {
	s := &configStore{slog: lg, notify: notify, pending: map[string]map[int]map[string]string{},
		state: configSnapshot{offset: -1, connectors: map[string]map[string]string{}, targets: map[string]string{}, taskConfigs: map[string][]map[string]string{}}}
	l, err := topiclog.Open(ctx, topiclog.Config{Topic: cfg.ConfigTopic, Partitions: 1, ReplicationFactor: cfg.ConfigReplication,
		ClientOpts: opts, Apply: s.apply, Logger: lg})
	if err != nil {
		return nil, fmt.Errorf("config store: %w", err)
	}
	s.log = l
	return s, nil
}

func (s *configStore) close() { s.log.Close() }

func (s *configStore) readToEnd(ctx context.Context) error { return s.log.ReadToEnd(ctx) }

type propsValue struct {
	Properties map[string]string `json:"properties"`
}

func (s *configStore) apply(r *kgo.Record) {
	key := string(r.Key)
	s.mu.Lock()
	defer func() {
		s.state.offset = r.Offset
		s.mu.Unlock()
		if s.notify != nil {
			s.notify()
		}
	}()
	switch {
	case strings.HasPrefix(key, "connector-"):
		name := strings.TrimPrefix(key, "connector-")
		if r.Value == nil {
			delete(s.state.connectors, name)
			delete(s.state.taskConfigs, name)
			delete(s.state.targets, name)
			delete(s.pending, name)
			return
		}
		var v propsValue
		if err := json.Unmarshal(r.Value, &v); err != nil || v.Properties == nil {
			s.slog.Warn("config store: ignoring unreadable connector config", "key", key, "err", err)
			return
		}
		s.state.connectors[name] = v.Properties
	case strings.HasPrefix(key, "task-"):
		name, n, ok := splitTaskKey(strings.TrimPrefix(key, "task-"))
		if !ok {
			s.slog.Warn("config store: ignoring task config with a bad key", "key", key)
			return
		}
		var v propsValue
		if r.Value != nil {
			if err := json.Unmarshal(r.Value, &v); err != nil {
				s.slog.Warn("config store: ignoring unreadable task config", "key", key, "err", err)
				return
			}
		}
		if s.pending[name] == nil {
			s.pending[name] = map[int]map[string]string{}
		}
		s.pending[name][n] = v.Properties
	case strings.HasPrefix(key, "commit-"):
		name := strings.TrimPrefix(key, "commit-")
		var v struct {
			Tasks int `json:"tasks"`
		}
		if r.Value == nil {
			return
		}
		if err := json.Unmarshal(r.Value, &v); err != nil {
			s.slog.Warn("config store: ignoring unreadable commit", "key", key, "err", err)
			return
		}
		tasks := make([]map[string]string, v.Tasks)
		for i := range tasks {
			tc, ok := s.pending[name][i]
			if !ok {
				// Kafka Connect keeps the previous configs when a commit
				// names tasks it never read: the topic was compacted
				// between task and commit records of an older generation.
				if prev := s.state.taskConfigs[name]; i < len(prev) {
					tc = prev[i]
				} else {
					s.slog.Warn("config store: commit names a task config that was never written", "connector", name, "task", i)
					tc = map[string]string{}
				}
			}
			tasks[i] = tc
		}
		s.state.taskConfigs[name] = tasks
		delete(s.pending, name)
	case strings.HasPrefix(key, "target-state-"):
		name := strings.TrimPrefix(key, "target-state-")
		if r.Value == nil {
			delete(s.state.targets, name)
			return
		}
		var v struct {
			State   string `json:"state"`
			StateV2 string `json:"state.v2"`
		}
		if err := json.Unmarshal(r.Value, &v); err != nil {
			s.slog.Warn("config store: ignoring unreadable target state", "key", key, "err", err)
			return
		}
		st := v.StateV2
		if st == "" {
			st = v.State
		}
		switch st {
		case targetStarted, targetPaused, targetStopped:
			s.state.targets[name] = st
		default:
			s.slog.Warn("config store: ignoring unknown target state", "key", key, "state", st)
		}
	case strings.HasPrefix(key, "restart-connector-"):
		if r.Value == nil {
			return
		}
		req := restartRequest{Connector: strings.TrimPrefix(key, "restart-connector-")}
		if err := json.Unmarshal(r.Value, &req); err != nil {
			s.slog.Warn("config store: ignoring unreadable restart request", "key", key, "err", err)
			return
		}
		s.restarts = append(s.restarts, req)
	case key == "session-key":
		if r.Value == nil {
			s.key = nil
			return
		}
		var k sessionKey
		if err := json.Unmarshal(r.Value, &k); err != nil || k.Key == "" {
			s.slog.Warn("config store: ignoring unreadable session key", "err", err)
			return
		}
		s.key = &k
	default:
		s.slog.Debug("config store: ignoring unknown key", "key", key)
	}
}

func splitTaskKey(s string) (string, int, bool) {
	i := strings.LastIndexByte(s, '-')
	if i <= 0 {
		return "", 0, false
	}
	n, err := strconv.Atoi(s[i+1:])
	if err != nil || n < 0 {
		return "", 0, false
	}
	return s[:i], n, true
}

// snapshot returns a deep-enough copy of the state: maps are copied, the
// property maps inside are never modified in place and are shared.
func (s *configStore) snapshot() configSnapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := configSnapshot{offset: s.state.offset, connectors: maps.Clone(s.state.connectors),
		targets: maps.Clone(s.state.targets), taskConfigs: maps.Clone(s.state.taskConfigs)}
	return out
}

func (s *configStore) connectorNames() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	names := make([]string, 0, len(s.state.connectors))
	for n := range s.state.connectors {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func (s *configStore) connector(name string) (map[string]string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.state.connectors[name]
	return c, ok
}

// takeRestarts returns and forgets the restart requests read so far.
func (s *configStore) takeRestarts() []restartRequest {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.restarts
	s.restarts = nil
	return r
}

func (s *configStore) putConnector(ctx context.Context, name string, props map[string]string) error {
	b, err := json.Marshal(propsValue{Properties: props})
	if err != nil {
		return err
	}
	return s.log.Send(ctx, []byte("connector-"+name), b)
}

func (s *configStore) deleteConnector(ctx context.Context, name string) error {
	if err := s.log.Send(ctx, []byte("connector-"+name), nil); err != nil {
		return err
	}
	return s.log.Send(ctx, []byte("target-state-"+name), nil)
}

func (s *configStore) putTarget(ctx context.Context, name, state string) error {
	v1 := state
	if state == targetStopped {
		v1 = targetPaused // what workers that know no STOPPED understand
	}
	b, _ := json.Marshal(map[string]string{"state": v1, "state.v2": state})
	return s.log.Send(ctx, []byte("target-state-"+name), b)
}

// putTaskConfigs writes task-<name>-<n> records then commit-<name>: the
// task configs apply when the commit is read.
func (s *configStore) putTaskConfigs(ctx context.Context, name string, tasks []map[string]string) error {
	for i, tc := range tasks {
		b, err := json.Marshal(propsValue{Properties: tc})
		if err != nil {
			return err
		}
		if err := s.log.Send(ctx, []byte(fmt.Sprintf("task-%s-%d", name, i)), b); err != nil {
			return err
		}
	}
	b, _ := json.Marshal(map[string]int{"tasks": len(tasks)})
	return s.log.Send(ctx, []byte("commit-"+name), b)
}

func (s *configStore) putRestart(ctx context.Context, req restartRequest) error {
	b, _ := json.Marshal(req)
	return s.log.Send(ctx, []byte("restart-connector-"+req.Connector), b)
}

// sessionKey returns the current session key, nil when none was written.
func (s *configStore) sessionKey() *sessionKey {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.key
}

func (s *configStore) putSessionKey(ctx context.Context, k sessionKey) error {
	b, _ := json.Marshal(k)
	return s.log.Send(ctx, []byte("session-key"), b)
}
