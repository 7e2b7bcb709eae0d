package config

import "time"

// Values are the typed values Parse produced. Each getter returns the zero
// value for a key that is unknown or has another type; use a Def whose keys
// cover what you read.
type Values struct {
	parsed    map[string]any
	originals map[string]string
}

// Get returns the parsed value of a key (nil when absent without default).
func (v *Values) Get(name string) any { return v.parsed[name] }

// String returns a String or Class key's value.
func (v *Values) String(name string) string { s, _ := v.parsed[name].(string); return s }

// Int returns an Int key's value.
func (v *Values) Int(name string) int { n, _ := v.parsed[name].(int); return n }

// Long returns a Long key's value.
func (v *Values) Long(name string) int64 { n, _ := v.parsed[name].(int64); return n }

// Duration returns an Int or Long key holding milliseconds as a
// time.Duration.
func (v *Values) Duration(name string) time.Duration { return millis(v.parsed[name]) }

// Double returns a Double key's value.
func (v *Values) Double(name string) float64 { f, _ := v.parsed[name].(float64); return f }

// Bool returns a Boolean key's value.
func (v *Values) Bool(name string) bool { b, _ := v.parsed[name].(bool); return b }

// List returns a List key's value.
func (v *Values) List(name string) []string { l, _ := v.parsed[name].([]string); return l }

// Password returns a Password key's value.
func (v *Values) Password(name string) Secret { s, _ := v.parsed[name].(Secret); return s }

// Originals returns the properties Parse was given, including keys the
// definition does not know (a connector passes them on, e.g. to its tasks).
func (v *Values) Originals() map[string]string { return v.originals }

// WithPrefix returns the original properties whose key starts with prefix,
// with the prefix removed, e.g. the "transforms.unwrap." properties.
func (v *Values) WithPrefix(prefix string) map[string]string {
	return WithPrefix(v.originals, prefix)
}

// WithPrefix returns the properties whose key starts with prefix, with the
// prefix removed.
func WithPrefix(props map[string]string, prefix string) map[string]string {
	out := map[string]string{}
	for k, val := range props {
		if len(k) > len(prefix) && k[:len(prefix)] == prefix {
			out[k[len(prefix):]] = val
		}
	}
	return out
}
