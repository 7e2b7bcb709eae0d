package connect

import "time"

// SnapshotProgresser is implemented by source tasks that read existing
// tables before streaming changes (the CDC connectors' snapshot). The
// runtime shows the progress in its console, REST API and CLI; a task
// without a snapshot need not implement it. Progress is called from other
// goroutines while the task runs, so it must be safe for concurrent use.
type SnapshotProgresser interface {
	// Progress returns each table's progress in the running or last
	// snapshot, by table name; empty when no snapshot ran.
	Progress() []TableProgress
}

// TableProgress is one table's snapshot progress.
type TableProgress struct {
	// Table is the table's qualified name (schema.table, database.table).
	Table string
	// RowsRead is how many rows were read so far.
	RowsRead int64
	// Estimated is the database's row estimate taken at the start of the
	// snapshot; -1 when it has none.
	Estimated int64
	// Done is true once every row of the table was read.
	Done bool
}

// SourceLagger is implemented by source tasks that can tell how far behind
// their source they are (a CDC task's replication position against the
// database's). Like Progress, SourceLag must be safe for concurrent use.
type SourceLagger interface {
	SourceLag() SourceLag
}

// SourceLag is how far a source task is behind its source. Either measure
// is negative when the task does not know it.
type SourceLag struct {
	// Bytes is the data the source keeps for the task and the task has not
	// confirmed (PostgreSQL: WAL bytes behind the replication slot).
	Bytes int64
	// Behind is the age of the newest change read (MySQL: now minus the
	// last binlog event's timestamp; PostgreSQL: minus the last
	// transaction's commit timestamp).
	Behind time.Duration
}
