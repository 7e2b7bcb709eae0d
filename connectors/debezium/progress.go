package debezium

import (
	"sort"
	"sync"
	"sync/atomic"

	"github.com/penstockhq/penstock/connect"
)

// TableProgress is one table's snapshot progress: connect's type, so CDC
// tasks implement connect.SnapshotProgresser.
type TableProgress = connect.TableProgress

// TableCounter counts one table's rows while the chunks of it are read, on
// several goroutines.
type TableCounter struct {
	Name      string
	Estimated int64
	Read      atomic.Int64
	ChunksOut atomic.Int32 // chunks not read yet
	Done      atomic.Bool
}

// SnapshotProgress is the progress of every table of a snapshot.
type SnapshotProgress struct {
	mu     sync.Mutex
	tables []*TableCounter
}

// Add adds a table.
func (p *SnapshotProgress) Add(tc *TableCounter) {
	p.mu.Lock()
	p.tables = append(p.tables, tc)
	p.mu.Unlock()
}

// List returns the progress of every table, by name.
func (p *SnapshotProgress) List() []TableProgress {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]TableProgress, 0, len(p.tables))
	for _, t := range p.tables {
		out = append(out, TableProgress{Table: t.Name, RowsRead: t.Read.Load(), Estimated: t.Estimated, Done: t.Done.Load()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Table < out[j].Table })
	return out
}
