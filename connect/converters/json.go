package converters

import (
	"errors"
	"fmt"
	"sync"

	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connect/config"
)

// Keys of the JSON converter, as Kafka Connect's JsonConverterConfig names them.
const (
	JSONSchemasEnable          = "schemas.enable"
	JSONSchemasCacheSize       = "schemas.cache.size"
	JSONDecimalFormat          = "decimal.format"
	JSONReplaceNullWithDefault = "replace.null.with.default"
	// ConverterType is set by the runtime to key, value or header; Configure's
	// isKey argument sets it too.
	ConverterType = "converter.type"
)

// Values of decimal.format.
const (
	DecimalBase64  = "BASE64"
	DecimalNumeric = "NUMERIC"
)

var converterTypeKey = config.Key{Name: ConverterType, Type: config.String,
	Validator: config.OneOf("key", "value", "header"), Importance: config.Low,
	Doc: "How this converter will be used: key, value or header. Set by the runtime."}

// jsonBinding is the JSON converter's configuration, with Kafka Connect's
// keys, defaults, groups and documentation, bound to the converter's fields.
var jsonBinding = config.Bind(
	config.OnlyKey[JSON](converterTypeKey),
	config.BoolField(config.Key{Name: JSONSchemasEnable, Default: true, Importance: config.High,
		Group: "Schemas", OrderInGroup: 0, Width: config.WidthMedium, DisplayName: "Enable Schemas",
		Doc: "Include schemas within each of the serialized values and keys."},
		func(c *JSON) *bool { return &c.schemasEnable }),
	config.IntField(config.Key{Name: JSONSchemasCacheSize, Default: 1000, Validator: config.AtLeast(0),
		Importance: config.High, Group: "Schemas", OrderInGroup: 1, Width: config.WidthMedium,
		DisplayName: "Schema Cache Size",
		Doc:         "The maximum number of schemas that can be cached in this converter instance."},
		func(c *JSON) *int { return &c.cacheSize }),
	config.StringField(config.Key{Name: JSONDecimalFormat, Default: DecimalBase64,
		Validator: config.OneOf(DecimalBase64, DecimalNumeric), Importance: config.Low,
		Group: "Serialization", OrderInGroup: 0, Width: config.WidthMedium, DisplayName: "Decimal Format",
		Doc: "Controls which format this converter will serialize decimals in. This value is case " +
			"insensitive and can be either 'BASE64' (default) or 'NUMERIC'"},
		func(c *JSON) *string { return &c.decimalFormat }),
	config.BoolField(config.Key{Name: JSONReplaceNullWithDefault, Default: true, Importance: config.Low,
		Group: "Serialization", OrderInGroup: 1, Width: config.WidthMedium, DisplayName: "Replace null with default",
		Doc: "Whether to replace fields that have a default value and that are null to the default value. " +
			"When set to true, the default value is used, otherwise null is used."},
		func(c *JSON) *bool { return &c.replaceNull }),
)

// JSON is Kafka Connect's JsonConverter. With schemas.enable=true (the
// default) every key or value is written as {"schema":S,"payload":P}, where
// S describes the value in Kafka Connect's JSON schema form; with
// schemas.enable=false only the payload is written and reading yields
// schemaless values: map[string]any, []any, string, bool, int64 for integral
// numbers and float64 for the others (Kafka Connect's Long and Double).
//
// Output matches Kafka Connect's byte for byte (compact JSON, the same key
// order, Java's number formatting), except where Java itself is not
// deterministic: map entries and schema parameters are written in sorted key
// order (with a Decimal's "scale" parameter first) where Java follows hash or
// insertion order.
//
// Writing is fast: the schema JSON is rendered once per *connect.Schema
// pointer and reused, and values are appended to a pooled buffer without
// reflection. Reading parses each distinct schema JSON once (cached by its
// raw bytes) and checks the payload against it; errors name the field.
//
// Where Penstock is more lenient or stricter than Kafka Connect: Date and
// Time values are encoded with connect.DateDays and connect.TimeMillis (Kafka
// Connect rejects a Date with a time of day); integers read into int8..int32
// fields must fit (Kafka Connect truncates); a numeric Decimal read with more
// fraction digits than the schema's scale is an error unless the extra
// digits are zeros (it is rescaled to the schema's scale); a default of
// JSON null in a schema means no default.
type JSON struct {
	isKey         bool
	schemasEnable bool
	numeric       bool // decimal.format=NUMERIC
	decimalFormat string
	replaceNull   bool // replace.null.with.default
	cacheSize     int
	// override, when set, renders a value before the rules below (see
	// ValueWriter).
	override Override
	writer   *ValueWriter

	fromCache ptrCache   // *connect.Schema -> rendered schema JSON
	toCache   bytesCache // raw schema JSON -> *connect.Schema
}

// NewJSON returns a JSON converter for values with the default
// configuration; Configure changes it.
func NewJSON() *JSON {
	c := &JSON{}
	if err := c.Configure(nil, false); err != nil {
		panic(err) // the defaults are valid
	}
	return c
}

// Config returns the converter's keys.
func (c *JSON) Config() *config.Def { return jsonBinding.Def() }

