package deploy

import (
	"testing"

	"github.com/penstockhq/penstock/internal/connfile"
)

// TestComposeConnectorFiles checks that every worker watches a directory of
// connector files (--connectors) that is mounted into it and that
// `penstock connectors apply` reads without error.
func TestComposeConnectorFiles(t *testing.T) {
	p := loadProject(t)
	for _, w := range workers(p) {
		dir := flagValue(w.Command, "--connectors")
		if dir == "" {
			t.Errorf("%s: no --connectors", w.Name)
			continue
		}
		var src string
		for _, v := range w.Volumes {
			if v.Target == dir {
				src = v.Source
			}
		}
		if src == "" {
			t.Errorf("%s: nothing mounted at %s", w.Name, dir)
			continue
		}
		cs, err := connfile.Load(src)
		if err != nil || len(cs) == 0 {
			t.Errorf("%s: connector files of %s: %d, %v", w.Name, src, len(cs), err)
		}
	}
}
