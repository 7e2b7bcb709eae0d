package transforms

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connect/config"
)

// Cast changes the type of fields, or of a whole primitive key or value, to
// int8, int16, int32, int64, float32, float64, boolean or string, as Kafka
// Connect's Cast does: numbers truncate, strings parse, booleans are 1/0,
// bytes become base64 strings, dates ISO 8601 strings.
type Cast struct {
	base
	whole  connect.Type            // set when the spec is a single type
	fields map[string]connect.Type // otherwise, per field
	spec   []string
	get    fieldGetter
	cache  schemaCache[*castPlan]
}

type castPlan struct {
	schema  *connect.Schema
	targets []connect.Type // per field; "" to copy
}

var castTypes = map[string]connect.Type{
	"int8": connect.TypeInt8, "int16": connect.TypeInt16, "int32": connect.TypeInt32, "int64": connect.TypeInt64,
	"float32": connect.TypeFloat32, "float64": connect.TypeFloat64, "boolean": connect.TypeBoolean, "string": connect.TypeString,
}

var castBinding = config.Bind(
	config.ListField(config.Key{Name: "spec", Required: true, Validator: castSpecValidator(), Importance: config.High,
		Doc: "List of fields and the type to cast them to of the form field1:type,field2:type to cast fields of Maps or Structs. " +
			"A single type to cast the entire value. Valid types are int8, int16, int32, int64, float32, float64, boolean, and string."},
		func(t *Cast) *[]string { return &t.spec }),
	replaceNull(func(t *Cast) *fieldGetter { return &t.get }),
)

func castSpecValidator() config.Validator {
	return validatorFunc("list of colon-delimited pairs, e.g. foo:bar,abc:xyz", func(v any) error {
		l, _ := v.([]string)
		_, _, err := parseCastSpec(l)
		return err
	})
}

func parseCastSpec(spec []string) (connect.Type, map[string]connect.Type, error) {
	if len(spec) == 0 {
		return "", nil, fmt.Errorf("Must specify at least one field to cast.")
	}
	typeOf := func(s string) (connect.Type, error) {
		t, ok := castTypes[strings.ToLower(strings.TrimSpace(s))]
		if !ok {
			return "", fmt.Errorf("Invalid type found in casting spec: %s", strings.TrimSpace(s))
		}
		return t, nil
	}
	if len(spec) == 1 && !strings.Contains(spec[0], ":") {
		t, err := typeOf(spec[0])
		return t, nil, err
	}
	fields := make(map[string]connect.Type, len(spec))
	for _, e := range spec {
		name, typ, ok := strings.Cut(e, ":")
		if !ok || strings.TrimSpace(name) == "" {
			return "", nil, fmt.Errorf("Invalid cast mapping: %s", e)
		}
		t, err := typeOf(typ)
		if err != nil {
			return "", nil, err
		}
		fields[strings.TrimSpace(name)] = t
	}
	return "", fields, nil
}

// NewCast returns an unconfigured Cast$Key or Cast$Value.
func NewCast(op Operand) *Cast { return &Cast{base: base{name: "Cast" + op.suffix(), op: op}} }

// Config returns the keys of Kafka Connect's Cast.
func (*Cast) Config() *config.Def { return castBinding.Def() }

// Configure reads the spec.
func (t *Cast) Configure(props map[string]string) error {
	if _, err := configure(t.name, castBinding, props, t); err != nil {
		return err
	}
	t.whole, t.fields, _ = parseCastSpec(t.spec) // checked by the validator
	t.cache = schemaCache[*castPlan]{}
	return nil
}

// Apply casts; a nil key or value passes unchanged.
func (t *Cast) Apply(rec *connect.Record) (*connect.Record, error) {
	out, _, err := t.applyOwned(rec, 0)
	return out, err
}

