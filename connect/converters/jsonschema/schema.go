package jsonschema

import (
	"encoding/json"
	"fmt"
	"slices"
	"strconv"

	"github.com/penstockhq/penstock/connect"
)

// Properties Confluent's JsonSchemaData writes beside JSON Schema's own.
const (
	propIndex  = "connect.index"
	propType   = "connect.type"
	propVer    = "connect.version"
	propParams = "connect.parameters"
)

// FromConnectSchema returns the JSON Schema text for s.
func FromConnectSchema(s *connect.Schema) (string, error) {
	v, err := fromConnect(s)
	if err != nil {
		return "", err
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", fmt.Errorf("render JSON Schema: %w", err)
	}
	return string(b), nil
}

func fromConnect(s *connect.Schema) (map[string]any, error) {
	m := map[string]any{}
	switch s.Type {
	case connect.TypeBoolean, connect.TypeString:
		m["type"] = string(s.Type)
	case connect.TypeInt8, connect.TypeInt16, connect.TypeInt32, connect.TypeInt64:
		m["type"], m[propType] = "integer", string(s.Type)
	case connect.TypeFloat32:
		m["type"], m[propType] = "number", "float32"
	case connect.TypeFloat64:
		m["type"], m[propType] = "number", "float64"
	case connect.TypeBytes:
		m["type"], m[propType] = "string", "bytes"
		if s.Name == connect.DecimalName {
			m["type"] = "number" // written with decimal.format=NUMERIC
		}
	case connect.TypeArray:
		items, err := fromConnect(s.Value)
		if err != nil {
			return nil, err
		}
		m["type"], m["items"] = "array", items
	case connect.TypeMap:
		v, err := fromConnect(s.Value)
		if err != nil {
			return nil, err
		}
		m[propType] = "map"
		if s.Key.Type == connect.TypeString && !s.Key.Optional {
			m["type"], m["additionalProperties"] = "object", v
			break
		}
		k, err := fromConnect(s.Key)
		if err != nil {
			return nil, err
		}
		// JsonConverter's form: an array of [key, value] pairs.
		m["type"] = "array"
		m["items"] = map[string]any{"type": "array", "prefixItems": []any{k, v}, "minItems": 2, "maxItems": 2}
	case connect.TypeStruct:
		props := make(map[string]any, len(s.Fields))
		required := []string{}
		for i, f := range s.Fields {
			p, err := fromConnect(f.Schema)
			if err != nil {
				return nil, fmt.Errorf("field %s: %w", f.Name, err)
			}
			p[propIndex] = i
			props[f.Name] = p
			if !f.Schema.Optional {
				required = append(required, f.Name)
			}
		}
		// A closed content model: adding an optional field is a
		// BACKWARD-compatible change.
		m["type"], m["properties"], m["additionalProperties"] = "object", props, false
		if len(required) > 0 {
			m["required"] = required
		}
	default:
		return nil, fmt.Errorf("schema type %q has no JSON Schema form", s.Type)
	}
	if s.Name != "" {
		m["title"] = s.Name
	}
	if s.Version != 0 {
		m[propVer] = s.Version
	}
	if s.Doc != "" {
		m["description"] = s.Doc
	}
	if len(s.Parameters) > 0 {
		m[propParams] = s.Parameters
	}
	if s.Default != nil && s.Type.Primitive() && s.Name == "" {
		m["default"] = s.Default
	}
	if s.Optional {
		inner := m
		m = map[string]any{"oneOf": []any{map[string]any{"type": "null"}, inner}}
		if d, ok := inner["default"]; ok {
			m["default"] = d
		}
	}
	return m, nil
}

