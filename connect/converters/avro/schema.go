package avro

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"

	havro "github.com/hamba/avro/v2"

	"github.com/penstockhq/penstock/connect"
)

// Names and properties of Confluent's AvroData.
const (
	namespace        = "io.confluent.connect.avro"
	defaultName      = "ConnectDefault"
	mapEntryName     = namespace + ".MapEntry"
	propConnectName  = "connect.name"
	propConnectVer   = "connect.version"
	propConnectDoc   = "connect.doc"
	propConnectParam = "connect.parameters"
	propConnectType  = "connect.type"
	// precisionParam is the Decimal parameter Debezium and Confluent read the
	// Avro decimal's precision from (64 when absent).
	precisionParam = "connect.decimal.precision"
	// enumParam names the Avro enum a Connect string stands for; each
	// symbol is a parameter of its own, enumParam + "." + symbol.
	enumParam = "io.confluent.connect.avro.Enum"
	// enumDocParam holds the enum's doc.
	enumDocParam = "io.confluent.connect.avro.enum.doc"
)

// schemaJSON renders Connect schemas as Avro schemas the way Confluent's
// AvroData does with connect.meta.data=true. A record name used a second
// time is written as a reference to the first definition (Debezium's
// before/after share one).
type schemaJSON struct {
	defined  map[string]bool
	defaults int  // ConnectDefault records numbered so far
	enhanced bool // enhanced.avro.schema.support: strings with enumParam become Avro enums
}

// FromConnectSchema returns the Avro schema text for s.
func FromConnectSchema(s *connect.Schema) (string, error) { return fromConnectSchema(s, false) }

// fromConnectSchema returns the Avro schema text for s; with enhanced
// (enhanced.avro.schema.support=true) strings carrying Confluent's enum
// parameters are written as Avro enums, as Confluent's AvroData does.
func fromConnectSchema(s *connect.Schema, enhanced bool) (string, error) {
	g := &schemaJSON{defined: map[string]bool{}, enhanced: enhanced}
	v, err := g.schema(s, false)
	if err != nil {
		return "", err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("render Avro schema: %w", err)
	}
	return string(b), nil
}

// schema renders s; inUnion is set for the branch of an optional's union
// (the union itself is added by the caller).
func (g *schemaJSON) schema(s *connect.Schema, inUnion bool) (any, error) {
	if s.Optional && !inUnion {
		t, err := g.schema(s, true)
		if err != nil {
			return nil, err
		}
		if s.Default != nil {
			return []any{t, "null"}, nil
		}
		return []any{"null", t}, nil
	}
	m := map[string]any{}
	switch s.Type {
	case connect.TypeString:
		if enum, ok := s.Parameters[enumParam]; ok && g.enhanced {
			e, err := g.enum(enum, s.Parameters)
			if err != nil {
				return nil, err
			}
			if em, ok := e.(map[string]any); ok {
				m = em
			} else {
				return e, nil // a reference to the enum defined earlier
			}
			break
		}
		m["type"] = string(s.Type)
	case connect.TypeBoolean, connect.TypeBytes:
		m["type"] = string(s.Type)
	case connect.TypeInt8, connect.TypeInt16:
		m["type"] = "int"
		m[propConnectType] = string(s.Type)
	case connect.TypeInt32:
		m["type"] = "int"
	case connect.TypeInt64:
		m["type"] = "long"
	case connect.TypeFloat32:
		m["type"] = "float"
	case connect.TypeFloat64:
		m["type"] = "double"
	case connect.TypeArray:
		items, err := g.schema(s.Value, false)
		if err != nil {
			return nil, err
		}
		m["type"], m["items"] = "array", items
	case connect.TypeMap:
		if s.Key.Type == connect.TypeString && !s.Key.Optional {
			values, err := g.schema(s.Value, false)
			if err != nil {
				return nil, err
			}
			m["type"], m["values"] = "map", values
			break
		}
		// Other keys: an array of key/value records, as Confluent's.
		entry, err := g.record(mapEntryName, "", []connect.Field{{Name: "key", Schema: s.Key}, {Name: "value", Schema: s.Value}})
		if err != nil {
			return nil, err
		}
		m["type"], m["items"] = "array", entry
	case connect.TypeStruct:
		name := s.Name
		if name == "" {
			g.defaults++
			name = namespace + "." + defaultName
			if g.defaults > 1 {
				name += strconv.Itoa(g.defaults)
			}
		}
		r, err := g.record(name, s.Doc, s.Fields)
		if err != nil {
			return nil, err
		}
		if rm, ok := r.(map[string]any); ok {
			m = rm
		} else {
			return r, nil // a reference to the record defined earlier
		}
	default:
		return nil, fmt.Errorf("schema type %q has no Avro form", s.Type)
	}
	switch s.Name {
	case connect.DecimalName:
		scale, err := s.Scale()
		if err != nil {
			return nil, err
		}
		precision := 64
		if p, ok := s.Parameters[precisionParam]; ok {
			if precision, err = strconv.Atoi(p); err != nil {
				return nil, fmt.Errorf("decimal %s %q: %w", precisionParam, p, err)
			}
		}
		m["logicalType"], m["precision"], m["scale"] = "decimal", precision, scale
	case connect.DateName:
		m["logicalType"] = "date"
	case connect.TimeName:
		m["logicalType"] = "time-millis"
	case connect.TimestampName:
		m["logicalType"] = "timestamp-millis"
	}
	if s.Name != "" {
		m[propConnectName] = s.Name
	}
	if s.Version != 0 {
		m[propConnectVer] = s.Version
	}
	if s.Doc != "" {
		m[propConnectDoc] = s.Doc
	}
	if len(s.Parameters) > 0 {
		m[propConnectParam] = s.Parameters
	}
	return m, nil
}

