package postgres

import (
	"sort"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

var (
	slotLagBytes = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "penstock_postgres_slot_lag_bytes",
		Help: "WAL bytes between the server's current position and the slot's confirmed flush LSN: what the server keeps for the connector.",
	}, []string{"server", "slot"})
	snapshotRowsRead = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "penstock_postgres_snapshot_rows_read",
		Help: "Rows of a table read by the running or last snapshot.",
	}, []string{"server", "table"})
	snapshotRowsEstimated = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "penstock_postgres_snapshot_rows_estimated",
		Help: "The planner's row estimate (pg_class.reltuples) of a snapshotted table.",
	}, []string{"server", "table"})
)

// Collectors returns the connector's Prometheus metrics. They are registered
// with prometheus.DefaultRegisterer when the package loads; a runtime with
// its own registry registers them there.
func Collectors() []prometheus.Collector {
	return []prometheus.Collector{slotLagBytes, snapshotRowsRead, snapshotRowsEstimated}
}

func init() {
	for _, c := range Collectors() {
		_ = prometheus.DefaultRegisterer.Register(c)
	}
}

// TableProgress is one table's snapshot progress.
type TableProgress struct {
	Table     string // schema.table
	RowsRead  int64
	Estimated int64 // pg_class.reltuples at the start; -1 when never analyzed
	Done      bool
}

// tableProgress counts one table's rows while chunks of it are read.
type tableProgress struct {
	name      string
	est       int64
	read      atomic.Int64
	chunksOut atomic.Int32
	done      atomic.Bool
}

// snapshotProgress is the progress of every table of a snapshot.
type snapshotProgress struct {
	mu     sync.Mutex
	tables []*tableProgress
}

func (p *snapshotProgress) add(tp *tableProgress) {
	p.mu.Lock()
	p.tables = append(p.tables, tp)
	p.mu.Unlock()
}

func (p *snapshotProgress) list() []TableProgress {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]TableProgress, 0, len(p.tables))
	for _, t := range p.tables {
		out = append(out, TableProgress{Table: t.name, RowsRead: t.read.Load(), Estimated: t.est, Done: t.done.Load()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Table < out[j].Table })
	return out
}
