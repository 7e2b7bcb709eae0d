// Package postgres is Penstock's PostgreSQL change data capture source, the
// counterpart of Debezium's PostgreSQL connector (class
// io.debezium.connector.postgresql.PostgresConnector, alias "postgres").
//
// It reads changes from a logical replication slot with PostgreSQL's built-in
// pgoutput plugin (protocol 1; protocol 2 with streaming of large in-progress
// transactions when penstock.stream.in.progress.transactions is set on
// PostgreSQL 14+) and emits them in Debezium's envelope, topics and schemas:
// topic <topic.prefix>.<schema>.<table>, key <prefix>.<schema>.<table>.Key,
// value <prefix>.<schema>.<table>.Envelope {before, after, source,
// transaction, op, ts_ms, ts_us, ts_ns}. Types map as Debezium's adaptive
// mode.
//
// # Snapshots
//
// A snapshot reads the tables at the snapshot exported when the slot is
// created (CREATE_REPLICATION_SLOT ... EXPORT_SNAPSHOT), so streaming starts
// exactly where the snapshot ends: no change is lost or doubled at the seam.
// With snapshot.max.threads > 1, several connections import that one snapshot
// and read in parallel; tables with a single-column integer primary key are
// split into key ranges of about snapshot.chunk.size rows, so a single large
// table is read by several connections. Progress is logged, returned by
// Task.Progress and exported as the gauges
// penstock_snapshot_rows_read and
// penstock_snapshot_rows_estimated (docs/metrics.md). A task restarted before its
// snapshot finished recreates the slot and snapshots again.
//
// # Incremental snapshots
//
// With signal.data.collection set, an execute-snapshot row inserted into
// that table reads the tables it names while streaming goes on, without a
// lock, by Debezium's watermark algorithm (debezium.IncrementalSnapshot,
// shared with MySQL; incremental.go reads the chunks): chunks of
// incremental.snapshot.chunk.size rows in primary-key order, each between
// two watermark rows the connector inserts into the signal table; rows whose
// keys change between the watermarks are dropped from the chunk, the rest
// are emitted as reads (source.snapshot=incremental) at the closing one.
// Offsets carry the progress (incremental_snapshot_collections,
// incremental_snapshot_primary_key, the key as PostgreSQL's text of it, and
// incremental_snapshot_maximum_key, the table's greatest key when its
// reading began: chunks stop there, rows inserted since come by streaming),
// so a restarted task resumes at the next chunk.
//
// # Offsets and the slot
//
// The source partition is {"server": <topic.prefix>}. Offsets hold lsn, txId
// and ts_usec as Debezium's, plus lsn_commit (the transaction's commit LSN),
// lsn_proc (the end of the last complete transaction before the event) and
// tx_event (the event's rank within its transaction). The slot's confirmed
// flush LSN advances only in Commit, which the worker calls with offsets it
// flushed after the broker acknowledged their records: to the commit LSN of
// the flushed record's transaction (the server sends that transaction again
// after a restart), so a restart compares the slot with the stored offset
// like with like, and snapshot.mode=when_needed snapshots again only when
// the slot went past the stored offset (or is missing); standby status
// updates (status.update.interval.ms) report that LSN and nothing newer. A
// restarted task starts replication at lsn_proc and skips the first tx_event
// records of the partially emitted transaction, so no change is lost and
// none is repeated. Heartbeats (heartbeat.interval.ms) carry the server's
// latest WAL position so committing them moves the slot while captured
// tables are idle; penstock_postgres_slot_lag_bytes shows what the slot holds
// back, and penstock_cdc_source_lag_seconds (source_lag_ms in the task's
// progress, as the MySQL connector's) how long before its reading the last
// transaction read committed.
//
// # Unchanged TOASTed values
//
// When an update leaves a large (TOASTed) value unchanged, pgoutput does not
// send it. Under REPLICA IDENTITY FULL the connector takes it from the old
// row image, so the event is complete. Otherwise the field holds
// unavailable.value.placeholder (default __debezium_unavailable_value; for
// non-text types that cannot hold it, null) and the record carries the header
// penstock.unavailable.columns: a comma-separated list of those columns. A
// sink must leave those columns as they are instead of writing the
// placeholder; Penstock's sinks do, and others can check the header.
//
// # Schemas
//
// Key columns are required fields. Other columns are optional unless they are
// NOT NULL in a table with REPLICA IDENTITY FULL: under the other identities
// the before image of a delete holds the key columns only. Relation messages
// rebuild a table's schemas when columns are added or dropped, without
// restart.
package postgres
