package config

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Type is a key's value type, named as Kafka Connect's ConfigDef.Type.
type Type string

// The key types. Password values are masked whenever they are rendered.
const (
	Boolean  Type = "BOOLEAN"
	String   Type = "STRING"
	Int      Type = "INT"
	Long     Type = "LONG"
	Double   Type = "DOUBLE"
	List     Type = "LIST"
	Class    Type = "CLASS"
	Password Type = "PASSWORD"
)

// Importance says how much a user should care about a key.
type Importance string

// The importance levels.
const (
	High   Importance = "HIGH"
	Medium Importance = "MEDIUM"
	Low    Importance = "LOW"
)

// Width is the display width hint of Kafka Connect's ConfigKeyInfo.
type Width string

// The width hints.
const (
	WidthNone   Width = "NONE"
	WidthShort  Width = "SHORT"
	WidthMedium Width = "MEDIUM"
	WidthLong   Width = "LONG"
)

// Key describes one configuration key.
type Key struct {
	Name string
	Type Type
	// Required keys have no default: a missing value is an error.
	Required bool
	// Default is the typed value used when the key is absent and not Required;
	// nil means "no value" (the key is optional).
	Default    any
	Importance Importance
	Doc        string
	Group      string
	// OrderInGroup orders keys within Group in rendered docs.
	OrderInGroup int
	Width        Width
	DisplayName  string
	Dependents   []string
	// Validator checks a parsed, non-nil value.
	Validator Validator
	// Recommender offers valid values and visibility, given the other values.
	Recommender Recommender
}

// Validator checks one parsed value; the error says what is wrong with it
// (the key name is added by the caller).
type Validator interface {
	Validate(v any) error
	// String describes the accepted values for documentation, e.g. "[1,...]".
	String() string
}

// Recommender suggests values for a key and says whether it applies, given the
// parsed values of all keys.
type Recommender interface {
	ValidValues(name string, parsed map[string]any) []any
	Visible(name string, parsed map[string]any) bool
}

// Def is an ordered set of keys.
type Def struct {
	keys  []Key
	index map[string]int
}

// NewDef returns a definition of the given keys. It panics on a duplicate
// name, which is a programming error.
func NewDef(keys ...Key) *Def {
	d := &Def{index: map[string]int{}}
	for _, k := range keys {
		d.define(k)
	}
	return d
}

func (d *Def) define(k Key) {
	if _, dup := d.index[k.Name]; dup {
		panic("config: duplicate key " + strconv.Quote(k.Name))
	}
	if k.Width == "" {
		k.Width = WidthNone
	}
	if k.DisplayName == "" {
		k.DisplayName = k.Name
	}
	d.index[k.Name] = len(d.keys)
	d.keys = append(d.keys, k)
}

// With returns a new definition holding d's keys followed by more; keys of
// more replace d's keys of the same name, in place.
func (d *Def) With(more ...Key) *Def {
	out := &Def{index: map[string]int{}}
	if d != nil {
		for _, k := range d.keys {
			out.define(k)
		}
	}
	for _, k := range more {
		if i, ok := out.index[k.Name]; ok {
			if k.Width == "" {
				k.Width = WidthNone
			}
			if k.DisplayName == "" {
				k.DisplayName = k.Name
			}
			out.keys[i] = k
			continue
		}
		out.define(k)
	}
	return out
}

// Merge returns a definition holding the keys of every def, in order; later
// definitions replace earlier keys of the same name.
func Merge(defs ...*Def) *Def {
	var out *Def
	for _, d := range defs {
		if d != nil {
			out = out.With(d.keys...)
		}
	}
	if out == nil {
		out = NewDef()
	}
	return out
}

// Keys returns the keys in definition order.
func (d *Def) Keys() []Key {
	if d == nil {
		return nil
	}
	return d.keys
}

// Key returns the key called name.
func (d *Def) Key(name string) (Key, bool) {
	if d == nil {
		return Key{}, false
	}
	i, ok := d.index[name]
	if !ok {
		return Key{}, false
	}
	return d.keys[i], true
}

// Parse converts props into typed values and checks them. The error, if any,
// lists every key in error, so a user fixes them all in one go. Properties not
// in the definition are kept as strings in Values.Originals.
func (d *Def) Parse(props map[string]string) (*Values, error) {
	v := &Values{parsed: make(map[string]any, len(d.keys)), originals: props}
	var errs []string
	for _, k := range d.keys {
		val, err := k.parse(props)
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		v.parsed[k.Name] = val
	}
	if len(errs) > 0 {
		return v, &Error{Problems: errs}
	}
	return v, nil
}

