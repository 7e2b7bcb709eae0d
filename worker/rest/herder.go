// Package rest is the worker's REST management API in Kafka Connect's shape:
// the same paths, status codes, JSON bodies and error bodies
// ({"error_code", "message"}), so Kafka Connect's tools and habits work.
//
// The API serves a Herder, the part of the worker that owns connector
// configurations, target states and statuses. It holds no state of its own.
package rest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/penstockhq/penstock/connect/config"
)

// Herder is what the REST API needs of the worker. Every method is safe for
// concurrent use. Errors are *Error values where the status matters (404,
// 409, 400); any other error answers 500.
type Herder interface {
	// Connectors returns the names of all connectors, sorted.
	Connectors(ctx context.Context) ([]string, error)
	// ConnectorInfo returns a connector's name, config, tasks and type.
	ConnectorInfo(ctx context.Context, name string) (ConnectorInfo, error)
	// ConnectorConfig returns a connector's configuration, passwords masked.
	ConnectorConfig(ctx context.Context, name string) (map[string]string, error)
	// PutConnectorConfig creates a connector, or replaces its configuration
	// when allowReplace; created says which happened. An identical config for
	// an existing connector is not a conflict even without allowReplace
	// (create is idempotent). initialState applies to creation only; "" means
	// RUNNING.
	PutConnectorConfig(ctx context.Context, name string, cfg map[string]string, initialState string, allowReplace bool) (info ConnectorInfo, created bool, err error)
	// PatchConnectorConfig merges patch into the config; a nil value removes a key.
	PatchConnectorConfig(ctx context.Context, name string, patch map[string]*string) (ConnectorInfo, error)
	// DeleteConnector stops and removes a connector.
	DeleteConnector(ctx context.Context, name string) error
	// ConnectorStatus returns the connector's and its tasks' states.
	ConnectorStatus(ctx context.Context, name string) (ConnectorStateInfo, error)
	// TaskStatus returns one task's state.
	TaskStatus(ctx context.Context, name string, task int) (TaskState, error)
	// Tasks returns the task configurations, passwords masked.
	Tasks(ctx context.Context, name string) ([]TaskInfo, error)
	// RestartConnector restarts the connector and, per the flags, its tasks.
	// It returns the status with RESTARTING states when includeTasks or
	// onlyFailed is set (the API answers 202), nil otherwise (204).
	RestartConnector(ctx context.Context, name string, includeTasks, onlyFailed bool) (*ConnectorStateInfo, error)
	// RestartTask restarts one task.
	RestartTask(ctx context.Context, name string, task int) error
	// PauseConnector, ResumeConnector and StopConnector set the target state.
	PauseConnector(ctx context.Context, name string) error
	ResumeConnector(ctx context.Context, name string) error
	StopConnector(ctx context.Context, name string) error
	// Offsets returns the connector's offsets (source: source partitions and
	// offsets; sink: consumer group offsets in Kafka Connect's sink form).
	Offsets(ctx context.Context, name string) (ConnectorOffsets, error)
	// AlterOffsets writes offsets (a nil Offset resets that partition); the
	// connector must be STOPPED. It returns the message of the 200 body.
	AlterOffsets(ctx context.Context, name string, offsets ConnectorOffsets) (string, error)
	// ResetOffsets removes all of a STOPPED connector's offsets.
	ResetOffsets(ctx context.Context, name string) (string, error)
	// ActiveTopics returns the topics the connector used since the last reset.
	ActiveTopics(ctx context.Context, name string) ([]string, error)
	// ResetActiveTopics forgets the connector's active topics.
	ResetActiveTopics(ctx context.Context, name string) error
	// Plugins lists the installed plugins; connectorsOnly keeps sources and sinks.
	Plugins(connectorsOnly bool) []PluginInfo
	// PluginConfig returns a plugin's config keys.
	PluginConfig(plugin string) ([]config.KeyInfo, error)
	// ValidateConfig validates a connector configuration, with the worker's
	// own connector keys (name, tasks.max, transforms, errors.*...) included.
	ValidateConfig(ctx context.Context, cfg map[string]string) (config.Infos, error)
	// Health returns nil when the worker serves requests, an *Error with
	// status 503 while starting, another error when unhealthy.
	Health(ctx context.Context) error
	// ServerInfo returns what GET / shows.
	ServerInfo(ctx context.Context) (ServerInfo, error)
}

