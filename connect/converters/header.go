package converters

import (
	"encoding/base64"
	"fmt"
	"math/big"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connect/config"
)

var simpleHeaderDef = config.NewDef(
	config.Key{Name: StringEncoding, Type: config.String, Default: "UTF-8", Importance: config.High,
		Validator: config.OneOf("UTF8", "UTF-8"), Group: "Converter", DisplayName: "Encoding",
		Doc: "The character encoding of header values. Penstock supports UTF-8 only."},
)

// SimpleHeader is Kafka Connect's default header converter,
// SimpleHeaderConverter: it writes every header value as a string and, when
// reading, infers a schema from that string.
//
// Writing: strings as they are; numbers and booleans as Java prints them;
// bytes as base64; arrays as [a,b], maps as {k:v} with entries sorted by key,
// and structs as {"field":value}, strings inside them quoted; Decimals in
// plain or scientific notation as Java's BigDecimal.toString; times as
// yyyy-MM-dd (Date), HH:mm:ss.SSSZ (Time) or yyyy-MM-ddTHH:mm:ss.SSSZ
// (Timestamp), in UTC.
//
// Reading: "" is an empty string; "true" and "false" booleans; "null" a nil
// value; whole numbers the smallest of int8, int16, int32 or int64 that
// holds them (a Decimal of scale 0 beyond int64); other numbers float64;
// the three time formats Date, Time and Timestamp; [..] arrays and {..} maps
// whose elements parse (quoted strings, numbers, booleans, null, nested
// arrays and maps); anything else the string itself.
//
// Differences from Kafka Connect: fractional numbers read as float64 where
// Kafka Connect picks float32 when in range (which loses precision); an
// array or map whose elements have no common type has no schema (schemaless
// []any or map) where Kafka Connect gives an array or map of optional
// nulls; integers of mixed widths in one array widen to the widest, and
// integers mixed with floats become float64, as Kafka Connect's merging
// does; times are always UTC where Kafka Connect uses the JVM's time zone.
type SimpleHeader struct{}

// NewSimpleHeader returns a SimpleHeaderConverter.
func NewSimpleHeader() *SimpleHeader { return &SimpleHeader{} }

// Config returns the converter's keys.
func (c *SimpleHeader) Config() *config.Def { return simpleHeaderDef }

// Configure checks the properties.
func (c *SimpleHeader) Configure(props map[string]string) error {
	if _, err := simpleHeaderDef.Parse(props); err != nil {
		return fmt.Errorf("SimpleHeaderConverter: %w", err)
	}
	return nil
}

// FromConnectHeader writes the string form of v; nil stays nil.
func (c *SimpleHeader) FromConnectHeader(topic, key string, s *connect.Schema, v any) ([]byte, error) {
	if v == nil {
		return nil, nil
	}
	b, err := appendHeader(make([]byte, 0, 32), s, v, false)
	if err != nil {
		return nil, fmt.Errorf("header %q of topic %q: %w", key, topic, err)
	}
	return b, nil
}

const (
	headerDateFormat      = "2006-01-02"
	headerTimeFormat      = "15:04:05.000Z"
	headerTimestampFormat = "2006-01-02T15:04:05.000Z"
)

