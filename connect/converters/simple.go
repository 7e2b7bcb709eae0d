package converters

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
	"unsafe"

	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connect/config"
)

// StringEncoding is the StringConverter's key naming the character encoding.
const StringEncoding = "converter.encoding"

var stringDef = config.NewDef(
	converterTypeKey,
	config.Key{Name: StringEncoding, Type: config.String, Default: "UTF-8", Importance: config.High,
		Validator: config.OneOf("UTF8", "UTF-8", "ISO-8859-1", "ISO8859_1", "LATIN1", "US-ASCII", "ASCII"),
		Group:     "Converter", DisplayName: "Encoding",
		Doc: "The name of the character encoding used to write strings to and read them from bytes. " +
			"Penstock supports UTF-8 (also spelled UTF8), ISO-8859-1 and US-ASCII."},
)

// String is Kafka Connect's StringConverter: values are written as their
// string form in converter.encoding and read back as optional strings.
// Strings are written as they are; other values as Kafka Connect's toString
// would render them for the common types (numbers, booleans) and with
// fmt.Sprint otherwise.
type String struct {
	isKey bool
	enc   string // "utf8", "latin1" or "ascii"
}

// NewString returns a StringConverter using UTF-8.
func NewString() *String { return &String{enc: "utf8"} }

// Config returns the converter's keys.
func (c *String) Config() *config.Def { return stringDef }

// Configure applies converter.encoding.
func (c *String) Configure(props map[string]string, isKey bool) error {
	v, err := stringDef.Parse(props)
	if err != nil {
		return fmt.Errorf("StringConverter: %w", err)
	}
	c.isKey = isKey
	switch strings.ToUpper(v.String(StringEncoding)) {
	case "UTF8", "UTF-8":
		c.enc = "utf8"
	case "US-ASCII", "ASCII":
		c.enc = "ascii"
	default:
		c.enc = "latin1"
	}
	return nil
}

// FromConnect writes the string form of v; nil stays nil.
func (c *String) FromConnect(topic string, s *connect.Schema, v any) ([]byte, error) {
	if v == nil {
		return nil, nil
	}
	var str string
	switch x := v.(type) {
	case string:
		str = x
	case []byte:
		str = string(x)
	case bool:
		str = strconv.FormatBool(x)
	case int8, int16, int32, int64, int:
		str = fmt.Sprint(x)
	case float32:
		str = string(appendFloat(nil, float64(x), 32))
	case float64:
		str = string(appendFloat(nil, x, 64))
	default:
		str = fmt.Sprint(x)
	}
	switch c.enc {
	case "utf8":
		return []byte(str), nil
	default:
		limit := rune(0xff)
		if c.enc == "ascii" {
			limit = 0x7f
		}
		out := make([]byte, 0, len(str))
		for _, r := range str {
			if r > limit {
				r = '?' // as Java's encoders replace unmappable characters
			}
			out = append(out, byte(r))
		}
		return out, nil
	}
}

// ToConnect reads data as an optional string; nil data gives a nil value.
func (c *String) ToConnect(topic string, data []byte) (*connect.Schema, any, error) {
	if data == nil {
		return connect.OptionalStringSchema, nil, nil
	}
	if c.enc == "utf8" || isASCII(data) {
		if c.enc == "utf8" && !utf8.Valid(data) {
			return connect.OptionalStringSchema, string([]rune(string(data))), nil
		}
		return connect.OptionalStringSchema, string(data), nil
	}
	rs := make([]rune, len(data))
	for i, b := range data {
		rs[i] = rune(b)
		if c.enc == "ascii" && b > 0x7f {
			rs[i] = utf8.RuneError
		}
	}
	return connect.OptionalStringSchema, string(rs), nil
}

// ToConnectAliased is ToConnect returning a string that shares data's
// memory when data needs no decoding (connect.AliasingConverter).
func (c *String) ToConnectAliased(topic string, data []byte) (*connect.Schema, any, error) {
	// utf8.Valid first: it checks ASCII runs eight bytes at a time.
	if len(data) > 0 && (c.enc == "utf8" && utf8.Valid(data) || c.enc != "utf8" && isASCII(data)) {
		return connect.OptionalStringSchema, unsafe.String(&data[0], len(data)), nil
	}
	return c.ToConnect(topic, data)
}

var _ connect.AliasingConverter = (*String)(nil)

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

var byteArrayDef = config.NewDef(converterTypeKey)

// ByteArray is Kafka Connect's ByteArrayConverter: it passes []byte values
// through unchanged, for pipelines that move bytes without looking at them.
type ByteArray struct{}

// NewByteArray returns a ByteArrayConverter.
func NewByteArray() *ByteArray { return &ByteArray{} }

// Config returns the converter's keys (only converter.type).
func (c *ByteArray) Config() *config.Def { return byteArrayDef }

// Configure accepts the properties; there is nothing to set.
func (c *ByteArray) Configure(props map[string]string, isKey bool) error {
	if _, err := byteArrayDef.Parse(props); err != nil {
		return fmt.Errorf("ByteArrayConverter: %w", err)
	}
	return nil
}

// FromConnect returns v, which must be []byte (or nil) with a bytes schema
// or none.
func (c *ByteArray) FromConnect(topic string, s *connect.Schema, v any) ([]byte, error) {
	if s != nil && s.Type != connect.TypeBytes {
		return nil, fmt.Errorf("ByteArrayConverter, topic %q: invalid schema type %s, only bytes (or no schema) is supported", topic, s.Type)
	}
	switch x := v.(type) {
	case nil:
		return nil, nil
	case []byte:
		return x, nil
	}
	return nil, fmt.Errorf("ByteArrayConverter, topic %q: expected []byte, got %T; use another converter (e.g. JsonConverter or StringConverter) for such values", topic, v)
}

// ToConnect returns data with the optional bytes schema.
func (c *ByteArray) ToConnect(topic string, data []byte) (*connect.Schema, any, error) {
	if data == nil {
		return connect.OptionalBytesSchema, nil, nil
	}
	return connect.OptionalBytesSchema, data, nil
}
