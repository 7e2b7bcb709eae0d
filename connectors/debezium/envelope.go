package debezium

import (
	"time"

	"github.com/penstockhq/penstock/connect"
	names "github.com/penstockhq/penstock/internal/debeziumnames"
)

// Values of the envelope's op field.
const (
	OpCreate   = "c"
	OpRead     = "r" // a row read by a snapshot
	OpUpdate   = "u"
	OpDelete   = "d"
	OpTruncate = "t"
	OpMessage  = "m" // a logical decoding message (Postgres)
)

// Positions of the envelope's fields in a schema made by EnvelopeSchema.
const (
	EnvBefore = iota
	EnvAfter
	EnvSource
	EnvTransaction
	EnvOp
	EnvTsMs
	EnvTsUs
	EnvTsNs
)

var transactionBlockSchema = func() *connect.Schema {
	s := connect.NewStructSchema("event.block",
		connect.F("id", connect.StringSchema),
		connect.F("total_order", connect.Int64Schema),
		connect.F("data_collection_order", connect.Int64Schema))
	s.Version = 1
	s.Optional = true
	return s
}()

// TransactionBlockSchema returns the schema of the envelope's optional
// transaction block {id, total_order, data_collection_order}. It is shared:
// do not modify it.
func TransactionBlockSchema() *connect.Schema { return transactionBlockSchema }

// TransactionBlock returns an envelope's transaction block: the event is the
// totalOrder-th of transaction id and the collectionOrder-th of its table in
// it (both from 1).
func TransactionBlock(id string, totalOrder, collectionOrder int64) *connect.Struct {
	b := connect.NewStruct(transactionBlockSchema)
	b.SetAt(0, id)
	b.SetAt(1, totalOrder)
	b.SetAt(2, collectionOrder)
	return b
}

// EnvelopeSchema returns the schema of the change events of one table:
// name is <topic.prefix>.<db or schema>.<table> (".Envelope" is appended),
// value the optional schema of the row images, source the connector's
// source block schema (SourceSchema).
func EnvelopeSchema(name string, value, source *connect.Schema) *connect.Schema {
	s := connect.NewStructSchema(name+names.EnvelopeSuffix,
		connect.F(names.FieldBefore, value),
		connect.F(names.FieldAfter, value),
		connect.F(names.FieldSource, source),
		connect.F(names.FieldTransaction, transactionBlockSchema),
		connect.F(names.FieldOp, connect.StringSchema),
		connect.F(names.FieldTsMs, connect.OptionalInt64Schema),
		connect.F(names.FieldTsUs, connect.OptionalInt64Schema),
		connect.F(names.FieldTsNs, connect.OptionalInt64Schema),
	)
	s.Version = 2
	return s
}

// FillEnvelope sets an envelope's fields: op (Op*), the before and after
// images (nil: null), the source block and the processing time t. The
// transaction block stays null.
func FillEnvelope(env *connect.Struct, op string, before, after, source *connect.Struct, t Times) {
	if before != nil {
		env.SetAt(EnvBefore, before)
	}
	if after != nil {
		env.SetAt(EnvAfter, after)
	}
	env.SetAt(EnvSource, source)
	env.SetAt(EnvOp, boxOp(op))
	t.Set(env, EnvTsMs, EnvTsUs, EnvTsNs)
}

// boxOp returns an op as an interface value without allocating for
// Debezium's ops.
func boxOp(op string) any {
	switch op {
	case "c":
		return "c"
	case "u":
		return "u"
	case "d":
		return "d"
	case "r":
		return "r"
	case "t":
		return "t"
	}
	return op
}

// Times holds one instant as the ts_ms, ts_us and ts_ns values of an
// envelope or source block, boxed once, so the records sharing the instant
// do not allocate them again.
type Times struct{ ms, us, ns any }

// NewTimes returns t as Times.
func NewTimes(t time.Time) Times {
	ns := t.UnixNano()
	return Times{ms: ns / 1e6, us: ns / 1e3, ns: ns}
}

// Set sets the fields at positions ms, us and ns of st.
func (t Times) Set(st *connect.Struct, ms, us, ns int) {
	st.SetAt(ms, t.ms)
	st.SetAt(us, t.us)
	st.SetAt(ns, t.ns)
}
