package transforms

import (
	"strconv"

	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connect/config"
)

// Flatten turns nested structs or maps into one level, joining field names
// with the delimiter ("address.city"). Arrays and maps inside structs are
// kept as they are. A field under an optional struct becomes optional.
type Flatten struct {
	base
	delim string
	get   fieldGetter
	cache schemaCache[*flattenPlan]
}

type flattenPlan struct {
	schema *connect.Schema
	paths  [][]int // per output field, the field indexes from the top struct down
}

var flattenBinding = config.Bind(
	config.StringField(config.Key{Name: "delimiter", Default: ".", Importance: config.Medium,
		Doc: "Delimiter to insert between field names from the input record when generating field names for the output record."},
		func(t *Flatten) *string { return &t.delim }),
	replaceNull(func(t *Flatten) *fieldGetter { return &t.get }),
)

// NewFlatten returns an unconfigured Flatten$Key or Flatten$Value.
func NewFlatten(op Operand) *Flatten {
	return &Flatten{base: base{name: "Flatten" + op.suffix(), op: op}}
}

// Config returns the keys of Kafka Connect's Flatten.
func (*Flatten) Config() *config.Def { return flattenBinding.Def() }

// Configure reads the delimiter.
func (t *Flatten) Configure(props map[string]string) error {
	if _, err := configure(t.name, flattenBinding, props, t); err != nil {
		return err
	}
	t.cache = schemaCache[*flattenPlan]{}
	return nil
}

// Apply flattens; a nil schemaless key or value passes unchanged.
func (t *Flatten) Apply(rec *connect.Record) (*connect.Record, error) {
	s, v := t.operand(rec)
	if s == nil {
		if v == nil {
			return rec, nil
		}
		m, ok := requireMap(v)
		if !ok {
			return nil, t.errorf(rec, "", "only a map is supported for a schemaless %s, got %T", t.what(), v)
		}
		out := make(map[string]any, len(m))
		t.flattenMap("", m, out)
		return t.with(rec, nil, out), nil
	}
	if s.Type != connect.TypeStruct {
		return nil, t.errorf(rec, "", "only a struct is supported for a %s with a schema, got %s", t.what(), s)
	}
	plan, ok := t.cache.get(s)
	if !ok {
		plan = &flattenPlan{}
		var fields []connect.Field
		t.flattenSchema("", s, false, nil, &fields, plan)
		var err error
		if plan.schema, err = newStructSchema(s, fields); err != nil {
			return nil, t.errorf(rec, "", "flattened names collide: %v", err)
		}
		t.cache.put(s, plan)
	}
	if v == nil {
		return t.with(rec, plan.schema, nil), nil
	}
	st, ok := requireStruct(v)
	if !ok {
		return nil, t.errorf(rec, "", "only a struct is supported for a %s with a schema, got %T", t.what(), v)
	}
	out := connect.NewStruct(plan.schema)
	for i, path := range plan.paths {
		var x any = st
		for _, idx := range path {
			cur, ok := x.(*connect.Struct)
			if !ok || cur == nil {
				x = nil
				break
			}
			x = t.get.at(cur, idx)
		}
		out.SetAt(i, x)
	}
	return t.with(rec, plan.schema, out), nil
}

func (t *Flatten) flattenSchema(prefix string, s *connect.Schema, opt bool, path []int, fields *[]connect.Field, plan *flattenPlan) {
	for _, f := range s.Fields {
		name := prefix + f.Name
		p := append(append([]int(nil), path...), f.Index)
		if f.Schema.Type == connect.TypeStruct {
			t.flattenSchema(name+t.delim, f.Schema, opt || f.Schema.Optional, p, fields, plan)
			continue
		}
		fs := f.Schema
		if opt {
			fs = optional(fs)
		}
		*fields = append(*fields, connect.F(name, fs))
		plan.paths = append(plan.paths, p)
	}
}

func (t *Flatten) flattenMap(prefix string, m map[string]any, out map[string]any) {
	for k, x := range m {
		if nested, ok := x.(map[string]any); ok {
			t.flattenMap(prefix+k+t.delim, nested, out)
			continue
		}
		out[prefix+k] = x
	}
}

// Close does nothing.
func (*Flatten) Close() error { return nil }

