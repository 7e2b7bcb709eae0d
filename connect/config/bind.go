package config

import (
	"fmt"
	"time"
)

// Field binds one key to a field of a settings struct S: the key is declared
// once, with its name, type, default, validator, doc and group, and its
// parsed value lands in the field, typed. Make fields with StringField,
// IntField, LongField, DoubleField, BoolField, ListField, PasswordField,
// ClassField and DurationField; bind them with Bind.
type Field[S any] struct {
	Key Key
	set func(s *S, v any)
}

// Binding is a Def whose keys are bound to the fields of a settings struct.
type Binding[S any] struct {
	def    *Def
	fields []Field[S]
}

// Bind returns the binding of fields. It panics, as NewDef does, on a
// duplicate key, and on a key whose Type or Default does not fit its field:
// mistakes a package's first test catches.
func Bind[S any](fields ...Field[S]) *Binding[S] {
	keys := make([]Key, len(fields))
	for i, f := range fields {
		keys[i] = f.Key
	}
	return &Binding[S]{def: NewDef(keys...), fields: fields}
}

// Def returns the definition of the bound keys.
func (b *Binding[S]) Def() *Def { return b.def }

// Parse parses props with the binding's Def and sets the fields of s from
// the typed values. The error, if any, lists every key in error, as
// Def.Parse's; s is then left partly set.
func (b *Binding[S]) Parse(props map[string]string, s *S) (*Values, error) {
	v, err := b.def.Parse(props)
	if err != nil {
		return v, err
	}
	b.Set(v, s)
	return v, nil
}

// Set sets the fields of s from values parsed by a Def holding the bound
// keys (the binding's own, or one that extends it).
func (b *Binding[S]) Set(v *Values, s *S) {
	for _, f := range b.fields {
		f.set(s, v.Get(f.Key.Name))
	}
}

// bind checks that k fits a field of Go type T under key type t, fills in
// the type when k leaves it empty, and returns the field.
func bind[S, T any](k Key, want Type, allowed []Type, field func(*S) *T) Field[S] {
	if k.Type == "" {
		k.Type = want
	}
	ok := false
	for _, t := range allowed {
		ok = ok || k.Type == t
	}
	if !ok {
		panic(fmt.Sprintf("config: key %q of type %s bound to a %T field", k.Name, k.Type, *new(T)))
	}
	if k.Default != nil {
		if _, ok := k.Default.(T); !ok {
			panic(fmt.Sprintf("config: key %q: default %v (%T) does not fit a %T field", k.Name, k.Default, k.Default, *new(T)))
		}
	}
	return Field[S]{Key: k, set: func(s *S, v any) {
		x, _ := v.(T)
		*field(s) = x
	}}
}

// StringField binds a String key (the Type may be left empty).
func StringField[S any](k Key, field func(*S) *string) Field[S] {
	return bind(k, String, []Type{String}, field)
}

// ClassField binds a Class key.
func ClassField[S any](k Key, field func(*S) *string) Field[S] {
	return bind(k, Class, []Type{Class}, field)
}

// IntField binds an Int key.
func IntField[S any](k Key, field func(*S) *int) Field[S] { return bind(k, Int, []Type{Int}, field) }

// LongField binds a Long key.
func LongField[S any](k Key, field func(*S) *int64) Field[S] {
	return bind(k, Long, []Type{Long}, field)
}

// DoubleField binds a Double key.
func DoubleField[S any](k Key, field func(*S) *float64) Field[S] {
	return bind(k, Double, []Type{Double}, field)
}

// BoolField binds a Boolean key.
func BoolField[S any](k Key, field func(*S) *bool) Field[S] {
	return bind(k, Boolean, []Type{Boolean}, field)
}

// ListField binds a List key.
func ListField[S any](k Key, field func(*S) *[]string) Field[S] {
	return bind(k, List, []Type{List}, field)
}

// PasswordField binds a Password key.
func PasswordField[S any](k Key, field func(*S) *Secret) Field[S] {
	return bind(k, Password, []Type{Password}, field)
}

// DurationField binds a key holding milliseconds (a *.ms key, Long unless
// the Key says Int) to a time.Duration field: the one Go type of durations.
// Its Default may be a time.Duration.
func DurationField[S any](k Key, field func(*S) *time.Duration) Field[S] {
	if k.Type == "" {
		k.Type = Long
	}
	if d, ok := k.Default.(time.Duration); ok {
		switch k.Type {
		case Int:
			k.Default = int(d.Milliseconds())
		default:
			k.Default = d.Milliseconds()
		}
	}
	var f Field[S]
	switch k.Type {
	case Int:
		f = bind(k, Int, []Type{Int}, func(*S) *int { return new(int) })
	default:
		f = bind(k, Long, []Type{Long}, func(*S) *int64 { return new(int64) })
	}
	f.set = func(s *S, v any) { *field(s) = millis(v) }
	return f
}

// millis returns an Int or Long value of milliseconds as a duration.
func millis(v any) time.Duration {
	switch n := v.(type) {
	case int:
		return time.Duration(n) * time.Millisecond
	case int64:
		return time.Duration(n) * time.Millisecond
	}
	return 0
}

// OnlyKey declares a key of the binding that fills no field: one read
// from the Values Parse returns (a check across keys), or accepted for
// compatibility only.
func OnlyKey[S any](k Key) Field[S] {
	return Field[S]{Key: k, set: func(*S, any) {}}
}
