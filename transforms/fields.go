package transforms

import (
	"errors"
	"fmt"
	"math/big"
	"strings"
	"time"

	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connect/config"
)

// MaskField replaces the values of fields with their type's empty value
// (0, false, "", empty array or map, the epoch) or with a replacement.
type MaskField struct {
	base
	fieldList   []string
	fields      map[string]bool
	replacement *string
	get         fieldGetter
}

var maskFieldBinding = config.Bind(
	config.ListField(nonEmptyList("fields", "Names of fields to mask."), func(t *MaskField) *[]string { return &t.fieldList }),
	config.OnlyKey[MaskField](config.Key{Name: "replacement", Type: config.String, Validator: config.NonEmpty(), Importance: config.Low,
		Doc: "Custom value replacement, that will be applied to all 'fields' values (numeric or non-empty string values only)."}),
	replaceNull(func(t *MaskField) *fieldGetter { return &t.get }),
)

// NewMaskField returns an unconfigured MaskField$Key or MaskField$Value.
func NewMaskField(op Operand) *MaskField {
	return &MaskField{base: base{name: "MaskField" + op.suffix(), op: op}}
}

// Config returns the keys of Kafka Connect's MaskField.
func (*MaskField) Config() *config.Def { return maskFieldBinding.Def() }

// Configure reads the fields and replacement.
func (t *MaskField) Configure(props map[string]string) error {
	if _, err := configure(t.name, maskFieldBinding, props, t); err != nil {
		return err
	}
	t.fields = setOf(t.fieldList)
	t.replacement = nil
	if r, ok := props["replacement"]; ok {
		t.replacement = &r
	}
	return nil
}

// Apply masks the fields; a nil key or value passes unchanged.
func (t *MaskField) Apply(rec *connect.Record) (*connect.Record, error) {
	s, v := t.operand(rec)
	if v == nil {
		return rec, nil
	}
	if s == nil {
		m, ok := requireMap(v)
		if !ok {
			return nil, t.errorf(rec, "", "only a map is supported for a schemaless %s, got %T", t.what(), v)
		}
		out := make(map[string]any, len(m))
		for k, x := range m {
			if t.fields[k] && x != nil {
				mx, err := t.mask(nil, x)
				if err != nil {
					return nil, t.errorf(rec, k, "%v", err)
				}
				x = mx
			}
			out[k] = x
		}
		return t.with(rec, nil, out), nil
	}
	st, ok := requireStruct(v)
	if !ok {
		return nil, t.errorf(rec, "", "only a struct is supported for a %s with a schema, got %T", t.what(), v)
	}
	out := connect.NewStruct(st.Schema())
	for i, f := range st.Schema().Fields {
		x := t.get.at(st, i)
		if t.fields[f.Name] && x != nil {
			mx, err := t.mask(f.Schema, x)
			if err != nil {
				return nil, t.errorf(rec, f.Name, "%v", err)
			}
			x = mx
		}
		out.SetAt(i, x)
	}
	return t.with(rec, st.Schema(), out), nil
}

var epoch = time.Unix(0, 0).UTC()

// mask returns the masked form of x, whose schema s may be nil.
func (t *MaskField) mask(s *connect.Schema, x any) (any, error) {
	if s != nil && s.Name == connect.DecimalName {
		scale, _ := s.Scale()
		if t.replacement != nil {
			d, err := connect.ParseDecimal(*t.replacement)
			if err != nil {
				return nil, fmt.Errorf("unable to mask a decimal with replacement %q: %v", *t.replacement, err)
			}
			return d.Rescale(scale), nil
		}
		return connect.Decimal{Unscaled: new(big.Int), Scale: scale}, nil
	}
	if t.replacement != nil {
		r := *t.replacement
		switch x.(type) {
		case string:
			return r, nil
		case int8, int16, int32, int64, int, float32, float64:
			v, err := castTo(typeOfScalar(x), r)
			if err != nil {
				return nil, fmt.Errorf("unable to mask value with replacement %q: %v", r, err)
			}
			return v, nil
		case connect.Decimal:
			return connect.ParseDecimal(r)
		}
		return nil, fmt.Errorf("cannot mask a value of type %T with a custom replacement", x)
	}
	switch v := x.(type) {
	case bool:
		return false, nil
	case int8:
		return int8(0), nil
	case int16:
		return int16(0), nil
	case int32:
		return int32(0), nil
	case int64:
		return int64(0), nil
	case int:
		return 0, nil
	case float32:
		return float32(0), nil
	case float64:
		return float64(0), nil
	case string:
		return "", nil
	case []byte:
		return []byte{}, nil
	case []any:
		return []any{}, nil
	case map[string]any:
		return map[string]any{}, nil
	case map[any]any:
		return map[any]any{}, nil
	case time.Time:
		return epoch, nil
	case connect.Decimal:
		return connect.Decimal{Unscaled: new(big.Int), Scale: v.Scale}, nil
	}
	return nil, fmt.Errorf("cannot mask a value of type %T", x)
}

// Close does nothing.
func (*MaskField) Close() error { return nil }

