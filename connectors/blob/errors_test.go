package blob

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/internal/testservice"
)

// startS3Sink starts a sink task on a versitygw bucket of its own, with
// props besides the bucket's keys, and stops it at the test's end. dir is
// the bucket's directory: renamed, the bucket is gone from the store.
func startS3Sink(t *testing.T, props map[string]string) (task *Task, tctx *fakeTaskContext, dir string) {
	t.Helper()
	s3 := testservice.S3(t)
	bucket := s3.CreateBucket(t, "exports")
	all := map[string]string{BlobURLConfig: s3.BucketURL(bucket), AWSAccessKeyConfig: s3.AccessKey, AWSSecretKeyConfig: s3.SecretKey}
	for k, v := range props {
		all[k] = v
	}
	task, tctx = &Task{}, &fakeTaskContext{}
	if err := task.Start(context.Background(), tctx, all); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { task.Stop() })
	return task, tctx, filepath.Join(s3.Root, bucket)
}

// TestUploadFailureRewindsAndRewrites takes versitygw's bucket away while
// a set is being uploaded: the task must not commit past the set, must ask
// for a rewind to its first record, and once the bucket is back, rewrite
// the objects whole from the records read again.
func TestUploadFailureRewindsAndRewrites(t *testing.T) {
	ctx := context.Background()
	task, tctx, dir := startS3Sink(t, map[string]string{
		FormatConfig: "ParquetFormat", FlushSizeConfig: "20", RetryBackoffConfig: "10",
	})
	tp := connect.TopicPartition{Topic: "t", Partition: 0}
	put := func(from, to int64) {
		t.Helper()
		if err := task.Put(ctx, richRecords("t", 0, from, int(to-from))); err != nil {
			t.Fatal(err)
		}
	}
	commitAt := func(pos int64) int64 {
		t.Helper()
		out, err := task.PreCommit(ctx, map[connect.TopicPartition]int64{tp: pos})
		if err != nil {
			t.Fatal(err)
		}
		return out[tp]
	}
	put(0, 50)
	if got := commitAt(50); got != 40 {
		t.Fatalf("PreCommit = %d, want 40 (objects 0-19 and 20-39 uploaded, 40-49 open)", got)
	}
	if err := os.Rename(dir, dir+".away"); err != nil {
		t.Fatal(err)
	}
	put(50, 70) // the set 40-59 fails to upload
	if rw := tctx.takeRewinds(); rw[tp] != 40 {
		t.Fatalf("rewinds %v, want %v at 40", rw, tp)
	}
	if got := commitAt(70); got != 40 {
		t.Fatalf("PreCommit after the failure = %d, want 40", got)
	}
	if err := os.Rename(dir+".away", dir); err != nil {
		t.Fatal(err)
	}
	put(40, 70) // what the consumer reads again after the rewind
	if got := commitAt(70); got != 60 {
		t.Fatalf("PreCommit after the retry = %d, want 60", got)
	}
	var names []string
	entries, _ := os.ReadDir(filepath.Join(dir, "topics", "t", "partition=0"))
	for _, e := range entries {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	if strings.Join(names, ",") != "t+0+0000000000.snappy.parquet,t+0+0000000020.snappy.parquet,t+0+0000000040.snappy.parquet" {
		t.Fatalf("objects %v", names)
	}
	rows := duckdb(t, fmt.Sprintf(`SELECT count(*) AS n, count(DISTINCT seq) AS d, max(seq) AS m FROM read_parquet('%s/topics/t/partition=0/*.parquet', hive_partitioning=false)`, dir))
	if fmt.Sprintf("%v %v %v", rows[0]["n"], rows[0]["d"], rows[0]["m"]) != "60 60 59" {
		t.Fatalf("objects hold %v", rows)
	}
}

// TestStoreFailureFailsTaskAfterRetries: with versitygw's bucket gone, the
// first s3.part.retries failed uploads are retried (Put returns nil and
// rewinds), the next one fails Put with the store's error naming the
// partition and offset, so the task's status shows it; nothing past the
// failed set is committable.
func TestStoreFailureFailsTaskAfterRetries(t *testing.T) {
	ctx := context.Background()
	task, tctx, dir := startS3Sink(t, map[string]string{
		FormatConfig: "JsonFormat", FlushSizeConfig: "10", RetryBackoffConfig: "1", PartRetriesConfig: "2",
	})
	tp := connect.TopicPartition{Topic: "t", Partition: 0}
	if err := task.Put(ctx, richRecords("t", 0, 0, 10)); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(dir, dir+".away"); err != nil {
		t.Fatal(err)
	}
	defer os.Rename(dir+".away", dir)
	for attempt := 1; attempt <= 3; attempt++ {
		err := task.Put(ctx, richRecords("t", 0, 10, 10)) // read again after each rewind
		if rw := tctx.takeRewinds(); rw[tp] != 10 {
			t.Fatalf("attempt %d: rewinds %v, want %v at 10", attempt, rw, tp)
		}
		if attempt <= 2 {
			if err != nil {
				t.Fatalf("attempt %d (a retry of s3.part.retries=2) failed the task: %v", attempt, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), "partition 0 from offset 10") || !strings.Contains(err.Error(), "3 times") ||
			!strings.Contains(err.Error(), "NoSuchBucket") {
			t.Fatalf("attempt 3: err = %v, want the store's error after 2 retries", err)
		}
	}
	if err := task.Put(ctx, richRecords("t", 0, 10, 10)); err == nil {
		t.Fatal("Put after the retries were exhausted succeeded")
	}
	out, err := task.PreCommit(ctx, map[connect.TopicPartition]int64{tp: 20})
	if err != nil || out[tp] != 10 {
		t.Fatalf("PreCommit = %v, %v, want 10", out, err)
	}
}

// TestNoRetryOnceTaskFailed: with s3.part.retries=0, the first failed
// upload fails the task; a second partition's failed upload in the same Put
// is not announced as retried nor backed off for (the task is failing
// anyway), and both partitions are rewound to their sets' first records.
func TestNoRetryOnceTaskFailed(t *testing.T) {
	ctx := context.Background()
	task, tctx, dir := startS3Sink(t, map[string]string{
		FormatConfig: "JsonFormat", FlushSizeConfig: "10", RetryBackoffConfig: "1", PartRetriesConfig: "0",
	})
	if err := os.Rename(dir, dir+".away"); err != nil {
		t.Fatal(err)
	}
	defer os.Rename(dir+".away", dir)
	var logs strings.Builder
	defer slog.SetDefault(slog.Default())
	slog.SetDefault(slog.New(slog.NewTextHandler(&logs, nil)))
	recs := append(richRecords("t", 0, 0, 10), richRecords("t", 1, 0, 10)...)
	if err := task.Put(ctx, recs); err == nil || !strings.Contains(err.Error(), "partition 0 from offset 0") {
		t.Fatalf("Put = %v, want the first partition's failure", err)
	}
	if rw := tctx.takeRewinds(); len(rw) != 2 || rw[connect.TopicPartition{Topic: "t", Partition: 1}] != 0 {
		t.Fatalf("rewinds %v, want both partitions at 0", rw)
	}
	if strings.Contains(logs.String(), "written again") {
		t.Fatalf("a failed task announced a retry:\n%s", logs.String())
	}
}

// TestRecordErrorsAreReported: records the format cannot hold go to Report
// (the dead letter queue with errors.tolerance=all) and are skipped; with
// tolerance none the task fails naming topic, partition and offset.
func TestRecordErrorsAreReported(t *testing.T) {
	ctx := context.Background()
	recs := richRecords("t", 0, 0, 6)
	recs[1] = &connect.Record{Topic: "t", Partition: 0, Offset: 1, Value: map[string]any{"schemaless": true}} // no schema for Parquet
	recs[3] = &connect.Record{Topic: "t", Partition: 0, Offset: 3, ValueSchema: richSchema}                   // null value
	dir := t.TempDir()
	props := map[string]string{StoreURLConfig: "file://" + dir, FormatConfig: "ParquetFormat", FlushSizeConfig: "4"}
	tctx := &fakeTaskContext{tolerate: true}
	task := &Task{}
	if err := task.Start(ctx, tctx, props); err != nil {
		t.Fatal(err)
	}
	if err := task.Put(ctx, recs); err != nil {
		t.Fatal(err)
	}
	if len(tctx.reported) != 2 || tctx.reported[0].Offset != 1 || tctx.reported[1].Offset != 3 {
		t.Fatalf("reported %v", tctx.reported)
	}
	tp := connect.TopicPartition{Topic: "t", Partition: 0}
	if out, _ := task.PreCommit(ctx, map[connect.TopicPartition]int64{tp: 6}); out[tp] != 6 {
		t.Fatalf("PreCommit %v, want 6 (4 records written, 2 reported)", out)
	}
	task.Stop()
	rows := duckdb(t, fmt.Sprintf(`SELECT list(seq ORDER BY seq)::VARCHAR AS s FROM read_parquet('%s/topics/t/partition=0/t+0+0000000000.snappy.parquet')`, dir))
	if rows[0]["s"] != "[0, 2, 4, 5]" {
		t.Fatalf("object holds %v", rows)
	}

	task = &Task{}
	if err := task.Start(ctx, &fakeTaskContext{}, props); err != nil {
		t.Fatal(err)
	}
	defer task.Stop()
	err := task.Put(ctx, recs)
	if err == nil || !strings.Contains(err.Error(), "record t-0@1") || !strings.Contains(err.Error(), "parquet needs values with a schema") {
		t.Fatalf("Put error %v, want one naming record t-0@1", err)
	}
}
