package blob

import "github.com/penstockhq/penstock/connect"

// changeLog turns Debezium change events into change-log rows.
type changeLog struct{}

func newChangeLog() *changeLog { return &changeLog{} }

func (c *changeLog) row(rec *connect.Record) (*connect.Record, error) { return rec, nil }
