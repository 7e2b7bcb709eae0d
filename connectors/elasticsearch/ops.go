package elasticsearch

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connect/converters"
)

type action uint8

const (
	actIndex action = iota
	actDelete
)

func (a action) String() string {
	if a == actIndex {
		return "index"
	}
	return "delete"
}

// field is one top-level field of a document, already in JSON.
type field struct {
	name string
	raw  []byte
}

// op is one bulk operation on one document, standing for one or more records
// (several when later records on the same document were collapsed into it).
//
// Every write of a keyed document carries the Kafka offset of its last
// record as external version (version_type=external), so the document's
// _version is always the offset of the record it reflects: Elasticsearch
// refuses (409) any write of an older or equal offset, whatever kind of
// write made the document. A partial write (unchanged TOASTed columns left
// out, or write.method=UPSERT) cannot be an update, which accepts no
// external version: the writer reads the stored document first and sends
// the merged document as a versioned index, or nothing when the stored
// _version shows this record or a later one is already there.
type op struct {
	index, id string
	act       action
	versioned bool  // carries version_type=external: every write of a keyed document
	version   int64 // the Kafka offset of the last record the op stands for
	fields    []field
	partial   bool // fields merge into the stored document, read before sending
	recs      []*connect.Record
	trks      []*tracker // the tracker of each record, set when submitted
	attempt   int        // failed attempts so far
}

func (o *op) key() string { return o.index + "\x00" + o.id }

// last returns the record the op's content comes from.
func (o *op) last() *connect.Record { return o.recs[len(o.recs)-1] }

// describe names the op's last record and document for error messages.
func (o *op) describe() string {
	r := o.last()
	return fmt.Sprintf("record %s/%d@%d (document %q in index %q)", r.Topic, r.Partition, r.Offset, o.id, o.index)
}

// body returns the bulk data line of the op; nil for a delete.
func (o *op) body() []byte {
	if o.act == actDelete {
		return nil
	}
	return appendFields(make([]byte, 0, docSize(o.fields)), o.fields)
}

func docSize(fs []field) int {
	n := 2
	for _, f := range fs {
		n += len(f.name) + len(f.raw) + 4
	}
	return n
}

func appendFields(b []byte, fs []field) []byte {
	b = append(b, '{')
	for i, f := range fs {
		if i > 0 {
			b = append(b, ',')
		}
		b = converters.AppendJSONString(b, f.name)
		b = append(b, ':')
		b = append(b, f.raw...)
	}
	return append(b, '}')
}

// collapse returns the single op equivalent to applying held then next to
// the same document. A partial write merges into what it follows (so an
// index followed by a partial write stays a full index of the merged
// document, and one following a delete is the whole document); anything
// else replaces what it follows.
func collapse(held, next *op) *op {
	recs := append(held.recs, next.recs...)
	trks := append(held.trks, next.trks...)
	if next.partial && held.act != actDelete {
		merged := *held
		merged.fields = mergeFields(held.fields, next.fields)
		merged.version = next.version
		merged.recs, merged.trks = recs, trks
		return &merged
	}
	out := *next
	out.recs, out.trks = recs, trks
	out.partial = next.partial && held.act != actDelete
	return &out
}

// mergeFields returns base with the fields of over replacing or added.
func mergeFields(base, over []field) []field {
	out := make([]field, 0, len(base)+len(over))
	idx := make(map[string]int, len(base)+len(over))
	for _, f := range base {
		idx[f.name] = len(out)
		out = append(out, f)
	}
	for _, f := range over {
		if i, ok := idx[f.name]; ok {
			out[i] = f
			continue
		}
		idx[f.name] = len(out)
		out = append(out, f)
	}
	return out
}

// errInvalidRecord marks a record that cannot become a document operation.
var errInvalidRecord = errors.New("invalid record")

// recordError wraps err with the record's coordinates (and document id when
// known).
func recordError(rec *connect.Record, id string, err error) error {
	if id != "" {
		return fmt.Errorf("record %s/%d@%d (document %q): %w", rec.Topic, rec.Partition, rec.Offset, id, err)
	}
	return fmt.Errorf("record %s/%d@%d: %w", rec.Topic, rec.Partition, rec.Offset, err)
}

// converted is what a record turns into: an op, nothing (skip), and the
// schema of its document for index creation.
type converted struct {
	op        *op
	docSchema *connect.Schema
}

