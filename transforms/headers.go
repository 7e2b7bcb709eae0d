package transforms

import (
	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connect/config"
)

// InsertHeader adds a header with a literal value to every record; the
// value's schema is inferred from the literal (boolean, integer, float,
// string).
type InsertHeader struct {
	header  string
	literal string
	schema  *connect.Schema
	value   any
}

var insertHeaderBinding = config.Bind(
	config.StringField(config.Key{Name: "header", Required: true, Validator: config.NonEmpty(), Importance: config.High,
		Doc: "The name of the header."},
		func(t *InsertHeader) *string { return &t.header }),
	config.StringField(config.Key{Name: "value.literal", Required: true, Importance: config.High,
		Doc: "The literal value that is to be set as the header value on all records."},
		func(t *InsertHeader) *string { return &t.literal }),
)

// NewInsertHeader returns an unconfigured InsertHeader.
func NewInsertHeader() *InsertHeader { return &InsertHeader{} }

// Config returns the keys of Kafka Connect's InsertHeader.
func (*InsertHeader) Config() *config.Def { return insertHeaderBinding.Def() }

// Configure reads the header and value.
func (t *InsertHeader) Configure(props map[string]string) error {
	if _, err := configure("InsertHeader", insertHeaderBinding, props, t); err != nil {
		return err
	}
	t.schema, t.value = parseLiteral(t.literal)
	return nil
}

// Apply adds the header.
func (t *InsertHeader) Apply(rec *connect.Record) (*connect.Record, error) {
	c := rec.Clone()
	c.Headers.Add(t.header, t.schema, t.value)
	return c, nil
}

// Close does nothing.
func (*InsertHeader) Close() error { return nil }

// DropHeaders removes every header with one of the given names.
type DropHeaders struct {
	list  []string
	names map[string]bool
}

var dropHeadersBinding = config.Bind(
	config.ListField(nonEmptyList("headers", "The name of the headers to be removed."),
		func(t *DropHeaders) *[]string { return &t.list }),
)

// NewDropHeaders returns an unconfigured DropHeaders.
func NewDropHeaders() *DropHeaders { return &DropHeaders{} }

// Config returns the keys of Kafka Connect's DropHeaders.
func (*DropHeaders) Config() *config.Def { return dropHeadersBinding.Def() }

// Configure reads the header names.
func (t *DropHeaders) Configure(props map[string]string) error {
	if _, err := configure("DropHeaders", dropHeadersBinding, props, t); err != nil {
		return err
	}
	t.names = setOf(t.list)
	return nil
}

// Apply removes the headers; a record without them passes unchanged.
func (t *DropHeaders) Apply(rec *connect.Record) (*connect.Record, error) {
	found := false
	for _, h := range rec.Headers {
		if t.names[h.Key] {
			found = true
			break
		}
	}
	if !found {
		return rec, nil
	}
	c := *rec
	c.Headers = make(connect.Headers, 0, len(rec.Headers))
	for _, h := range rec.Headers {
		if !t.names[h.Key] {
			c.Headers = append(c.Headers, h)
		}
	}
	return &c, nil
}

// Close does nothing.
func (*DropHeaders) Close() error { return nil }

// HeaderFrom copies or moves fields of the key or value into headers.
type HeaderFrom struct {
	base
	fields, headers []string
	operation       string
	move            bool
	get             fieldGetter
	cache           schemaCache[*headerFromPlan]
}

type headerFromPlan struct {
	src    []connect.Field // the fields to copy, in config order
	schema *connect.Schema // the struct without moved fields
	keep   []int
}

var headerFromBinding = config.Bind(
	config.ListField(nonEmptyList("fields", "Field names in the record whose values are to be copied or moved to headers."),
		func(t *HeaderFrom) *[]string { return &t.fields }),
	config.ListField(nonEmptyList("headers", "Header names, in the same order as the field names listed in the fields configuration property."),
		func(t *HeaderFrom) *[]string { return &t.headers }),
	config.StringField(config.Key{Name: "operation", Required: true, Validator: config.OneOf("move", "copy"), Importance: config.High,
		Doc: "Either <code>move</code> if the fields are to be moved to the headers (removed from the key/value), or <code>copy</code> if the fields are to be copied to the headers (retained in the key/value)."},
		func(t *HeaderFrom) *string { return &t.operation }),
	replaceNull(func(t *HeaderFrom) *fieldGetter { return &t.get }),
)

