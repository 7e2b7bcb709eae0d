package testservice

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/go-sql-driver/mysql"
)

// MariaDBServer is a private MariaDB server started by MariaDB. It listens on
// 127.0.0.1 only and writes row-based binlogs (binlog_format=ROW,
// binlog_row_image=FULL, binlog_row_metadata=FULL), so it can serve as a
// change-data-capture source.
type MariaDBServer struct {
	// Host is the address the server listens on: 127.0.0.1.
	Host string
	// Port is the TCP port the server listens on.
	Port int
	// User is the administrative user: root, with all privileges (replication
	// included) from 127.0.0.1.
	User string
	// Password is User's password: empty.
	Password string
	// DSN is a github.com/go-sql-driver/mysql data source name with no default
	// database: root@tcp(127.0.0.1:PORT)/.
	DSN string
	// ServerID is the server's server_id; replication clients must use another.
	ServerID uint32
	// DataDir is the server's data directory (binlogs are mysql-bin.* in it).
	DataDir string
	// Socket is the server's unix socket.
	Socket string
	// LogFile receives the server's output.
	LogFile string
	// TLSCert and TLSKey are the server's certificate and key files (PEM),
	// set by MariaDBWithTLS.
	TLSCert, TLSKey string
}

// DSNFor returns a go-sql-driver/mysql data source name with database as the
// default database (create it first, e.g. with CREATE DATABASE over DSN).
func (s *MariaDBServer) DSNFor(database string) string {
	return fmt.Sprintf("%s@tcp(%s:%d)/%s", s.User, s.Host, s.Port, database)
}

var mariadbServerIDs atomic.Uint32

// MariaDBTLS is the TLS identity of a MariaDB server started by
// MariaDBWithTLS, in PEM: its certificate (chain) and private key.
type MariaDBTLS struct {
	CertPEM, KeyPEM []byte
}

// MariaDB starts a MariaDB server for the test and stops it on cleanup:
// mariadb-install-db into t.TempDir(), then mariadbd (with --no-defaults, so
// no system option file applies) on a free 127.0.0.1 port with a row-based
// binlog. When the test runs as root the server runs with --user=root. It
// skips the test when MariaDB is not installed (fails with CI=true). The
// server offers no TLS.
func MariaDB(t testing.TB) *MariaDBServer {
	t.Helper()
	return startMariaDB(t, nil)
}

// MariaDBWithTLS starts a MariaDB server as MariaDB does that also offers
// TLS with id (clients choose; plain connections stay allowed). The files
// are s.TLSCert and s.TLSKey: rewrite them and run FLUSH SSL to change the
// server's certificate.
func MariaDBWithTLS(t testing.TB, id MariaDBTLS) *MariaDBServer {
	t.Helper()
	return startMariaDB(t, &id)
}

