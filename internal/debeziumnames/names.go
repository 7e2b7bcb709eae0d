// Package debeziumnames holds the names Debezium gives its semantic
// (logical) types and the fields of its change event envelope: the
// vocabulary that CDC connectors write and that sinks and transforms read.
//
// It is a leaf with no imports so that every side can share it:
// connectors/debezium builds events with these names, the Elasticsearch
// sink maps them, and transforms (which may import connect only, see
// DESIGN.md) recognise them without depending on a connector package. It is
// internal because the names are Debezium's, not part of Penstock's public
// connector API; connectors/debezium's schema constructors are the public
// way to make values of these types.
package debeziumnames

// Debezium's semantic type names, as they appear in Schema.Name.
const (
	Date                 = "io.debezium.time.Date"
	Time                 = "io.debezium.time.Time"
	MicroTime            = "io.debezium.time.MicroTime"
	NanoTime             = "io.debezium.time.NanoTime"
	Timestamp            = "io.debezium.time.Timestamp"
	MicroTimestamp       = "io.debezium.time.MicroTimestamp"
	NanoTimestamp        = "io.debezium.time.NanoTimestamp"
	ZonedTimestamp       = "io.debezium.time.ZonedTimestamp"
	ZonedTime            = "io.debezium.time.ZonedTime"
	MicroDuration        = "io.debezium.time.MicroDuration"
	Year                 = "io.debezium.time.Year"
	UUID                 = "io.debezium.data.Uuid"
	JSON                 = "io.debezium.data.Json"
	XML                  = "io.debezium.data.Xml"
	Enum                 = "io.debezium.data.Enum"
	EnumSet              = "io.debezium.data.EnumSet"
	Bits                 = "io.debezium.data.Bits"
	VariableScaleDecimal = "io.debezium.data.VariableScaleDecimal"
)

// Field names of Debezium's change event envelope.
const (
	FieldBefore      = "before"
	FieldAfter       = "after"
	FieldSource      = "source"
	FieldTransaction = "transaction"
	FieldOp          = "op"
	FieldTsMs        = "ts_ms"
	FieldTsUs        = "ts_us"
	FieldTsNs        = "ts_ns"
)

// EnvelopeSuffix ends the schema name of every change event value
// (<topic.prefix>.<db or schema>.<table>.Envelope).
const EnvelopeSuffix = ".Envelope"
