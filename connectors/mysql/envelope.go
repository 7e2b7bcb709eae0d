package mysql

import (
	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connectors/debezium"
)

// Schema names of Debezium's MySQL events.
const (
	sourceSchemaName      = "io.debezium.connector.mysql.Source"
	schemaChangeKeyName   = "io.debezium.connector.mysql.SchemaChangeKey"
	schemaChangeValueName = "io.debezium.connector.mysql.SchemaChangeValue"
)

// Version is the connector version reported in source.version and by the
// plugin catalogue.
const Version = "0.1.0"

// SourceSchema returns the schema of the envelope's source block, as
// Debezium's io.debezium.connector.mysql.Source: the common fields, then
// MySQL's own.
func SourceSchema() *connect.Schema {
	return debezium.SourceSchema(sourceSchemaName,
		connect.F("table", connect.OptionalStringSchema),
		connect.F("server_id", connect.Int64Schema),
		connect.F("gtid", connect.OptionalStringSchema),
		connect.F("file", connect.StringSchema),
		connect.F("pos", connect.Int64Schema),
		connect.F("row", connect.Int32Schema),
		connect.F("thread", connect.OptionalInt64Schema),
		connect.F("query", connect.OptionalStringSchema),
	)
}

// Positions of MySQL's own source block fields.
const (
	srcTable = debezium.SourceFields + iota
	srcServerID
	srcGTID
	srcFile
	srcPos
	srcRow
	srcThread
	srcQuery
)

var sourceSchema = SourceSchema()

func versioned(s *connect.Schema) *connect.Schema {
	s.Version = 1
	return s
}

// Schemas of the schema change topic's events.
var (
	schemaChangeKeySchema = versioned(connect.NewStructSchema(schemaChangeKeyName,
		connect.F("databaseName", connect.StringSchema)))
	schemaChangeValueSchema = versioned(connect.NewStructSchema(schemaChangeValueName,
		connect.F("source", sourceSchema),
		connect.F("ts_ms", connect.Int64Schema),
		connect.F("databaseName", connect.OptionalStringSchema),
		connect.F("schemaName", connect.OptionalStringSchema),
		connect.F("ddl", connect.OptionalStringSchema),
		connect.F("tableChanges", connect.ArrayOf(tableChangeSchema))))

	tableChangeSchema = versioned(connect.NewStructSchema("io.debezium.connector.schema.Change",
		connect.F("type", connect.StringSchema),
		connect.F("id", connect.StringSchema),
		connect.F("table", tableSchemaSchema)))
	tableSchemaSchema = func() *connect.Schema {
		s := versioned(connect.NewStructSchema("io.debezium.connector.schema.Table",
			connect.F("defaultCharsetName", connect.OptionalStringSchema),
			connect.F("primaryKeyColumnNames", connect.OptionalOf(connect.ArrayOf(connect.StringSchema))),
			connect.F("columns", connect.ArrayOf(columnSchemaSchema))))
		s.Optional = true
		return s
	}()
	columnSchemaSchema = versioned(connect.NewStructSchema("io.debezium.connector.schema.Column",
		connect.F("name", connect.StringSchema),
		connect.F("typeName", connect.StringSchema),
		connect.F("typeExpression", connect.OptionalStringSchema),
		connect.F("charsetName", connect.OptionalStringSchema),
		connect.F("length", connect.OptionalInt32Schema),
		connect.F("scale", connect.OptionalInt32Schema),
		connect.F("position", connect.Int32Schema),
		connect.F("optional", connect.OptionalBooleanSchema),
		connect.F("enumValues", connect.OptionalOf(connect.ArrayOf(connect.StringSchema)))))
)

// tableChange describes a table's current definition for a schema change
// event's tableChanges.
func tableChange(typ string, t *table) *connect.Struct {
	ch := connect.NewStruct(tableChangeSchema)
	ch.SetAt(0, typ)
	ch.SetAt(1, `"`+t.db+`"."`+t.name+`"`)
	if t.cols == nil && typ == "DROP" {
		return ch
	}
	ts := connect.NewStruct(tableSchemaSchema)
	pk := make([]any, len(t.pk))
	for i, k := range t.pk {
		pk[i] = k
	}
	ts.SetAt(1, pk)
	cols := make([]any, 0, len(t.cols))
	for i, c := range t.cols {
		cs := connect.NewStruct(columnSchemaSchema)
		cs.SetAt(0, c.def.name)
		cs.SetAt(1, c.def.typeName())
		cs.SetAt(2, c.def.typeName())
		if c.def.charset != "" && !c.def.binary {
			cs.SetAt(3, c.def.charset)
		}
		if c.def.precision > 0 {
			cs.SetAt(4, int32(c.def.precision))
		}
		if c.def.dataType == "decimal" {
			cs.SetAt(5, int32(c.def.scale))
		}
		cs.SetAt(6, int32(i+1))
		cs.SetAt(7, c.def.nullable)
		if len(c.def.values) > 0 {
			vals := make([]any, len(c.def.values))
			for j, v := range c.def.values {
				vals[j] = v
			}
			cs.SetAt(8, vals)
		}
		cols = append(cols, cs)
	}
	ts.SetAt(2, cols)
	ch.SetAt(2, ts)
	return ch
}
