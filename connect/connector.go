package connect

import (
	"context"

	"github.com/penstockhq/penstock/connect/config"
)

// Configurable is what every plugin has: the definition of the keys it accepts.
type Configurable interface {
	Config() *config.Def
}

// Connector is the part of a connector that runs once per connector, on one
// worker: it receives the connector's configuration and splits the work into
// task configurations.
type Connector interface {
	Configurable
	// Start begins the connector with its validated properties. The context is
	// the connector's lifetime: it is cancelled when the connector stops.
	Start(ctx context.Context, cctx ConnectorContext, props map[string]string) error
	// TaskConfigs returns the property maps of at most maxTasks tasks.
	TaskConfigs(maxTasks int) ([]map[string]string, error)
	// Stop releases what Start acquired.
	Stop() error
}

// SourceConnector is a Connector whose tasks read from an outside system.
type SourceConnector interface {
	Connector
	NewTask() SourceTask
}

// SinkConnector is a Connector whose tasks write to an outside system.
type SinkConnector interface {
	Connector
	NewTask() SinkTask
}

// ConfigValidator is implemented by connectors whose keys depend on each
// other: after each key passed its own checks, ValidateConfig adds
// cross-key problems to the result.
type ConfigValidator interface {
	ValidateConfig(props map[string]string, infos *config.Infos)
}

// ConnectorContext is the runtime as seen by a Connector.
type ConnectorContext interface {
	// RequestTaskReconfiguration asks the runtime to call TaskConfigs again,
	// e.g. because the set of tables to capture changed.
	RequestTaskReconfiguration()
	// RaiseError fails the connector with err, as if Start had returned it.
	RaiseError(err error)
	// Offsets reads source offsets (source connectors; sinks get a reader that
	// finds nothing).
	Offsets() OffsetReader
}

// OffsetReader reads the last flushed offset of source partitions.
type OffsetReader interface {
	// Offset returns the offset stored for partition, or nil when none is.
	Offset(ctx context.Context, partition map[string]any) (map[string]any, error)
}

// SourceTask reads records from an outside system.
type SourceTask interface {
	// Start begins the task with its task properties. The context is the
	// task's lifetime.
	Start(ctx context.Context, tctx SourceTaskContext, props map[string]string) error
	// Poll returns the next records, blocking until some are ready, ctx is
	// done, or a short while passed (then it returns none). An error fails
	// the task unless it is Retriable. Records returned together with an
	// error are sent before the error is handled.
	Poll(ctx context.Context) ([]*Record, error)
	// Stop ends the task; Poll is not called again.
	Stop() error
}

// SourceOffset is one source partition's offset.
type SourceOffset struct {
	Partition map[string]any
	Offset    map[string]any
}

// SourceTaskCommitter is implemented by source tasks that must hear when
// their offsets are safe: Commit is called after the broker acknowledged every
// record up to these offsets and the offsets were flushed, with the latest
// flushed offset of each source partition. A CDC task confirms its position
// to the database here, never earlier.
type SourceTaskCommitter interface {
	Commit(ctx context.Context, flushed []SourceOffset) error
}

// SourceRecordCommitter is implemented by source tasks that must hear of
// each record as soon as its fate is known (Kafka Connect's
// SourceTask.commitRecord), e.g. to answer the caller that handed the record
// over. CommitRecord is called once per record Poll returned, possibly from
// the producer's goroutine, with rec being that record or a transformed copy
// (its SourcePartition and SourceOffset are the maps Poll set): err is nil
// once the broker acknowledged the record or a transform dropped it, and the
// reason when the record did not reach its topic (routed by errors.tolerance,
// or failing the task). It is not called for records abandoned when the task
// stops. It must not block.
type SourceRecordCommitter interface {
	CommitRecord(rec *Record, err error)
}

// SourceTaskContext is the runtime as seen by a SourceTask.
type SourceTaskContext interface {
	TaskContext
	// Offsets reads the task's flushed offsets, to resume after a restart.
	Offsets() OffsetReader
}

// TaskContext is what every task can ask of the runtime.
type TaskContext interface {
	// ConnectorName is the name of the task's connector.
	ConnectorName() string
	// TaskID is the task's number within its connector, from 0.
	TaskID() int
}

