package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// slotInfo is a row of pg_replication_slots.
type slotInfo struct {
	exists    bool
	active    bool
	pid       int64
	plugin    string
	database  string
	confirmed pglogrepl.LSN
}

func quoteIdent(s string) string { return pgx.Identifier{s}.Sanitize() }

// connectMeta opens a regular connection for catalog queries.
func (s *settings) connectMeta(ctx context.Context) (*pgx.Conn, error) {
	conn, err := pgx.Connect(ctx, s.dsn(false))
	if err != nil {
		return nil, fmt.Errorf("connect to %s:%d/%s as %s: %w", s.host, s.port, s.dbname, s.user, err)
	}
	return conn, nil
}

// checkServer fails with a clear message when logical decoding cannot work:
// wal_level below logical, or a user without the REPLICATION attribute.
func checkServer(ctx context.Context, conn *pgx.Conn, user string) (serverVersion int, err error) {
	var walLevel, ver string
	if err := conn.QueryRow(ctx, "SELECT current_setting('wal_level'), current_setting('server_version_num')").Scan(&walLevel, &ver); err != nil {
		return 0, fmt.Errorf("read server settings: %w", err)
	}
	if walLevel != "logical" {
		return 0, fmt.Errorf("postgres: wal_level is %q but change data capture needs wal_level=logical: run ALTER SYSTEM SET wal_level = logical and restart the server", walLevel)
	}
	serverVersion, _ = strconv.Atoi(ver)
	if serverVersion < 100000 {
		return 0, fmt.Errorf("postgres: server version %s is too old; pgoutput needs PostgreSQL 10 or later", ver)
	}
	var canReplicate bool
	err = conn.QueryRow(ctx, `SELECT r.rolsuper OR r.rolreplication OR EXISTS (
	    SELECT 1 FROM pg_auth_members m JOIN pg_roles g ON g.oid = m.roleid
	    WHERE m.member = r.oid AND g.rolname = 'rds_replication')
	  FROM pg_roles r WHERE r.rolname = current_user`).Scan(&canReplicate)
	if err != nil {
		return 0, fmt.Errorf("read role attributes of %s: %w", user, err)
	}
	if !canReplicate {
		return 0, fmt.Errorf("postgres: user %q lacks replication rights: run ALTER ROLE %s REPLICATION (or GRANT rds_replication on RDS)", user, quoteIdent(user))
	}
	return serverVersion, nil
}

func readSlot(ctx context.Context, conn *pgx.Conn, slot string) (slotInfo, error) {
	var si slotInfo
	var plugin, db *string
	var pid *int64
	var confirmed *string
	err := conn.QueryRow(ctx, `SELECT active, active_pid::int8, plugin::text, database::text, confirmed_flush_lsn::text
	  FROM pg_replication_slots WHERE slot_name = $1`, slot).Scan(&si.active, &pid, &plugin, &db, &confirmed)
	if errors.Is(err, pgx.ErrNoRows) {
		return si, nil
	}
	if err != nil {
		return si, fmt.Errorf("read replication slot %s: %w", slot, err)
	}
	si.exists = true
	if pid != nil {
		si.pid = *pid
	}
	if plugin != nil {
		si.plugin = *plugin
	}
	if db != nil {
		si.database = *db
	}
	if confirmed != nil {
		si.confirmed, _ = pglogrepl.ParseLSN(*confirmed)
	}
	return si, nil
}