func (t *Cast) applyOwned(rec *connect.Record, own ownership) (*connect.Record, ownership, error) {
	s, v := t.operand(rec)
	if v == nil {
		return rec, own, nil
	}
	if t.whole != "" {
		if s != nil && !s.Type.Primitive() {
			return nil, 0, t.errorf(rec, "", "a whole %s can only be cast when it is primitive, not %s", t.what(), s)
		}
		out, err := castValue(s, t.whole, v)
		if err != nil {
			return nil, 0, t.errorf(rec, "", "%v", err)
		}
		var os *connect.Schema
		if s != nil {
			os = castSchema(s, t.whole)
		}
		res, own := t.set(rec, own, os, out, false)
		return res, own, nil
	}
	if s == nil {
		m, ok := requireMap(v)
		if !ok {
			return nil, 0, t.errorf(rec, "", "only a map is supported for a schemaless %s, got %T", t.what(), v)
		}
		if own&t.mapBit() == 0 {
			m = copyMap(m, 0)
		}
		for k, to := range t.fields {
			if x, ok := m[k]; ok && x != nil {
				c, err := castValue(nil, to, x)
				if err != nil {
					return nil, 0, t.errorf(rec, k, "%v", err)
				}
				replace(m, k, c)
			}
		}
		res, own := t.set(rec, own, nil, m, true)
		return res, own, nil
	}
	st, ok := requireStruct(v)
	if !ok {
		return nil, 0, t.errorf(rec, "", "only a struct is supported for a %s with a schema, got %T", t.what(), v)
	}
	plan, err := t.plan(st.Schema())
	if err != nil {
		return nil, 0, t.errorf(rec, err.field, "%v", err.err)
	}
	out := connect.NewStruct(plan.schema)
	for i, to := range plan.targets {
		x := t.get.at(st, i)
		if to != "" && x != nil {
			c, err := castValue(st.Schema().Fields[i].Schema, to, x)
			if err != nil {
				return nil, 0, t.errorf(rec, st.Schema().Fields[i].Name, "%v", err)
			}
			x = c
		}
		out.SetAt(i, x)
	}
	res, own := t.set(rec, own, plan.schema, out, false)
	return res, own, nil
}

type fieldErr struct {
	field string
	err   error
}

func (t *Cast) plan(in *connect.Schema) (*castPlan, *fieldErr) {
	if p, ok := t.cache.get(in); ok {
		return p, nil
	}
	p := &castPlan{targets: make([]connect.Type, len(in.Fields))}
	fields := make([]connect.Field, len(in.Fields))
	for i, f := range in.Fields {
		fields[i] = connect.F(f.Name, f.Schema)
		to, ok := t.fields[f.Name]
		if !ok {
			continue
		}
		if !f.Schema.Type.Primitive() {
			return nil, &fieldErr{f.Name, fmt.Errorf("Cast transformation does not support casting to/from %s", strings.ToUpper(string(f.Schema.Type)))}
		}
		p.targets[i] = to
		fields[i].Schema = castSchema(f.Schema, to)
	}
	var err error
	if p.schema, err = newStructSchema(in, fields); err != nil {
		return nil, &fieldErr{"", err}
	}
	t.cache.put(in, p)
	return p, nil
}

// castSchema is the schema of values of s cast to type to: optional as s,
// with s's default cast too.
func castSchema(s *connect.Schema, to connect.Type) *connect.Schema {
	out := &connect.Schema{Type: to, Optional: s.Optional}
	if s.Default != nil {
		if d, err := castValue(s, to, s.Default); err == nil {
			out.Default = d
		}
	}
	return out
}

// castValue converts x (of schema s, nil when schemaless) to type to.
func castValue(s *connect.Schema, to connect.Type, x any) (any, error) {
	if n, ok := x.(json.Number); ok {
		x = string(n)
	}
	if to == connect.TypeString {
		return castToString(s, x)
	}
	return castTo(to, x)
}

// castTo converts a scalar x to a non-string type to.
func castTo(to connect.Type, x any) (any, error) {
	switch v := x.(type) {
	case string:
		return parseAs(to, v)
	case bool:
		if to == connect.TypeBoolean {
			return v, nil
		}
		n := 0
		if v {
			n = 1
		}
		return fromInt(to, int64(n)), nil
	case int8:
		return fromInt(to, int64(v)), nil
	case int16:
		return fromInt(to, int64(v)), nil
	case int32:
		return fromInt(to, int64(v)), nil
	case int64:
		return fromInt(to, v), nil
	case int:
		return fromInt(to, int64(v)), nil
	case float32:
		return fromFloat(to, float64(v)), nil
	case float64:
		return fromFloat(to, v), nil
	case connect.Decimal:
		switch to {
		case connect.TypeFloat32, connect.TypeFloat64:
			return fromFloat(to, v.Float64()), nil
		case connect.TypeBoolean:
			return v.Unscaled.Sign() != 0, nil
		}
		q := new(big.Int).Set(v.Unscaled)
		if v.Scale > 0 {
			q.Quo(q, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(v.Scale)), nil))
		} else if v.Scale < 0 {
			q.Mul(q, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(-v.Scale)), nil))
		}
		return fromInt(to, q.Int64()), nil
	}
	return nil, fmt.Errorf("cannot cast a value of type %T to %s", x, to)
}

