// Package debezium is what Penstock's change data capture connectors share
// to emit Debezium's events: the envelope {before, after, source,
// transaction, op, ts_ms, ts_us, ts_ns} and its schema, the source block's
// common fields, Debezium's semantic types and their encodings under
// time.precision.mode, decimal.handling.mode and binary.handling.mode,
// tombstones and key changes, the unavailable-value placeholder and its
// header, heartbeat and transaction metadata records and topics, and the
// configuration keys and validators those connectors have in common.
//
// It depends on connect only (and on no database driver), so sinks that
// understand Debezium events may import it too.
//
// A connector builds its source schema with SourceSchema, passing the
// fields that follow the common ones (Postgres: schema, table, txId, lsn,
// xmin; MySQL: table, server_id, gtid, file, pos, row, thread, query), fills
// a block with Source.Fill and the connector's own fields at SourceFields+i,
// makes one EnvelopeSchema per table and fills each event with
// FillEnvelope:
//
//	src := debezium.NewSource(debezium.SourceSchema("io.debezium.connector.mysql.Source",
//		connect.F("table", connect.OptionalStringSchema),
//		connect.F("server_id", connect.Int64Schema), ...), "mysql", version, prefix)
//	env := debezium.EnvelopeSchema(prefix+".inventory.orders", valueSchema, src.Schema)
//
// A delete is followed by Tombstone when tombstones.on.delete is true; an
// update that changes the key (see KeysEqual) becomes a delete of the old
// key, its tombstone and a create of the new one, as Debezium emits them.
//
// Incremental snapshots (the execute-snapshot signal) run in
// IncrementalSnapshot, which a connector drives with the rows of its signal
// table and feeds through an IncrementalSource: how it describes a table,
// reads a chunk and writes a watermark.
package debezium
