package txn

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// TestAbortedIndexMatchesScan compares the index's lookups with a plain
// scan over random transactions of a few producers (each producer's
// transactions in sequence, the producers' interleaved).
func TestAbortedIndexMatchesScan(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 50 {
		x := newAbortedIndex()
		var all []AbortedTxn
		next := map[int64]int64{}
		for off := int64(0); off < 300; off++ {
			pid := rng.Int64N(5)
			if rng.IntN(4) != 0 || next[pid] > off {
				continue
			}
			first := off - rng.Int64N(min(off+1, 60))
			first = max(first, next[pid])
			a := AbortedTxn{ProducerID: pid, FirstOffset: first, LastOffset: off}
			x.add(a)
			all = append(all, a)
			next[pid] = off + 1
		}
		start := int64(rng.IntN(100))
		x.dropBefore(start)
		for from := start; from < 310; from += 7 {
			to := from + rng.Int64N(40)
			var want []AbortedTxn
			for _, a := range all {
				if a.LastOffset >= start && a.FirstOffset <= to && a.LastOffset >= from {
					want = append(want, a)
				}
			}
			if got := x.overlapping(from, to); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("round %d: overlapping(%d, %d) = %v, want %v", round, from, to, got, want)
			}
			for pid := range int64(5) {
				want := false
				for _, a := range all {
					want = want || a.LastOffset >= start && a.ProducerID == pid && a.FirstOffset <= from && from <= a.LastOffset
				}
				if got := x.contains(pid, from); got != want {
					t.Fatalf("round %d: contains(%d, %d) = %v, want %v", round, pid, from, got, want)
				}
			}
		}
	}
}
