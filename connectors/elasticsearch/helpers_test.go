package elasticsearch

import (
	"context"
	"sync"

	"github.com/penstockhq/penstock/connect"
)

// fakeTaskContext is the runtime as a sink task sees it, recording what is
// reported. With tolerate false, Report fails the task as
// errors.tolerance=none does.
type fakeTaskContext struct {
	mu       sync.Mutex
	tolerate bool
	reported []reportedRecord
}

type reportedRecord struct {
	rec *connect.Record
	err error
}

func (f *fakeTaskContext) ConnectorName() string                   { return "es-test" }
func (f *fakeTaskContext) TaskID() int                             { return 0 }
func (f *fakeTaskContext) Assignment() []connect.TopicPartition    { return nil }
func (f *fakeTaskContext) Pause(...connect.TopicPartition)         {}
func (f *fakeTaskContext) Resume(...connect.TopicPartition)        {}
func (f *fakeTaskContext) Rewind(map[connect.TopicPartition]int64) {}
func (f *fakeTaskContext) RequestCommit()                          {}
func (f *fakeTaskContext) Report(_ context.Context, rec *connect.Record, err error) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reported = append(f.reported, reportedRecord{rec, err})
	if !f.tolerate {
		return err
	}
	return nil
}

func (f *fakeTaskContext) reports() []reportedRecord {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]reportedRecord(nil), f.reported...)
}
