package connect

import "time"

// Record is one message moving through Penstock: what a source task produces,
// what a transform reshapes, and what a sink task receives.
//
// Source tasks set SourcePartition and SourceOffset: where in the outside
// system the record came from, so the runtime can store the position and the
// task can resume from it. The runtime sets Offset on records handed to sink
// tasks: the record's position in its Kafka partition.
//
// Records are values passed by pointer; code that changes one (a transform)
// works on a copy (see Record.Clone) so the original stays as it was. A
// source task must not modify a record, or its SourcePartition and
// SourceOffset maps, after Poll returned it: the runtime holds on to them
// until the record is acknowledged (and may recognise a reused partition map
// by identity).
type Record struct {
	Topic     string
	Partition int32 // -1: let the producer's partitioner choose

	KeySchema   *Schema // nil: schemaless key
	Key         any
	ValueSchema *Schema // nil: schemaless value
	Value       any

	Timestamp time.Time // zero: the producer's clock
	Headers   Headers

	SourcePartition map[string]any // source records: which stream of the outside system
	SourceOffset    map[string]any // source records: the position in that stream

	Offset int64 // sink records: the offset in Topic/Partition
}

// Clone returns a shallow copy of r that may be changed without changing r;
// its Headers slice is copied, keys and values are shared.
func (r *Record) Clone() *Record {
	c := *r
	if r.Headers != nil {
		c.Headers = append(Headers(nil), r.Headers...)
	}
	return &c
}

// TopicPartition names one partition of a topic.
type TopicPartition struct {
	Topic     string
	Partition int32
}

// Header is one record header; Schema is nil for a schemaless value.
type Header struct {
	Key    string
	Schema *Schema
	Value  any
}

// Headers are a record's headers in order; a key may repeat.
type Headers []Header

// Last returns the last header with the key.
func (h Headers) Last(key string) (Header, bool) {
	for i := len(h) - 1; i >= 0; i-- {
		if h[i].Key == key {
			return h[i], true
		}
	}
	return Header{}, false
}

// Add appends a header.
func (h *Headers) Add(key string, s *Schema, v any) {
	*h = append(*h, Header{Key: key, Schema: s, Value: v})
}

// Remove deletes every header with the key.
func (h *Headers) Remove(key string) {
	out := (*h)[:0]
	for _, x := range *h {
		if x.Key != key {
			out = append(out, x)
		}
	}
	*h = out
}
