package converters

import (
	"fmt"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/penstockhq/penstock/connect"
)

// ptrCache maps schema pointers to their rendered JSON. It holds at most
// about max entries: when full it starts over, which is cheap and, for the
// few schemas a task sees, never happens.
type ptrCache struct {
	m   sync.Map
	n   atomic.Int64
	max int64
}

func (c *ptrCache) reset(max int) {
	c.m.Clear()
	c.n.Store(0)
	c.max = int64(max)
}

func (c *ptrCache) get(s *connect.Schema) ([]byte, bool) {
	v, ok := c.m.Load(s)
	if !ok {
		return nil, false
	}
	return v.([]byte), true
}

func (c *ptrCache) put(s *connect.Schema, b []byte) {
	if c.max <= 0 {
		return
	}
	if c.n.Add(1) > c.max {
		c.m.Clear()
		c.n.Store(1)
	}
	c.m.Store(s, b)
}

// bytesCache maps raw schema JSON to the parsed schema; a built-in map under
// a read lock, so lookups by string(raw) do not allocate.
type bytesCache struct {
	mu  sync.RWMutex
	m   map[string]*connect.Schema
	max int
}

func (c *bytesCache) reset(max int) {
	c.mu.Lock()
	c.m = map[string]*connect.Schema{}
	c.max = max
	c.mu.Unlock()
}

func (c *bytesCache) get(raw []byte) (*connect.Schema, bool) {
	c.mu.RLock()
	s, ok := c.m[string(raw)]
	c.mu.RUnlock()
	return s, ok
}

func (c *bytesCache) put(raw []byte, s *connect.Schema) {
	if c.max <= 0 {
		return
	}
	c.mu.Lock()
	if len(c.m) >= c.max {
		clear(c.m)
	}
	c.m[string(raw)] = s
	c.mu.Unlock()
}

// schemaJSON returns s rendered as Kafka Connect's JsonConverter renders a
// schema, from the cache when s was seen before.
func (c *JSON) schemaJSON(s *connect.Schema) ([]byte, error) {
	if b, ok := c.fromCache.get(s); ok {
		return b, nil
	}
	b, err := c.appendSchema(nil, s, "")
	if err != nil {
		return nil, err
	}
	c.fromCache.put(s, b)
	return b, nil
}

// appendSchema renders s: "type", then "fields" (struct), "items" (array)
// or "keys" and "values" (map), then "optional", "name", "version", "doc",
// "parameters", "default" and, for a struct field, "field".
func (c *JSON) appendSchema(buf []byte, s *connect.Schema, field string) ([]byte, error) {
	if s == nil {
		return buf, fmt.Errorf("missing nested schema")
	}
	if !s.Type.Valid() {
		return buf, fmt.Errorf("unknown schema type %q", s.Type)
	}
	buf = append(buf, `{"type":"`...)
	buf = append(buf, s.Type...)
	buf = append(buf, '"')
	var err error
	switch s.Type {
	case connect.TypeStruct:
		buf = append(buf, `,"fields":[`...)
		for i, f := range s.Fields {
			if i > 0 {
				buf = append(buf, ',')
			}
			if buf, err = c.appendSchema(buf, f.Schema, f.Name); err != nil {
				return buf, atPath(err, f.Name)
			}
		}
		buf = append(buf, ']')
	case connect.TypeArray:
		buf = append(buf, `,"items":`...)
		if buf, err = c.appendSchema(buf, s.Value, ""); err != nil {
			return buf, fmt.Errorf("array items: %w", err)
		}
	case connect.TypeMap:
		buf = append(buf, `,"keys":`...)
		if buf, err = c.appendSchema(buf, s.Key, ""); err != nil {
			return buf, fmt.Errorf("map keys: %w", err)
		}
		buf = append(buf, `,"values":`...)
		if buf, err = c.appendSchema(buf, s.Value, ""); err != nil {
			return buf, fmt.Errorf("map values: %w", err)
		}
	}
	buf = append(buf, `,"optional":`...)
	buf = strconv.AppendBool(buf, s.Optional)
	if s.Name != "" {
		buf = append(buf, `,"name":`...)
		buf = AppendJSONString(buf, s.Name)
	}
	if s.Version != 0 {
		buf = append(buf, `,"version":`...)
		buf = strconv.AppendInt(buf, int64(s.Version), 10)
	}
	if s.Doc != "" {
		buf = append(buf, `,"doc":`...)
		buf = AppendJSONString(buf, s.Doc)
	}
	if s.Parameters != nil {
		buf = append(buf, `,"parameters":{`...)
		for i, k := range paramKeys(s.Parameters) {
			if i > 0 {
				buf = append(buf, ',')
			}
			buf = AppendJSONString(buf, k)
			buf = append(buf, ':')
			buf = AppendJSONString(buf, s.Parameters[k])
		}
		buf = append(buf, '}')
	}
	if s.Default != nil {
		buf = append(buf, `,"default":`...)
		if buf, err = c.appendValue(buf, s, s.Default); err != nil {
			return buf, fmt.Errorf("default value: %w", err)
		}
	}
	if field != "" {
		buf = append(buf, `,"field":`...)
		buf = AppendJSONString(buf, field)
	}
	return append(buf, '}'), nil
}

