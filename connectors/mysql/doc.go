// Package mysql is Penstock's MySQL and MariaDB change data capture source,
// the counterpart of Debezium's MySQL and MariaDB connectors (classes
// io.debezium.connector.mysql.MySqlConnector and
// io.debezium.connector.mariadb.MariaDbConnector, aliases "mysql" and
// "mariadb"). It reads the server's row-based binlog as a replica would
// (go-mysql's replication package) and emits Debezium's envelope, topics and
// schemas: topic <topic.prefix>.<database>.<table>, key
// <prefix>.<db>.<table>.Key, value <prefix>.<db>.<table>.Envelope {before,
// after, source, transaction, op, ts_ms, ts_us, ts_ns}, with MySQL's source
// block (server_id, gtid, file, pos, row, thread, query).
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
// "incremental". Progress is not kept in offsets: an incremental snapshot
// interrupted by a restart must be signalled again.
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
// # Schemas without a history topic
//
// Column names, types, signedness, character sets, ENUM and SET values and
// the primary key come from the table-map events when the server writes full
// row metadata (binlog_row_metadata=FULL, MySQL 8.0.1+ and MariaDB 10.5+): the
// binlog itself says what each row is, so no DDL parsing or schema history
// is needed and none can be lost. Without that metadata the definitions are
// read from information_schema (refreshed after each DDL statement), which
// is exact while the connector keeps up with the binlog. DDL statements of
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