// SetSchemaMetadata sets the name and/or version of a key or value schema,
// e.g. to match a schema registry subject's record name.
type SetSchemaMetadata struct {
	base
	schemaName *string
	version    *int32
	get        fieldGetter
	cache      schemaCache[*connect.Schema]
}

var setSchemaMetadataBinding = config.Bind(
	config.OnlyKey[SetSchemaMetadata](config.Key{Name: "schema.name", Type: config.String, Importance: config.High, Doc: "Schema name to set."}),
	config.OnlyKey[SetSchemaMetadata](config.Key{Name: "schema.version", Type: config.Int, Importance: config.High, Doc: "Schema version to set."}),
	replaceNull(func(t *SetSchemaMetadata) *fieldGetter { return &t.get }),
)

// NewSetSchemaMetadata returns an unconfigured SetSchemaMetadata$Key or $Value.
func NewSetSchemaMetadata(op Operand) *SetSchemaMetadata {
	return &SetSchemaMetadata{base: base{name: "SetSchemaMetadata" + op.suffix(), op: op}}
}

// Config returns the keys of Kafka Connect's SetSchemaMetadata.
func (*SetSchemaMetadata) Config() *config.Def { return setSchemaMetadataBinding.Def() }

// Configure reads the name and version; at least one is required.
func (t *SetSchemaMetadata) Configure(props map[string]string) error {
	v, err := configure(t.name, setSchemaMetadataBinding, props, t)
	if err != nil {
		return err
	}
	t.schemaName, t.version = nil, nil
	if n, ok := props["schema.name"]; ok {
		t.schemaName = &n
	}
	if _, ok := props["schema.version"]; ok {
		ver := int32(v.Int("schema.version"))
		t.version = &ver
	}
	if t.schemaName == nil && t.version == nil {
		return configError(t.base.name, "schema.name", "", "Neither schema name nor version configured")
	}
	t.cache = schemaCache[*connect.Schema]{}
	return nil
}

// ValidateConfig reports a configuration that sets neither name nor version.
func (t *SetSchemaMetadata) ValidateConfig(props map[string]string, infos *config.Infos) {
	_, n := props["schema.name"]
	_, v := props["schema.version"]
	if !n && !v {
		infos.AddError("schema.name", "Neither schema name nor version configured")
	}
}

// Apply replaces the schema; a schemaless key or value is an error.
func (t *SetSchemaMetadata) Apply(rec *connect.Record) (*connect.Record, error) {
	s, v := t.operand(rec)
	if s == nil {
		return nil, t.errorf(rec, "", "a schema is required for updating schema metadata, the %s is schemaless", t.what())
	}
	out, ok := t.cache.get(s)
	if !ok {
		c := *s // shares fields and the field index, which do not change
		if t.schemaName != nil {
			c.Name = *t.schemaName
		}
		if t.version != nil {
			c.Version = *t.version
		}
		out = &c
		t.cache.put(s, out)
	}
	if st, ok := requireStruct(v); ok {
		ns := connect.NewStruct(out)
		for i := range out.Fields {
			ns.SetAt(i, t.get.at(st, i))
		}
		v = ns
	}
	return t.with(rec, out, v), nil
}

// Close does nothing.
func (*SetSchemaMetadata) Close() error { return nil }

// parseLiteral infers a schema for a header literal as Kafka Connect's
// Values.parseString does: booleans, the smallest integer type that holds
// the number, floating point numbers, else a string.
func parseLiteral(s string) (*connect.Schema, any) {
	switch s {
	case "true":
		return connect.BooleanSchema, true
	case "false":
		return connect.BooleanSchema, false
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		switch {
		case n >= -128 && n <= 127:
			return connect.Int8Schema, int8(n)
		case n >= -32768 && n <= 32767:
			return connect.Int16Schema, int16(n)
		case n >= -1<<31 && n <= 1<<31-1:
			return connect.Int32Schema, int32(n)
		}
		return connect.Int64Schema, n
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && s != "" && s[0] != '+' {
		if float64(float32(f)) == f {
			return connect.Float32Schema, float32(f)
		}
		return connect.Float64Schema, f
	}
	return connect.StringSchema, s
}
