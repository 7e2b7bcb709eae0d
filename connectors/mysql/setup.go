package mysql

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"time"

	"github.com/go-mysql-org/go-mysql/client"
	gm "github.com/go-mysql-org/go-mysql/mysql"

	"github.com/penstockhq/penstock/internal/tlsconfig"
)

// tlsConfig returns the TLS configuration database.ssl.mode asks for, nil
// for none. As Debezium's (MySQL Connector/J's sslMode): preferred and
// required encrypt without checking the certificate, verify_ca checks that
// a trusted CA signed it, verify_identity also that it names the host.
func (s *settings) tlsConfig() *tls.Config {
	switch s.sslMode {
	case "preferred", "required":
		if s.sslMode == "preferred" && s.plainFallback.Load() {
			return nil
		}
		return &tls.Config{InsecureSkipVerify: true} //nolint:gosec // the modes ask for encryption without verification
	case "verify_ca":
		roots := s.roots
		return &tls.Config{
			InsecureSkipVerify: true, //nolint:gosec // the chain is verified below, the host name is not
			VerifyConnection: func(cs tls.ConnectionState) error {
				if len(cs.PeerCertificates) == 0 {
					return errors.New("the server sent no certificate")
				}
				opts := x509.VerifyOptions{Roots: roots, Intermediates: x509.NewCertPool()}
				for _, c := range cs.PeerCertificates[1:] {
					opts.Intermediates.AddCert(c)
				}
				_, err := cs.PeerCertificates[0].Verify(opts)
				return err
			},
		}
	case "verify_identity":
		return &tls.Config{ServerName: s.host, RootCAs: s.roots}
	}
	return nil
}

// loadTruststore reads the CA certificates of a PEM or PKCS12 file (told
// apart by their content: Debezium's keys name no type), with the reader
// of the worker's truststores. Its errors name the password's key too
// only when the password may be at fault.
func loadTruststore(path, password string) (*x509.CertPool, error) {
	roots, err := tlsconfig.ReadTruststore(path, "", password)
	var unread *fs.PathError
	switch {
	case errors.As(err, &unread), errors.Is(err, tlsconfig.ErrNoPEMCertificate):
		return nil, fmt.Errorf("%s: %w", KeySSLTruststore, err)
	case err != nil:
		return nil, fmt.Errorf("%s, %s: %w", KeySSLTruststore, KeySSLTruststorePw, err)
	}
	return roots, nil
}

// errNoServerTLS is go-mysql's error when the server offers no TLS.
const errNoServerTLS = "does not support TLS"

// tlsError explains a failed connection in terms of database.ssl.mode.
func (s *settings) tlsError(err error) error {
	var unknownCA x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	msg := err.Error()
	switch {
	case s.sslMode == "disabled":
		return err
	case strings.Contains(msg, errNoServerTLS):
		return fmt.Errorf("%s=%s but the server offers no TLS (give it ssl_cert and ssl_key, or use %s=preferred or disabled): %w",
			KeySSLMode, s.sslMode, KeySSLMode, err)
	case errors.As(err, &unknownCA) || strings.Contains(msg, "certificate signed by unknown authority"):
		trust := "the system's CAs"
		if s.truststore != "" {
			trust = KeySSLTruststore + " " + s.truststore
		}
		return fmt.Errorf("%s=%s: the server's certificate is not signed by a CA of %s (set %s to the file of the CA that signed it): %w",
			KeySSLMode, s.sslMode, trust, KeySSLTruststore, err)
	case errors.As(err, &hostname) || strings.Contains(msg, "certificate is valid for") || strings.Contains(msg, "doesn't contain any IP SANs"):
		return fmt.Errorf("%s=verify_identity: the server's certificate does not name %s=%s (connect by a name it holds, or use verify_ca): %w",
			KeySSLMode, KeyHostname, s.host, err)
	case errors.As(err, &invalid) || strings.Contains(msg, "x509:") || strings.Contains(msg, "tls:"):
		return fmt.Errorf("%s=%s: TLS with the server failed: %w", KeySSLMode, s.sslMode, err)
	}
	return err
}

