package blob

import (
	"context"
	"fmt"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/internal/testservice"
)

// fakeTaskContext is the runtime as a sink task sees it: it records
// reports and rewinds. With tolerate false, Report fails the task as
// errors.tolerance=none does.
type fakeTaskContext struct {
	mu       sync.Mutex
	tolerate bool
	reported []*connect.Record
	rewinds  map[connect.TopicPartition]int64
}

func (f *fakeTaskContext) ConnectorName() string                { return "blob-test" }
func (f *fakeTaskContext) TaskID() int                          { return 0 }
func (f *fakeTaskContext) Assignment() []connect.TopicPartition { return nil }
func (f *fakeTaskContext) Pause(...connect.TopicPartition)      {}
func (f *fakeTaskContext) Resume(...connect.TopicPartition)     {}
func (f *fakeTaskContext) RequestCommit()                       {}
func (f *fakeTaskContext) Rewind(o map[connect.TopicPartition]int64) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.rewinds == nil {
		f.rewinds = map[connect.TopicPartition]int64{}
	}
	for tp, off := range o {
		f.rewinds[tp] = off
	}
}
func (f *fakeTaskContext) Report(_ context.Context, rec *connect.Record, err error) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reported = append(f.reported, rec)
	if !f.tolerate {
		return err
	}
	return nil
}

// takeRewinds returns and forgets the rewinds asked for.
func (f *fakeTaskContext) takeRewinds() map[connect.TopicPartition]int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := f.rewinds
	f.rewinds = nil
	return r
}

// richSchema has a field of every Connect type and logical type.
var richSchema = func() *connect.Schema {
	inner := connect.NewStructSchema("inner", connect.F("a", connect.Int32Schema), connect.F("b", connect.OptionalStringSchema))
	return connect.NewStructSchema("rich",
		connect.F("seq", connect.Int64Schema),
		connect.F("b", connect.BooleanSchema),
		connect.F("i8", connect.Int8Schema),
		connect.F("i16", connect.Int16Schema),
		connect.F("i32", connect.Int32Schema),
		connect.F("f32", connect.Float32Schema),
		connect.F("f64", connect.Float64Schema),
		connect.F("s", connect.StringSchema),
		connect.F("opt", connect.OptionalStringSchema),
		connect.F("raw", connect.BytesSchema),
		connect.F("dec", connect.DecimalSchema(2)),
		connect.F("day", connect.DateSchema()),
		connect.F("tod", connect.TimeSchema()),
		connect.F("ts", connect.TimestampSchema()),
		connect.F("tags", connect.ArrayOf(connect.StringSchema)),
		connect.F("attrs", connect.MapOf(connect.StringSchema, connect.Int64Schema)),
		connect.F("nested", inner),
		connect.F("kind", connect.StringSchema),
	)
}()

var baseTime = time.Date(2024, 3, 1, 10, 0, 0, 0, time.UTC)

// richValue is the value of sequence number i; i%3 picks its kind.
func richValue(i int64) *connect.Struct {
	st := connect.NewStruct(richSchema)
	inner := connect.NewStruct(richSchema.Fields[16].Schema)
	inner.SetAt(0, int32(i*7))
	if i%2 == 0 {
		inner.SetAt(1, fmt.Sprintf("in-%d", i))
	}
	var opt any
	if i%4 != 0 {
		opt = fmt.Sprintf("opt-%d", i)
	}
	tags := []any{}
	for j := int64(0); j < i%3; j++ {
		tags = append(tags, fmt.Sprintf("t%d", j))
	}
	vals := []any{i, i%2 == 0, int8(i % 100), int16(i * 3 % 30000), int32(i * 11), float32(i) / 4, float64(i) * 1.5,
		fmt.Sprintf("row %d, \"quoted\"", i), opt, []byte{byte(i), byte(i >> 8)},
		connect.Decimal{Unscaled: big.NewInt(i*101 - 5000), Scale: 2},
		connect.DateFromDays(int32(19000 + i%50)), connect.TimeFromMillis(int32(i * 1000 % 86400000)),
		baseTime.Add(time.Duration(i) * time.Second), tags, map[string]any{"n": i, "m": -i}, inner,
		[]string{"a", "b", "c"}[i%3]}
	for j, v := range vals {
		st.SetAt(j, v)
	}
	return st
}

// richRecords returns n records of topic/partition from offset first.
func richRecords(topic string, partition int32, first int64, n int) []*connect.Record {
	out := make([]*connect.Record, n)
	for i := range out {
		off := first + int64(i)
		out[i] = &connect.Record{Topic: topic, Partition: partition, Offset: off, ValueSchema: richSchema, Value: richValue(off),
			Timestamp: baseTime.Add(time.Duration(off) * 20 * time.Second)}
	}
	return out
}

func duckdb(t testing.TB, query string) []map[string]any { return testservice.DuckDB(t, query) }