func appendHeader(buf []byte, s *connect.Schema, v any, embedded bool) ([]byte, error) {
	var err error
	switch x := v.(type) {
	case nil:
		return append(buf, "null"...), nil
	case string:
		if !embedded {
			return append(buf, x...), nil
		}
		buf = append(buf, '"')
		for i := 0; i < len(x); i++ {
			if x[i] == '"' || x[i] == '\\' {
				buf = append(buf, '\\')
			}
			buf = append(buf, x[i])
		}
		return append(buf, '"'), nil
	case bool:
		return strconv.AppendBool(buf, x), nil
	case int8, int16, int32, int64, int, uint8, uint16, uint32, uint64, uint:
		return fmt.Append(buf, x), nil
	case float32:
		return appendJavaFloat(buf, float64(x), 32), nil
	case float64:
		return appendJavaFloat(buf, x, 64), nil
	case []byte:
		if embedded {
			buf = append(buf, '"')
		}
		buf = base64.StdEncoding.AppendEncode(buf, x)
		if embedded {
			buf = append(buf, '"')
		}
		return buf, nil
	case connect.Decimal:
		return appendBigDecimal(buf, x.Unscaled, x.Scale), nil
	case time.Time:
		t := x.UTC()
		name := ""
		if s != nil {
			name = s.Name
		}
		ms := t.UnixMilli()
		switch {
		case name == connect.TimeName || (name == "" && ms >= 0 && ms < 24*3600*1000):
			return t.AppendFormat(buf, headerTimeFormat), nil
		case name == connect.DateName || (name == "" && ms%(24*3600*1000) == 0):
			return t.AppendFormat(buf, headerDateFormat), nil
		}
		return t.AppendFormat(buf, headerTimestampFormat), nil
	case []any:
		var es *connect.Schema
		if s != nil {
			es = s.Value
		}
		buf = append(buf, '[')
		for i, e := range x {
			if i > 0 {
				buf = append(buf, ',')
			}
			if buf, err = appendHeader(buf, es, e, true); err != nil {
				return buf, atPath(err, index(i))
			}
		}
		return append(buf, ']'), nil
	case map[string]any:
		var vs *connect.Schema
		if s != nil {
			vs = s.Value
		}
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		buf = append(buf, '{')
		for i, k := range keys {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf, _ = appendHeader(buf, nil, k, true)
			buf = append(buf, ':')
			if buf, err = appendHeader(buf, vs, x[k], true); err != nil {
				return buf, atPath(err, "["+strconv.Quote(k)+"]")
			}
		}
		return append(buf, '}'), nil
	case map[any]any:
		var ks, vs *connect.Schema
		if s != nil {
			ks, vs = s.Key, s.Value
		}
		type entry struct{ k, v []byte }
		entries := make([]entry, 0, len(x))
		for k, e := range x {
			kb, err := appendHeader(nil, ks, k, true)
			if err != nil {
				return buf, err
			}
			vb, err := appendHeader(nil, vs, e, true)
			if err != nil {
				return buf, atPath(err, fmt.Sprintf("[%v]", k))
			}
			entries = append(entries, entry{kb, vb})
		}
		slices.SortFunc(entries, func(a, b entry) int { return strings.Compare(string(a.k), string(b.k)) })
		buf = append(buf, '{')
		for i, e := range entries {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = append(buf, e.k...)
			buf = append(buf, ':')
			buf = append(buf, e.v...)
		}
		return append(buf, '}'), nil
	case *connect.Struct:
		buf = append(buf, '{')
		for i, f := range x.Schema().Fields {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf, _ = appendHeader(buf, nil, f.Name, true)
			buf = append(buf, ':')
			if buf, err = appendHeader(buf, f.Schema, x.GetAt(i), true); err != nil {
				return buf, atPath(err, f.Name)
			}
		}
		return append(buf, '}'), nil
	}
	return buf, fmt.Errorf("a %T has no header string form", v)
}

// appendJavaFloat is appendFloat without JSON's quotes around NaN and the
// infinities.
func appendJavaFloat(buf []byte, f float64, bits int) []byte {
	start := len(buf)
	buf = appendFloat(buf, f, bits)
	if buf[start] == '"' {
		s := string(buf[start+1 : len(buf)-1])
		buf = append(buf[:start], s...)
	}
	return buf
}

// ToConnectHeader infers the schema and value of a header string.
func (c *SimpleHeader) ToConnectHeader(topic, key string, data []byte) (*connect.Schema, any, error) {
	if data == nil {
		return nil, nil, nil
	}
	str := string(data)
	if str == "" {
		return connect.StringSchema, "", nil
	}
	s, v := parseHeaderString(str)
	return s, v, nil
}

// parseHeaderString infers a top-level header value.
func parseHeaderString(str string) (*connect.Schema, any) {
	t := strings.TrimSpace(str)
	switch t {
	case "true":
		return connect.BooleanSchema, true
	case "false":
		return connect.BooleanSchema, false
	case "null":
		return nil, nil
	}
	if t != "" && (t[0] == '[' || t[0] == '{') {
		hp := headerParser{s: t}
		if s, v, err := hp.value(); err == nil && hp.atEnd() {
			return s, v
		}
	}
	if s, v, ok := parseHeaderScalar(t); ok {
		return s, v
	}
	return connect.StringSchema, str
}

