package testservice

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// PostgresServer is a private PostgreSQL server started by Postgres. It
// listens on 127.0.0.1 only, trusts every local connection (replication
// included) and runs with wal_level=logical.
type PostgresServer struct {
	// Host is the address the server listens on: 127.0.0.1.
	Host string
	// Port is the TCP port the server listens on.
	Port int
	// User is the superuser name: postgres (no password).
	User string
	// Database is the database that exists from the start: postgres.
	Database string
	// DSN is a pgx connection string for Database, e.g.
	// postgres://postgres@127.0.0.1:PORT/postgres?sslmode=disable.
	DSN string
	// ReplicationDSN is DSN with replication=database, for a logical
	// replication connection (pglogrepl over pgconn).
	ReplicationDSN string
	// DataDir is the cluster's data directory.
	DataDir string
	// SocketDir is the directory holding the server's unix socket.
	SocketDir string
	// LogFile receives the server's output.
	LogFile string
}

// DSNFor returns a pgx connection string for another database on the server
// (create it first, e.g. with CREATE DATABASE over DSN).
func (s *PostgresServer) DSNFor(database string) string {
	return s.dsn(database, false)
}

func (s *PostgresServer) dsn(database string, replication bool) string {
	u := url.URL{
		Scheme: "postgres",
		User:   url.User(s.User),
		Host:   fmt.Sprintf("%s:%d", s.Host, s.Port),
		Path:   "/" + database,
	}
	q := "sslmode=disable"
	if replication {
		q += "&replication=database"
	}
	u.RawQuery = q
	return u.String()
}

// Postgres starts a PostgreSQL server for the test and stops it on cleanup:
// initdb into t.TempDir(), then postgres on a free 127.0.0.1 port with
// wal_level=logical, max_replication_slots=20, max_wal_senders=20 and fsync
// off. When the test runs as root, initdb and postgres run as the "postgres"
// system account. It skips the test when PostgreSQL is not installed (fails
// with CI=true).
func Postgres(t testing.TB) *PostgresServer {
	t.Helper()
	const install = "install PostgreSQL 15+ server binaries (apt-get install postgresql-15)"
	postgresBin := findBinary(t, install, "postgres")
	initdbBin := filepath.Join(filepath.Dir(postgresBin), "initdb")
	if !isExecutable(initdbBin) {
		initdbBin = findBinary(t, install, "initdb")
	}

	u, err := unprivilegedUser("postgres")
	if err != nil {
		t.Fatalf("testservice: postgres: %v", err)
	}
	base := t.TempDir()
	if err := handOver(base, u); err != nil {
		t.Fatalf("testservice: postgres: %v", err)
	}
	// The socket is .s.PGSQL.<port> (at most 16 bytes) plus its .lock file.
	sockDir, err := shortDir(t, base, len("/.s.PGSQL.65535.lock"), u)
	if err != nil {
		t.Fatalf("testservice: postgres: %v", err)
	}
	s := &PostgresServer{
		Host:      "127.0.0.1",
		User:      "postgres",
		Database:  "postgres",
		DataDir:   filepath.Join(base, "data"),
		SocketDir: sockDir,
		LogFile:   filepath.Join(base, "postgres.log"),
	}

	initLog := filepath.Join(base, "initdb.log")
	err = run(procSpec{
		name: "initdb",
		path: initdbBin,
		args: []string{"-D", s.DataDir, "-U", s.User, "--auth=trust", "--no-sync",
			"--encoding=UTF8", "--locale=C"},
		dropEnv: []string{"PGDATA=", "PGUSER=", "PGPORT=", "PGHOST="},
		dir:     base,
		logPath: initLog,
		user:    u,
	}, 2*time.Minute)
	if err != nil {
		t.Fatalf("testservice: postgres: %v%s", err, logTail(initLog))
	}
	hba := "# written by internal/testservice: trust everything, loopback and socket only\n" +
		"local all         all              trust\n" +
		"local replication all              trust\n" +
		"host  all         all 127.0.0.1/32 trust\n" +
		"host  replication all 127.0.0.1/32 trust\n"
	if err := os.WriteFile(filepath.Join(s.DataDir, "pg_hba.conf"), []byte(hba), 0o600); err != nil {
		t.Fatalf("testservice: postgres: write pg_hba.conf: %v", err)
	}

	s.Port, _ = startOnFreePort(t, "postgres", s.LogFile, func(port int) (*process, func() error, error) {
		p, err := startProcess(procSpec{
			name: "postgres",
			path: postgresBin,
			args: []string{
				"-D", s.DataDir,
				"-p", strconv.Itoa(port),
				"-c", "listen_addresses=127.0.0.1",
				"-c", "unix_socket_directories=" + sockDir,
				"-c", "wal_level=logical",
				"-c", "max_replication_slots=20",
				"-c", "max_wal_senders=20",
				"-c", "max_connections=100",
				"-c", "fsync=off",
				"-c", "synchronous_commit=off",
				"-c", "full_page_writes=off",
				"-c", "shared_buffers=32MB",
				"-c", "logging_collector=off",
				"-c", "log_destination=stderr",
			},
			dropEnv:    []string{"PGDATA=", "PGUSER=", "PGPORT=", "PGHOST="},
			dir:        base,
			logPath:    s.LogFile,
			user:       u,
			stopSignal: syscall.SIGINT, // fast shutdown
		})
		if err != nil {
			return nil, nil, err
		}
		dsn := fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s?sslmode=disable&connect_timeout=2", s.User, port, s.Database)
		return p, func() error { return pingPostgres(dsn) }, nil
	}, 90*time.Second)

	s.DSN = s.dsn(s.Database, false)
	s.ReplicationDSN = s.dsn(s.Database, true)
	return s
}

func pingPostgres(dsn string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, "SELECT 1"); err != nil {
		return fmt.Errorf("SELECT 1: %w", err)
	}
	return nil
}
