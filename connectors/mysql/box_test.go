package mysql

import (
	"math/big"
	"testing"

	"github.com/penstockhq/penstock/connect"
)

// Boxed values read back as what was boxed, each its own, and cost no
// allocation past the slab's.
func TestBox(t *testing.T) {
	a := newStructArena()
	var got []any
	for i := range 3 * structBatch {
		got = append(got, box(&a.i64, int64(i)*1000), box(&a.i32, int32(-i)), box(&a.i16, int16(i)),
			box(&a.strs, string(rune('a'+i%26))), box(&a.decs, connect.Decimal{Unscaled: big.NewInt(int64(i)), Scale: 2}))
	}
	for i := range 3 * structBatch {
		g := got[5*i : 5*i+5]
		d, ok := g[4].(connect.Decimal)
		if g[0] != int64(i)*1000 || g[1] != int32(-i) || g[2] != int16(i) || g[3] != string(rune('a'+i%26)) ||
			!ok || d.Scale != 2 || d.Unscaled.Int64() != int64(i) {
			t.Fatalf("value %d: %#v", i, g)
		}
	}
	a.i64.free, a.strs.free, a.decs.free = make([]int64, 1000), make([]string, 1000), make([]connect.Decimal, 1000)
	var sink any
	if n := testing.AllocsPerRun(100, func() {
		sink = box(&a.i64, int64(12345))
		sink = box(&a.strs, "text")
		sink = box(&a.decs, connect.Decimal{Scale: 1})
	}); n != 0 {
		t.Fatalf("%v allocations per run of boxes", n)
	}
	_ = sink
}
