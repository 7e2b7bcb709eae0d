package e2e_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/penstockhq/penstock/internal/brokertest"
	"github.com/penstockhq/penstock/internal/clientconfig"
	"github.com/penstockhq/penstock/internal/e2e"
	"github.com/penstockhq/penstock/internal/testcerts"
	"github.com/penstockhq/penstock/internal/testservice"
	"github.com/penstockhq/penstock/worker"
)

// TestSecureCluster: three workers form a group against a broker that
// requires SASL_SSL and enforces ACLs, the worker principal holding only the
// ACLs the README documents; their REST APIs serve HTTPS with basic users.
// The workers are `penstock worker` processes. A Postgres source and a file
// sink, created through any worker (followers forward to the leader over
// HTTPS with the caller's credentials), carry every customer row to the file.
func TestSecureCluster(t *testing.T) {
	pg := testservice.Postgres(t)
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, pg.DSN)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec(ctx, "CREATE DATABASE shop"); err != nil {
		t.Fatal(err)
	}
	admin.Close(ctx)
	conn, err := pgx.Connect(ctx, pg.DSNFor("shop"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	sql, err := os.ReadFile("../../examples/postgres-to-elasticsearch/shop.sql")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, string(sql)); err != nil {
		t.Fatal(err)
	}
	var customers int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM customers").Scan(&customers); err != nil {
		t.Fatal(err)
	}

	ca := testcerts.NewCA(t, "cluster-ca")
	srvCert := ca.Server(t, "penstock")
	b := brokertest.Start(t, brokertest.WithProps(map[string]string{
		"listeners":             "SASL_SSL://127.0.0.1:0",
		"ssl.keystore.location": srvCert.File,
		"sasl.jaas.config": `org.apache.kafka.common.security.plain.PlainLoginModule required ` +
			`user_admin="admin-secret" user_connect="connect-secret";`,
		"authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
		"super.users":           "User:admin",
	}))
	clientProps := func(user, pass string) map[string]string {
		return map[string]string{"security.protocol": "SASL_SSL", "sasl.mechanism": "PLAIN", "ssl.truststore.location": ca.CertFile,
			"sasl.jaas.config": fmt.Sprintf(`org.apache.kafka.common.security.plain.PlainLoginModule required username="%s" password="%s";`, user, pass)}
	}
	sec, err := clientconfig.Opts(clientconfig.Layers(clientProps("admin", "admin-secret"), ""))
	if err != nil {
		t.Fatal(err)
	}
	acl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(b.Addr)}, sec...)...)
	if err != nil {
		t.Fatal(err)
	}
	defer acl.Close()
	lit, pre := kadm.ACLPatternLiteral, kadm.ACLPatternPrefixed
	for _, bld := range []*kadm.ACLBuilder{
		kadm.NewACLs().Allow("User:connect").Topics("connect-configs", "connect-offsets", "connect-status").
			Operations(kadm.OpRead, kadm.OpWrite, kadm.OpCreate, kadm.OpDescribeConfigs).ResourcePatternType(lit),
		kadm.NewACLs().Allow("User:connect").Groups("connect-cluster").Operations(kadm.OpRead).ResourcePatternType(lit),
		kadm.NewACLs().Allow("User:connect").Topics("shop.").Operations(kadm.OpRead, kadm.OpWrite, kadm.OpCreate).ResourcePatternType(pre),
		kadm.NewACLs().Allow("User:connect").Groups("connect-customers-file").Operations(kadm.OpRead).ResourcePatternType(lit),
	} {
		res, err := kadm.NewClient(acl).CreateACLs(ctx, bld)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range res {
			if r.Err != nil {
				t.Fatal(r.Err)
			}
		}
	}

	users := filepath.Join(t.TempDir(), "rest-users")
	if err := os.WriteFile(users, []byte("ops: ops-secret\nviewer: view-secret,read-only\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM([]byte(ca.CertPEM))
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	bin := e2e.BuildPenstock(t)
	dir := t.TempDir()
	var urls []string
	for range 3 {
		props := e2e.WorkerProps(b.Addr, clientProps("connect", "connect-secret"))
		url := fmt.Sprintf("https://127.0.0.1:%d", e2e.FreePort(t))
		props[worker.KeyListeners] = url
		props[worker.KeyAdvertisedHost] = "127.0.0.1"
		props["listeners.https.ssl.keystore.location"] = srvCert.File
		props["listeners.https.ssl.truststore.location"] = ca.CertFile
		props[worker.KeyRestBasicUsersFile] = users
		startSecureWorker(t, bin, e2e.WriteProps(t, dir, props), url, hc)
		urls = append(urls, url)
	}
	call := func(method, url, user, pass string, body any) (int, []byte, error) {
		var rd io.Reader
		if body != nil {
			bb, _ := json.Marshal(body)
			rd = bytes.NewReader(bb)
		}
		req, _ := http.NewRequest(method, url, rd)
		req.Header.Set("Content-Type", "application/json")
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := hc.Do(req)
		if err != nil {
			return 0, nil, err
		}
		defer resp.Body.Close()
		rb, err := io.ReadAll(resp.Body)
		return resp.StatusCode, rb, err
	}
	if code, _, err := call("GET", urls[0]+"/connectors", "", "", nil); err != nil || code != http.StatusUnauthorized {
		t.Fatalf("no credentials: %d %v", code, err)
	}
	out := filepath.Join(t.TempDir(), "customers.txt")
	src := map[string]any{"name": "shop-postgres", "config": map[string]string{
		"connector.class": "io.debezium.connector.postgresql.PostgresConnector", "tasks.max": "1",
		"database.hostname": pg.Host, "database.port": strconv.Itoa(pg.Port), "database.user": pg.User,
		"database.password": "${env:SHOP_DB_PASSWORD}", "database.dbname": "shop", "topic.prefix": "shop",
		"table.include.list": "public.customers", "plugin.name": "pgoutput", "slot.name": "shop",
		"publication.name": "shop_publication", "publication.autocreate.mode": "filtered", "snapshot.mode": "initial"}}
	sink := map[string]any{"name": "customers-file", "config": map[string]string{
		"connector.class": "FileStreamSink", "topics": "shop.public.customers", "file": out}}
	for _, c := range []map[string]any{src, sink} {
		if code, body, _ := call("POST", urls[2]+"/connectors", "viewer", "view-secret", c); code != http.StatusForbidden {
			t.Fatalf("read-only create: %d %s", code, body)
		}
		e2e.Eventually(t, 60*time.Second, "create "+c["name"].(string)+" through a worker", func() error {
			var lastErr error
			for _, u := range []string{urls[2], urls[1], urls[0]} { // the last one joined is a follower: it forwards
				code, body, err := call("POST", u+"/connectors", "ops", "ops-secret", c)
				if err == nil && code == http.StatusCreated {
					return nil
				}
				lastErr = fmt.Errorf("%s: %d %s %v", u, code, body, err)
			}
			return lastErr
		})
	}
	e2e.Eventually(t, 120*time.Second, "every customer in the file", func() error {
		f, err := os.Open(out)
		if err != nil {
			return err
		}
		defer f.Close()
		n := 0
		for sc := bufio.NewScanner(f); sc.Scan(); {
			n++
		}
		if n < customers {
			_, st, _ := call("GET", urls[0]+"/connectors/shop-postgres/status", "ops", "ops-secret", nil)
			return fmt.Errorf("%d of %d customers (source status %s)", n, customers, st)
		}
		return nil
	})
}

// startSecureWorker runs `penstock worker` on configFile and waits until its
// HTTPS REST API answers (401 without credentials is an answer).
func startSecureWorker(t *testing.T, bin, configFile, url string, hc *http.Client) {
	t.Helper()
	logFile := configFile + ".log"
	f, err := os.Create(logFile)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "worker", "--config", configFile)
	cmd.Env = append(os.Environ(), "SHOP_DB_PASSWORD=example-password")
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		cmd.Wait()
		f.Close()
		if t.Failed() {
			t.Logf("---- %s ----\n%s", logFile, e2e.LogTail(logFile))
		}
	})
	e2e.Eventually(t, 60*time.Second, "worker REST API at "+url, func() error {
		resp, err := hc.Get(url + "/")
		if err != nil {
			return err
		}
		resp.Body.Close()
		return nil
	})
}