// connect opens a client connection with the session settings the value
// conversions expect: UTF-8 text and TIMESTAMP values in UTC. With
// database.ssl.mode=preferred and a server that offers no TLS, it and the
// binlog connections fall back to plain connections.
func (s *settings) connect(ctx context.Context) (*client.Conn, error) {
	conn, err := s.dial(ctx)
	if err != nil && s.sslMode == "preferred" && !s.plainFallback.Load() && strings.Contains(err.Error(), errNoServerTLS) {
		s.plainFallback.Store(true)
		conn, err = s.dial(ctx)
	}
	if err != nil {
		return nil, fmt.Errorf("connect to %s as %s: %w", s.addr(), s.user, s.tlsError(err))
	}
	for _, q := range []string{"SET NAMES utf8mb4", "SET time_zone = '+00:00'"} {
		if _, err := conn.Execute(q); err != nil {
			conn.Close()
			return nil, fmt.Errorf("%s: %w", q, err)
		}
	}
	return conn, nil
}

func (s *settings) dial(ctx context.Context) (*client.Conn, error) {
	opts := []client.Option{}
	if tc := s.tlsConfig(); tc != nil {
		opts = append(opts, func(c *client.Conn) error { c.SetTLSConfig(tc); return nil })
	}
	dctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return client.ConnectWithContext(dctx, s.addr(), s.user, s.password, "", 30*time.Second, opts...)
}

// serverInfo is what the connector learns about the server at start.
type serverInfo struct {
	flavor   string // gm.MySQLFlavor or gm.MariaDBFlavor
	version  string
	serverID uint32
	gtidMode bool // MySQL: gtid_mode=ON; MariaDB: always (its GTIDs need no setting)
}

// queryString runs a query returning one value.
func queryString(conn *client.Conn, q string) (string, error) {
	r, err := conn.Execute(q)
	if err != nil {
		return "", fmt.Errorf("%s: %w", q, err)
	}
	defer r.Close()
	if r.RowNumber() == 0 {
		return "", nil
	}
	return getString(r, 0, 0), nil
}

// checkServer validates the server's binlog configuration and the user's
// privileges, with errors naming the setting to change.
func (s *settings) checkServer(conn *client.Conn) (serverInfo, error) {
	var info serverInfo
	v, err := queryString(conn, "SELECT VERSION()")
	if err != nil {
		return info, err
	}
	info.version = v
	info.flavor = gm.MySQLFlavor
	if strings.Contains(strings.ToLower(v), "mariadb") {
		info.flavor = gm.MariaDBFlavor
	}
	logBin, err := queryString(conn, "SELECT @@log_bin")
	if err != nil {
		return info, err
	}
	if logBin != "1" && !strings.EqualFold(logBin, "ON") {
		return info, errors.New("the server does not write a binary log: start it with log_bin (e.g. --log-bin=mysql-bin)")
	}
	for _, c := range []struct{ variable, want string }{{"binlog_format", "ROW"}, {"binlog_row_image", "FULL"}} {
		got, err := queryString(conn, "SELECT @@GLOBAL."+c.variable)
		if err != nil {
			return info, err
		}
		if !strings.EqualFold(got, c.want) {
			return info, fmt.Errorf("the server's %s is %s: change data capture needs %s=%s (SET GLOBAL %s='%s' and in the server configuration)",
				c.variable, got, c.variable, c.want, c.variable, c.want)
		}
	}
	id, err := queryString(conn, "SELECT @@server_id")
	if err != nil {
		return info, err
	}
	var sid uint64
	fmt.Sscan(id, &sid)
	info.serverID = uint32(sid)
	if info.serverID == s.serverID {
		return info, fmt.Errorf("%s=%d is the server's own server_id: choose another id, unique in the replication topology", KeyServerID, s.serverID)
	}
	if info.flavor == gm.MariaDBFlavor {
		info.gtidMode = true
	} else if m, err := queryString(conn, "SELECT @@GLOBAL.gtid_mode"); err == nil {
		info.gtidMode = strings.EqualFold(m, "ON")
	}
	if err := checkGrants(conn); err != nil {
		return info, err
	}
	if err := s.checkReplicaIDs(conn); err != nil {
		return info, err
	}
	return info, nil
}