// paramKeys orders schema parameters deterministically: a Decimal's "scale"
// first (Kafka Connect adds it first), then the rest sorted.
func paramKeys(params map[string]string) []string {
	keys := make([]string, 0, len(params))
	for k := range params {
		if k != connect.DecimalScaleParam {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	if _, ok := params[connect.DecimalScaleParam]; ok {
		keys = append([]string{connect.DecimalScaleParam}, keys...)
	}
	return keys
}

// connectSchema returns the schema of raw schema JSON (nil for null), parsed
// once per distinct raw bytes.
func (c *JSON) connectSchema(raw []byte) (*connect.Schema, error) {
	if isNull(raw) {
		return nil, nil
	}
	if s, ok := c.toCache.get(raw); ok {
		return s, nil
	}
	p := parser{data: raw, rawNumbers: true}
	node, err := p.value()
	if err != nil {
		return nil, err
	}
	s, err := c.buildSchema(node)
	if err != nil {
		return nil, err
	}
	c.toCache.put(raw, s)
	return s, nil
}

// buildSchema turns a parsed schema JSON object into a schema.
func (c *JSON) buildSchema(node any) (*connect.Schema, error) {
	obj, ok := node.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("a schema must be a JSON object, got %s", jsonKind(node))
	}
	typ, ok := obj["type"].(string)
	if !ok {
		return nil, fmt.Errorf("schema must contain 'type' field")
	}
	var s *connect.Schema
	switch t := connect.Type(typ); t {
	case connect.TypeBoolean, connect.TypeInt8, connect.TypeInt16, connect.TypeInt32, connect.TypeInt64,
		connect.TypeFloat32, connect.TypeFloat64, connect.TypeString, connect.TypeBytes:
		s = &connect.Schema{Type: t}
	case connect.TypeArray:
		items, ok := obj["items"]
		if !ok || items == nil {
			return nil, fmt.Errorf("array schema did not specify the element type")
		}
		elem, err := c.buildSchema(items)
		if err != nil {
			return nil, fmt.Errorf("array items: %w", err)
		}
		s = connect.ArrayOf(elem)
	case connect.TypeMap:
		keysNode, ok := obj["keys"]
		if !ok || keysNode == nil {
			return nil, fmt.Errorf("map schema did not specify the key type")
		}
		valuesNode, ok := obj["values"]
		if !ok || valuesNode == nil {
			return nil, fmt.Errorf("map schema did not specify the value type")
		}
		k, err := c.buildSchema(keysNode)
		if err != nil {
			return nil, fmt.Errorf("map keys: %w", err)
		}
		v, err := c.buildSchema(valuesNode)
		if err != nil {
			return nil, fmt.Errorf("map values: %w", err)
		}
		s = connect.MapOf(k, v)
	case connect.TypeStruct:
		fieldsNode, ok := obj["fields"].([]any)
		if !ok {
			return nil, fmt.Errorf("struct schema's \"fields\" argument is not an array")
		}
		fields := make([]connect.Field, 0, len(fieldsNode))
		seen := make(map[string]bool, len(fieldsNode))
		for i, fn := range fieldsNode {
			fo, _ := fn.(map[string]any)
			name, ok := fo["field"].(string)
			if !ok || name == "" {
				return nil, fmt.Errorf("struct schema's field %d has no \"field\" name", i)
			}
			if seen[name] {
				return nil, fmt.Errorf("struct schema has two fields called %q", name)
			}
			seen[name] = true
			fs, err := c.buildSchema(fo)
			if err != nil {
				return nil, atPath(err, name)
			}
			fields = append(fields, connect.F(name, fs))
		}
		s = connect.NewStructSchema("", fields...)
	default:
		return nil, fmt.Errorf("unknown schema type: %s", typ)
	}
	if b, ok := obj["optional"].(bool); ok && b {
		s.Optional = true
	}
	if name, ok := obj["name"].(string); ok {
		s.Name = name
	}
	if v, ok := obj["version"].(jsonNumber); ok && v.integral() {
		n, err := strconv.ParseInt(string(v), 10, 32)
		if err != nil {
			return nil, fmt.Errorf("schema version %s: %w", v, err)
		}
		s.Version = int32(n)
	}
	if doc, ok := obj["doc"].(string); ok {
		s.Doc = doc
	}
	if params, ok := obj["parameters"].(map[string]any); ok {
		s.Parameters = make(map[string]string, len(params))
		for k, v := range params {
			str, ok := v.(string)
			if !ok {
				return nil, fmt.Errorf("schema parameter %q must have a string value, got %s", k, jsonKind(v))
			}
			s.Parameters[k] = str
		}
	}
	if def, ok := obj["default"]; ok && def != nil {
		v, err := c.toConnectValue(s, def)
		if err != nil {
			return nil, fmt.Errorf("default value: %w", err)
		}
		s.Default = v
	}
	return s, nil
}