// Error lists every problem Parse found, one per key.
type Error struct{ Problems []string }

// Error joins the problems into one message.
func (e *Error) Error() string {
	if len(e.Problems) == 1 {
		return e.Problems[0]
	}
	return fmt.Sprintf("%d configuration errors: %s", len(e.Problems), strings.Join(e.Problems, "; "))
}

// parse returns the typed value of k from props, or its default.
func (k Key) parse(props map[string]string) (any, error) {
	raw, present := props[k.Name]
	if !present {
		if k.Required {
			return nil, MissingError(k.Name)
		}
		return k.Default, nil
	}
	val, err := ParseValue(k.Type, raw)
	if err != nil {
		return nil, InvalidError(k.Name, mask(k.Type, raw), err.Error())
	}
	if k.Validator != nil && val != nil {
		if err := k.Validator.Validate(val); err != nil {
			return nil, InvalidError(k.Name, mask(k.Type, raw), err.Error())
		}
		if n, ok := k.Validator.(Normalizer); ok {
			val = n.Normalize(val)
		}
	}
	return val, nil
}

// MissingError returns Kafka Connect's message for a required key without
// a value, as Parse and Validate report it.
func MissingError(name string) error {
	return fmt.Errorf("Missing required configuration %q which has no default value.", name)
}

// InvalidError returns Kafka Connect's message for a bad value of key name:
// "Invalid value <value> for configuration <name>: <reason>". Pass a
// password's value masked.
func InvalidError(name, value, reason string) error {
	return fmt.Errorf("Invalid value %s for configuration %s: %s", value, name, reason)
}

func mask(t Type, raw string) string {
	if t == Password {
		return HiddenValue
	}
	return raw
}

// HiddenValue is what a password renders as, as in Kafka Connect.
const HiddenValue = "[hidden]"

// ParseValue converts a property string to the Go value of type t: bool,
// string, int (Int), int64 (Long), float64 (Double), []string (List, comma
// separated, trimmed, empty items dropped), string (Class) or Secret (Password).
func ParseValue(t Type, raw string) (any, error) {
	s := strings.TrimSpace(raw)
	switch t {
	case Boolean:
		switch strings.ToLower(s) {
		case "true":
			return true, nil
		case "false":
			return false, nil
		}
		return nil, errors.New("Expected value to be either true or false")
	case String:
		return raw, nil
	case Class:
		return s, nil
	case Password:
		return Secret(raw), nil
	case Int:
		n, err := strconv.ParseInt(s, 10, 32)
		if err != nil {
			return nil, errors.New("Not a number of type INT")
		}
		return int(n), nil
	case Long:
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return nil, errors.New("Not a number of type LONG")
		}
		return n, nil
	case Double:
		f, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return nil, errors.New("Not a number of type DOUBLE")
		}
		return f, nil
	case List:
		if s == "" {
			return []string{}, nil
		}
		parts := strings.Split(s, ",")
		out := parts[:0]
		for _, p := range parts {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
		return out, nil
	}
	return nil, fmt.Errorf("unknown config type %q", t)
}

// Render returns the property string of a typed value, as Kafka Connect
// renders defaults: lists comma separated, passwords hidden, nil as "".
func Render(t Type, v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case Secret:
		return HiddenValue
	case []string:
		return strings.Join(x, ",")
	}
	if t == Password {
		return HiddenValue
	}
	return fmt.Sprint(v)
}

// Secret is a Password key's value. It prints as [hidden] so it cannot leak
// through a log line or an error; Value returns the secret itself.
type Secret string

// Value returns the secret in clear, for the one place that needs it.
func (s Secret) Value() string { return string(s) }

// String returns [hidden].
func (s Secret) String() string { return HiddenValue }

// GoString returns [hidden], so %#v does not leak the secret either.
func (s Secret) GoString() string { return HiddenValue }

// MarshalText renders [hidden], so JSON and text encoders never leak it.
func (s Secret) MarshalText() ([]byte, error) { return []byte(HiddenValue), nil }

// MaskPasswords returns a copy of props with the value of every Password key of
// the defs replaced by [hidden]. A value that is a config provider reference
// such as ${env:NAME} is not a secret and stays visible.
func MaskPasswords(props map[string]string, defs ...*Def) map[string]string {
	out := make(map[string]string, len(props))
	for k, v := range props {
		out[k] = v
		for _, d := range defs {
			if key, ok := d.Key(k); ok && key.Type == Password && !strings.HasPrefix(v, "${") {
				out[k] = HiddenValue
				break
			}
		}
	}
	return out
}
