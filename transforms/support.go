package transforms

import (
	"errors"
	"fmt"
	"maps"
	"strings"

	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connect/config"
)

// Operand says which half of a record a transform with $Key and $Value
// variants works on.
type Operand int

// The operands.
const (
	Value Operand = iota // the record value: the $Value variant
	Key                  // the record key: the $Key variant
)

// suffix is the class name suffix of the variant, "$Key" or "$Value".
func (o Operand) suffix() string {
	if o == Key {
		return "$Key"
	}
	return "$Value"
}

// RecordError is a record a transform could not handle: a value of the wrong
// type, a missing field. It names the transform, the field (empty when the
// whole key or value is at fault) and the record.
type RecordError struct {
	Transform string // e.g. "Cast$Value"
	Field     string
	Topic     string
	Partition int32
	Offset    int64
	Err       error
}

// Error names the transform, field and record, then the cause.
func (e *RecordError) Error() string {
	var b strings.Builder
	b.WriteString(e.Transform)
	if e.Field != "" {
		fmt.Fprintf(&b, ": field %q", e.Field)
	}
	fmt.Fprintf(&b, ": %v (record topic %q partition %d offset %d)", e.Err, e.Topic, e.Partition, e.Offset)
	return b.String()
}

// Unwrap returns the cause.
func (e *RecordError) Unwrap() error { return e.Err }

// recordErr builds a RecordError for rec.
func recordErr(transform string, rec *connect.Record, field string, format string, args ...any) error {
	return &RecordError{Transform: transform, Field: field, Topic: rec.Topic, Partition: rec.Partition,
		Offset: rec.Offset, Err: fmt.Errorf(format, args...)}
}

// base is what every transform shares: its display name (the simple class
// name, e.g. "InsertField$Value") and, for $Key/$Value transforms, the operand.
type base struct {
	name string
	op   Operand
}

func (b *base) operand(rec *connect.Record) (*connect.Schema, any) {
	if b.op == Key {
		return rec.KeySchema, rec.Key
	}
	return rec.ValueSchema, rec.Value
}

// with returns a copy of rec whose operand is (s, v).
func (b *base) with(rec *connect.Record, s *connect.Schema, v any) *connect.Record {
	c := rec.Clone()
	if b.op == Key {
		c.KeySchema, c.Key = s, v
	} else {
		c.ValueSchema, c.Value = s, v
	}
	return c
}

func (b *base) errorf(rec *connect.Record, field, format string, args ...any) error {
	return recordErr(b.name, rec, field, format, args...)
}

// what names the operand in messages.
func (b *base) what() string {
	if b.op == Key {
		return "key"
	}
	return "value"
}

// configure parses props with b into t, naming the transform in the error.
func configure[T any](name string, b *config.Binding[T], props map[string]string, t *T) (*config.Values, error) {
	v, err := b.Parse(props, t)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return v, nil
}

// configError names the transform and key of a problem found after parsing.
func configError(name, key, value, msg string) error {
	return fmt.Errorf("%s: %w", name, config.InvalidError(key, value, msg))
}

// cacheSize bounds every per-instance cache.
const cacheSize = 256

// schemaCache maps an input schema (by pointer) to what a transform derived
// from it: an output schema and whatever plan speeds up per-record work. It
// remembers the last hit, which is the common case of one schema per task.
// Not safe for concurrent use (see the package doc).
type schemaCache[V any] struct {
	lastIn  *connect.Schema
	lastOut V
	m       map[*connect.Schema]V
}

func (c *schemaCache[V]) get(in *connect.Schema) (V, bool) {
	if in == c.lastIn && in != nil {
		return c.lastOut, true
	}
	v, ok := c.m[in]
	if ok {
		c.lastIn, c.lastOut = in, v
	}
	return v, ok
}

func (c *schemaCache[V]) put(in *connect.Schema, v V) {
	if c.m == nil {
		c.m = make(map[*connect.Schema]V)
	}
	if len(c.m) >= cacheSize {
		clear(c.m)
	}
	c.m[in] = v
	c.lastIn, c.lastOut = in, v
}

// stringCache maps strings (topic names) to derived values, bounded.
type stringCache[V any] struct {
	lastIn  string
	lastOut V
	hasLast bool
	m       map[string]V
}

func (c *stringCache[V]) get(in string) (V, bool) {
	if c.hasLast && in == c.lastIn {
		return c.lastOut, true
	}
	v, ok := c.m[in]
	if ok {
		c.lastIn, c.lastOut, c.hasLast = in, v, true
	}
	return v, ok
}

func (c *stringCache[V]) put(in string, v V) {
	if c.m == nil {
		c.m = make(map[string]V)
	}
	if len(c.m) >= cacheSize {
		clear(c.m)
	}
	c.m[in] = v
	c.lastIn, c.lastOut, c.hasLast = in, v, true
}

// basics returns a copy of s without fields, key or value schemas: the
// attributes Kafka Connect's SchemaUtil.copySchemaBasics copies.
func basics(s *connect.Schema) *connect.Schema {
	return &connect.Schema{Type: s.Type, Optional: s.Optional, Default: s.Default, Name: s.Name,
		Version: s.Version, Doc: s.Doc, Parameters: s.Parameters}
}

