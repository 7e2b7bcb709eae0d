// Package transforms holds Penstock's single message transforms (SMTs) and
// predicates, and the Chain that runs them for a connector.
//
// Every Kafka Connect transform is here under its Kafka Connect name
// (InsertField, ReplaceField, MaskField, ValueToKey, ExtractField, HoistField,
// Cast, TimestampConverter, RegexRouter, TimestampRouter, Flatten,
// SetSchemaMetadata, InsertHeader, DropHeaders, HeaderFrom, Filter), with the
// $Key and $Value variants where Kafka Connect has them, together with the
// predicates TopicNameMatches, HasHeaderKey and RecordIsTombstone and the
// Debezium transforms users rely on: ExtractNewRecordState ("unwrap"),
// ByLogicalTableRouter and the outbox EventRouter. Each accepts the keys,
// defaults and class names of its counterpart (see Plugins), and works on
// schema'd values (structs) as well as schemaless ones (map[string]any).
//
// # Concurrency
//
// A transform or predicate instance, and a Chain, belongs to one task and is
// used by that task's goroutine only: Apply is not safe for concurrent use.
// That lets each instance keep small unsynchronized caches (output schemas
// keyed by the input *connect.Schema pointer, routed topic names keyed by the
// input topic) so a chain does not rebuild schemas or run regular
// expressions for every record. The caches are bounded: when one is full it
// is emptied and refilled, which costs one rebuild per schema.
//
// Schemas are immutable once in use, so a cache keyed by pointer is exact: a
// producer that makes a new *Schema per record defeats the cache (it still
// works, only slower).
//
// # Errors
//
// Configure reports every bad key at once, naming the transform and key. A
// record a transform cannot handle yields a *RecordError naming the
// transform, the field and the record (topic, partition, offset); the Chain
// wraps it in a *StageError naming the transform's alias.
package transforms