func fromInt(to connect.Type, n int64) any {
	switch to {
	case connect.TypeInt8:
		return int8(n)
	case connect.TypeInt16:
		return int16(n)
	case connect.TypeInt32:
		return int32(n)
	case connect.TypeInt64:
		return n
	case connect.TypeFloat32:
		return float32(n)
	case connect.TypeFloat64:
		return float64(n)
	case connect.TypeBoolean:
		return n != 0
	}
	return nil
}

// fromFloat converts as Java's Number.xxxValue does: integers truncate
// toward zero and saturate.
func fromFloat(to connect.Type, f float64) any {
	switch to {
	case connect.TypeFloat32:
		return float32(f)
	case connect.TypeFloat64:
		return f
	case connect.TypeBoolean:
		return f != 0
	}
	var n int64
	switch {
	case math.IsNaN(f):
		n = 0
	case f >= math.MaxInt64:
		n = math.MaxInt64
	case f <= math.MinInt64:
		n = math.MinInt64
	default:
		n = int64(f)
	}
	if to == connect.TypeInt32 || to == connect.TypeInt16 || to == connect.TypeInt8 {
		// Java's (int) of a double saturates at int range, then narrows.
		n = max(min(n, math.MaxInt32), math.MinInt32)
	}
	return fromInt(to, n)
}

func parseAs(to connect.Type, s string) (any, error) {
	t := strings.TrimSpace(s)
	switch to {
	case connect.TypeBoolean:
		return strings.EqualFold(t, "true"), nil
	case connect.TypeFloat32, connect.TypeFloat64:
		f, err := strconv.ParseFloat(t, 64)
		if err != nil {
			return nil, fmt.Errorf("value %q is not a number of type %s", s, to)
		}
		return fromFloat(to, f), nil
	}
	bits := 64
	switch to {
	case connect.TypeInt8:
		bits = 8
	case connect.TypeInt16:
		bits = 16
	case connect.TypeInt32:
		bits = 32
	}
	n, err := strconv.ParseInt(t, 10, bits)
	if err != nil {
		return nil, fmt.Errorf("value %q is not a number of type %s", s, to)
	}
	return fromInt(to, n), nil
}

// castToString renders x as Java's toString would, with Kafka Connect's
// special cases: bytes as base64, dates and times in ISO 8601.
func castToString(s *connect.Schema, x any) (any, error) {
	switch v := x.(type) {
	case string:
		return v, nil
	case bool:
		return strconv.FormatBool(v), nil
	case int8:
		return strconv.FormatInt(int64(v), 10), nil
	case int16:
		return strconv.FormatInt(int64(v), 10), nil
	case int32:
		return strconv.FormatInt(int64(v), 10), nil
	case int64:
		return strconv.FormatInt(v, 10), nil
	case int:
		return strconv.Itoa(v), nil
	case float32:
		return javaFloatString(float64(v), 32), nil
	case float64:
		return javaFloatString(v, 64), nil
	case []byte:
		return base64.StdEncoding.EncodeToString(v), nil
	case connect.Decimal:
		return v.String(), nil
	case time.Time:
		name := connect.TimestampName
		if s != nil {
			name = s.Name
		}
		switch name {
		case connect.DateName:
			return v.UTC().Format("2006-01-02"), nil
		case connect.TimeName:
			return v.UTC().Format("15:04:05.000Z"), nil
		}
		return v.UTC().Format("2006-01-02T15:04:05.000Z"), nil
	}
	return nil, fmt.Errorf("cannot cast a value of type %T to string", x)
}

// javaFloatString renders f as Java's Double.toString (Float.toString for
// bits=32): plain notation with at least one decimal between 10^-3 and 10^7,
// otherwise "1.5E10" notation.
func javaFloatString(f float64, bits int) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	case f == 0:
		if math.Signbit(f) {
			return "-0.0"
		}
		return "0.0"
	}
	a := math.Abs(f)
	if a >= 1e-3 && a < 1e7 {
		s := strconv.FormatFloat(f, 'f', -1, bits)
		if !strings.Contains(s, ".") {
			s += ".0"
		}
		return s
	}
	s := strconv.FormatFloat(f, 'E', -1, bits)
	mant, exp, _ := strings.Cut(s, "E")
	if !strings.Contains(mant, ".") {
		mant += ".0"
	}
	e, _ := strconv.Atoi(exp)
	return mant + "E" + strconv.Itoa(e)
}

// Close does nothing.
func (*Cast) Close() error { return nil }