// record renders a record named fullName, or a reference to it when it was
// defined before.
func (g *schemaJSON) record(fullName, doc string, fields []connect.Field) (any, error) {
	m, ref := g.named("record", fullName, doc)
	if m == nil {
		return ref, nil
	}
	fs := make([]any, 0, len(fields))
	for _, f := range fields {
		t, err := g.schema(f.Schema, false)
		if err != nil {
			return nil, fmt.Errorf("field %s: %w", f.Name, err)
		}
		fm := map[string]any{"name": scrub(f.Name), "type": t}
		if f.Schema.Default != nil {
			d, err := defaultJSON(f.Schema, f.Schema.Default)
			if err != nil {
				return nil, fmt.Errorf("field %s default: %w", f.Name, err)
			}
			if d != nil {
				fm["default"] = d
			}
		} else if f.Schema.Optional {
			fm["default"] = nil
		}
		fs = append(fs, fm)
	}
	m["fields"] = fs
	return m, nil
}

// named starts the definition of the named type fullName (a record or an
// enum) with its type, name, namespace and doc; when fullName was defined
// before, m is nil and ref is the full name to refer to it by. The name is
// defined from this call on, so a record's fields may refer to it.
func (g *schemaJSON) named(typ, fullName, doc string) (m map[string]any, ref string) {
	ns, name := splitName(fullName)
	full := name
	if ns != "" {
		full = ns + "." + name
	}
	if g.defined[full] {
		return nil, full
	}
	g.defined[full] = true
	m = map[string]any{"type": typ, "name": name}
	if ns != "" {
		m["namespace"] = ns
	}
	if doc != "" {
		m["doc"] = doc
	}
	return m, ""
}

// enum renders the Avro enum fullName with the symbols params list, or a
// reference to it when it was defined before. Connect parameters have no
// order in Penstock (Confluent keeps the order they were added in), so the
// symbols are sorted: Avro resolves enum values by symbol, not position,
// so readers with the source's order read the same values.
func (g *schemaJSON) enum(fullName string, params map[string]string) (any, error) {
	m, ref := g.named("enum", fullName, params[enumDocParam])
	if m == nil {
		return ref, nil
	}
	var symbols []string
	for k, v := range params {
		if strings.HasPrefix(k, enumParam+".") {
			symbols = append(symbols, v)
		}
	}
	if len(symbols) == 0 {
		return nil, fmt.Errorf("enum %s: no %s.<symbol> parameters", fullName, enumParam)
	}
	slices.Sort(symbols)
	m["symbols"] = symbols
	return m, nil
}

