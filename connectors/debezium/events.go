package debezium

import (
	"fmt"

	"github.com/penstockhq/penstock/connect"
)

// Tombstone returns the record that follows a delete when
// tombstones.on.delete is true: the deleted row's key and a null value, so
// a compacted topic drops the key. The caller sets the source partition and
// offset.
func Tombstone(topic string, keySchema *connect.Schema, key *connect.Struct) *connect.Record {
	return &connect.Record{Topic: topic, Partition: -1, KeySchema: keySchema, Key: key}
}

// KeysEqual reports whether two record keys of the same schema are equal.
// An update whose before and after keys differ is a key change: Debezium
// emits a delete of the old key, its tombstone (when enabled) and a create
// of the new key instead of an update.
func KeysEqual(a, b *connect.Struct) bool {
	if a == nil || b == nil {
		return a == b
	}
	for i := range a.Schema().Fields {
		if !valuesEqual(a.GetAt(i), b.GetAt(i)) {
			return false
		}
	}
	return true
}

// valuesEqual compares two key values as their printed forms would, without
// printing values of the common types when both have the same one.
func valuesEqual(x, y any) bool {
	switch a := x.(type) {
	case int64:
		if b, ok := y.(int64); ok {
			return a == b
		}
	case int32:
		if b, ok := y.(int32); ok {
			return a == b
		}
	case int16:
		if b, ok := y.(int16); ok {
			return a == b
		}
	case string:
		if b, ok := y.(string); ok {
			return a == b
		}
	case bool:
		if b, ok := y.(bool); ok {
			return a == b
		}
	}
	return fmt.Sprint(x) == fmt.Sprint(y)
}

// UnavailableValuePlaceholder is the default of unavailable.value.placeholder:
// the value a change event gives a column whose value the database's log did
// not carry (Postgres: an unchanged TOASTed value).
const UnavailableValuePlaceholder = "__debezium_unavailable_value"

// UnavailableColumnsHeader is the header a change record carries when some
// of its after-image columns had no value in the log. Its value is the
// comma-separated list of those column names; their fields in the record hold
// the placeholder (or null when the column's type cannot hold it). A sink
// must not write those columns.
const UnavailableColumnsHeader = "penstock.unavailable.columns"

// Placeholder returns the value that stands for an unavailable value in a
// field of schema s: the placeholder in the field's physical type (string,
// plain bytes, array of strings), or nil when the type cannot hold it.
func Placeholder(s *connect.Schema, placeholder string) any {
	switch s.Type {
	case connect.TypeString:
		return placeholder
	case connect.TypeBytes:
		if s.Name == "" {
			return []byte(placeholder)
		}
	case connect.TypeArray:
		if s.Value.Type == connect.TypeString {
			return []any{placeholder}
		}
	}
	return nil
}

// AddUnavailableColumns adds the UnavailableColumnsHeader listing cols to
// rec; it adds nothing when cols is empty.
func AddUnavailableColumns(rec *connect.Record, cols []string) {
	if len(cols) == 0 {
		return
	}
	n := 0
	for _, s := range cols {
		n += len(s) + 1
	}
	b := make([]byte, 0, n)
	for i, s := range cols {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, s...)
	}
	rec.Headers.Add(UnavailableColumnsHeader, connect.StringSchema, string(b))
}
