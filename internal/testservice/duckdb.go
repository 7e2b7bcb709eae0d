package testservice

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// DuckDB runs one SQL query in DuckDB through Node.js (npm @duckdb/node-api,
// installed by scripts/deps.sh into $HOME/.cache/penstock/duckdb) and returns
// the rows as JSON objects (BIGINT and DECIMAL values come as strings). It is
// the outside reader tests check exported Parquet, JSON and CSV files with.
// It skips the test (fails with CI=true) when Node.js or the module is missing.
func DuckDB(t testing.TB, query string) []map[string]any {
	t.Helper()
	home, _ := os.UserHomeDir()
	mods := filepath.Join(home, ".cache", "penstock", "duckdb", "node_modules")
	node, err := exec.LookPath("node")
	if err != nil {
		unavailable(t, "node not found in PATH: run scripts/deps.sh")
	}
	if _, err := os.Stat(filepath.Join(mods, "@duckdb", "node-api")); err != nil {
		unavailable(t, "DuckDB for Node.js not found in %s: run scripts/deps.sh", mods)
	}
	_, file, _, _ := runtime.Caller(0)
	cmd := exec.Command(node, filepath.Join(filepath.Dir(file), "duckdb.cjs"), query)
	cmd.Env = append(os.Environ(), "NODE_PATH="+mods)
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = ee.Stderr
		}
		t.Fatalf("testservice: duckdb %q: %v\n%s", query, err, stderr)
	}
	var rows []map[string]any
	if err := json.Unmarshal(out, &rows); err != nil {
		t.Fatalf("testservice: duckdb output: %v\n%s", err, out)
	}
	return rows
}
