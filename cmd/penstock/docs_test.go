package main

import (
	"strings"
	"testing"

	"github.com/penstockhq/penstock/internal/docgen"
)

// TestDocsUpToDate fails when the committed configuration reference under
// docs/ differs from what the code's config definitions generate.
func TestDocsUpToDate(t *testing.T) {
	diffs, err := docgen.Diff("../../docs", docFiles())
	if err != nil {
		t.Fatal(err)
	}
	if len(diffs) > 0 {
		t.Errorf("docs/ is stale: the plugins' or the worker's config definitions changed.\n"+
			"Regenerate it from the repository root with:\n\n\tgo run ./cmd/penstock docs --out docs\n\n"+
			"(or go generate ./cmd/penstock) and commit the result. Differences:\n\t%s", strings.Join(diffs, "\n\t"))
	}
}

func TestDocsCommand(t *testing.T) {
	dir := t.TempDir()
	root := rootCmd
	root.SetArgs([]string{"docs", "--out", dir})
	t.Cleanup(func() { root.SetArgs(nil) })
	var out strings.Builder
	root.SetOut(&out)
	t.Cleanup(func() { root.SetOut(nil) })
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	diffs, err := docgen.Diff(dir, docFiles())
	if err != nil || len(diffs) > 0 {
		t.Errorf("penstock docs wrote something else than docFiles: %v %v", err, diffs)
	}
}
