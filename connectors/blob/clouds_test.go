package blob

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/penstockhq/penstock/internal/testservice"
)

// fetchAll copies objects (names relative to the bucket) into dir.
func fetchAll(t *testing.T, dir string, names []string, get func(name string) []byte) {
	t.Helper()
	sort.Strings(names)
	for _, n := range names {
		p := filepath.Join(dir, filepath.FromSlash(n))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, get(n), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestCloudStores writes Parquet and JSON objects to fake-gcs-server and
// Azurite with the keys of Confluent's GCS and Azure Blob sinks, downloads
// them and compares them row by row with the records through DuckDB.
func TestCloudStores(t *testing.T) {
	const n = 40
	formats := []struct{ class, ext, cols, read string }{
		{"io.confluent.connect.gcs.format.parquet.ParquetFormat", ".snappy.parquet", parquetCols, "read_parquet('%s')"},
		{"io.confluent.connect.gcs.format.json.JsonFormat", ".json", jsonCols, "read_json_auto('%s', format='newline_delimited')"},
	}
	t.Run("gcs", func(t *testing.T) {
		gcs := testservice.GCS(t)
		gcs.SetEnv(t)
		for i, f := range formats {
			bucket := gcs.CreateBucket(t, fmt.Sprintf("exports%d", i))
			writeOnce(t, map[string]string{GCSBucketConfig: bucket, FormatConfig: f.class, JSONDecimalConfig: "NUMERIC"}, n)
			names := gcs.Objects(t, bucket, "topics/")
			if len(names) != 1 || names[0] != "topics/t/partition=0/t+0+0000000000"+f.ext {
				t.Fatalf("objects %v", names)
			}
			dir := t.TempDir()
			fetchAll(t, dir, names, func(name string) []byte { return gcs.Object(t, bucket, name) })
			compareRows(t, f.cols, fmt.Sprintf(f.read, filepath.Join(dir, names[0])), n)
		}
	})
	t.Run("azure", func(t *testing.T) {
		az := testservice.Azurite(t)
		for i, f := range formats {
			container := az.CreateContainer(t, fmt.Sprintf("exports%d", i))
			writeOnce(t, map[string]string{AzAccountConfig: az.Account, AzKeyConfig: az.Key, AzContainerConfig: container,
				AzEndpointConfig: az.Endpoint, FormatConfig: f.class, JSONDecimalConfig: "NUMERIC"}, n)
			names := az.Objects(t, container, "topics/")
			if len(names) != 1 || names[0] != "topics/t/partition=0/t+0+0000000000"+f.ext {
				t.Fatalf("objects %v", names)
			}
			dir := t.TempDir()
			fetchAll(t, dir, names, func(name string) []byte { return az.Object(t, container, name) })
			compareRows(t, f.cols, fmt.Sprintf(f.read, filepath.Join(dir, names[0])), n)
		}
	})
}
