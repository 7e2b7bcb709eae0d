// Package gctune sets the garbage collector's pace for Penstock's processes.
//
// Penstock keeps a small live heap and allocates per record at a high rate:
// with Go's default (GOGC=100 over a 4 MiB minimum heap) it collects hundreds
// of times a second under load. A higher target trades a few tens of MiB of
// memory for throughput. The penstock binary and the benchmark programs call
// Apply, so what the benchmarks measure is how the product runs.
package gctune

import (
	"os"
	"runtime/debug"
)

// Percent is the GOGC value Penstock runs with unless the GOGC environment
// variable says otherwise.
const Percent = 400

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