// ToConnectSchema returns the Connect schema of a JSON Schema document
// (decoded with UseNumber), reading back the connect.* properties
// FromConnectSchema writes; without them integers are int64, numbers
// float64, and objects with properties structs.
func ToConnectSchema(doc any) (*connect.Schema, error) {
	m, ok := doc.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("a JSON Schema that is not an object (%T) has no Connect form", doc)
	}
	optional := false
	if alts, ok := m["oneOf"].([]any); ok && len(alts) == 2 {
		var inner map[string]any
		for _, a := range alts {
			am, _ := a.(map[string]any)
			if am["type"] == "null" {
				optional = true
			} else {
				inner = am
			}
		}
		if !optional || inner == nil {
			return nil, fmt.Errorf("oneOf other than null and one schema has no Connect form")
		}
		s, err := ToConnectSchema(inner)
		if err != nil {
			return nil, err
		}
		s = connect.OptionalOf(s)
		return s, nil
	}
	typ := m["type"]
	if l, ok := typ.([]any); ok && len(l) == 2 && slices.Contains(l, any("null")) {
		optional = true
		typ = l[0]
		if typ == "null" {
			typ = l[1]
		}
	}
	ct, _ := m[propType].(string)
	s := &connect.Schema{Optional: optional}
	switch typ {
	case "boolean":
		s.Type = connect.TypeBoolean
	case "string":
		s.Type = connect.TypeString
		if ct == "bytes" {
			s.Type = connect.TypeBytes
		}
	case "integer":
		s.Type = connect.TypeInt64
		switch ct {
		case "int8", "int16", "int32":
			s.Type = connect.Type(ct)
		}
	case "number":
		s.Type = connect.TypeFloat64
		switch ct {
		case "float32":
			s.Type = connect.TypeFloat32
		case "bytes":
			s.Type = connect.TypeBytes
		}
	case "array":
		items, _ := m["items"].(map[string]any)
		if ct == "map" {
			pair, _ := items["prefixItems"].([]any)
			if len(pair) != 2 {
				return nil, fmt.Errorf("a map array without prefixItems [key, value]")
			}
			k, err := ToConnectSchema(pair[0])
			if err != nil {
				return nil, fmt.Errorf("map key: %w", err)
			}
			v, err := ToConnectSchema(pair[1])
			if err != nil {
				return nil, fmt.Errorf("map value: %w", err)
			}
			s.Type, s.Key, s.Value = connect.TypeMap, k, v
			break
		}
		if items == nil {
			return nil, fmt.Errorf("an array without items has no Connect form")
		}
		v, err := ToConnectSchema(items)
		if err != nil {
			return nil, fmt.Errorf("items: %w", err)
		}
		s.Type, s.Value = connect.TypeArray, v
	case "object":
		props, hasProps := m["properties"].(map[string]any)
		if ap, ok := m["additionalProperties"].(map[string]any); ok && (ct == "map" || !hasProps) {
			v, err := ToConnectSchema(ap)
			if err != nil {
				return nil, fmt.Errorf("map value: %w", err)
			}
			s.Type, s.Key, s.Value = connect.TypeMap, connect.StringSchema, v
			break
		}
		names := make([]string, 0, len(props))
		for n := range props {
			names = append(names, n)
		}
		slices.SortFunc(names, func(a, b string) int {
			ia, ib := index(props[a]), index(props[b])
			if ia != ib {
				return ia - ib
			}
			if a < b {
				return -1
			}
			return 1
		})
		fields := make([]connect.Field, 0, len(names))
		for _, n := range names {
			fs, err := ToConnectSchema(props[n])
			if err != nil {
				return nil, fmt.Errorf("property %s: %w", n, err)
			}
			fields = append(fields, connect.F(n, fs))
		}
		title, _ := m["title"].(string)
		st := connect.NewStructSchema(title, fields...)
		st.Optional = optional
		s = st
	default:
		return nil, fmt.Errorf("JSON Schema type %v has no Connect form", typ)
	}
	if t, ok := m["title"].(string); ok {
		s.Name = t
	}
	if v, ok := m[propVer].(json.Number); ok {
		n, _ := v.Int64()
		s.Version = int32(n)
	}
	if d, ok := m["description"].(string); ok {
		s.Doc = d
	}
	if ps, ok := m[propParams].(map[string]any); ok {
		s.Parameters = make(map[string]string, len(ps))
		for k, v := range ps {
			s.Parameters[k] = fmt.Sprint(v)
		}
	}
	if d, ok := m["default"]; ok && d != nil {
		s.Default = typedDefault(s.Type, d)
	}
	return s, nil
}

func index(p any) int {
	m, _ := p.(map[string]any)
	if m == nil {
		return 1 << 30
	}
	if alts, ok := m["oneOf"].([]any); ok && m[propIndex] == nil {
		for _, a := range alts {
			if i := index(a); i != 1<<30 {
				return i
			}
		}
	}
	if n, ok := m[propIndex].(json.Number); ok {
		if i, err := strconv.Atoi(n.String()); err == nil {
			return i
		}
	}
	return 1 << 30
}

// typedDefault converts a JSON default to the Go type of t (nil when it
// does not fit).
func typedDefault(t connect.Type, d any) any {
	if n, ok := d.(json.Number); ok {
		switch t {
		case connect.TypeInt8, connect.TypeInt16, connect.TypeInt32, connect.TypeInt64:
			i, err := n.Int64()
			if err != nil {
				return nil
			}
			switch t {
			case connect.TypeInt8:
				return int8(i)
			case connect.TypeInt16:
				return int16(i)
			case connect.TypeInt32:
				return int32(i)
			}
			return i
		case connect.TypeFloat32:
			f, _ := n.Float64()
			return float32(f)
		case connect.TypeFloat64:
			f, _ := n.Float64()
			return f
		}
		return nil
	}
	switch x := d.(type) {
	case bool:
		if t == connect.TypeBoolean {
			return x
		}
	case string:
		if t == connect.TypeString {
			return x
		}
	}
	return nil
}
