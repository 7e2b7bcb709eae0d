package testservice_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	_ "github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"gocloud.dev/blob"
	_ "gocloud.dev/blob/s3blob"

	"github.com/penstockhq/penstock/internal/testservice"
)

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestPostgres(t *testing.T) {
	t.Parallel()
	pg := testservice.Postgres(t)
	c := ctx(t)

	conn, err := pgx.Connect(c, pg.DSN)
	if err != nil {
		t.Fatalf("connect %s: %v", pg.DSN, err)
	}
	defer conn.Close(c)
	var one int
	if err := conn.QueryRow(c, "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("SELECT 1 = %d, %v", one, err)
	}
	var walLevel string
	if err := conn.QueryRow(c, "SHOW wal_level").Scan(&walLevel); err != nil {
		t.Fatalf("SHOW wal_level: %v", err)
	}
	if walLevel != "logical" {
		t.Fatalf("wal_level = %q, want logical", walLevel)
	}

	// The replication DSN opens a replication connection.
	rc, err := pgconn.Connect(c, pg.ReplicationDSN)
	if err != nil {
		t.Fatalf("replication connect %s: %v", pg.ReplicationDSN, err)
	}
	defer rc.Close(c)
	res, err := rc.Exec(c, "IDENTIFY_SYSTEM").ReadAll()
	if err != nil || len(res) != 1 || len(res[0].Rows) != 1 {
		t.Fatalf("IDENTIFY_SYSTEM: %v (%d results)", err, len(res))
	}
}

func TestMariaDB(t *testing.T) {
	t.Parallel()
	m := testservice.MariaDB(t)
	c := ctx(t)

	db, err := sql.Open("mysql", m.DSN)
	if err != nil {
		t.Fatalf("open %s: %v", m.DSN, err)
	}
	defer db.Close()
	var one int
	if err := db.QueryRowContext(c, "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("SELECT 1 = %d, %v", one, err)
	}
	var format, image string
	if err := db.QueryRowContext(c, "SELECT @@binlog_format, @@binlog_row_image").Scan(&format, &image); err != nil {
		t.Fatalf("SELECT @@binlog_format: %v", err)
	}
	if format != "ROW" || image != "FULL" {
		t.Fatalf("binlog_format, binlog_row_image = %q, %q; want ROW, FULL", format, image)
	}
	var logBin int
	if err := db.QueryRowContext(c, "SELECT @@log_bin").Scan(&logBin); err != nil || logBin != 1 {
		t.Fatalf("@@log_bin = %d, %v; want 1", logBin, err)
	}
	if _, err := db.ExecContext(c, "CREATE DATABASE app"); err != nil {
		t.Fatalf("CREATE DATABASE: %v", err)
	}
	appDB, err := sql.Open("mysql", m.DSNFor("app"))
	if err != nil {
		t.Fatalf("open %s: %v", m.DSNFor("app"), err)
	}
	defer appDB.Close()
	if _, err := appDB.ExecContext(c, "CREATE TABLE t (id INT PRIMARY KEY)"); err != nil {
		t.Fatalf("CREATE TABLE: %v", err)
	}
}

func TestElasticsearch(t *testing.T) {
	t.Parallel()
	es := testservice.Elasticsearch(t)
	req, err := http.NewRequestWithContext(ctx(t), http.MethodGet, es.URL+"/", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(es.Username, es.Password)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s/: %v", es.URL, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s/: %s: %s", es.URL, resp.Status, body)
	}
	var info struct {
		Version struct {
			Number string `json:"number"`
		} `json:"version"`
	}
	if err := json.Unmarshal(body, &info); err != nil || info.Version.Number == "" {
		t.Fatalf("cluster info %s: %v", body, err)
	}
}

// Not parallel: SetEnv uses t.Setenv.
func TestS3(t *testing.T) {
	s3 := testservice.S3(t)
	s3.SetEnv(t)
	bucketName := s3.CreateBucket(t, "penstock-test")
	c := ctx(t)

	bucket, err := blob.OpenBucket(c, s3.BucketURL(bucketName))
	if err != nil {
		t.Fatalf("open %s: %v", s3.BucketURL(bucketName), err)
	}
	defer bucket.Close()
	want := "hello from penstock\n"
	if err := bucket.WriteAll(c, "dir/hello.txt", []byte(want), nil); err != nil {
		t.Fatalf("write: %v", err)
	}
	got, err := bucket.ReadAll(c, "dir/hello.txt")
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if string(got) != want {
		t.Fatalf("read %q, want %q", got, want)
	}
	// The object is a file under the bucket directory.
	onDisk, err := os.ReadFile(filepath.Join(s3.Root, bucketName, "dir", "hello.txt"))
	if err != nil || string(onDisk) != want {
		t.Fatalf("file on disk = %q, %v", onDisk, err)
	}
}

func TestBucketURL(t *testing.T) {
	s := &testservice.S3Server{Endpoint: "http://127.0.0.1:9000", Region: "us-east-1"}
	got := s.BucketURL("b")
	for _, want := range []string{"s3://b?", "endpoint=http%3A%2F%2F127.0.0.1%3A9000", "use_path_style=true", "region=us-east-1"} {
		if !strings.Contains(got, want) {
			t.Errorf("BucketURL = %q, missing %q", got, want)
		}
	}
}
