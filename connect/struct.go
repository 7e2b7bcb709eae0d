package connect

import (
	"fmt"
	"strings"
)

// Struct is a value of a struct schema: one value per field, by position.
type Struct struct {
	schema *Schema
	values []any
}

// NewStruct returns an empty Struct of schema s, which must be a struct schema.
// A Struct of up to 8 fields is made in one allocation with its values (a
// converter makes one per record: this halves its allocations).
func NewStruct(s *Schema) *Struct {
	switch n := len(s.Fields); {
	case n <= 4:
		p := new(struct {
			st Struct
			v  [4]any
		})
		p.st = Struct{schema: s, values: p.v[:n:n]}
		return &p.st
	case n <= 8:
		p := new(struct {
			st Struct
			v  [8]any
		})
		p.st = Struct{schema: s, values: p.v[:n:n]}
		return &p.st
	}
	return &Struct{schema: s, values: make([]any, len(s.Fields))}
}

// NewStructs returns n empty Structs of schema s made in two allocations
// instead of 2n, for sources that build many records of one table at once.
// The Structs share one backing array: a Struct kept alive keeps the others'
// memory too, so use small batches.
func NewStructs(s *Schema, n int) []Struct {
	out := make([]Struct, n)
	values := make([]any, n*len(s.Fields))
	for i := range out {
		out[i] = Struct{schema: s, values: values[i*len(s.Fields) : (i+1)*len(s.Fields) : (i+1)*len(s.Fields)]}
	}
	return out
}

// Schema returns the struct's schema.
func (st *Struct) Schema() *Schema { return st.schema }

// Get returns the value of the named field, or its schema default when unset.
// It returns nil for a field the schema does not have.
func (st *Struct) Get(name string) any {
	f, ok := st.schema.Field(name)
	if !ok {
		return nil
	}
	return st.GetAt(f.Index)
}

// GetAt returns the value of field i, or its schema default when unset.
func (st *Struct) GetAt(i int) any {
	if v := st.values[i]; v != nil {
		return v
	}
	return st.schema.Fields[i].Schema.Default
}

// Set stores v in the named field after checking it against the field's schema.
func (st *Struct) Set(name string, v any) error {
	f, ok := st.schema.Field(name)
	if !ok {
		return fmt.Errorf("struct %s has no field %q", st.schema.String(), name)
	}
	if err := f.Schema.Validate(v); err != nil {
		return fmt.Errorf("field %q: %w", name, err)
	}
	st.values[f.Index] = v
	return nil
}

// SetAt stores v in field i without checking it; Validate checks the whole
// struct. It is for the hot paths of converters and transforms.
func (st *Struct) SetAt(i int, v any) { st.values[i] = v }

// CopyFrom sets st's values to those of o, a struct of the same schema: one
// copy for structs that differ from a template in a few fields, cheaper
// than setting each field.
func (st *Struct) CopyFrom(o *Struct) { copy(st.values, o.values) }

// Validate checks every field against its schema: required fields are set and
// every value has its field's type.
func (st *Struct) Validate() error {
	for i, f := range st.schema.Fields {
		if err := f.Schema.Validate(st.GetAt(i)); err != nil {
			return fmt.Errorf("field %q: %w", f.Name, err)
		}
	}
	return nil
}

// String renders the struct as Kafka Connect does, e.g. Struct{id=1,name=a};
// unset fields are left out.
func (st *Struct) String() string {
	var b strings.Builder
	b.WriteString("Struct{")
	first := true
	for i, f := range st.schema.Fields {
		v := st.values[i]
		if v == nil {
			continue
		}
		if !first {
			b.WriteByte(',')
		}
		first = false
		fmt.Fprintf(&b, "%s=%v", f.Name, v)
	}
	b.WriteByte('}')
	return b.String()
}
