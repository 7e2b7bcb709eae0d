package rest

import (
	"sync"
	"time"
)

// Lag history: the progress endpoint samples each connector's lag when
// asked (at most once a second) and keeps ten minutes of it, so the
// console's lag chart covers the last minutes whoever opened it, as the
// rates' history does (worker/console's Rates).
const (
	lagSpacing = time.Second
	lagWindow  = 10 * time.Minute
)

// LagPoint is a connector's lag at Time (Unix ms), in the unit of
// ConnectorProgress.LagUnit.
type LagPoint struct {
	Time int64 `json:"time"`
	Lag  int64 `json:"lag"`
}

// lagHistory is every connector's recent lag samples.
type lagHistory struct {
	mu  sync.Mutex
	by  map[string][]LagPoint
	now func() time.Time
}

// add records a sample of name's lag (unless the last is too recent),
// forgets samples and connectors older than the window, and returns name's
// history, oldest first.
func (h *lagHistory) add(name string, lag int64) []LagPoint {
	h.mu.Lock()
	defer h.mu.Unlock()
	now := time.Now()
	if h.now != nil {
		now = h.now()
	}
	if h.by == nil {
		h.by = map[string][]LagPoint{}
	}
	ms := now.UnixMilli()
	ps := h.by[name]
	if n := len(ps); n == 0 || ms-ps[n-1].Time >= lagSpacing.Milliseconds() {
		ps = append(ps, LagPoint{Time: ms, Lag: lag})
	}
	h.by[name] = ps
	cut := ms - lagWindow.Milliseconds()
	for k, v := range h.by {
		i := 0
		for i < len(v) && v[i].Time < cut {
			i++
		}
		if i == len(v) {
			delete(h.by, k)
		} else {
			h.by[k] = v[i:]
		}
	}
	return append([]LagPoint(nil), h.by[name]...)
}
