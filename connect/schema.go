package connect

import (
	"fmt"
	"strconv"
)

// Type is a schema's type. Its string is the type name Kafka Connect's JSON
// converter writes in schemas ("int32", "struct", ...).
type Type string

// The schema types of Kafka Connect.
const (
	TypeBoolean Type = "boolean"
	TypeInt8    Type = "int8"
	TypeInt16   Type = "int16"
	TypeInt32   Type = "int32"
	TypeInt64   Type = "int64"
	TypeFloat32 Type = "float"
	TypeFloat64 Type = "double"
	TypeString  Type = "string"
	TypeBytes   Type = "bytes"
	TypeArray   Type = "array"
	TypeMap     Type = "map"
	TypeStruct  Type = "struct"
)

// Primitive reports whether t is neither array, map nor struct.
func (t Type) Primitive() bool {
	switch t {
	case TypeArray, TypeMap, TypeStruct:
		return false
	}
	return true
}

// Valid reports whether t is one of the schema types.
func (t Type) Valid() bool {
	switch t {
	case TypeBoolean, TypeInt8, TypeInt16, TypeInt32, TypeInt64, TypeFloat32, TypeFloat64,
		TypeString, TypeBytes, TypeArray, TypeMap, TypeStruct:
		return true
	}
	return false
}

// Schema describes a value: its type, whether it may be nil, its default, and
// for logical types the name and parameters that give the physical type its
// meaning. Schemas are shared between records and must not be modified once in
// use; derive a new one (Optional, a copied struct) instead.
type Schema struct {
	Type       Type
	Optional   bool
	Default    any
	Name       string
	Version    int32 // 0 when unversioned
	Doc        string
	Parameters map[string]string

	// Fields are a struct's fields in order; their Index is their position.
	Fields []Field
	// Key is a map's key schema.
	Key *Schema
	// Value is a map's value schema or an array's element schema.
	Value *Schema

	index map[string]int // field name -> position; built by NewStructSchema
}

// Field is one field of a struct schema.
type Field struct {
	Name   string
	Index  int
	Schema *Schema
}

// Shared schemas of the primitive types. Do not modify them.
var (
	BooleanSchema         = &Schema{Type: TypeBoolean}
	Int8Schema            = &Schema{Type: TypeInt8}
	Int16Schema           = &Schema{Type: TypeInt16}
	Int32Schema           = &Schema{Type: TypeInt32}
	Int64Schema           = &Schema{Type: TypeInt64}
	Float32Schema         = &Schema{Type: TypeFloat32}
	Float64Schema         = &Schema{Type: TypeFloat64}
	StringSchema          = &Schema{Type: TypeString}
	BytesSchema           = &Schema{Type: TypeBytes}
	OptionalBooleanSchema = &Schema{Type: TypeBoolean, Optional: true}
	OptionalInt8Schema    = &Schema{Type: TypeInt8, Optional: true}
	OptionalInt16Schema   = &Schema{Type: TypeInt16, Optional: true}
	OptionalInt32Schema   = &Schema{Type: TypeInt32, Optional: true}
	OptionalInt64Schema   = &Schema{Type: TypeInt64, Optional: true}
	OptionalFloat32Schema = &Schema{Type: TypeFloat32, Optional: true}
	OptionalFloat64Schema = &Schema{Type: TypeFloat64, Optional: true}
	OptionalStringSchema  = &Schema{Type: TypeString, Optional: true}
	OptionalBytesSchema   = &Schema{Type: TypeBytes, Optional: true}
)

// NewStructSchema returns a struct schema with the given name (may be empty)
// and fields, numbering the fields and indexing them by name. It panics on a
// duplicate or empty field name, which is a programming error.
func NewStructSchema(name string, fields ...Field) *Schema {
	s := &Schema{Type: TypeStruct, Name: name, Fields: make([]Field, len(fields)), index: make(map[string]int, len(fields))}
	for i, f := range fields {
		if f.Name == "" {
			panic("connect: struct field with empty name")
		}
		if _, dup := s.index[f.Name]; dup {
			panic("connect: duplicate struct field " + strconv.Quote(f.Name))
		}
		f.Index = i
		s.Fields[i] = f
		s.index[f.Name] = i
	}
	return s
}

// F is shorthand for a Field in NewStructSchema's argument list.
func F(name string, s *Schema) Field { return Field{Name: name, Schema: s} }

// ArrayOf returns an array schema of elem.
func ArrayOf(elem *Schema) *Schema { return &Schema{Type: TypeArray, Value: elem} }

// MapOf returns a map schema from key to value.
func MapOf(key, value *Schema) *Schema { return &Schema{Type: TypeMap, Key: key, Value: value} }

// OptionalOf returns a copy of s that allows nil values.
func OptionalOf(s *Schema) *Schema {
	if s.Optional {
		return s
	}
	c := *s
	c.Optional = true
	return &c
}

// Field returns the struct field called name.
func (s *Schema) Field(name string) (Field, bool) {
	if s.index != nil {
		i, ok := s.index[name]
		if !ok {
			return Field{}, false
		}
		return s.Fields[i], true
	}
	for _, f := range s.Fields {
		if f.Name == name {
			return f, true
		}
	}
	return Field{}, false
}

// String renders the schema compactly for error messages, e.g.
// "struct<id:int32,name:string?>" where "?" marks optional.
func (s *Schema) String() string {
	if s == nil {
		return "<schemaless>"
	}
	var out string
	switch s.Type {
	case TypeStruct:
		out = "struct<"
		for i, f := range s.Fields {
			if i > 0 {
				out += ","
			}
			out += f.Name + ":" + f.Schema.String()
		}
		out += ">"
	case TypeArray:
		out = "array<" + s.Value.String() + ">"
	case TypeMap:
		out = "map<" + s.Key.String() + "," + s.Value.String() + ">"
	default:
		out = string(s.Type)
	}
	if s.Name != "" && s.Type.Primitive() {
		out += "(" + s.Name + ")"
	}
	if s.Optional {
		out += "?"
	}
	return out
}

// Equal reports whether a and b describe the same values: the same type,
// optionality, name, version, parameters, default, and equal nested schemas.
// Doc strings are ignored.
func Equal(a, b *Schema) bool {
	if a == b {
		return true
	}
	if a == nil || b == nil {
		return false
	}
	if a.Type != b.Type || a.Optional != b.Optional || a.Name != b.Name || a.Version != b.Version ||
		len(a.Parameters) != len(b.Parameters) || len(a.Fields) != len(b.Fields) {
		return false
	}
	for k, v := range a.Parameters {
		if bv, ok := b.Parameters[k]; !ok || bv != v {
			return false
		}
	}
	if fmt.Sprint(a.Default) != fmt.Sprint(b.Default) {
		return false
	}
	for i := range a.Fields {
		if a.Fields[i].Name != b.Fields[i].Name || !Equal(a.Fields[i].Schema, b.Fields[i].Schema) {
			return false
		}
	}
	return Equal(a.Key, b.Key) && Equal(a.Value, b.Value)
}
