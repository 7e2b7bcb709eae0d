package rest

import (
	"testing"
	"time"
)

// TestLagHistory: samples at most once a second, ten minutes kept, and a
// connector not asked about for ten minutes forgotten.
func TestLagHistory(t *testing.T) {
	now := time.Unix(1000, 0)
	h := lagHistory{now: func() time.Time { return now }}
	h.add("gone", 7)
	for i := range 5 {
		h.add("a", int64(i)) // all within one second: one sample
		now = now.Add(300 * time.Millisecond)
	}
	now = now.Add(lagWindow)
	ps := h.add("a", 9)
	if len(ps) != 1 || ps[0].Lag != 9 {
		t.Errorf("after the window: %+v", ps)
	}
	if _, ok := h.by["gone"]; ok {
		t.Error("a connector not sampled for the window is still kept")
	}
	now = now.Add(lagSpacing)
	if ps := h.add("a", 3); len(ps) != 2 || ps[1].Lag != 3 || ps[1].Time-ps[0].Time != lagSpacing.Milliseconds() {
		t.Errorf("second sample: %+v", ps)
	}
}
