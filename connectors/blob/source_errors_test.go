package blob

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/penstockhq/penstock/connect"
)

// objectPaths returns the files of dir's data objects (not side objects
// nor fileblob's attributes), in name order.
func objectPaths(t *testing.T, dir string) []string {
	t.Helper()
	var paths []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !strings.HasSuffix(p, metaExtension) && !strings.HasSuffix(p, ".attrs") {
			paths = append(paths, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return paths
}

// TestSourceRetriesObjectItFailedToOpen exports objects A (records 0-9)
// and B (10-19) of one partition, with their keys in side objects, and
// restores them in batches of 7 from the local store (file://). Between the
// first and the second poll the store is made to fail on B: its file is
// taken away (the store's NotFound, standing in for any error reading an
// object), or its side object is replaced by a symbolic link to itself (the
// store fails to tell whether it exists). The second poll reads the end of A
// and then fails to begin B. Polling goes on as the worker does (a retriable
// error is retried, records returned with an error are dropped: Poll must
// never return both), and B is mended after the first error: every record
// of A and B is restored exactly once, in order, with its key.
func TestSourceRetriesObjectItFailedToOpen(t *testing.T) {
	breaks := map[string]func(t *testing.T, data string) (mend func()){
		"data": func(t *testing.T, data string) func() {
			if err := os.Rename(data, data+".away"); err != nil {
				t.Fatal(err)
			}
			return func() {
				if err := os.Rename(data+".away", data); err != nil {
					t.Fatal(err)
				}
			}
		},
		"side": func(t *testing.T, data string) func() {
			side := strings.TrimSuffix(data, filepath.Ext(data))
			side = strings.TrimSuffix(side, ".snappy") + metaExtension
			if err := os.Rename(side, side+".away"); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(filepath.Base(side), side); err != nil {
				t.Fatal(err)
			}
			return func() {
				if err := os.Rename(side+".away", side); err != nil {
					t.Fatal(err)
				}
			}
		},
	}
	for _, format := range []string{"JsonFormat", "AvroFormat", "ParquetFormat"} {
		for what, breakB := range breaks {
			t.Run(format+"/"+what, func(t *testing.T) {
				dir := t.TempDir()
				ctx := context.Background()
				recs := richRecords("t", 0, 0, 20)
				for i, r := range recs {
					r.KeySchema, r.Key = connect.StringSchema, fmt.Sprint("key-", i)
				}
				sink := &Task{}
				if err := sink.Start(ctx, &fakeTaskContext{}, map[string]string{StoreURLConfig: "file://" + dir, FormatConfig: format,
					FlushSizeConfig: "10", StoreKeysConfig: "true"}); err != nil {
					t.Fatal(err)
				}
				if err := sink.Put(ctx, recs); err != nil {
					t.Fatal(err)
				}
				sink.Stop()
				paths := objectPaths(t, dir)
				if len(paths) != 2 {
					t.Fatalf("objects %v, want 2", paths)
				}
				b := paths[1]
				src := &SourceTask{}
				if err := src.Start(ctx, &fakeSourceContext{}, map[string]string{StoreURLConfig: "file://" + dir, FormatConfig: format,
					BatchSizeConfig: "7", PollIntervalConfig: "10"}); err != nil {
					t.Fatal(err)
				}
				defer src.Stop()
				var got []*connect.Record
				failed := false
				var mend func()
				for polls := 0; polls < 10; polls++ {
					rs, err := src.Poll(ctx)
					if polls == 0 {
						if err != nil || len(rs) != 7 {
							t.Fatalf("first poll: %d records, %v", len(rs), err)
						}
						mend = breakB(t, b)
					}
					if err != nil {
						var re *connect.RetriableError
						if !errors.As(err, &re) {
							t.Fatalf("poll %d: %v, want a retriable error", polls, err)
						}
						if len(rs) > 0 {
							t.Errorf("poll %d returned %d records with its error %v", polls, len(rs), err)
						}
						if !failed {
							failed = true
							mend()
						}
						continue
					}
					got = append(got, rs...)
				}
				if len(got) != 20 {
					t.Fatalf("restored %d records, want 20", len(got))
				}
				for i, r := range got {
					if s := restoredSeq(r); s != int64(i) || r.Key != fmt.Sprint("key-", i) {
						t.Fatalf("record %d is %d (key %v), want %d with key-%d", i, s, r.Key, i, i)
					}
				}
				if !failed {
					t.Fatal("no poll failed while B was broken")
				}
			})
		}
	}
}

// restoredSeq is a restored record's sequence number, whatever its format.
func restoredSeq(r *connect.Record) int64 {
	switch v := r.Value.(type) {
	case map[string]any:
		return v["seq"].(int64)
	case *connect.Struct:
		return v.GetAt(0).(int64)
	}
	return -1
}

// TestSourceFailsOnObjectOfAnotherFormat puts an .avro object that is not
// Avro before a valid one: the task must fail with an error that is not
// retriable and names the object, and restore nothing of the objects after
// it, rather than skip it.
func TestSourceFailsOnObjectOfAnotherFormat(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	sink := &Task{}
	if err := sink.Start(ctx, &fakeTaskContext{}, map[string]string{StoreURLConfig: "file://" + dir, FormatConfig: "AvroFormat",
		FlushSizeConfig: "10"}); err != nil {
		t.Fatal(err)
	}
	if err := sink.Put(ctx, richRecords("t", 0, 10, 10)); err != nil {
		t.Fatal(err)
	}
	sink.Stop()
	paths := objectPaths(t, dir)
	if len(paths) != 1 {
		t.Fatalf("objects %v, want 1", paths)
	}
	bad := filepath.Join(filepath.Dir(paths[0]), "t+0+0000000000.avro")
	if err := os.WriteFile(bad, []byte("not an Avro file\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	key, _ := filepath.Rel(dir, bad)
	key = filepath.ToSlash(key)
	src := &SourceTask{}
	if err := src.Start(ctx, &fakeSourceContext{}, map[string]string{StoreURLConfig: "file://" + dir, FormatConfig: "AvroFormat",
		BatchSizeConfig: "7", PollIntervalConfig: "10"}); err != nil {
		t.Fatal(err)
	}
	defer src.Stop()
	for polls := 0; polls < 5; polls++ {
		rs, err := src.Poll(ctx)
		if len(rs) > 0 {
			t.Fatalf("poll %d restored %d records past the corrupt object %s (error %v)", polls, len(rs), key, err)
		}
		var re *connect.RetriableError
		switch {
		case err == nil:
		case errors.As(err, &re):
			t.Logf("poll %d: %v (retried as the worker does)", polls, err)
		case !strings.Contains(err.Error(), key):
			t.Fatalf("poll %d: %v, want an error naming %s", polls, err, key)
		default:
			return // the task fails
		}
	}
	t.Fatalf("the task did not fail on %s", key)
}
