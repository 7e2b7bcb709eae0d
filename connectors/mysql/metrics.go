package mysql

import (
	"sort"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

var (
	streamLagSeconds = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "penstock_mysql_binlog_lag_seconds",
		Help: "Seconds between the timestamp of the last binlog event read and the time it was read.",
	}, []string{"server"})
	snapshotRowsRead = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "penstock_mysql_snapshot_rows_read",
		Help: "Rows of a table read by the running or last snapshot.",
	}, []string{"server", "table"})
	snapshotRowsEstimated = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "penstock_mysql_snapshot_rows_estimated",
		Help: "The server's row estimate (information_schema.TABLES.TABLE_ROWS) of a snapshotted table.",
	}, []string{"server", "table"})
)

// Collectors returns the connector's Prometheus metrics. They are registered
// with prometheus.DefaultRegisterer when the package loads; a runtime with
// its own registry registers them there.
func Collectors() []prometheus.Collector {
	return []prometheus.Collector{streamLagSeconds, snapshotRowsRead, snapshotRowsEstimated}
}

func init() {
	for _, c := range Collectors() {
		_ = prometheus.DefaultRegisterer.Register(c)
	}
}

// TableProgress is one table's snapshot progress.
type TableProgress struct {
	Table     string // database.table
	RowsRead  int64
	Estimated int64 // information_schema.TABLES.TABLE_ROWS at the start (an estimate for InnoDB)
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