// Configure applies the properties (key.converter.* or value.converter.*
// with the prefix removed).
func (c *JSON) Configure(props map[string]string, isKey bool) error {
	if _, err := jsonBinding.Parse(props, c); err != nil {
		return fmt.Errorf("JsonConverter: %w", err)
	}
	c.isKey = isKey
	c.numeric = c.decimalFormat == DecimalNumeric
	c.fromCache.reset(c.cacheSize)
	c.toCache.reset(c.cacheSize)
	return nil
}

func (c *JSON) what() string {
	if c.isKey {
		return "key"
	}
	return "value"
}

var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

// FromConnect serializes v of schema s (nil: schemaless). A nil value
// without schema is a tombstone and serializes to nil.
func (c *JSON) FromConnect(topic string, s *connect.Schema, v any) ([]byte, error) {
	if s == nil && v == nil {
		return nil, nil
	}
	bp := bufPool.Get().(*[]byte)
	buf, err := c.appendRecord((*bp)[:0], s, v)
	var out []byte
	if err == nil {
		out = make([]byte, len(buf))
		copy(out, buf)
	}
	if cap(buf) <= 1<<20 { // keep huge buffers out of the pool
		*bp = buf
		bufPool.Put(bp)
	}
	if err != nil {
		return nil, fmt.Errorf("converting %s of topic %q to JSON: %w", c.what(), topic, err)
	}
	return out, nil
}

// AppendConnect appends the serialized form of v of schema s to buf, for
// callers that manage their own buffers (it allocates nothing of its own for
// schema'd values whose schema was seen before).
func (c *JSON) AppendConnect(buf []byte, s *connect.Schema, v any) ([]byte, error) {
	out, err := c.appendRecord(buf, s, v)
	if err != nil {
		return buf, fmt.Errorf("converting %s to JSON: %w", c.what(), err)
	}
	return out, nil
}

func (c *JSON) appendRecord(buf []byte, s *connect.Schema, v any) ([]byte, error) {
	if !c.schemasEnable {
		return c.appendValue(buf, s, v)
	}
	buf = append(buf, `{"schema":`...)
	if s == nil {
		buf = append(buf, "null"...)
	} else {
		sj, err := c.schemaJSON(s)
		if err != nil {
			return buf, err
		}
		buf = append(buf, sj...)
	}
	buf = append(buf, `,"payload":`...)
	buf, err := c.appendValue(buf, s, v)
	if err != nil {
		return buf, err
	}
	return append(buf, '}'), nil
}

// errEnvelope is Kafka Connect's message for data without the envelope.
var errEnvelope = errors.New(`JsonConverter with schemas.enable requires "schema" and "payload" fields and may not contain additional fields. If you are trying to deserialize plain JSON data, set schemas.enable=false in your converter configuration.`)

// ToConnect deserializes data. Nil or empty data (a tombstone) gives a nil
// schema and value.
func (c *JSON) ToConnect(topic string, data []byte) (*connect.Schema, any, error) {
	s, v, err := c.toConnect(data)
	if err != nil {
		return nil, nil, fmt.Errorf("converting %s of topic %q from JSON: %w", c.what(), topic, err)
	}
	return s, v, nil
}

func (c *JSON) toConnect(data []byte) (*connect.Schema, any, error) {
	p := parser{data: data}
	p.skipWS()
	if p.pos == len(data) {
		return nil, nil, nil
	}
	if !c.schemasEnable {
		v, err := p.value()
		if err != nil {
			return nil, nil, err
		}
		return nil, v, p.end()
	}
	if data[p.pos] != '{' {
		return nil, nil, errEnvelope
	}
	var schemaRaw, payloadRaw []byte
	p.pos++
	n := 0
	p.skipWS()
	if p.pos < len(data) && data[p.pos] == '}' {
		return nil, nil, errEnvelope
	}
	for {
		p.skipWS()
		if p.pos >= len(data) || data[p.pos] != '"' {
			return nil, nil, p.fail("expected a string object key")
		}
		key, err := p.str()
		if err != nil {
			return nil, nil, err
		}
		p.skipWS()
		if p.pos >= len(data) || data[p.pos] != ':' {
			return nil, nil, p.fail("expected ':' after object key")
		}
		p.pos++
		raw, err := p.skip()
		if err != nil {
			return nil, nil, err
		}
		n++
		switch key {
		case "schema":
			schemaRaw = raw
		case "payload":
			payloadRaw = raw
		}
		p.skipWS()
		if p.pos >= len(data) {
			return nil, nil, p.fail("unterminated object")
		}
		if data[p.pos] == ',' {
			p.pos++
			continue
		}
		if data[p.pos] != '}' {
			return nil, nil, p.fail("expected ',' or '}' in object")
		}
		p.pos++
		break
	}
	if err := p.end(); err != nil {
		return nil, nil, err
	}
	if n != 2 || schemaRaw == nil || payloadRaw == nil {
		return nil, nil, errEnvelope
	}
	s, err := c.connectSchema(schemaRaw)
	if err != nil {
		return nil, nil, fmt.Errorf("schema: %w", err)
	}
	pp := parser{data: payloadRaw, rawNumbers: s != nil}
	node, err := pp.value()
	if err != nil {
		return nil, nil, fmt.Errorf("payload: %w", err)
	}
	if s == nil {
		return nil, node, nil
	}
	v, err := c.toConnectValue(s, node)
	if err != nil {
		return nil, nil, err
	}
	return s, v, nil
}
