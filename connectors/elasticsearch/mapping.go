package elasticsearch

import (
	"github.com/penstockhq/penstock/connect"
	names "github.com/penstockhq/penstock/internal/debeziumnames"
)

// mappingOf returns the Elasticsearch mapping ({"properties": ...}) derived
// from a document's struct schema, or nil when the schema is not a struct.
// Types follow Confluent's sink: integers as byte/short/integer/long, float
// and double, boolean, strings as text with a keyword sub-field, bytes as
// binary, Decimal as double, Date and Timestamp as date, structs as objects.
func mappingOf(s *connect.Schema) map[string]any {
	if s == nil || s.Type != connect.TypeStruct {
		return nil
	}
	return map[string]any{"properties": properties(s)}
}

func properties(s *connect.Schema) map[string]any {
	props := make(map[string]any, len(s.Fields))
	for _, f := range s.Fields {
		if m := fieldMapping(f.Schema); m != nil {
			props[f.Name] = m
		}
	}
	return props
}

func fieldMapping(s *connect.Schema) map[string]any {
	typ := func(t string) map[string]any { return map[string]any{"type": t} }
	switch s.Name {
	case connect.DecimalName, names.VariableScaleDecimal:
		return typ("double")
	case connect.DateName, names.Date:
		return map[string]any{"type": "date", "format": "strict_date"}
	case connect.TimestampName, names.Timestamp:
		return map[string]any{"type": "date", "format": "epoch_millis"}
	case names.MicroTimestamp, names.NanoTimestamp, names.ZonedTimestamp:
		return typ("date")
	case connect.TimeName, names.Time, names.MicroTime, names.NanoTime, names.ZonedTime:
		return typ("keyword")
	}
	switch s.Type {
	case connect.TypeBoolean:
		return typ("boolean")
	case connect.TypeInt8:
		return typ("byte")
	case connect.TypeInt16:
		return typ("short")
	case connect.TypeInt32:
		return typ("integer")
	case connect.TypeInt64:
		return typ("long")
	case connect.TypeFloat32:
		return typ("float")
	case connect.TypeFloat64:
		return typ("double")
	case connect.TypeString:
		return map[string]any{"type": "text", "fields": map[string]any{
			"keyword": map[string]any{"type": "keyword", "ignore_above": 256}}}
	case connect.TypeBytes:
		return typ("binary")
	case connect.TypeArray:
		// Elasticsearch arrays are fields holding several values of the
		// element's type.
		return fieldMapping(s.Value)
	case connect.TypeStruct:
		return map[string]any{"type": "object", "properties": properties(s)}
	case connect.TypeMap:
		return typ("object")
	}
	return nil
}