// checkGrants reports a user without the replication privileges.
func checkGrants(conn *client.Conn) error {
	r, err := conn.Execute("SHOW GRANTS FOR CURRENT_USER()")
	if err != nil {
		return fmt.Errorf("SHOW GRANTS: %w", err)
	}
	defer r.Close()
	var all strings.Builder
	for i := 0; i < r.RowNumber(); i++ {
		g := getString(r, i, 0)
		all.WriteString(strings.ToUpper(g))
		all.WriteByte('\n')
	}
	g := all.String()
	if strings.Contains(g, "ALL PRIVILEGES ON *.*") {
		return nil
	}
	var missing []string
	if !strings.Contains(g, "REPLICATION SLAVE") && !strings.Contains(g, "REPLICATION REPLICA") {
		missing = append(missing, "REPLICATION SLAVE")
	}
	if !strings.Contains(g, "REPLICATION CLIENT") && !strings.Contains(g, "BINLOG MONITOR") {
		missing = append(missing, "REPLICATION CLIENT")
	}
	if len(missing) > 0 {
		return fmt.Errorf("the user lacks %s: GRANT %s ON *.* TO the user named in %s",
			strings.Join(missing, " and "), strings.Join(missing, ", "), KeyUser)
	}
	return nil
}

// checkReplicaIDs reports another replica registered with our server id.
func (s *settings) checkReplicaIDs(conn *client.Conn) error {
	r, err := conn.Execute("SHOW SLAVE HOSTS")
	if err != nil {
		return nil // needs REPLICATION MASTER ADMIN on MariaDB; the dump reports a collision anyway
	}
	defer r.Close()
	for i := 0; i < r.RowNumber(); i++ {
		id, _ := r.GetUint(i, 0)
		if uint32(id) == s.serverID {
			host := getString(r, i, 1)
			return fmt.Errorf("%s=%d is already used by the replica %s: choose an id unique in the replication topology", KeyServerID, s.serverID, host)
		}
	}
	return nil
}

// binlogPosition reads the server's current binlog file, position and GTID
// set (executed GTIDs on MySQL, gtid_binlog_pos on MariaDB).
func binlogPosition(conn *client.Conn, info serverInfo) (position, error) {
	var p position
	r, err := conn.Execute("SHOW MASTER STATUS")
	if err != nil {
		return p, fmt.Errorf("SHOW MASTER STATUS: %w", err)
	}
	defer r.Close()
	if r.RowNumber() == 0 {
		return p, errors.New("SHOW MASTER STATUS returned nothing: is the binary log enabled (log_bin)?")
	}
	p.file = getString(r, 0, 0)
	pos, _ := r.GetUint(0, 1)
	p.pos = pos
	switch {
	case info.flavor == gm.MariaDBFlavor:
		p.gtids, err = queryString(conn, "SELECT @@GLOBAL.gtid_binlog_pos")
		if err != nil {
			return p, err
		}
	case info.gtidMode && r.ColumnNumber() >= 5:
		p.gtids = getString(r, 0, 4)
		p.gtids = strings.ReplaceAll(p.gtids, "\n", "")
	}
	return p, nil
}

// binlogFiles lists the binlog files the server still has.
func binlogFiles(conn *client.Conn) (map[string]bool, error) {
	r, err := conn.Execute("SHOW BINARY LOGS")
	if err != nil {
		return nil, fmt.Errorf("SHOW BINARY LOGS: %w", err)
	}
	defer r.Close()
	out := map[string]bool{}
	for i := 0; i < r.RowNumber(); i++ {
		f := getString(r, i, 0)
		out[f] = true
	}
	return out, nil
}

// capturedTable is a table the snapshot reads.
type capturedTable struct {
	db, name string
	estRows  int64
}