// ValueToKey replaces the record key with a struct or map of some of the
// value's fields.
type ValueToKey struct {
	fields []string
	get    fieldGetter
	cache  schemaCache[*replacePlan]
}

var valueToKeyBinding = config.Bind(
	config.ListField(nonEmptyList("fields", "Field names on the record value to extract as the record key."),
		func(t *ValueToKey) *[]string { return &t.fields }),
	replaceNull(func(t *ValueToKey) *fieldGetter { return &t.get }),
)

// NewValueToKey returns an unconfigured ValueToKey.
func NewValueToKey() *ValueToKey { return &ValueToKey{} }

// Config returns the keys of Kafka Connect's ValueToKey.
func (*ValueToKey) Config() *config.Def { return valueToKeyBinding.Def() }

// Configure reads the fields.
func (t *ValueToKey) Configure(props map[string]string) error {
	if _, err := configure("ValueToKey", valueToKeyBinding, props, t); err != nil {
		return err
	}
	t.cache = schemaCache[*replacePlan]{}
	return nil
}

// Apply builds the key. A tombstone (nil value) passes unchanged, keeping its
// key, so compaction still sees it.
func (t *ValueToKey) Apply(rec *connect.Record) (*connect.Record, error) {
	if rec.Value == nil {
		return rec, nil
	}
	if rec.ValueSchema == nil {
		m, ok := requireMap(rec.Value)
		if !ok {
			return nil, recordErr("ValueToKey", rec, "", "only a map is supported for a schemaless value, got %T", rec.Value)
		}
		key := make(map[string]any, len(t.fields))
		for _, f := range t.fields {
			key[f] = m[f]
		}
		c := rec.Clone()
		c.KeySchema, c.Key = nil, key
		return c, nil
	}
	st, ok := requireStruct(rec.Value)
	if !ok {
		return nil, recordErr("ValueToKey", rec, "", "only a struct is supported for a value with a schema, got %T", rec.Value)
	}
	plan, ok := t.cache.get(st.Schema())
	if !ok {
		plan = &replacePlan{}
		fields := make([]connect.Field, 0, len(t.fields))
		for _, name := range t.fields {
			f, found := st.Schema().Field(name)
			if !found {
				return nil, recordErr("ValueToKey", rec, name, "field does not exist in the value schema %s", st.Schema())
			}
			fields = append(fields, connect.F(name, f.Schema))
			plan.src = append(plan.src, f.Index)
		}
		var err error
		if plan.schema, err = newStructSchema(nil, fields); err != nil {
			return nil, recordErr("ValueToKey", rec, "", "%v", err)
		}
		t.cache.put(st.Schema(), plan)
	}
	key := connect.NewStruct(plan.schema)
	for i, src := range plan.src {
		key.SetAt(i, t.get.at(st, src))
	}
	c := rec.Clone()
	c.KeySchema, c.Key = plan.schema, key
	return c, nil
}

// Close does nothing.
func (*ValueToKey) Close() error { return nil }

// ExtractField replaces a struct or map with one of its fields. With
// field.syntax.version=V2 the field is a dotted path into nested structs or
// maps ("after.id"); a path segment containing dots is quoted in backticks
// ("`a.b`.c", a backslash escapes a backtick inside).
type ExtractField struct {
	base
	field  string
	syntax string // field.syntax.version
	path   []string
	get    fieldGetter
	cache  schemaCache[*extractPlan]
}

type extractPlan struct {
	schema *connect.Schema
	idx    []int
}

var extractFieldBinding = config.Bind(
	config.StringField(config.Key{Name: "field", Required: true, Validator: config.NonEmpty(), Importance: config.Medium,
		Doc: "Field name to extract. With field.syntax.version=V2, a dotted path to a nested field."},
		func(t *ExtractField) *string { return &t.field }),
	config.StringField(config.Key{Name: "field.syntax.version", Default: "V1", Validator: config.OneOf("V1", "V2"),
		Importance: config.High,
		Doc:        "Defines the version of the syntax to access fields. V1: field names are taken as is. V2: dots separate nested field names; wrap a name containing dots in backticks."},
		func(t *ExtractField) *string { return &t.syntax }),
	replaceNull(func(t *ExtractField) *fieldGetter { return &t.get }),
)

// NewExtractField returns an unconfigured ExtractField$Key or ExtractField$Value.
func NewExtractField(op Operand) *ExtractField {
	return &ExtractField{base: base{name: "ExtractField" + op.suffix(), op: op}}
}

// Config returns the keys of Kafka Connect's ExtractField.
func (*ExtractField) Config() *config.Def { return extractFieldBinding.Def() }

// Configure reads the field (path).
func (t *ExtractField) Configure(props map[string]string) error {
	if _, err := configure(t.name, extractFieldBinding, props, t); err != nil {
		return err
	}
	t.path = []string{t.field}
	if t.syntax == "V2" {
		var err error
		if t.path, err = parseFieldPath(t.field); err != nil {
			return configError(t.name, "field", t.field, err.Error())
		}
	}
	t.cache = schemaCache[*extractPlan]{}
	return nil
}