// SinkTask writes records to an outside system.
type SinkTask interface {
	// Start begins the task with its task properties.
	Start(ctx context.Context, tctx SinkTaskContext, props map[string]string) error
	// Put hands the task records to write. It may buffer them: only Flush
	// promises durability. An error fails the task unless it is Retriable, in
	// which case the same records are put again after a backoff.
	Put(ctx context.Context, records []*Record) error
	// Flush makes durable every record Put received up to the given offsets
	// (the next offset to read, per partition). After it returns nil the
	// runtime commits those offsets.
	Flush(ctx context.Context, offsets map[TopicPartition]int64) error
	// Stop ends the task.
	Stop() error
}

// SinkPreCommitter is implemented by sink tasks that write asynchronously:
// PreCommit returns, per partition, the offsets that are safe to commit
// (which may be behind those given). Without it, the runtime calls Flush and
// commits the given offsets.
type SinkPreCommitter interface {
	PreCommit(ctx context.Context, offsets map[TopicPartition]int64) (map[TopicPartition]int64, error)
}

// SinkRecordReleaser is implemented by sink tasks that never use the
// records of a Put, nor the slice, after Put returns: they write or copy what
// they need within Put, and report failures (SinkTaskContext.Report) from
// within it, or later with copies of their own (the runtime then renders the
// dead letter queue copy from the record given). ReleasesRecords returning
// true lets the runtime reuse the records' memory for the next Put instead
// of allocating each batch anew.
// Without it, records stay the task's: Kafka Connect's sinks may keep the
// records they are put until a flush, and Penstock's may too.
type SinkRecordReleaser interface {
	ReleasesRecords() bool
}

// SinkPartitionHandler is implemented by sink tasks that keep per-partition
// state: Open is called when partitions are assigned to the task, Close when
// they are taken away (after a final flush).
type SinkPartitionHandler interface {
	Open(ctx context.Context, partitions []TopicPartition) error
	Close(ctx context.Context, partitions []TopicPartition) error
}

// SinkTaskContext is the runtime as seen by a SinkTask.
type SinkTaskContext interface {
	TaskContext
	// Assignment returns the partitions the task currently reads.
	Assignment() []TopicPartition
	// Pause stops the partitions' records until Resume: after the Put in
	// progress, no more of their records are put (those fetched but not
	// yet put are fetched again after Resume), as Kafka's consumer returns
	// no records of paused partitions.
	Pause(partitions ...TopicPartition)
	// Resume restarts fetching from paused partitions.
	Resume(partitions ...TopicPartition)
	// Rewind makes the next fetch of each partition start at the given offset.
	Rewind(offsets map[TopicPartition]int64)
	// RequestCommit asks for a flush and commit as soon as possible.
	RequestCommit()
	// Report routes a record the task could not write, with the reason,
	// according to the connector's errors.* settings: to the dead letter
	// queue, the log, or nowhere. It returns an error when the task must fail
	// instead (errors.tolerance=none), which the task returns from Put.
	Report(ctx context.Context, rec *Record, err error) error
}

// RecordError is a record's failure with context of the connector's own
// for the record's dead letter queue copy: a sink passes it (or an error
// wrapping it) to SinkTaskContext.Report, and the runtime adds its Headers
// to the dead letter record after Kafka Connect's __connect.errors.*
// headers, when errors.deadletterqueue.context.headers.enable is true.
// Kafka Connect has no counterpart: its dead letter records carry only the
// error's class, message and stack trace.
//
// Header values are written as text: a string or []byte as is, anything
// else as fmt.Sprint renders it; Schema is ignored. Name the keys after the
// connector ("penstock.http.status") so they cannot be mistaken for the
// record's own headers.
type RecordError struct {
	Err     error
	Headers Headers
}

// Error returns the wrapped error's text: the headers are context, not message.
func (e *RecordError) Error() string { return e.Err.Error() }

// Unwrap returns the wrapped error.
func (e *RecordError) Unwrap() error { return e.Err }

// RetriableError marks an error after which the runtime retries the same
// call (Poll or Put) after a backoff instead of failing the task.
type RetriableError struct{ Err error }

// Error says the error is retriable and why.
func (e *RetriableError) Error() string { return "retriable: " + e.Err.Error() }

// Unwrap returns the wrapped error.
func (e *RetriableError) Unwrap() error { return e.Err }

// Retriable wraps err as a RetriableError; Retriable(nil) is nil.
func Retriable(err error) error {
	if err == nil {
		return nil
	}
	return &RetriableError{Err: err}
}