// NewHeaderFrom returns an unconfigured HeaderFrom$Key or HeaderFrom$Value.
func NewHeaderFrom(op Operand) *HeaderFrom {
	return &HeaderFrom{base: base{name: "HeaderFrom" + op.suffix(), op: op}}
}

// Config returns the keys of Kafka Connect's HeaderFrom.
func (*HeaderFrom) Config() *config.Def { return headerFromBinding.Def() }

// Configure reads fields, headers and operation.
func (t *HeaderFrom) Configure(props map[string]string) error {
	if _, err := configure(t.name, headerFromBinding, props, t); err != nil {
		return err
	}
	if len(t.fields) != len(t.headers) {
		return configError(t.name, "headers", props["headers"], "'fields' config must have the same number of elements as 'headers' config.")
	}
	t.move = t.operation == "move"
	t.cache = schemaCache[*headerFromPlan]{}
	return nil
}

// ValidateConfig checks that fields and headers pair up.
func (t *HeaderFrom) ValidateConfig(props map[string]string, infos *config.Infos) {
	f, _ := config.ParseValue(config.List, props["fields"])
	h, _ := config.ParseValue(config.List, props["headers"])
	if len(f.([]string)) != len(h.([]string)) {
		infos.AddError("headers", "'fields' config must have the same number of elements as 'headers' config.")
	}
}

// Apply adds the headers and, for move, removes the fields. A nil key or
// value passes unchanged.
func (t *HeaderFrom) Apply(rec *connect.Record) (*connect.Record, error) {
	s, v := t.operand(rec)
	if v == nil {
		return rec, nil
	}
	if s == nil {
		m, ok := requireMap(v)
		if !ok {
			return nil, t.errorf(rec, "", "only a map is supported for a schemaless %s, got %T", t.what(), v)
		}
		c := rec.Clone()
		for i, f := range t.fields {
			c.Headers.Add(t.headers[i], nil, m[f])
		}
		if t.move {
			out := make(map[string]any, len(m))
			for k, x := range m {
				out[k] = x
			}
			for _, f := range t.fields {
				delete(out, f)
			}
			if t.op == Key {
				c.Key = out
			} else {
				c.Value = out
			}
		}
		return c, nil
	}
	st, ok := requireStruct(v)
	if !ok {
		return nil, t.errorf(rec, "", "only a struct is supported for a %s with a schema, got %T", t.what(), v)
	}
	plan, ok := t.cache.get(st.Schema())
	if !ok {
		plan = &headerFromPlan{}
		moved := map[string]bool{}
		for _, name := range t.fields {
			f, found := st.Schema().Field(name)
			if !found {
				return nil, t.errorf(rec, name, "field does not exist in schema %s", st.Schema())
			}
			plan.src = append(plan.src, f)
			moved[name] = true
		}
		if t.move {
			var fields []connect.Field
			for _, f := range st.Schema().Fields {
				if !moved[f.Name] {
					fields = append(fields, connect.F(f.Name, f.Schema))
					plan.keep = append(plan.keep, f.Index)
				}
			}
			var err error
			if plan.schema, err = newStructSchema(st.Schema(), fields); err != nil {
				return nil, t.errorf(rec, "", "%v", err)
			}
		}
		t.cache.put(st.Schema(), plan)
	}
	c := rec.Clone()
	for i, f := range plan.src {
		c.Headers.Add(t.headers[i], f.Schema, t.get.at(st, f.Index))
	}
	if t.move {
		out := connect.NewStruct(plan.schema)
		for i, src := range plan.keep {
			out.SetAt(i, t.get.at(st, src))
		}
		if t.op == Key {
			c.KeySchema, c.Key = plan.schema, out
		} else {
			c.ValueSchema, c.Value = plan.schema, out
		}
	}
	return c, nil
}

// Close does nothing.
func (*HeaderFrom) Close() error { return nil }