// splitName splits a Connect schema name into an Avro namespace and name,
// replacing characters Avro names do not allow with '_'.
func splitName(full string) (ns, name string) {
	if i := strings.LastIndexByte(full, '.'); i >= 0 {
		ns, name = full[:i], full[i+1:]
	} else {
		name = full
	}
	parts := strings.Split(ns, ".")
	for i, p := range parts {
		parts[i] = scrub(p)
	}
	if ns == "" {
		return "", scrub(name)
	}
	return strings.Join(parts, "."), scrub(name)
}

// scrub makes s a valid Avro name: [A-Za-z_][A-Za-z0-9_]*.
func scrub(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			b[i] = '_'
		}
	}
	if len(b) == 0 {
		return "_"
	}
	return string(b)
}

// defaultJSON is a field default in Avro's JSON form (nil: none that Avro
// can express).
func defaultJSON(s *connect.Schema, v any) (any, error) {
	switch x := v.(type) {
	case []byte:
		return latin1(x), nil
	case connect.Decimal:
		return latin1(connect.DecimalBytes(x.Rescale(mustScale(s)).Unscaled)), nil
	case bool, string, int8, int16, int32, int64, float32, float64:
		return x, nil
	}
	a, err := toAvro(s, nil, v)
	if err != nil {
		return nil, err
	}
	switch a.(type) {
	case int32, int64:
		return a, nil
	}
	return nil, nil
}

func mustScale(s *connect.Schema) int32 {
	n, _ := s.Scale()
	return n
}

// latin1 is Avro's JSON encoding of bytes: one code point per byte.
func latin1(b []byte) string {
	r := make([]rune, len(b))
	for i, c := range b {
		r[i] = rune(c)
	}
	return string(r)
}

// ToConnectSchema returns the Connect schema of an Avro schema, reading
// back the connect.* properties FromConnectSchema writes and mapping other
// Avro schemas as Confluent's AvroData does (enums to strings, fixed to
// bytes, [null, T] unions to optional T).
func ToConnectSchema(as havro.Schema) (*connect.Schema, error) {
	return toConnectSchema(as, map[string]*connect.Schema{})
}

type propSchema interface{ Prop(string) any }

func prop(as havro.Schema, name string) any {
	if p, ok := as.(propSchema); ok {
		return p.Prop(name)
	}
	return nil
}