// capturedTables lists the base tables the filters capture.
func (s *settings) capturedTables(conn *client.Conn) ([]capturedTable, error) {
	r, err := conn.Execute(`SELECT TABLE_SCHEMA, TABLE_NAME, COALESCE(TABLE_ROWS, 0) FROM information_schema.TABLES
WHERE TABLE_TYPE = 'BASE TABLE' AND TABLE_SCHEMA NOT IN ('mysql', 'information_schema', 'performance_schema', 'sys')
ORDER BY TABLE_SCHEMA, TABLE_NAME`)
	if err != nil {
		return nil, fmt.Errorf("list tables: %w", err)
	}
	defer r.Close()
	var out []capturedTable
	for i := 0; i < r.RowNumber(); i++ {
		db := getString(r, i, 0)
		name := getString(r, i, 1)
		n, _ := r.GetInt(i, 2)
		if s.filter.Table(db, name) {
			out = append(out, capturedTable{db: db, name: name, estRows: n})
		}
	}
	return out, nil
}

// describe reads a table's columns and primary key from information_schema.
func describe(conn *client.Conn, db, name string) ([]colDef, []string, error) {
	r, err := conn.Execute(`SELECT COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, IS_NULLABLE, CHARACTER_SET_NAME,
  NUMERIC_PRECISION, NUMERIC_SCALE, DATETIME_PRECISION, CHARACTER_OCTET_LENGTH
FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? ORDER BY ORDINAL_POSITION`, db, name)
	if err != nil {
		return nil, nil, fmt.Errorf("describe %s.%s: %w", db, name, err)
	}
	defer r.Close()
	var defs []colDef
	for i := 0; i < r.RowNumber(); i++ {
		str := func(c int) string { return getString(r, i, c) }
		optStr := func(c int) *string {
			if null, _ := r.IsNull(i, c); null {
				return nil
			}
			v := str(c)
			return &v
		}
		optInt := func(c int) *int64 {
			if null, _ := r.IsNull(i, c); null {
				return nil
			}
			v, _ := r.GetInt(i, c)
			return &v
		}
		defs = append(defs, defFromInfoSchema(str(0), str(1), str(2), str(3), optStr(4), optInt(5), optInt(6), optInt(7), optInt(8)))
	}
	if len(defs) == 0 {
		return nil, nil, fmt.Errorf("describe %s.%s: %w", db, name, errTableNotFound)
	}
	kr, err := conn.Execute(`SELECT COLUMN_NAME FROM information_schema.KEY_COLUMN_USAGE
WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND CONSTRAINT_NAME = 'PRIMARY' ORDER BY ORDINAL_POSITION`, db, name)
	if err != nil {
		return nil, nil, fmt.Errorf("primary key of %s.%s: %w", db, name, err)
	}
	defer kr.Close()
	var pk []string
	for i := 0; i < kr.RowNumber(); i++ {
		c := getString(kr, i, 0)
		pk = append(pk, c)
	}
	return defs, pk, nil
}

// errTableNotFound is describe's error for a table the server does not
// have (an incremental snapshot skips it; a broken connection is not that).
var errTableNotFound = errors.New("table not found")

// quoteIdent quotes a MySQL identifier.
func quoteIdent(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }

// errBinlogPurged is returned when the binlog at the stored position is no
// longer on the server.
var errBinlogPurged = errors.New("the binlog at the stored offset is no longer on the server (purged): " +
	"set snapshot.mode=when_needed to take a new snapshot automatically, or delete the connector's offsets")

// isPurgedError reports the server's refusal to serve a position it has no
// binlog for (ER_MASTER_FATAL_ERROR_READING_BINLOG, 1236).
func isPurgedError(err error) bool {
	var me *gm.MyError
	if errors.As(err, &me) && me.Code == 1236 {
		m := strings.ToLower(me.Message)
		return strings.Contains(m, "purged") || strings.Contains(m, "could not find") || strings.Contains(m, "not find gtid") ||
			strings.Contains(m, "first log file name")
	}
	return false
}

// isServerIDCollision reports a dump refused or ended because another
// replica uses the same server id.
func isServerIDCollision(err error) bool {
	var me *gm.MyError
	if errors.As(err, &me) {
		m := strings.ToLower(me.Message)
		return strings.Contains(m, "same server_uuid/server_id") || strings.Contains(m, "same server_id") ||
			strings.Contains(m, "same server id")
	}
	return false
}

// getString returns a result value as a string of its own: go-mysql's
// strings share the result's buffers, which it reuses once closed.
func getString(r *gm.Result, row, col int) string {
	s, _ := r.GetString(row, col)
	return strings.Clone(s)
}
