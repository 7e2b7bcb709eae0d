package blob

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/penstockhq/penstock/connect"
)

// objects returns the sha256 of every object under dir by its name,
// leaving out gocloud's temporary files.
func objects(t testing.TB, dir string) map[string][32]byte {
	t.Helper()
	out := map[string][32]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(p, ".attrs") || strings.Contains(filepath.Base(p), ".tmp") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		out[rel] = sha256.Sum256(b)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// runTask feeds a task the records of topic "t" from the committed offsets
// in batches, calling PreCommit after each batch as the runtime does, and
// stops feeding after maxBatches (a crash: the task is abandoned without
// Stop) or at the end. It returns the offsets PreCommit gave.
func runTask(t *testing.T, props map[string]string, committed map[connect.TopicPartition]int64, end int64, maxBatches int, rng *rand.Rand) map[connect.TopicPartition]int64 {
	t.Helper()
	ctx := context.Background()
	task := &Task{}
	tctx := &fakeTaskContext{}
	if err := task.Start(ctx, tctx, props); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = task.Stop() }) // a crashed task's writers, once the test is done
	tps := []connect.TopicPartition{{Topic: "t", Partition: 0}, {Topic: "t", Partition: 1}}
	if err := task.Open(ctx, tps); err != nil {
		t.Fatal(err)
	}
	pos := map[connect.TopicPartition]int64{}
	for _, tp := range tps {
		pos[tp] = committed[tp]
	}
	out := map[connect.TopicPartition]int64{}
	for k, v := range committed {
		out[k] = v
	}
	for b := 0; b < maxBatches; b++ {
		var batch []*connect.Record
		for _, tp := range tps {
			n := min(int64(1+rng.IntN(20)), end-pos[tp])
			batch = append(batch, richRecords(tp.Topic, tp.Partition, pos[tp], int(n))...)
			pos[tp] += n
		}
		if len(batch) == 0 {
			break
		}
		if err := task.Put(ctx, batch); err != nil {
			t.Fatal(err)
		}
		if rw := tctx.takeRewinds(); len(rw) > 0 {
			t.Fatalf("unexpected rewinds %v", rw)
		}
		safe, err := task.PreCommit(ctx, pos)
		if err != nil {
			t.Fatal(err)
		}
		for tp, o := range safe {
			if o < out[tp] {
				t.Fatalf("PreCommit went back on %v: %d after %d", tp, o, out[tp])
			}
			out[tp] = o
		}
	}
	return out
}

// TestCrashesRewriteTheSameObjects runs the sink, abandons it at random
// moments (as a crash does) and restarts it from the offsets PreCommit
// returned: every record ends in exactly one object, and objects written
// twice have the same bytes.
func TestCrashesRewriteTheSameObjects(t *testing.T) {
	for _, tc := range []struct{ name, format, partitioner string }{
		{"parquet-default", "io.confluent.connect.s3.format.parquet.ParquetFormat", "io.confluent.connect.storage.partitioner.DefaultPartitioner"},
		{"json-field", "io.confluent.connect.s3.format.json.JsonFormat", "io.confluent.connect.storage.partitioner.FieldPartitioner"},
		{"parquet-hourly", "ParquetFormat", "HourlyPartitioner"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			props := map[string]string{
				StoreURLConfig: "file://" + dir, FormatConfig: tc.format, FlushSizeConfig: "17",
				PartitionerConfig: tc.partitioner, PartitionFieldConfig: "kind", TimezoneConfig: "UTC",
				TimestampExtractor: "Record", RotateIntervalConfig: "600000",
			}
			rng := rand.New(rand.NewPCG(1, 2))
			const end = 400
			committed := map[connect.TopicPartition]int64{}
			seen := map[string][32]byte{}
			check := func() {
				for k, h := range objects(t, dir) {
					if old, ok := seen[k]; ok && old != h {
						t.Fatalf("object %s rewritten with other bytes", k)
					}
					seen[k] = h
				}
			}
			for crash := 0; crash < 6; crash++ {
				committed = runTask(t, props, committed, end, 1+rng.IntN(12), rng)
				check()
			}
			committed = runTask(t, props, committed, end, 1000, rng)
			check()
			t.Logf("%d objects, committed %v", len(seen), committed)

			ext := ".snappy.parquet"
			reader := "read_parquet"
			if strings.Contains(tc.format, "json") {
				ext, reader = ".json", "read_json_auto"
			}
			for k := range seen {
				if !strings.HasPrefix(k, "topics/t/") || !strings.HasSuffix(k, ext) {
					t.Fatalf("object name %s", k)
				}
			}
			for p := int32(0); p < 2; p++ {
				want := committed[connect.TopicPartition{Topic: "t", Partition: p}]
				rows := duckdb(t, fmt.Sprintf(`SELECT seq FROM %s('%s/topics/t/**/*%s', filename=true) WHERE filename LIKE '%%/t+%d+%%' ORDER BY seq`, reader, dir, ext, p))
				if int64(len(rows)) != want {
					t.Fatalf("partition %d: %d records in objects, %d committed", p, len(rows), want)
				}
				for i, r := range rows {
					if fmt.Sprint(r["seq"]) != fmt.Sprint(i) {
						t.Fatalf("partition %d: row %d has seq %v: a record is missing or twice", p, i, r["seq"])
					}
				}
			}
			keys := make([]string, 0, len(seen))
			for k := range seen {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			t.Logf("first objects: %v", keys[:min(4, len(keys))])
		})
	}
}