// parseHeaderScalar recognises numbers and the three time formats.
func parseHeaderScalar(t string) (*connect.Schema, any, bool) {
	if t == "" {
		return nil, nil, false
	}
	c := t[0]
	if c >= '0' && c <= '9' {
		for _, f := range []struct {
			layout string
			schema func() *connect.Schema
		}{{headerTimestampFormat, connect.TimestampSchema}, {headerDateFormat, connect.DateSchema}, {headerTimeFormat, connect.TimeSchema}} {
			if len(t) == len(f.layout) {
				if tm, err := time.Parse(f.layout, t); err == nil {
					if f.layout == headerTimeFormat {
						tm = tm.AddDate(1970, 0, 0)
					}
					return f.schema(), tm.UTC(), true
				}
			}
		}
	}
	if !(c >= '0' && c <= '9') && c != '-' && c != '+' {
		return nil, nil, false
	}
	p := parser{data: []byte(strings.TrimPrefix(t, "+"))}
	tok, err := p.number()
	if err != nil || p.pos != len(p.data) {
		return nil, nil, false
	}
	n := jsonNumber(tok)
	if n.integral() {
		i, err := strconv.ParseInt(string(n), 10, 64)
		if err != nil {
			u, ok := new(big.Int).SetString(string(n), 10)
			if !ok {
				return nil, nil, false
			}
			return connect.DecimalSchema(0), connect.Decimal{Unscaled: u, Scale: 0}, true
		}
		switch {
		case i >= -128 && i <= 127:
			return connect.Int8Schema, int8(i), true
		case i >= -32768 && i <= 32767:
			return connect.Int16Schema, int16(i), true
		case i >= -1<<31 && i <= 1<<31-1:
			return connect.Int32Schema, int32(i), true
		}
		return connect.Int64Schema, i, true
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil {
		return nil, nil, false
	}
	return connect.Float64Schema, f, true
}

// headerParser parses the embedded values of a header array or map.
type headerParser struct {
	s     string
	pos   int
	depth int
}

func (p *headerParser) ws() {
	for p.pos < len(p.s) && (p.s[p.pos] == ' ' || p.s[p.pos] == '\t' || p.s[p.pos] == '\n' || p.s[p.pos] == '\r') {
		p.pos++
	}
}

func (p *headerParser) atEnd() bool { p.ws(); return p.pos == len(p.s) }

func (p *headerParser) value() (*connect.Schema, any, error) {
	p.ws()
	if p.pos >= len(p.s) {
		return nil, nil, fmt.Errorf("unexpected end")
	}
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxDepth {
		return nil, nil, fmt.Errorf("nested too deeply")
	}
	switch p.s[p.pos] {
	case '"':
		p.pos++
		var b strings.Builder
		for p.pos < len(p.s) {
			ch := p.s[p.pos]
			p.pos++
			switch ch {
			case '\\':
				if p.pos < len(p.s) {
					b.WriteByte(p.s[p.pos])
					p.pos++
				}
			case '"':
				str := b.String()
				if s, v, ok := parseHeaderScalar(str); ok && s.Name != "" && s.Name != connect.DecimalName {
					return s, v, nil // quoted times are times, as in Kafka Connect
				}
				return connect.StringSchema, str, nil
			default:
				b.WriteByte(ch)
			}
		}
		return nil, nil, fmt.Errorf("unterminated string")
	case '[':
		p.pos++
		var elems []any
		var schemas []*connect.Schema
		p.ws()
		if p.pos < len(p.s) && p.s[p.pos] == ']' {
			p.pos++
			return nil, []any{}, nil
		}
		for {
			s, v, err := p.value()
			if err != nil {
				return nil, nil, err
			}
			elems, schemas = append(elems, v), append(schemas, s)
			p.ws()
			if p.pos >= len(p.s) {
				return nil, nil, fmt.Errorf("array is missing terminating ']'")
			}
			if p.s[p.pos] == ',' {
				p.pos++
				continue
			}
			if p.s[p.pos] != ']' {
				return nil, nil, fmt.Errorf("array elements missing ','")
			}
			p.pos++
			es := mergeSchemas(schemas)
			if es == nil {
				return nil, elems, nil
			}
			for i := range elems {
				elems[i] = widen(es, elems[i])
			}
			return connect.ArrayOf(es), elems, nil
		}
	case '{':
		p.pos++
		var keys, vals []any
		var ks, vs []*connect.Schema
		p.ws()
		if p.pos < len(p.s) && p.s[p.pos] == '}' {
			p.pos++
			return nil, map[string]any{}, nil
		}
		for {
			k, kv, err := p.value()
			if err != nil {
				return nil, nil, err
			}
			if kv == nil {
				return nil, nil, fmt.Errorf("map entry may not have a null key")
			}
			p.ws()
			if p.pos >= len(p.s) || p.s[p.pos] != ':' {
				return nil, nil, fmt.Errorf("map entry is missing ':'")
			}
			p.pos++
			v, vv, err := p.value()
			if err != nil {
				return nil, nil, err
			}
			keys, vals, ks, vs = append(keys, kv), append(vals, vv), append(ks, k), append(vs, v)
			p.ws()
			if p.pos >= len(p.s) {
				return nil, nil, fmt.Errorf("map is missing terminating '}'")
			}
			if p.s[p.pos] == ',' {
				p.pos++
				continue
			}
			if p.s[p.pos] != '}' {
				return nil, nil, fmt.Errorf("map entries missing ','")
			}
			p.pos++
			return buildHeaderMap(keys, vals, ks, vs)
		}
	}
	// A bare token: a literal or a number.
	start := p.pos
	for p.pos < len(p.s) && !strings.ContainsRune(",]}: \t\r\n", rune(p.s[p.pos])) {
		p.pos++
	}
	tok := p.s[start:p.pos]
	switch tok {
	case "true":
		return connect.BooleanSchema, true, nil
	case "false":
		return connect.BooleanSchema, false, nil
	case "null":
		return nil, nil, nil
	}
	if s, v, ok := parseHeaderScalar(tok); ok && s.Name == "" {
		return s, v, nil
	}
	return nil, nil, fmt.Errorf("cannot parse embedded value %q", tok)
}

func buildHeaderMap(keys, vals []any, ks, vs []*connect.Schema) (*connect.Schema, any, error) {
	kSchema, vSchema := mergeSchemas(ks), mergeSchemas(vs)
	if kSchema != nil && kSchema.Type == connect.TypeString {
		m := make(map[string]any, len(keys))
		for i, k := range keys {
			m[k.(string)] = widen(vSchema, vals[i])
		}
		if vSchema == nil {
			return nil, m, nil
		}
		return connect.MapOf(kSchema, vSchema), m, nil
	}
	m := make(map[any]any, len(keys))
	for i, k := range keys {
		switch k.(type) {
		case []any, map[string]any, map[any]any:
			return nil, nil, fmt.Errorf("map keys must be scalars")
		}
		m[widen(kSchema, k)] = widen(vSchema, vals[i])
	}
	if kSchema == nil || vSchema == nil {
		return nil, m, nil
	}
	return connect.MapOf(kSchema, vSchema), m, nil
}

var intRank = map[connect.Type]int{connect.TypeInt8: 1, connect.TypeInt16: 2, connect.TypeInt32: 3, connect.TypeInt64: 4}

// mergeSchemas returns the common schema of elements, or nil when they have
// none. Nil entries (null elements) make the result optional; integers widen
// to the widest, integers and floats merge to float64.
func mergeSchemas(schemas []*connect.Schema) *connect.Schema {
	var out *connect.Schema
	optional := false
	for _, s := range schemas {
		if s == nil {
			optional = true
			continue
		}
		switch {
		case out == nil:
			out = s
		case connect.Equal(out, s):
		case out.Name == "" && s.Name == "" && intRank[out.Type] > 0 && intRank[s.Type] > 0:
			if intRank[s.Type] > intRank[out.Type] {
				out = s
			}
		case out.Name == "" && s.Name == "" && (intRank[out.Type] > 0 || out.Type == connect.TypeFloat64) &&
			(intRank[s.Type] > 0 || s.Type == connect.TypeFloat64):
			out = connect.Float64Schema
		default:
			return nil
		}
	}
	if out != nil && optional {
		out = connect.OptionalOf(out)
	}
	return out
}

// widen converts an element to the merged schema's type.
func widen(s *connect.Schema, v any) any {
	if s == nil || v == nil {
		return v
	}
	var i int64
	switch x := v.(type) {
	case int8:
		i = int64(x)
	case int16:
		i = int64(x)
	case int32:
		i = int64(x)
	case int64:
		i = x
	default:
		return v
	}
	switch s.Type {
	case connect.TypeInt16:
		return int16(i)
	case connect.TypeInt32:
		return int32(i)
	case connect.TypeInt64:
		return i
	case connect.TypeFloat64:
		return float64(i)
	}
	return v
}