// newStructSchema builds a struct schema with the basics of like (may be nil)
// and fields, reporting a duplicate or empty field name as an error instead
// of panicking.
func newStructSchema(like *connect.Schema, fields []connect.Field) (*connect.Schema, error) {
	seen := make(map[string]bool, len(fields))
	for _, f := range fields {
		if f.Name == "" {
			return nil, errors.New("empty field name")
		}
		if seen[f.Name] {
			return nil, fmt.Errorf("cannot create field %q because of field name duplication", f.Name)
		}
		seen[f.Name] = true
	}
	name := ""
	if like != nil {
		name = like.Name
	}
	s := connect.NewStructSchema(name, fields...)
	if like != nil {
		s.Optional, s.Version, s.Doc, s.Parameters = like.Optional, like.Version, like.Doc, like.Parameters
		// A struct default would be of the old schema; Kafka Connect drops it too
		// unless the shape is unchanged, which callers handle themselves.
	}
	return s, nil
}

// optional returns s as optional.
func optional(s *connect.Schema) *connect.Schema { return connect.OptionalOf(s) }

// fieldGetter reads struct fields honouring replace.null.with.default: with
// it (Kafka Connect's default) an unset field reads as its schema default.
type fieldGetter bool

func (g fieldGetter) at(st *connect.Struct, i int) any {
	if g {
		return st.GetAt(i)
	}
	return st.RawAt(i)
}

// replaceNullKey is the replace.null.with.default key several Kafka Connect
// transforms accept.
var replaceNullKey = config.Key{Name: "replace.null.with.default", Type: config.Boolean, Default: true,
	Importance: config.Medium,
	Doc:        "Whether to replace fields that have a default value and that are null to the default value. When set to true, the default value is used, otherwise null is used."}

// replaceNull binds replace.null.with.default to a transform's fieldGetter.
func replaceNull[T any](get func(*T) *fieldGetter) config.Field[T] {
	return config.BoolField(replaceNullKey, func(t *T) *bool { return (*bool)(get(t)) })
}

// requireMap returns v as a schemaless map.
func requireMap(v any) (map[string]any, bool) {
	m, ok := v.(map[string]any)
	return m, ok
}

// requireStruct returns v as a struct.
func requireStruct(v any) (*connect.Struct, bool) {
	st, ok := v.(*connect.Struct)
	return st, ok && st != nil
}

// listKey is a LIST key with a default of no items.
func listKey(name, doc string, imp config.Importance) config.Key {
	return config.Key{Name: name, Type: config.List, Default: []string{}, Importance: imp, Doc: doc}
}

// nonEmptyList is a required LIST key that must name something.
func nonEmptyList(name, doc string) config.Key {
	return config.Key{Name: name, Type: config.List, Required: true, Validator: config.NonEmpty(),
		Importance: config.High, Doc: doc}
}

// setOf returns the items as a set.
func setOf(items []string) map[string]bool {
	m := make(map[string]bool, len(items))
	for _, s := range items {
		m[s] = true
	}
	return m
}

// validatorFunc adapts a check and a description to config.Validator.
func validatorFunc(desc string, check func(v any) error) config.Validator {
	return config.ValidatorFunc{Description: desc, Check: check}
}

// ownership says which parts of a record a Chain owns: parts made by an
// earlier stage of the same chain, referenced by nothing outside it, which a
// later stage may therefore change in place instead of copying. A record
// handed to Chain.Apply is never owned; the map bits imply ownRecord.
type ownership uint8

const (
	ownRecord ownership = 1 << iota // the *Record (and its Headers slice)
	ownKey                          // its schemaless key map
	ownValue                        // its schemaless value map
)

// ownedApplier is implemented by transforms that take part in the chain's
// ownership protocol. applyOwned is Apply for a record of which the chain
// owns what own says; it returns the result and what the chain owns of it.
// Apply(rec) is applyOwned(rec, 0).
type ownedApplier interface {
	applyOwned(rec *connect.Record, own ownership) (*connect.Record, ownership, error)
}

// mapBit is the ownership bit of the operand's map.
func (b *base) mapBit() ownership {
	if b.op == Key {
		return ownKey
	}
	return ownValue
}

// set stores (s, v) as the operand, in rec itself when the chain owns it,
// else in a clone; fresh says v is a map made for this record only.
func (b *base) set(rec *connect.Record, own ownership, s *connect.Schema, v any, fresh bool) (*connect.Record, ownership) {
	if own&ownRecord == 0 {
		rec, own = rec.Clone(), ownRecord
	}
	if b.op == Key {
		rec.KeySchema, rec.Key = s, v
	} else {
		rec.ValueSchema, rec.Value = s, v
	}
	if fresh {
		own |= b.mapBit()
	} else {
		own &^= b.mapBit()
	}
	return rec, own
}

// owned returns rec for in-place changes of fields other than key and
// value: rec itself when the chain owns it, else a clone.
func owned(rec *connect.Record, own ownership) (*connect.Record, ownership) {
	if own&ownRecord == 0 {
		return rec.Clone(), ownRecord
	}
	return rec, own
}

// copyMap returns a copy of m to which about extra entries will be added.
// maps.Clone copies the table memory without rehashing, which is several
// times faster than re-inserting, so it is used unless the copy would have
// to grow right away.
func copyMap(m map[string]any, extra int) map[string]any {
	if n := len(m); n+extra <= 8 || n > 8 {
		if m == nil {
			return make(map[string]any, extra)
		}
		return maps.Clone(m)
	}
	out := make(map[string]any, len(m)+extra)
	for k, x := range m {
		out[k] = x
	}
	return out
}

// replace stores x under k, which m already holds. Go's map assignment
// turns a full small map (8 entries) into a large one before it looks for
// the key, so an overwrite there costs an allocation; deleting first keeps
// the map small.
func replace(m map[string]any, k string, x any) {
	if len(m) == 8 {
		delete(m, k)
	}
	m[k] = x
}
