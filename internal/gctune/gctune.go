// Package gctune sets the garbage collector's pace and the memory limit of
// Penstock's processes.
//
// Penstock keeps a small live heap and allocates per record at a high rate:
// with Go's default (GOGC=100 over a 4 MiB minimum heap) it collects hundreds
// of times a second under load. A higher target trades memory for
// throughput; a soft memory limit (GOMEMLIMIT) caps that trade, so the
// collector runs rarely while the heap is far below the limit and more often
// as it nears it. The penstock binary and the benchmark programs call Apply,
// so what the benchmarks measure is how the product runs.
package gctune

import (
	"fmt"
	"math"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// Percent is the GOGC value Penstock runs with unless the GOGC environment
// variable says otherwise.
const Percent = 400

// DefaultMemoryLimit is the soft memory limit of penstock's server commands
// (dev, worker, broker) unless --memory-limit or GOMEMLIMIT says otherwise.
// Under load a GOGC=400 heap grows to the limit, so the limit, not the live
// heap, sets the process's anonymous memory; the binary's mapped pages
// (50-60 MB of RSS on Linux 6.x, which maps page-cache folios whole) come on
// top. Every buffer on a record's way is bounded by bytes, so the live heap
// of a busy process is 35-45 MiB: 80 MiB leaves the collector as much
// headroom above it as 100 MiB left before the source path stopped holding
// its records in flight, and keeps the RSS below 150 MB, a sidecar's size.
const DefaultMemoryLimit = 80 << 20

// Apply sets the garbage collector's target to Percent, unless GOGC is set.
// It returns the target in force.
func Apply() int {
	if v, ok := os.LookupEnv("GOGC"); ok && v != "" {
		old := debug.SetGCPercent(100)
		debug.SetGCPercent(old)
		return old
	}
	debug.SetGCPercent(Percent)
	return Percent
}

// SetMemoryLimit sets the runtime's soft memory limit to limit bytes (0 for
// none), unless the GOMEMLIMIT environment variable is set. It returns the
// limit in force (math.MaxInt64 for none). The limit is soft: a live heap
// above it makes the collector work harder (at most about half the CPU),
// never fails an allocation.
func SetMemoryLimit(limit int64) int64 {
	if v, ok := os.LookupEnv("GOMEMLIMIT"); ok && v != "" {
		return debug.SetMemoryLimit(-1)
	}
	if limit <= 0 {
		limit = math.MaxInt64
	}
	debug.SetMemoryLimit(limit)
	return limit
}

// ParseSize parses a size in bytes: a number with an optional unit, B, KiB,
// MiB, GiB (powers of 1024) or KB, MB, GB (powers of 1000), as in "128MiB".
// "0" is zero.
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	i := strings.IndexFunc(t, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	num, unit := t, ""
	if i >= 0 {
		num, unit = t[:i], strings.TrimSpace(t[i:])
	}
	mult := map[string]float64{"": 1, "b": 1, "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40,
		"kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12}[strings.ToLower(unit)]
	n, err := strconv.ParseFloat(num, 64)
	if err != nil || mult == 0 || n < 0 || n*mult >= math.MaxInt64 {
		return 0, fmt.Errorf("size %q: want a number of bytes with an optional unit (KiB, MiB, GiB, KB, MB, GB)", s)
	}
	return int64(n * mult), nil
}
