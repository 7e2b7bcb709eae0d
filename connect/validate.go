package connect

import (
	"fmt"
	"time"
)

// Validate checks that v is a value of schema s: nil only when s is optional
// or has a default, the Go type of s's type (see the package doc), and for
// logical types their value type. The error names the path to the bad value.
func (s *Schema) Validate(v any) error {
	if s == nil {
		return nil
	}
	if v == nil {
		if s.Optional || s.Default != nil {
			return nil
		}
		return fmt.Errorf("required %s value is missing", s.Type)
	}
	switch s.Name {
	case DecimalName:
		if _, ok := v.(Decimal); !ok {
			return typeError(s, v)
		}
		return nil
	case DateName, TimeName, TimestampName:
		if _, ok := v.(time.Time); !ok {
			return typeError(s, v)
		}
		return nil
	}
	switch s.Type {
	case TypeArray:
		a, isArr := v.([]any)
		if !isArr {
			return typeError(s, v)
		}
		for i, e := range a {
			if err := s.Value.Validate(e); err != nil {
				return fmt.Errorf("element %d: %w", i, err)
			}
		}
		return nil
	case TypeMap:
		switch m := v.(type) {
		case map[string]any:
			if s.Key.Type != TypeString {
				return fmt.Errorf("map with string keys for key schema %s", s.Key)
			}
			for k, e := range m {
				if err := s.Value.Validate(e); err != nil {
					return fmt.Errorf("map value %q: %w", k, err)
				}
			}
			return nil
		case map[any]any:
			for k, e := range m {
				if err := s.Key.Validate(k); err != nil {
					return fmt.Errorf("map key %v: %w", k, err)
				}
				if err := s.Value.Validate(e); err != nil {
					return fmt.Errorf("map value %v: %w", k, err)
				}
			}
			return nil
		}
	case TypeStruct:
		st, isStruct := v.(*Struct)
		if !isStruct {
			return typeError(s, v)
		}
		if st.schema != s && !Equal(st.schema, s) {
			return fmt.Errorf("struct schema %s does not match %s", st.schema, s)
		}
		return st.Validate()
	}
	if !s.Holds(v) {
		return typeError(s, v)
	}
	return nil
}

// Holds reports whether v has the Go type of the values of s's type (see
// the package doc): []any for an Array, map[string]any or map[any]any for
// a Map, a *Struct of s for a Struct. Unlike Validate it does not look
// inside arrays, maps and structs, nor at logical types and nulls.
func (s *Schema) Holds(v any) bool {
	ok := false
	switch s.Type {
	case TypeBoolean:
		_, ok = v.(bool)
	case TypeInt8:
		_, ok = v.(int8)
	case TypeInt16:
		_, ok = v.(int16)
	case TypeInt32:
		_, ok = v.(int32)
	case TypeInt64:
		_, ok = v.(int64)
	case TypeFloat32:
		_, ok = v.(float32)
	case TypeFloat64:
		_, ok = v.(float64)
	case TypeString:
		_, ok = v.(string)
	case TypeBytes:
		_, ok = v.([]byte)
	case TypeArray:
		_, ok = v.([]any)
	case TypeMap:
		switch v.(type) {
		case map[string]any, map[any]any:
			ok = true
		}
	case TypeStruct:
		st, isStruct := v.(*Struct)
		ok = isStruct && (st.schema == s || Equal(st.schema, s))
	}
	return ok
}

func typeError(s *Schema, v any) error {
	return fmt.Errorf("expected %s, got %T", s, v)
}
