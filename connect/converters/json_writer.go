package converters

import "github.com/penstockhq/penstock/connect"

// ValueWriter writes Connect values as JSON by the JsonConverter's payload
// rules (with replace.null.with.default: a null field of a schema with a
// default is written as the default), except where its override renders a
// value itself. Connectors that write JSON of their own (the Elasticsearch
// sink's documents) use it, so the traversal of structs, arrays and maps,
// the escaping of strings and the checks of values against schemas are
// written once, here.
type ValueWriter struct{ c JSON }

// Override renders one value (s is nil for a schemaless one) and reports
// whether it did; it is asked before every value, nested ones included, and
// may call w.Append for the values inside the one it renders.
type Override func(w *ValueWriter, buf []byte, s *connect.Schema, v any) (out []byte, ok bool, err error)

// NewValueWriter returns a writer that asks override (may be nil) first.
func NewValueWriter(override Override) *ValueWriter {
	w := &ValueWriter{c: JSON{replaceNull: true, override: override}}
	w.c.writer = w
	return w
}

// Append appends the JSON form of v, whose schema is s (nil: schemaless),
// to buf. Errors name the path of the field at fault.
func (w *ValueWriter) Append(buf []byte, s *connect.Schema, v any) ([]byte, error) {
	return w.c.appendValue(buf, s, v)
}