// waitSlotFree reads the slot, waiting up to 15s for an active slot to be
// released (a previous task's connection may take a moment to go away).
func (t *Task) waitSlotFree(ctx context.Context, conn *pgx.Conn) (slotInfo, error) {
	deadline := time.Now().Add(15 * time.Second)
	for {
		si, err := readSlot(ctx, conn, t.s.slot)
		if err != nil {
			return si, err
		}
		if si.exists && si.plugin != "pgoutput" {
			return si, fmt.Errorf("postgres: replication slot %q uses plugin %q, not pgoutput; drop it or choose another slot.name", t.s.slot, si.plugin)
		}
		if si.exists && si.database != t.s.dbname {
			return si, fmt.Errorf("postgres: replication slot %q belongs to database %q, not %q; choose another slot.name", t.s.slot, si.database, t.s.dbname)
		}
		if !si.active {
			return si, nil
		}
		if time.Now().After(deadline) {
			return si, fmt.Errorf("postgres: replication slot %q is active: it is in use by server process %d (another connector, task or pg_recvlogical); stop that consumer or choose another slot.name", t.s.slot, si.pid)
		}
		select {
		case <-ctx.Done():
			return si, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// capturedTables lists the ordinary tables the filters select.
func (s *settings) capturedTables(ctx context.Context, conn *pgx.Conn) ([]uint32, [][2]string, error) {
	rows, err := conn.Query(ctx, `SELECT c.oid, n.nspname::text, c.relname::text FROM pg_class c
	  JOIN pg_namespace n ON n.oid = c.relnamespace
	  WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'
	    AND NOT c.relispartition AND c.relpersistence = 'p'
	  ORDER BY n.nspname, c.relname`)
	if err != nil {
		return nil, nil, fmt.Errorf("list tables: %w", err)
	}
	defer rows.Close()
	var oids []uint32
	var names [][2]string
	for rows.Next() {
		var oid uint32
		var nsp, rel string
		if err := rows.Scan(&oid, &nsp, &rel); err != nil {
			return nil, nil, fmt.Errorf("list tables: %w", err)
		}
		if s.filter.Table(nsp, rel) {
			oids = append(oids, oid)
			names = append(names, [2]string{nsp, rel})
		}
	}
	return oids, names, rows.Err()
}

// ensurePublication creates or adjusts the publication according to
// publication.autocreate.mode.
func (t *Task) ensurePublication(ctx context.Context, conn *pgx.Conn) error {
	s := t.s
	var allTables bool
	err := conn.QueryRow(ctx, "SELECT puballtables FROM pg_publication WHERE pubname = $1", s.publication).Scan(&allTables)
	exists := err == nil
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("read publication %s: %w", s.publication, err)
	}
	pub := quoteIdent(s.publication)
	switch s.pubMode {
	case "disabled":
		if !exists {
			return fmt.Errorf("postgres: publication %q does not exist and publication.autocreate.mode is disabled: create it (CREATE PUBLICATION %s FOR TABLE ...)", s.publication, pub)
		}
		return nil
	case "no_tables":
		if !exists {
			if _, err := conn.Exec(ctx, "CREATE PUBLICATION "+pub); err != nil {
				return fmt.Errorf("create publication %s: %w", s.publication, err)
			}
		}
		return nil
	case "filtered":
		_, names, err := s.capturedTables(ctx, conn)
		if err != nil {
			return err
		}
		list := make([]string, len(names))
		for i, n := range names {
			list[i] = pgx.Identifier{n[0], n[1]}.Sanitize()
		}
		// The signal table's inserts must be streamed too.
		if schema, name, ok := strings.Cut(s.signalTable, "."); ok && !slices.Contains(names, [2]string{schema, name}) {
			sig := pgx.Identifier{schema, name}.Sanitize()
			var found bool
			if err := conn.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", sig).Scan(&found); err != nil {
				return fmt.Errorf("look up %s %s: %w", KeySignalTable, s.signalTable, err)
			}
			if found {
				list = append(list, sig)
			}
		}
		switch {
		case !exists && len(list) == 0:
			_, err = conn.Exec(ctx, "CREATE PUBLICATION "+pub)
		case !exists:
			_, err = conn.Exec(ctx, "CREATE PUBLICATION "+pub+" FOR TABLE "+strings.Join(list, ", "))
		case allTables:
			return fmt.Errorf("postgres: publication %q is FOR ALL TABLES; publication.autocreate.mode=filtered cannot narrow it: drop it or use all_tables", s.publication)
		case len(list) == 0:
			var cur []string
			if err := conn.QueryRow(ctx, "SELECT coalesce(array_agg(format('%I.%I', schemaname, tablename)), '{}') FROM pg_publication_tables WHERE pubname = $1", s.publication).Scan(&cur); err != nil {
				return fmt.Errorf("read publication %s: %w", s.publication, err)
			}
			if len(cur) > 0 {
				_, err = conn.Exec(ctx, "ALTER PUBLICATION "+pub+" DROP TABLE "+strings.Join(cur, ", "))
			}
		default:
			_, err = conn.Exec(ctx, "ALTER PUBLICATION "+pub+" SET TABLE "+strings.Join(list, ", "))
		}
		if err != nil {
			return fmt.Errorf("create or alter publication %s for %d tables: %w", s.publication, len(list), err)
		}
		return nil
	default: // all_tables
		if !exists {
			if _, err := conn.Exec(ctx, "CREATE PUBLICATION "+pub+" FOR ALL TABLES"); err != nil {
				return fmt.Errorf("create publication %s FOR ALL TABLES (needs superuser; or create it yourself and set publication.autocreate.mode=disabled): %w", s.publication, err)
			}
		}
		return nil
	}
}

// connectReplication opens the walsender connection.
func (s *settings) connectReplication(ctx context.Context) (*pgconn.PgConn, error) {
	conn, err := pgconn.Connect(ctx, s.dsn(true))
	if err != nil {
		var pgErr *pgconn.PgError
		if errors.As(err, &pgErr) && (pgErr.Code == "28000" || pgErr.Code == "42501") {
			return nil, fmt.Errorf("postgres: replication connection refused for user %q (needs the REPLICATION attribute and a pg_hba.conf 'replication' entry): %w", s.user, err)
		}
		return nil, fmt.Errorf("open replication connection to %s:%d/%s: %w", s.host, s.port, s.dbname, err)
	}
	return conn, nil
}

// dropSlot drops the slot, waiting for it to become inactive.
func (t *Task) dropSlot() error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	conn, err := t.s.connectMeta(ctx)
	if err != nil {
		return err
	}
	defer conn.Close(context.Background())
	for {
		si, err := readSlot(ctx, conn, t.s.slot)
		if err != nil {
			return err
		}
		if !si.exists {
			return nil
		}
		if !si.active {
			if _, err := conn.Exec(ctx, "SELECT pg_drop_replication_slot($1)", t.s.slot); err != nil {
				return fmt.Errorf("drop replication slot %s: %w", t.s.slot, err)
			}
			t.log.Info("dropped replication slot on stop")
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("drop replication slot %s: still active", t.s.slot)
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// produce runs the task's reading: checks, snapshot, streaming.
func (t *Task) produce(ctx context.Context) error {
	s := t.s
	meta, err := s.connectMeta(ctx)
	if err != nil {
		return err
	}
	defer meta.Close(context.Background())
	version, err := checkServer(ctx, meta, s.user)
	if err != nil {
		return err
	}
	tm := &typeMap{}
	if err := tm.load(ctx, meta); err != nil {
		return err
	}

	var stored storedState
	if t.tctx != nil && t.tctx.Offsets() != nil {
		off, err := t.tctx.Offsets().Offset(ctx, t.partition)
		if err != nil {
			return fmt.Errorf("read stored offset of server %s: %w", s.prefix, err)
		}
		stored = interpretOffset(off)
	}

	streaming := s.snapshotMode != SnapshotInitialOnly
	if !streaming {
		if stored.present && stored.snapshotComplete {
			t.log.Info("snapshot already complete; snapshot.mode=initial_only has nothing more to do")
			return nil
		}
		name, lsn, release, err := exportSnapshot(ctx, s)
		if err != nil {
			return err
		}
		defer release()
		return t.snapshot(ctx, meta, tm, name, lsn)
	}

	if err := t.ensurePublication(ctx, meta); err != nil {
		return err
	}
	si, err := t.waitSlotFree(ctx, meta)
	if err != nil {
		return err
	}
	// The slot is ahead when it confirmed more than Commit ever confirms for
	// the stored offset: someone else moved it, or the offset is older.
	through := stored.through
	ahead := stored.present && si.exists && through != 0 && si.confirmed > through
	need := false
	switch s.snapshotMode {
	case SnapshotInitial:
		need = !stored.snapshotComplete
	case SnapshotAlways:
		need = true
	case SnapshotWhenNeeded:
		need = !stored.snapshotComplete || !si.exists || ahead
	}
	if !need && ahead {
		t.log.Warn("slot is ahead of the stored offset: changes between them are lost to this connector",
			"stored_lsn", through, "slot_confirmed_lsn", si.confirmed)
	}

	repl, err := s.connectReplication(ctx)
	if err != nil {
		return err
	}
	defer repl.Close(context.Background())

	start := stored.resume
	if need {
		if si.exists {
			t.log.Info("dropping replication slot to recreate it at a snapshot", "mode", s.snapshotMode)
			if err := pglogrepl.DropReplicationSlot(ctx, repl, s.slot, pglogrepl.DropReplicationSlotOptions{Wait: true}); err != nil {
				return fmt.Errorf("drop replication slot %s: %w", s.slot, err)
			}
		}
		res, err := pglogrepl.CreateReplicationSlot(ctx, repl, s.slot, "pgoutput",
			pglogrepl.CreateReplicationSlotOptions{Mode: pglogrepl.LogicalReplication, SnapshotAction: "EXPORT_SNAPSHOT"})
		if err != nil {
			return slotCreateError(s.slot, err)
		}
		lsn, err := pglogrepl.ParseLSN(res.ConsistentPoint)
		if err != nil {
			return fmt.Errorf("slot %s consistent point %q: %w", s.slot, res.ConsistentPoint, err)
		}
		t.log.Info("created replication slot with exported snapshot", "consistent_point", lsn, "snapshot", res.SnapshotName)
		// The exported snapshot stays valid while repl runs no other command.
		if err := t.snapshot(ctx, meta, tm, res.SnapshotName, lsn); err != nil {
			return err
		}
		start = resumePoint{start: lsn}
	} else if !si.exists {
		res, err := pglogrepl.CreateReplicationSlot(ctx, repl, s.slot, "pgoutput",
			pglogrepl.CreateReplicationSlotOptions{Mode: pglogrepl.LogicalReplication, SnapshotAction: "NOEXPORT_SNAPSHOT"})
		if err != nil {
			return slotCreateError(s.slot, err)
		}
		lsn, _ := pglogrepl.ParseLSN(res.ConsistentPoint)
		if stored.present {
			t.log.Warn("replication slot was missing and has been created: changes since the stored offset are lost to this connector", "consistent_point", lsn)
		} else {
			t.log.Info("created replication slot", "consistent_point", lsn)
		}
		start = resumePoint{start: lsn}
	}
	return t.stream(ctx, repl, meta, tm, version, start)
}

func slotCreateError(slot string, err error) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch pgErr.Code {
		case "55000":
			return fmt.Errorf("postgres: cannot create replication slot %q (is wal_level=logical?): %w", slot, err)
		case "53400":
			return fmt.Errorf("postgres: cannot create replication slot %q: all max_replication_slots are in use: %w", slot, err)
		case "42501":
			return fmt.Errorf("postgres: user lacks the rights to create replication slot %q: %w", slot, err)
		}
	}
	return fmt.Errorf("create replication slot %s: %w", slot, err)
}

// exportSnapshot opens a REPEATABLE READ transaction and exports its
// snapshot, for a snapshot without a slot (initial_only). release ends it.
func exportSnapshot(ctx context.Context, s *settings) (name string, lsn pglogrepl.LSN, release func(), err error) {
	conn, err := s.connectMeta(ctx)
	if err != nil {
		return "", 0, nil, err
	}
	if _, err := conn.Exec(ctx, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"); err != nil {
		conn.Close(context.Background())
		return "", 0, nil, fmt.Errorf("begin snapshot transaction: %w", err)
	}
	var lsnText string
	if err := conn.QueryRow(ctx, "SELECT pg_export_snapshot(), pg_current_wal_lsn()::text").Scan(&name, &lsnText); err != nil {
		conn.Close(context.Background())
		return "", 0, nil, fmt.Errorf("export snapshot: %w", err)
	}
	lsn, _ = pglogrepl.ParseLSN(lsnText)
	return name, lsn, func() { conn.Close(context.Background()) }, nil
}