// ServerInfo is the body of GET /.
type ServerInfo struct {
	Version        string `json:"version"`
	Commit         string `json:"commit"`
	KafkaClusterID string `json:"kafka_cluster_id"`
}

// ConnectorInfo is Kafka Connect's ConnectorInfo.
type ConnectorInfo struct {
	Name   string            `json:"name"`
	Config map[string]string `json:"config"`
	Tasks  []TaskID          `json:"tasks"`
	Type   string            `json:"type"` // "source" or "sink"
}

// TaskID names a task of a connector.
type TaskID struct {
	Connector string `json:"connector"`
	Task      int    `json:"task"`
}

// TaskInfo is one element of GET /connectors/{c}/tasks.
type TaskInfo struct {
	ID     TaskID            `json:"id"`
	Config map[string]string `json:"config"`
}

// ConnectorStateInfo is Kafka Connect's ConnectorStateInfo (GET .../status).
type ConnectorStateInfo struct {
	Name      string         `json:"name"`
	Connector ConnectorState `json:"connector"`
	Tasks     []TaskState    `json:"tasks"`
	Type      string         `json:"type"`
}

// ConnectorState is a connector's state on a worker.
type ConnectorState struct {
	State    string `json:"state"`
	WorkerID string `json:"worker_id"`
	Trace    string `json:"trace,omitempty"`
}

// TaskState is a task's state on a worker.
type TaskState struct {
	ID       int    `json:"id"`
	State    string `json:"state"`
	WorkerID string `json:"worker_id"`
	Trace    string `json:"trace,omitempty"`
}

// The states of connectors and tasks.
const (
	StateUnassigned = "UNASSIGNED"
	StateRunning    = "RUNNING"
	StatePaused     = "PAUSED"
	StateStopped    = "STOPPED"
	StateFailed     = "FAILED"
	StateRestarting = "RESTARTING"
)

// ConnectorOffsets is the body of GET/PATCH /connectors/{c}/offsets.
type ConnectorOffsets struct {
	Offsets []PartitionOffset `json:"offsets"`
}

// PartitionOffset is one partition's offset. Sink connectors use the
// partition {"kafka_topic","kafka_partition"} and offset {"kafka_offset"}.
type PartitionOffset struct {
	Partition map[string]any `json:"partition"`
	Offset    map[string]any `json:"offset"`
}

// PluginInfo is one element of GET /connector-plugins.
type PluginInfo struct {
	Class   string `json:"class"`
	Type    string `json:"type"`
	Version string `json:"version,omitempty"`
}

// Error is an error with the HTTP status the API answers for it.
type Error struct {
	Status  int
	Message string
	// RetryAfter, when set on a 409, becomes a Retry-After header: the
	// request can succeed once the group settles.
	RetryAfter time.Duration
}

// Error returns the message the API answers with.
func (e *Error) Error() string { return e.Message }

// NotFound returns a 404 error.
func NotFound(format string, args ...any) *Error {
	return &Error{Status: http.StatusNotFound, Message: fmt.Sprintf(format, args...)}
}

// Conflict returns a 409 error.
func Conflict(format string, args ...any) *Error {
	return &Error{Status: http.StatusConflict, Message: fmt.Sprintf(format, args...)}
}

// BadRequest returns a 400 error.
func BadRequest(format string, args ...any) *Error {
	return &Error{Status: http.StatusBadRequest, Message: fmt.Sprintf(format, args...)}
}

// StatusOf returns the HTTP status for err: an *Error's own, 500 otherwise.
func StatusOf(err error) int {
	var e *Error
	if errors.As(err, &e) {
		return e.Status
	}
	return http.StatusInternalServerError
}