func startMariaDB(t testing.TB, id *MariaDBTLS) *MariaDBServer {
	t.Helper()
	const install = "install the MariaDB server (apt-get install mariadb-server)"
	serverBin := findBinary(t, install, "mariadbd", "mysqld")
	installBin := findBinary(t, install, "mariadb-install-db", "mysql_install_db")

	base := t.TempDir()
	sockDir, err := shortDir(t, base, len("/mariadbd.sock.lock"), nil)
	if err != nil {
		t.Fatalf("testservice: mariadb: %v", err)
	}
	s := &MariaDBServer{
		Host:     "127.0.0.1",
		User:     "root",
		ServerID: 1000 + uint32(os.Getpid()%100000)*100 + mariadbServerIDs.Add(1)%100,
		DataDir:  filepath.Join(base, "data"),
		Socket:   filepath.Join(sockDir, "mariadbd.sock"),
		LogFile:  filepath.Join(base, "mariadbd.log"),
	}
	tmpDir := filepath.Join(base, "tmp")
	if err := mkdirs(nil, tmpDir); err != nil {
		t.Fatalf("testservice: mariadb: %v", err)
	}
	var asUser []string
	if os.Geteuid() == 0 {
		asUser = []string{"--user=root"}
	}
	var tlsArgs []string
	if id != nil {
		s.TLSCert, s.TLSKey = filepath.Join(base, "server-cert.pem"), filepath.Join(base, "server-key.pem")
		if err := os.WriteFile(s.TLSCert, id.CertPEM, 0o644); err != nil {
			t.Fatalf("testservice: mariadb: %v", err)
		}
		if err := os.WriteFile(s.TLSKey, id.KeyPEM, 0o600); err != nil {
			t.Fatalf("testservice: mariadb: %v", err)
		}
		tlsArgs = []string{"--ssl-cert=" + s.TLSCert, "--ssl-key=" + s.TLSKey}
	}

	installLog := filepath.Join(base, "install-db.log")
	err = run(procSpec{
		name: "mariadb-install-db",
		path: installBin,
		args: append([]string{"--no-defaults", "--datadir=" + s.DataDir,
			"--auth-root-authentication-method=normal", "--skip-test-db", "--skip-name-resolve"}, asUser...),
		dir:     base,
		logPath: installLog,
	}, 2*time.Minute)
	if err != nil {
		t.Fatalf("testservice: mariadb: %v%s", err, logTail(installLog))
	}
	// mariadb-install-db creates root@localhost only, which matches socket
	// connections; the init file (run at every start) adds root@127.0.0.1.
	initFile := filepath.Join(base, "init.sql")
	initSQL := "CREATE USER IF NOT EXISTS 'root'@'127.0.0.1';\n" +
		"GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;\n"
	if err := os.WriteFile(initFile, []byte(initSQL), 0o644); err != nil {
		t.Fatalf("testservice: mariadb: write init file: %v", err)
	}

	s.Port, _ = startOnFreePort(t, "mariadbd", s.LogFile, func(port int) (*process, func() error, error) {
		args := append([]string{
			"--no-defaults",
			"--datadir=" + s.DataDir,
			"--tmpdir=" + tmpDir,
			"--socket=" + s.Socket,
			"--pid-file=" + filepath.Join(base, "mariadbd.pid"),
			"--port=" + strconv.Itoa(port),
			"--bind-address=127.0.0.1",
			"--skip-name-resolve",
			"--init-file=" + initFile,
			"--server-id=" + strconv.FormatUint(uint64(s.ServerID), 10),
			"--log-bin=mysql-bin",
			"--binlog-format=ROW",
			"--binlog-row-image=FULL",
			"--binlog-row-metadata=FULL",
			"--character-set-server=utf8mb4",
			"--collation-server=utf8mb4_general_ci",
			"--innodb-buffer-pool-size=64M",
			"--innodb-flush-log-at-trx-commit=2",
			"--sync-binlog=0",
		}, append(tlsArgs, asUser...)...)
		p, err := startProcess(procSpec{
			name:       "mariadbd",
			path:       serverBin,
			args:       args,
			dropEnv:    []string{"MYSQL_", "MARIADB_"},
			dir:        base,
			logPath:    s.LogFile,
			stopSignal: syscall.SIGTERM, // clean shutdown
			stopGrace:  20 * time.Second,
		})
		if err != nil {
			return nil, nil, err
		}
		cfg := mysqlConfig(s.User, port)
		return p, func() error { return pingMariaDB(cfg) }, nil
	}, 90*time.Second)

	s.DSN = mysqlConfig(s.User, s.Port).FormatDSN()
	return s
}

func mysqlConfig(user string, port int) *mysql.Config {
	cfg := mysql.NewConfig()
	cfg.User = user
	cfg.Net = "tcp"
	cfg.Addr = fmt.Sprintf("127.0.0.1:%d", port)
	return cfg
}

func pingMariaDB(cfg *mysql.Config) error {
	cfg = cfg.Clone()
	cfg.Timeout = 2 * time.Second
	cfg.Logger = mysql.Logger(nopLogger{}) // connection errors while starting are expected
	conn, err := mysql.NewConnector(cfg)
	if err != nil {
		return fmt.Errorf("mysql connector: %w", err)
	}
	db := sql.OpenDB(conn)
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	var one int
	if err := db.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("SELECT 1: %w", err)
	}
	return nil
}

type nopLogger struct{}

func (nopLogger) Print(...any) {}
