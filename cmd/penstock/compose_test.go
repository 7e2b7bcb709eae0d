package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
)

// TestComposeCommandsExist checks that every penstock command
// docker-compose.yml runs (service commands and health checks) is a command
// of this binary and that its flags parse. deploy's tests check the rest of
// the file.
func TestComposeCommandsExist(t *testing.T) {
	dir, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	p, err := loader.LoadWithContext(t.Context(), types.ConfigDetails{
		WorkingDir:  dir,
		ConfigFiles: []types.ConfigFile{{Filename: filepath.Join(dir, "docker-compose.yml")}},
		Environment: types.Mapping{},
	})
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for name, s := range p.Services {
		if !strings.HasPrefix(s.Image, "penstock") {
			continue
		}
		var cmds [][]string
		if len(s.Command) > 0 {
			cmds = append(cmds, s.Command) // the image's entrypoint is penstock
		}
		if hc := s.HealthCheck; hc != nil && len(hc.Test) > 2 && hc.Test[0] == "CMD" && hc.Test[1] == "penstock" {
			cmds = append(cmds, hc.Test[2:])
		}
		for _, args := range cmds {
			cmd, rest, err := rootCmd.Find(args)
			if err != nil || cmd == rootCmd {
				if args[0] == "worker" {
					// Being written in cmd/penstock/worker.go; checked once it registers.
					t.Logf("%s: `penstock %s` is not registered yet", name, strings.Join(args, " "))
					continue
				}
				t.Errorf("%s: `penstock %s` is not a command: %v", name, strings.Join(args, " "), err)
				continue
			}
			if err := cmd.ParseFlags(rest); err != nil {
				t.Errorf("%s: `penstock %s`: %v", name, strings.Join(args, " "), err)
			}
			checked++
		}
	}
	if checked < 3 {
		t.Errorf("checked %d penstock commands in docker-compose.yml, want at least the broker's and the health checks", checked)
	}
}
