package broker

import (
	"strconv"
	"strings"
	"time"

	"github.com/penstockhq/penstock/broker/compaction"
)

// cleanerLoop compacts topics with cleanup.policy=compact every
// log.cleaner.backoff.ms (15 s by default).
func (s *Server) cleanerLoop() {
	every := s.propDuration("log.cleaner.backoff.ms", 15*time.Second)
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-s.closing:
			return
		case <-tick.C:
		}
		s.Compact(false)
	}
}

// Compact runs the log cleaner once over every compacted topic now; with
// force it ignores min.cleanable.dirty.ratio. It returns how many segments
// it rewrote.
func (s *Server) Compact(force bool) int {
	co := s.coord
	co.cleanerMu.Lock()
	defer co.cleanerMu.Unlock()
	n := 0
	for _, t := range s.topicList() {
		cfgs := t.configSnapshot()
		get := func(name string) string {
			v, _ := s.cfg.effectiveTopicConfig(cfgs, name)
			return v
		}
		if !strings.Contains(get("cleanup.policy"), "compact") {
			continue
		}
		ms := func(name string) time.Duration {
			v, _ := strconv.ParseInt(get(name), 10, 64)
			return time.Duration(v) * time.Millisecond
		}
		ratio, _ := strconv.ParseFloat(get("min.cleanable.dirty.ratio"), 64)
		for p, l := range t.partitions() {
			opts := compaction.Options{
				DeleteRetention:   ms("delete.retention.ms"),
				MinCompactionLag:  ms("min.compaction.lag.ms"),
				MinCleanableRatio: ratio,
				Force:             force,
				FirstUncleanable:  l.HighWatermark(),
				Logger:            s.log,
			}
			if ps := co.part(t.name, int32(p)); ps != nil {
				opts.Aborted = ps.IsAborted
				opts.FirstUncleanable = ps.LSO(opts.FirstUncleanable)
			}
			st, err := compaction.Compact(l, opts)
			if err != nil {
				s.log.Error("log compaction failed", "topic", t.name, "partition", p, "err", err)
				continue
			}
			n += st.Segments
		}
	}
	return n
}
