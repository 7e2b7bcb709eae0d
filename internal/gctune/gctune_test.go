package gctune

import (
	"math"
	"runtime/debug"
	"testing"
)

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{
		"0": 0, "1048576": 1 << 20, "128MiB": 128 << 20, "1GiB": 1 << 30, "1.5GiB": 3 << 29,
		"512 KiB": 512 << 10, "100MB": 100e6, "2gb": 2e9, "64B": 64,
	} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "MiB", "-1MiB", "12 apples", "1e3"} {
		if _, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q): no error", in)
		}
	}
}

func TestSetMemoryLimit(t *testing.T) {
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	t.Setenv("GOMEMLIMIT", "")
	if got := SetMemoryLimit(64 << 20); got != 64<<20 || debug.SetMemoryLimit(-1) != 64<<20 {
		t.Fatalf("limit %d in force after SetMemoryLimit(64 MiB)", debug.SetMemoryLimit(-1))
	}
	if got := SetMemoryLimit(0); got != math.MaxInt64 {
		t.Fatalf("SetMemoryLimit(0) = %d, want no limit", got)
	}
	// GOMEMLIMIT set: the runtime read it at start; SetMemoryLimit leaves it.
	t.Setenv("GOMEMLIMIT", "1GiB")
	debug.SetMemoryLimit(1 << 30)
	if got := SetMemoryLimit(64 << 20); got != 1<<30 {
		t.Fatalf("SetMemoryLimit with GOMEMLIMIT set = %d, want the environment's 1 GiB", got)
	}
}
