package main

import (
	"runtime/debug"
	"strings"
	"testing"

	"github.com/spf13/cobra"

	"github.com/penstockhq/penstock/internal/gctune"
)

func TestMemoryLimitFlag(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	t.Setenv("GOMEMLIMIT", "")
	var seen int64
	newCmd := func() *cobra.Command {
		cmd := &cobra.Command{Use: "x", RunE: func(*cobra.Command, []string) error {
			seen = debug.SetMemoryLimit(-1)
			return nil
		}}
		memoryLimitFlag(cmd)
		return cmd
	}
	for args, want := range map[string]int64{"": gctune.DefaultMemoryLimit, "--memory-limit=256MiB": 256 << 20} {
		cmd := newCmd()
		cmd.SetArgs(strings.Fields(args))
		if err := cmd.Execute(); err != nil || seen != want {
			t.Errorf("%q: limit %d, err %v; want %d", args, seen, err, want)
		}
	}
	cmd := newCmd()
	cmd.SetArgs([]string{"--memory-limit", "lots"})
	cmd.SilenceUsage, cmd.SilenceErrors = true, true
	if err := cmd.Execute(); err == nil || !strings.Contains(err.Error(), "--memory-limit") {
		t.Errorf("--memory-limit lots: err %v, want one naming the flag", err)
	}
}
