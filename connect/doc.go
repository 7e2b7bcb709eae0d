// Package connect is the API a Penstock connector author imports: the data
// model (schemas, structs, schemaless values), records, the connector and task
// interfaces for sources and sinks with the contexts the runtime hands them,
// and the interfaces of converters, transformations and predicates.
//
// It mirrors Kafka Connect's connect-api in Go idiom: calls take a
// context.Context first and return errors instead of throwing.
//
// # Values and schemas
//
// A value is either schema'd (its *Schema says what it is) or schemaless
// (Schema nil). Go types per schema type:
//
//	boolean bool      int8 int8      int16 int16    int32 int32   int64 int64
//	float   float32   double float64 string string  bytes []byte
//	array   []any     map map[string]any (string keys) or map[any]any
//	struct  *Struct
//
// Logical types keep Kafka Connect's names and encodings: Decimal
// (bytes, value Decimal), Date (int32 days, value time.Time), Time (int32
// milliseconds of the day, value time.Time) and Timestamp (int64 milliseconds,
// value time.Time). Schemaless values are what encoding/json produces, plus the
// Go scalar types above.
//
// # Writing a source connector
//
// Implement SourceConnector: Config describes the keys, Start receives the
// validated properties, TaskConfigs splits the work into at most maxTasks task
// property maps, and NewTask returns a SourceTask. The runtime calls the task's
// Poll in a loop; each returned Record carries a SourcePartition and a
// SourceOffset. After the broker acknowledged a record and the runtime flushed
// its offset, a task implementing SourceTaskCommitter hears of it through
// Commit: the moment a CDC task may confirm its position to the database. On
// restart, the task reads its last flushed offset through
// SourceTaskContext.Offset.
//
// # Writing a sink connector
//
// Implement SinkConnector and SinkTask: Put receives records (they carry their
// Kafka topic, partition and Offset) and may buffer them; Flush must make
// durable everything Put received up to the given offsets, and only then does
// the runtime commit those offsets. A record that cannot be written goes to
// SinkTaskContext.Report, which routes it per the connector's errors.*
// settings (for example to a dead letter queue) instead of failing the task.
package connect