// convert turns a record into a bulk operation. It returns a nil op for a
// record to skip (a tombstone with behavior.on.null.values=IGNORE, a
// Debezium truncate or message event).
func (s *settings) convert(rec *connect.Record) (converted, error) {
	index := s.indexFor(rec.Topic)
	keyed := !s.ignoreKey(rec.Topic)
	o := &op{index: index, recs: []*connect.Record{rec}, version: rec.Offset}
	docID := func() error {
		if !keyed {
			o.id = rec.Topic + "+" + strconv.Itoa(int(rec.Partition)) + "+" + strconv.FormatInt(rec.Offset, 10)
			return nil
		}
		if rec.Key == nil {
			return recordError(rec, "", fmt.Errorf("%w: the key is the document id (key.ignore=false) and it is null", errInvalidRecord))
		}
		id, err := idString(rec.KeySchema, rec.Key)
		if err != nil {
			return recordError(rec, "", fmt.Errorf("%w: key to document id: %v", errInvalidRecord, err))
		}
		o.id = id
		return nil
	}
	deleteOp := func(why string) (converted, error) {
		if !keyed {
			return converted{}, recordError(rec, "", fmt.Errorf("%w: %s needs the record key as document id, but key.ignore=true", errInvalidRecord, why))
		}
		if err := docID(); err != nil {
			return converted{}, err
		}
		o.act, o.versioned = actDelete, true
		return converted{op: o}, nil
	}

	if isNull(rec.Value) {
		switch s.nullValues {
		case BehaviorIgnore:
			return converted{}, nil
		case BehaviorDelete:
			return deleteOp("behavior.on.null.values=DELETE")
		}
		return converted{}, recordError(rec, "", fmt.Errorf("%w: null value (tombstone) and behavior.on.null.values=FAIL; set it to DELETE or IGNORE", errInvalidRecord))
	}

	docSchema, docValue := rec.ValueSchema, rec.Value
	if env, ok := envelopeOf(rec.ValueSchema, rec.Value); ok {
		switch env.op {
		case "d":
			return deleteOp("a Debezium delete event")
		case "c", "u", "r":
			if env.after == nil {
				return converted{}, recordError(rec, "", fmt.Errorf("%w: Debezium %q event without after", errInvalidRecord, env.op))
			}
			docSchema, docValue = env.afterSchema, env.after
		default:
			return converted{}, nil // truncate ("t"), message ("m"): nothing to index
		}
	}
	if err := docID(); err != nil {
		return converted{}, err
	}
	fields, partial, err := documentFields(rec, docSchema, docValue)
	if err != nil {
		return converted{}, recordError(rec, o.id, fmt.Errorf("%w: %v", errInvalidRecord, err))
	}
	o.fields = fields
	o.act, o.versioned = actIndex, keyed
	// Unchanged TOASTed columns are left as they are in the document, and
	// write.method=UPSERT merges every record into it. Without a key the
	// document is the record's own: there is nothing to merge into.
	o.partial = keyed && (partial || s.upsert)
	return converted{op: o, docSchema: docSchema}, nil
}

// isNull reports whether v is null, including a nil map or *Struct held in
// the interface.
func isNull(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case map[string]any:
		return x == nil
	case map[any]any:
		return x == nil
	case *connect.Struct:
		return x == nil
	}
	return false
}

// envelope is a Debezium change event's parts.
type envelope struct {
	op          string
	after       any
	afterSchema *connect.Schema
}

// envelopeOf recognises a Debezium change event: a struct (or map) with
// before, after and op fields.
func envelopeOf(s *connect.Schema, v any) (envelope, bool) {
	switch x := v.(type) {
	case *connect.Struct:
		sc := x.Schema()
		opF, ok1 := sc.Field("op")
		afterF, ok2 := sc.Field("after")
		_, ok3 := sc.Field("before")
		if !ok1 || !ok2 || !ok3 || opF.Schema.Type != connect.TypeString {
			return envelope{}, false
		}
		op, _ := x.GetAt(opF.Index).(string)
		return envelope{op: op, after: x.GetAt(afterF.Index), afterSchema: afterF.Schema}, true
	case map[string]any:
		op, ok1 := x["op"].(string)
		after, ok2 := x["after"]
		_, ok3 := x["before"]
		if !ok1 || !ok2 || !ok3 {
			return envelope{}, false
		}
		return envelope{op: op, after: after}, true
	}
	return envelope{}, false
}

var placeholderBytes = []byte(UnavailableValuePlaceholder)

// unavailable reports whether v is Debezium's placeholder for a value it
// does not have: the placeholder string, its bytes, or an array holding
// only the placeholder.
func unavailable(v any) bool {
	switch x := v.(type) {
	case string:
		return x == UnavailableValuePlaceholder
	case []byte:
		return bytes.Equal(x, placeholderBytes)
	case []any:
		return len(x) == 1 && unavailable(x[0])
	}
	return false
}

// unavailableColumns returns the columns the record's header lists.
func unavailableColumns(rec *connect.Record) map[string]bool {
	h, ok := rec.Headers.Last(UnavailableColumnsHeader)
	if !ok || h.Value == nil {
		return nil
	}
	var list string
	switch x := h.Value.(type) {
	case string:
		list = x
	case []byte:
		list = string(x)
	default:
		return nil
	}
	out := map[string]bool{}
	for _, c := range strings.Split(list, ",") {
		if c = strings.TrimSpace(c); c != "" {
			out[c] = true
		}
	}
	return out
}

// documentFields renders a document's top-level fields, leaving out those
// whose values are unavailable; partial says some were left out.
func documentFields(rec *connect.Record, s *connect.Schema, v any) (fields []field, partial bool, err error) {
	skip := unavailableColumns(rec)
	add := func(name string, fs *connect.Schema, fv any) error {
		if skip[name] || unavailable(fv) {
			partial = true
			return nil
		}
		raw, err := appendValue(nil, fs, fv)
		if err != nil {
			return fmt.Errorf("field %q: %w", name, err)
		}
		fields = append(fields, field{name: name, raw: raw})
		return nil
	}
	switch x := v.(type) {
	case *connect.Struct:
		sc := x.Schema()
		fields = make([]field, 0, len(sc.Fields))
		for i, f := range sc.Fields {
			if err := add(f.Name, f.Schema, x.GetAt(i)); err != nil {
				return nil, false, err
			}
		}
	case map[string]any:
		var vs *connect.Schema
		if s != nil {
			vs = s.Value
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		fields = make([]field, 0, len(keys))
		for _, k := range keys {
			if err := add(k, vs, x[k]); err != nil {
				return nil, false, err
			}
		}
	case map[any]any:
		m := make(map[string]any, len(x))
		for k, e := range x {
			ks, err := idString(nil, k)
			if err != nil {
				return nil, false, fmt.Errorf("map key: %w", err)
			}
			m[ks] = e
		}
		return documentFields(rec, s, m)
	default:
		return nil, false, fmt.Errorf("value of type %T (schema %s) is not a struct or map: Elasticsearch documents are JSON objects", v, s)
	}
	return fields, partial, nil
}
