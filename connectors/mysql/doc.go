// Package mysql is Penstock's MySQL and MariaDB change data capture source,
// the counterpart of Debezium's MySQL and MariaDB connectors (classes
// io.debezium.connector.mysql.MySqlConnector and
// io.debezium.connector.mariadb.MariaDbConnector, aliases "mysql" and
// "mariadb"). It reads the server's row-based binlog as a replica would
// (go-mysql's replication package) and emits Debezium's envelope, topics and
// schemas: topic <topic.prefix>.<database>.<table>, key
// <prefix>.<db>.<table>.Key, value <prefix>.<db>.<table>.Envelope {before,
// after, source, transaction, op, ts_ms, ts_us, ts_ns}, with MySQL's source
// block (server_id, gtid, file, pos, row, thread, query). The row images
// of captured tables are read from the binlog bytes straight into the
// records' values (decode.go), as go-mysql's decoding followed by the type
// conversions would make them; go-mysql decodes what that does not read
// (MySQL's binary JSON, partial JSON updates) and the signal table.
//
// database.ssl.mode is Debezium's: preferred and required encrypt without
// checking the certificate (preferred falls back to a plain connection when
// the server offers no TLS), verify_ca checks that a CA of
// database.ssl.truststore (PEM or PKCS12; the system's CAs when unset)
// signed it, verify_identity also that it names database.hostname.
//
// # Snapshots
//
// A snapshot takes a brief global lock that stops commits (BACKUP STAGE
// BLOCK_COMMIT on MariaDB, FLUSH TABLES WITH READ LOCK elsewhere), starts
// START TRANSACTION WITH CONSISTENT SNAPSHOT on each of the
// snapshot.max.threads connections, reads the binlog position and GTID set
// and the table definitions, and releases the lock: it is held for
// milliseconds, not for the snapshot. The connections then read the tables
// in parallel; a large table with a single-column integer primary key is
// split into key ranges of about snapshot.chunk.size rows. Progress is
// logged, returned by Task.Progress and exported as the gauges
// penstock_snapshot_rows_read and penstock_snapshot_rows_estimated (docs/metrics.md).
// With snapshot.locking.mode=none one connection reads without a lock; on
// MariaDB its position is still exact (binlog_snapshot_file/position).
//
// # Incremental snapshots
//
// With signal.data.collection naming a signal table, inserting a row of
// type execute-snapshot (data {"data-collections": ["db.table"], "type":
// "incremental"}) reads those tables while streaming goes on: in
// primary-key chunks of incremental.snapshot.chunk.size rows, each read
// between two watermark rows the connector inserts into the signal table.
// Rows a streamed change touches between the watermarks are dropped from the
// chunk, so a read never overwrites a newer change (Debezium's DBLog
// algorithm); the others are emitted as op=r with source.snapshot
// "incremental". Progress is kept in the records' offsets, in Debezium's
// fields incremental_snapshot_collections (the tables still to read, as a
// JSON array), incremental_snapshot_primary_key (the key of the last row
// emitted, as a JSON array) and incremental_snapshot_maximum_key (the
// table's greatest key when its reading began: chunks stop there, rows
// inserted since come by streaming): a restarted task resumes with the chunk
// after that key.
//
// # Offsets
//
// The source partition is {"server": <topic.prefix>}; offsets hold
// Debezium's file, pos, gtids, event, row, ts_sec and server_id (snapshot
// records: snapshot and snapshot_completed). file and pos are the start of
// the record's transaction, gtids the transactions completed before it,
// event the rows events of the transaction already emitted and row the rows
// of the next one. A restarted task reads from the GTID set (or file and
// pos) and skips what the offset says was emitted, so a restart in the
// middle of a large transaction loses and repeats nothing. The worker
// stores offsets only after the broker acknowledged their records. MySQL 8's
// compressed transactions (binlog_transaction_compression) are read like
// others. source.thread comes from the BEGIN event, which MariaDB does not
// write before a transaction with a GTID: there it is null.
//
// # Checks
//
// The task fails with an error naming the setting when the server has no
// binlog, binlog_format is not ROW, binlog_row_image is not FULL, the user
// lacks REPLICATION SLAVE or REPLICATION CLIENT, database.server.id is the
// server's or another replica's, or the binlog at the stored offset was
// purged (snapshot.mode=when_needed snapshots again instead).
//
// # Schemas and the schema history
//
// Column names, types, signedness, character sets, ENUM and SET values and
// the primary key come from the table-map events when the server writes full
// row metadata (binlog_row_metadata=FULL, MySQL 8.0.1+ and MariaDB 10.5+): the
// binlog itself says what each row is, so no DDL parsing or schema history
// is needed and none can be lost; the history keys are then unused.
//
// Otherwise, with schema.history.internal.kafka.topic and .bootstrap.servers
// set, the connector keeps a model of the captured tables at the binlog
// position: DDL statements are parsed (TiDB's MySQL parser) and applied:
// CREATE TABLE (also LIKE), ALTER TABLE ADD, DROP, MODIFY, CHANGE and RENAME
// COLUMN, ADD and DROP PRIMARY KEY, RENAME TO, RENAME TABLE, DROP TABLE and
// DROP DATABASE. A statement the parser cannot read (spatial column types,
// MariaDB-only syntax such as WITH SYSTEM VERSIONING) or the model cannot
// apply from its text (CREATE TABLE ... SELECT, a table the model does not
// know) is replaced by information_schema's current description of the table
// it names, with a warning. Each change of a captured table is written to
// the history topic (one partition, infinite retention) in Debezium's record
// shape (source, position, databaseName, ddl, tableChanges with the table's
// definition after the change) before any later record is emitted. A
// baseline is written one record per captured table (its SHOW CREATE TABLE
// and definition), as Debezium's, so that no record outgrows the broker's
// message.max.bytes however many tables are captured; each carries the
// baseline's id and number of records. At start the history is replayed up
// to the stored offset; when it is missing, empty, truncated (no baseline at
// or before the offset), corrupt, or its last baseline there is incomplete
// (a start stopped while writing it; baselines of earlier versions, one
// record per database without the number, are accepted as before), the
// connector does not fail: it logs a warning, reads the captured tables'
// current definitions from information_schema and writes them as a new
// baseline at the position streaming resumes from (rows written there
// before a later DDL may be described by the newer definition). A new
// snapshot, and snapshot.mode=recovery, also write a new baseline. History
// records are compared with the offset by GTID sets where
// both carry one, as Debezium does, so the history replays right after a
// failover to a server whose binlog files are named otherwise; else by
// binlog file and position. Its clients reach a secured broker with Kafka's
// security keys under schema.history.internal.producer. and
// schema.history.internal.consumer., as Debezium's do (secrets masked in
// REST).
//
// Without metadata and without a history topic the definitions are read
// from information_schema (refreshed after each DDL statement), which is
// exact while the connector keeps up with the binlog. DDL statements of
// captured databases are published to the topic <topic.prefix> when
// include.schema.changes is true.
//
// # Types
//
// As Debezium's: TINYINT and SMALLINT int16 (SMALLINT UNSIGNED int32),
// MEDIUMINT and INT int32 (INT UNSIGNED int64), BIGINT int64 (BIGINT
// UNSIGNED int64 or, with bigint.unsigned.handling.mode=precise, Decimal),
// DECIMAL per decimal.handling.mode, FLOAT float32, DOUBLE float64, BIT(1)
// boolean, BIT(n) io.debezium.data.Bits, BOOLEAN (stored by MySQL as
// TINYINT(1)) int16, text types string in any character set, binary types
// per binary.handling.mode, DATE io.debezium.time.Date, TIME MicroTime,
// DATETIME Timestamp or MicroTimestamp by precision, TIMESTAMP
// ZonedTimestamp in UTC, YEAR io.debezium.time.Year, ENUM
// io.debezium.data.Enum, SET io.debezium.data.EnumSet, JSON
// io.debezium.data.Json (MySQL's binary JSON decoded; MariaDB's JSON is
// LONGTEXT and arrives as a string), every spatial type (POINT included) as
// io.debezium.data.geometry.Geometry {wkb, srid}. Zero dates are null in
// nullable columns and the epoch otherwise. BINARY(n) values get back the
// trailing zero bytes the binlog drops.
package mysql