func toConnectSchema(as havro.Schema, seen map[string]*connect.Schema) (*connect.Schema, error) {
	if ref, ok := as.(*havro.RefSchema); ok {
		as = ref.Schema()
	}
	var s *connect.Schema
	switch t := as.(type) {
	case *havro.UnionSchema:
		var branch havro.Schema
		for _, b := range t.Types() {
			if b.Type() == havro.Null {
				continue
			}
			if branch != nil {
				return nil, fmt.Errorf("union %s: only unions of null and one type map to Connect", t)
			}
			branch = b
		}
		if branch == nil || !t.Nullable() {
			return nil, fmt.Errorf("union %s: only unions of null and one type map to Connect", t)
		}
		inner, err := toConnectSchema(branch, seen)
		if err != nil {
			return nil, err
		}
		return connect.OptionalOf(inner), nil
	case *havro.RecordSchema:
		if s, ok := seen[t.FullName()]; ok {
			return s, nil
		}
		name := t.FullName()
		if n, ok := prop(as, propConnectName).(string); ok {
			name = n
		}
		if t.FullName() == mapEntryName {
			return nil, fmt.Errorf("a MapEntry record outside an array")
		}
		fields := make([]connect.Field, 0, len(t.Fields()))
		for _, f := range t.Fields() {
			fs, err := toConnectSchema(f.Type(), seen)
			if err != nil {
				return nil, fmt.Errorf("field %s: %w", f.Name(), err)
			}
			if f.HasDefault() && f.Default() != nil {
				c := *fs
				if c.Default, err = fromAvro(fs, f.Type(), f.Default()); err != nil {
					return nil, fmt.Errorf("field %s default: %w", f.Name(), err)
				}
				fs = &c
			}
			fields = append(fields, connect.F(f.Name(), fs))
		}
		if strings.HasPrefix(name, namespace+"."+defaultName) {
			name = ""
		}
		s = connect.NewStructSchema(name, fields...)
		s.Doc = t.Doc()
		seen[t.FullName()] = s
	case *havro.ArraySchema:
		if r, ok := unref(t.Items()).(*havro.RecordSchema); ok && r.FullName() == mapEntryName && len(r.Fields()) == 2 {
			k, err := toConnectSchema(r.Fields()[0].Type(), seen)
			if err != nil {
				return nil, err
			}
			v, err := toConnectSchema(r.Fields()[1].Type(), seen)
			if err != nil {
				return nil, err
			}
			s = connect.MapOf(k, v)
			break
		}
		items, err := toConnectSchema(t.Items(), seen)
		if err != nil {
			return nil, err
		}
		s = connect.ArrayOf(items)
	case *havro.MapSchema:
		v, err := toConnectSchema(t.Values(), seen)
		if err != nil {
			return nil, err
		}
		s = connect.MapOf(connect.StringSchema, v)
	case *havro.EnumSchema:
		// As Confluent's AvroData: a string named after the enum, its
		// name and symbols in parameters (what enhanced.avro.schema.support
		// writes back as the enum).
		s = &connect.Schema{Type: connect.TypeString, Name: t.FullName(), Parameters: map[string]string{enumParam: t.FullName()}}
		for _, sym := range t.Symbols() {
			s.Parameters[enumParam+"."+sym] = sym
		}
		if d := t.Doc(); d != "" {
			s.Parameters[enumDocParam] = d
		}
	case *havro.FixedSchema:
		s = &connect.Schema{Type: connect.TypeBytes}
	case *havro.PrimitiveSchema:
		switch t.Type() {
		case havro.Boolean:
			s = &connect.Schema{Type: connect.TypeBoolean}
		case havro.Int:
			s = &connect.Schema{Type: connect.TypeInt32}
			switch prop(as, propConnectType) {
			case "int8":
				s.Type = connect.TypeInt8
			case "int16":
				s.Type = connect.TypeInt16
			}
		case havro.Long:
			s = &connect.Schema{Type: connect.TypeInt64}
		case havro.Float:
			s = &connect.Schema{Type: connect.TypeFloat32}
		case havro.Double:
			s = &connect.Schema{Type: connect.TypeFloat64}
		case havro.String:
			s = &connect.Schema{Type: connect.TypeString}
		case havro.Bytes:
			s = &connect.Schema{Type: connect.TypeBytes}
		default:
			return nil, fmt.Errorf("Avro type %s has no Connect form", t.Type())
		}
		if l := t.Logical(); l != nil {
			switch l.Type() {
			case havro.Decimal:
				d := l.(*havro.DecimalLogicalSchema)
				s.Name, s.Version = connect.DecimalName, 1
				s.Parameters = map[string]string{connect.DecimalScaleParam: strconv.Itoa(d.Scale())}
			case havro.Date:
				s.Name, s.Version = connect.DateName, 1
			case havro.TimeMillis:
				s.Name, s.Version = connect.TimeName, 1
			case havro.TimestampMillis:
				s.Name, s.Version = connect.TimestampName, 1
			}
		}
	default:
		return nil, fmt.Errorf("Avro schema %s has no Connect form", as.Type())
	}
	if n, ok := prop(as, propConnectName).(string); ok && s.Type != connect.TypeStruct {
		s.Name = n
	}
	if v, ok := number(prop(as, propConnectVer)); ok {
		s.Version = int32(v)
	}
	if d, ok := prop(as, propConnectDoc).(string); ok {
		s.Doc = d
	}
	if ps, ok := prop(as, propConnectParam).(map[string]any); ok {
		if s.Parameters == nil {
			s.Parameters = make(map[string]string, len(ps))
		}
		for k, v := range ps {
			s.Parameters[k] = fmt.Sprint(v)
		}
	}
	return s, nil
}

func unref(as havro.Schema) havro.Schema {
	if r, ok := as.(*havro.RefSchema); ok {
		return r.Schema()
	}
	return as
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case int:
		return float64(n), true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	}
	return 0, false
}
