package transforms

import (
	"strings"

	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connect/config"
)

// InsertField adds fields to a struct or map key or value: the record's
// topic, partition, offset (sink records) and timestamp, and a static string.
// A field name ending in "!" is required, "?" (the default) optional.
type InsertField struct {
	base
	topic, partition, offset, timestamp, static insertSpec
	staticValue                                 any // a string, boxed once
	// cfg holds the keys as given.
	cfg   struct{ topic, partition, offset, timestamp, static, staticValue string }
	count int // fields inserted
	get   fieldGetter
	cache schemaCache[*connect.Schema]
}

type insertSpec struct {
	name     string
	optional bool
}

func parseInsertSpec(s string) insertSpec {
	switch {
	case s == "":
		return insertSpec{}
	case strings.HasSuffix(s, "?"):
		return insertSpec{name: s[:len(s)-1], optional: true}
	case strings.HasSuffix(s, "!"):
		return insertSpec{name: s[:len(s)-1]}
	}
	return insertSpec{name: s, optional: true}
}

const insertSuffixDoc = " Suffix with <code>!</code> to make this a required field, or <code>?</code> to keep it optional (the default)."

var insertFieldBinding = config.Bind(
	config.StringField(config.Key{Name: "topic.field", Importance: config.Medium, Doc: "Field name for Kafka topic." + insertSuffixDoc},
		func(t *InsertField) *string { return &t.cfg.topic }),
	config.StringField(config.Key{Name: "partition.field", Importance: config.Medium, Doc: "Field name for Kafka partition." + insertSuffixDoc},
		func(t *InsertField) *string { return &t.cfg.partition }),
	config.StringField(config.Key{Name: "offset.field", Importance: config.Medium, Doc: "Field name for Kafka offset - only applicable to sink connectors." + insertSuffixDoc},
		func(t *InsertField) *string { return &t.cfg.offset }),
	config.StringField(config.Key{Name: "timestamp.field", Importance: config.Medium, Doc: "Field name for record timestamp." + insertSuffixDoc},
		func(t *InsertField) *string { return &t.cfg.timestamp }),
	config.StringField(config.Key{Name: "static.field", Importance: config.Medium, Doc: "Field name for static data field." + insertSuffixDoc},
		func(t *InsertField) *string { return &t.cfg.static }),
	config.StringField(config.Key{Name: "static.value", Importance: config.Medium, Doc: "Static field value, if field name configured."},
		func(t *InsertField) *string { return &t.cfg.staticValue }),
	replaceNull(func(t *InsertField) *fieldGetter { return &t.get }),
)

// NewInsertField returns an unconfigured InsertField$Key or InsertField$Value.
func NewInsertField(op Operand) *InsertField {
	return &InsertField{base: base{name: "InsertField" + op.suffix(), op: op}}
}

// Config returns the keys of Kafka Connect's InsertField.
func (*InsertField) Config() *config.Def { return insertFieldBinding.Def() }

// Configure reads the field names.
func (t *InsertField) Configure(props map[string]string) error {
	if _, err := configure(t.name, insertFieldBinding, props, t); err != nil {
		return err
	}
	t.topic = parseInsertSpec(t.cfg.topic)
	t.partition = parseInsertSpec(t.cfg.partition)
	t.offset = parseInsertSpec(t.cfg.offset)
	t.timestamp = parseInsertSpec(t.cfg.timestamp)
	t.static = parseInsertSpec(t.cfg.static)
	t.staticValue = t.cfg.staticValue // boxed here, not per record
	t.count = 0
	for _, s := range []insertSpec{t.topic, t.partition, t.offset, t.timestamp, t.static} {
		if s.name != "" {
			t.count++
		}
	}
	t.cache = schemaCache[*connect.Schema]{}
	return nil
}

// inserts returns the names and values to insert, in Kafka Connect's order.
func (t *InsertField) inserts(rec *connect.Record, schemaless bool, do func(spec insertSpec, s *connect.Schema, v any) error) error {
	if t.topic.name != "" {
		if err := do(t.topic, connect.StringSchema, rec.Topic); err != nil {
			return err
		}
	}
	if t.partition.name != "" {
		var p any
		if rec.Partition >= 0 {
			p = rec.Partition
		}
		if err := do(t.partition, connect.Int32Schema, p); err != nil {
			return err
		}
	}
	if t.offset.name != "" {
		if rec.SourcePartition != nil || rec.SourceOffset != nil {
			return t.errorf(rec, t.offset.name, "offset.field can only be set on records of sink connectors")
		}
		if err := do(t.offset, connect.Int64Schema, rec.Offset); err != nil {
			return err
		}
	}
	if t.timestamp.name != "" {
		var ts any
		if !rec.Timestamp.IsZero() {
			if schemaless {
				ts = rec.Timestamp.UnixMilli()
			} else {
				ts = rec.Timestamp
			}
		}
		if err := do(t.timestamp, connect.TimestampSchema(), ts); err != nil {
			return err
		}
	}
	if t.static.name != "" {
		if err := do(t.static, connect.StringSchema, t.staticValue); err != nil {
			return err
		}
	}
	return nil
}

// Apply inserts the fields; a nil key or value passes unchanged.
func (t *InsertField) Apply(rec *connect.Record) (*connect.Record, error) {
	out, _, err := t.applyOwned(rec, 0)
	return out, err
}

func (t *InsertField) applyOwned(rec *connect.Record, own ownership) (*connect.Record, ownership, error) {
	s, v := t.operand(rec)
	if v == nil {
		return rec, own, nil
	}
	if s == nil {
		m, ok := requireMap(v)
		if !ok {
			return nil, 0, t.errorf(rec, "", "only a map is supported for a schemaless %s, got %T", t.what(), v)
		}
		if own&t.mapBit() == 0 {
			m = copyMap(m, t.count)
		}
		err := t.inserts(rec, true, func(spec insertSpec, _ *connect.Schema, x any) error {
			m[spec.name] = x
			return nil
		})
		if err != nil {
			return nil, 0, err
		}
		out, own := t.set(rec, own, nil, m, true)
		return out, own, nil
	}
	st, ok := requireStruct(v)
	if !ok || s.Type != connect.TypeStruct {
		return nil, 0, t.errorf(rec, "", "only a struct is supported for a %s with a schema, got %s", t.what(), s)
	}
	outSchema, ok := t.cache.get(st.Schema())
	if !ok {
		fields := append([]connect.Field(nil), st.Schema().Fields...)
		err := t.inserts(rec, false, func(spec insertSpec, fs *connect.Schema, _ any) error {
			if spec.optional {
				fs = optional(fs)
			}
			fields = append(fields, connect.F(spec.name, fs))
			return nil
		})
		if err != nil {
			return nil, 0, err
		}
		if outSchema, err = newStructSchema(st.Schema(), fields); err != nil {
			return nil, 0, t.errorf(rec, "", "%v", err)
		}
		t.cache.put(st.Schema(), outSchema)
	}
	out := connect.NewStruct(outSchema)
	n := len(st.Schema().Fields)
	for i := 0; i < n; i++ {
		out.SetAt(i, t.get.at(st, i))
	}
	i := n
	err := t.inserts(rec, false, func(spec insertSpec, _ *connect.Schema, x any) error {
		if x == nil && !spec.optional {
			return t.errorf(rec, spec.name, "required field has no value for this record")
		}
		out.SetAt(i, x)
		i++
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	res, own := t.set(rec, own, outSchema, out, false)
	return res, own, nil
}

// Close does nothing.
func (*InsertField) Close() error { return nil }