// parseFieldPath splits a V2 field path at dots outside backticks.
func parseFieldPath(p string) ([]string, error) {
	var out []string
	var seg strings.Builder
	for i := 0; i < len(p); {
		if p[i] == '`' {
			i++
			closed := false
			for i < len(p) {
				if p[i] == '\\' && i+1 < len(p) && p[i+1] == '`' {
					seg.WriteByte('`')
					i += 2
					continue
				}
				if p[i] == '`' && (i+1 == len(p) || p[i+1] == '.') {
					closed = true
					i++
					break
				}
				seg.WriteByte(p[i])
				i++
			}
			if !closed {
				return nil, errors.New("unclosed backtick in field path")
			}
		} else {
			for i < len(p) && p[i] != '.' {
				seg.WriteByte(p[i])
				i++
			}
		}
		if seg.Len() == 0 {
			return nil, errors.New("empty field name in field path")
		}
		out = append(out, seg.String())
		seg.Reset()
		if i < len(p) { // at a dot
			i++
			if i == len(p) {
				return nil, errors.New("field path ends with a dot")
			}
		}
	}
	if len(out) == 0 {
		return nil, errors.New("empty field path")
	}
	return out, nil
}

// Apply extracts the field. A nil key or value gives nil (with the field's
// schema); a missing field of a schemaless map gives nil; a field the schema
// lacks is an error.
func (t *ExtractField) Apply(rec *connect.Record) (*connect.Record, error) {
	s, v := t.operand(rec)
	if s == nil {
		if v == nil {
			return rec, nil
		}
		var cur any = v
		for _, name := range t.path {
			m, ok := requireMap(cur)
			if !ok {
				if cur == nil {
					break
				}
				return nil, t.errorf(rec, t.field, "only a map is supported for a schemaless %s, got %T", t.what(), cur)
			}
			cur = m[name]
		}
		return t.with(rec, nil, cur), nil
	}
	plan, ok := t.cache.get(s)
	if !ok {
		plan = &extractPlan{}
		cur := s
		for _, name := range t.path {
			if cur.Type != connect.TypeStruct {
				return nil, t.errorf(rec, t.field, "only a struct is supported for a %s with a schema, got %s", t.what(), cur)
			}
			f, found := cur.Field(name)
			if !found {
				return nil, t.errorf(rec, t.field, "unknown field in schema %s", s)
			}
			plan.idx = append(plan.idx, f.Index)
			cur = f.Schema
		}
		plan.schema = cur
		t.cache.put(s, plan)
	}
	var cur any = v
	for _, i := range plan.idx {
		if cur == nil {
			break
		}
		st, ok := requireStruct(cur)
		if !ok {
			return nil, t.errorf(rec, t.field, "expected a struct, got %T", cur)
		}
		cur = t.get.at(st, i)
	}
	return t.with(rec, plan.schema, cur), nil
}

// Close does nothing.
func (*ExtractField) Close() error { return nil }

// HoistField wraps a key or value in a struct or map with one field.
type HoistField struct {
	base
	field string
	cache schemaCache[*connect.Schema]
}

var hoistFieldBinding = config.Bind(
	config.StringField(config.Key{Name: "field", Required: true, Validator: config.NonEmpty(), Importance: config.Medium,
		Doc: "Field name for the single field that will be created in the resulting Struct or Map."},
		func(t *HoistField) *string { return &t.field }),
)

// NewHoistField returns an unconfigured HoistField$Key or HoistField$Value.
func NewHoistField(op Operand) *HoistField {
	return &HoistField{base: base{name: "HoistField" + op.suffix(), op: op}}
}

// Config returns the keys of Kafka Connect's HoistField.
func (*HoistField) Config() *config.Def { return hoistFieldBinding.Def() }

// Configure reads the field name.
func (t *HoistField) Configure(props map[string]string) error {
	if _, err := configure(t.name, hoistFieldBinding, props, t); err != nil {
		return err
	}
	t.cache = schemaCache[*connect.Schema]{}
	return nil
}

// Apply wraps the key or value.
func (t *HoistField) Apply(rec *connect.Record) (*connect.Record, error) {
	s, v := t.operand(rec)
	if s == nil {
		return t.with(rec, nil, map[string]any{t.field: v}), nil
	}
	out, ok := t.cache.get(s)
	if !ok {
		out = connect.NewStructSchema("", connect.F(t.field, s))
		t.cache.put(s, out)
	}
	st := connect.NewStruct(out)
	st.SetAt(0, v)
	return t.with(rec, out, st), nil
}

// Close does nothing.
func (*HoistField) Close() error { return nil }

// typeOfScalar returns the schema type of a Go scalar.
func typeOfScalar(x any) connect.Type {
	switch x.(type) {
	case bool:
		return connect.TypeBoolean
	case int8:
		return connect.TypeInt8
	case int16:
		return connect.TypeInt16
	case int32:
		return connect.TypeInt32
	case int64, int:
		return connect.TypeInt64
	case float32:
		return connect.TypeFloat32
	case float64:
		return connect.TypeFloat64
	case string:
		return connect.TypeString
	case []byte:
		return connect.TypeBytes
	}
	return ""
}
