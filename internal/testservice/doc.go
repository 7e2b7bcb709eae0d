// Package testservice starts real servers for tests: PostgreSQL with logical
// decoding, MariaDB with row binlogs, an Elasticsearch-API server (ZincSearch)
// and an S3-API server (versitygw).
//
// Each function starts one private server on a free 127.0.0.1 port with its
// data in t.TempDir(), waits until it answers, and registers a t.Cleanup that
// stops it (and its whole process group) when the test ends, pass or fail.
// Servers also get SIGKILL if the test binary itself dies (a panic in another
// goroutine, a -timeout), so no server outlives the run:
//
//	func TestCapture(t *testing.T) {
//		pg := testservice.Postgres(t)
//		conn, err := pgx.Connect(ctx, pg.DSN)
//		...
//	}
//
// Call them from the test's goroutine (they use t.Fatal and t.Skip). Servers
// are never shared between tests, so tests may call t.Parallel; each
// start costs about one to three seconds. The machine's own servers (PostgreSQL
// on 5432, MariaDB on 3306) are never touched: every server gets its own data
// directory, port, socket and configuration (MariaDB runs with --no-defaults).
//
// # Binaries
//
// Binaries are looked up in PATH, the standard install locations
// (/usr/local/bin, /usr/bin, /usr/sbin, /usr/lib/postgresql/*/bin, ...) and
// $HOME/.cache/penstock/bin, where scripts/deps.sh builds zincsearch and
// versitygw. When one is missing the test is skipped with a message naming what
// to install, unless the environment has CI=true: then the test fails, because
// in CI a missing server is a failure, never a skip.
//
// # Running as root
//
// PostgreSQL refuses to run as root. When the test process is root, initdb and
// postgres run as the "postgres" system account, and the temporary directories
// are made traversable and owned by it. MariaDB runs with --user=root.
//
// # Credentials for S3 clients
//
// The AWS SDK (used by gocloud.dev/blob/s3blob) reads credentials from the
// environment. Call (*S3Server).SetEnv(t) before opening a bucket; it uses
// t.Setenv, so it cannot be used in a test that calls t.Parallel. Subprocesses
// can be given (*S3Server).Env() instead.
//
// # Failure output
//
// Every server writes its log to a file in its temporary directory; when a
// server fails to start, the failure message includes the tail of that log.
package testservice
