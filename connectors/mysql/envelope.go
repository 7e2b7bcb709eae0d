package mysql

import (
	"github.com/penstockhq/penstock/connect"
)

// Schema names of Debezium's MySQL events.
const (
	sourceSchemaName       = "io.debezium.connector.mysql.Source"
	schemaChangeKeyName    = "io.debezium.connector.mysql.SchemaChangeKey"
	schemaChangeValueName  = "io.debezium.connector.mysql.SchemaChangeValue"
	heartbeatKeySchemaName = "io.debezium.connector.common.ServerNameKey"
	heartbeatValSchemaName = "io.debezium.connector.common.Heartbeat"
	txKeySchemaName        = "io.debezium.connector.common.TransactionMetadataKey"
	txValueSchemaName      = "io.debezium.connector.common.TransactionMetadataValue"
	txBlockSchemaName      = "event.block"
)

// Version is the connector version reported in source.version and by the
// plugin catalogue.
const Version = "0.1.0"

// SourceSchema returns the schema of the envelope's source block, as
// Debezium's io.debezium.connector.mysql.Source.
func SourceSchema() *connect.Schema {
	snap := &connect.Schema{Type: connect.TypeString, Optional: true, Default: "false", Name: nameEnum, Version: 1,
		Parameters: map[string]string{"allowed": "true,first,first_in_data_collection,last_in_data_collection,last,false,incremental"}}
	return connect.NewStructSchema(sourceSchemaName,
		connect.F("version", connect.StringSchema),
		connect.F("connector", connect.StringSchema),
		connect.F("name", connect.StringSchema),
		connect.F("ts_ms", connect.Int64Schema),
		connect.F("snapshot", snap),
		connect.F("db", connect.StringSchema),
		connect.F("sequence", connect.OptionalStringSchema),
		connect.F("ts_us", connect.OptionalInt64Schema),
		connect.F("ts_ns", connect.OptionalInt64Schema),
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

// Positions of the source block's fields.
const (
	srcVersion = iota
	srcConnector
	srcName
	srcTsMs
	srcSnapshot
	srcDB
	srcSequence
	srcTsUs
	srcTsNs
	srcTable
	srcServerID
	srcGTID
	srcFile
	srcPos
	srcRow
	srcThread
	srcQuery
)

// Positions of the envelope's fields.
const (
	envBefore = iota
	envAfter
	envSource
	envTransaction
	envOp
	envTsMs
	envTsUs
	envTsNs
)

var (
	sourceSchema  = SourceSchema()
	txBlockSchema = func() *connect.Schema {
		s := connect.NewStructSchema(txBlockSchemaName,
			connect.F("id", connect.StringSchema),
			connect.F("total_order", connect.Int64Schema),
			connect.F("data_collection_order", connect.Int64Schema))
		s.Version = 1
		s.Optional = true
		return s
	}()
)

// envelopeSchema returns the change event schema of a table with value
// schema val, as Debezium's <prefix>.<db>.<table>.Envelope.
func envelopeSchema(name string, val *connect.Schema) *connect.Schema {
	s := connect.NewStructSchema(name,
		connect.F("before", val),
		connect.F("after", val),
		connect.F("source", sourceSchema),
		connect.F("transaction", txBlockSchema),
		connect.F("op", connect.StringSchema),
		connect.F("ts_ms", connect.OptionalInt64Schema),
		connect.F("ts_us", connect.OptionalInt64Schema),
		connect.F("ts_ns", connect.OptionalInt64Schema))
	s.Version = 2
	return s
}

func versioned(s *connect.Schema) *connect.Schema {
	s.Version = 1
	return s
}

var (
	heartbeatKeySchema = versioned(connect.NewStructSchema(heartbeatKeySchemaName,
		connect.F("serverName", connect.StringSchema)))
	heartbeatValueSchema = versioned(connect.NewStructSchema(heartbeatValSchemaName,
		connect.F("ts_ms", connect.Int64Schema)))

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

	txKeySchema  = versioned(connect.NewStructSchema(txKeySchemaName, connect.F("id", connect.StringSchema)))
	txCollSchema = connect.NewStructSchema("",
		connect.F("data_collection", connect.StringSchema), connect.F("event_count", connect.Int64Schema))
	txValueSchema = versioned(connect.NewStructSchema(txValueSchemaName,
		connect.F("status", connect.StringSchema),
		connect.F("id", connect.StringSchema),
		connect.F("event_count", connect.OptionalInt64Schema),
		connect.F("data_collections", connect.OptionalOf(connect.ArrayOf(txCollSchema))),
		connect.F("ts_ms", connect.Int64Schema)))
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
