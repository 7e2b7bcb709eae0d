package transforms

import (
	"fmt"
	"strings"

	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connect/config"
)

// ReplaceField filters and renames the top-level fields of a struct or map:
// exclude drops fields, include (when set) keeps only the fields it lists,
// renames maps old names to new ones. The deprecated key names blacklist and
// whitelist are accepted for exclude and include.
type ReplaceField struct {
	base
	exclude, include map[string]bool
	excludeList      []string
	renames          map[string]string
	get              fieldGetter
	// cfg holds the keys as given.
	cfg   struct{ exclude, include, renames, blacklist, whitelist []string }
	cache schemaCache[*replacePlan]
}

// replacePlan is the output schema for one input schema and, per output
// field, the input field it comes from.
type replacePlan struct {
	schema *connect.Schema
	src    []int
}

var replaceFieldBinding = config.Bind(
	config.ListField(listKey("exclude", "Fields to exclude. This takes precedence over the fields to include.", config.Medium),
		func(t *ReplaceField) *[]string { return &t.cfg.exclude }),
	config.ListField(listKey("include", "Fields to include. If specified, only these fields will be used.", config.Medium),
		func(t *ReplaceField) *[]string { return &t.cfg.include }),
	config.ListField(config.Key{Name: "renames", Default: []string{}, Validator: renamesValidator(), Importance: config.Medium,
		Doc: "Field rename mappings, as a list of old:new pairs."},
		func(t *ReplaceField) *[]string { return &t.cfg.renames }),
	config.ListField(config.Key{Name: "blacklist", Importance: config.Low, Doc: "Deprecated. Use exclude instead."},
		func(t *ReplaceField) *[]string { return &t.cfg.blacklist }),
	config.ListField(config.Key{Name: "whitelist", Importance: config.Low, Doc: "Deprecated. Use include instead."},
		func(t *ReplaceField) *[]string { return &t.cfg.whitelist }),
	replaceNull(func(t *ReplaceField) *fieldGetter { return &t.get }),
)

func renamesValidator() config.Validator {
	return validatorFunc("list of colon-delimited pairs, e.g. foo:bar,abc:xyz", func(v any) error {
		l, _ := v.([]string)
		_, err := parseRenames(l)
		return err
	})
}

func parseRenames(l []string) (map[string]string, error) {
	m := make(map[string]string, len(l))
	for _, r := range l {
		parts := strings.Split(r, ":")
		if len(parts) != 2 || strings.TrimSpace(parts[0]) == "" || strings.TrimSpace(parts[1]) == "" {
			return nil, fmt.Errorf("Invalid rename mapping: %s", r)
		}
		m[strings.TrimSpace(parts[0])] = strings.TrimSpace(parts[1])
	}
	return m, nil
}

// NewReplaceField returns an unconfigured ReplaceField$Key or ReplaceField$Value.
func NewReplaceField(op Operand) *ReplaceField {
	return &ReplaceField{base: base{name: "ReplaceField" + op.suffix(), op: op}}
}

// Config returns the keys of Kafka Connect's ReplaceField.
func (*ReplaceField) Config() *config.Def { return replaceFieldBinding.Def() }

// Configure reads the field lists.
func (t *ReplaceField) Configure(props map[string]string) error {
	v, err := configure(t.name, replaceFieldBinding, props, t)
	if err != nil {
		return err
	}
	exclude, include := t.cfg.exclude, t.cfg.include
	if _, set := props["exclude"]; !set && v.Get("blacklist") != nil {
		exclude = t.cfg.blacklist
	}
	if _, set := props["include"]; !set && v.Get("whitelist") != nil {
		include = t.cfg.whitelist
	}
	renames, _ := parseRenames(t.cfg.renames) // checked by the validator
	t.setup(exclude, include, renames, t.get)
	return nil
}

func (t *ReplaceField) setup(exclude, include []string, renames map[string]string, get fieldGetter) {
	t.exclude, t.include, t.renames, t.get = setOf(exclude), setOf(include), renames, get
	t.excludeList = exclude
	t.cache = schemaCache[*replacePlan]{}
}

func (t *ReplaceField) keep(name string) bool {
	return !t.exclude[name] && (len(t.include) == 0 || t.include[name])
}

func (t *ReplaceField) rename(name string) string {
	if n, ok := t.renames[name]; ok {
		return n
	}
	return name
}

// Apply filters and renames; a nil key or value passes unchanged.
func (t *ReplaceField) Apply(rec *connect.Record) (*connect.Record, error) {
	out, _, err := t.applyOwned(rec, 0)
	return out, err
}

func (t *ReplaceField) applyOwned(rec *connect.Record, own ownership) (*connect.Record, ownership, error) {
	s, v := t.operand(rec)
	if v == nil {
		return rec, own, nil
	}
	if s == nil {
		m, ok := requireMap(v)
		if !ok {
			return nil, 0, t.errorf(rec, "", "only a map is supported for a schemaless %s, got %T", t.what(), v)
		}
		if own&t.mapBit() == 0 {
			if len(t.include) > 0 {
				out := make(map[string]any, len(t.include))
				for k, x := range m {
					if t.keep(k) {
						out[t.rename(k)] = x
					}
				}
				m = out
			} else {
				m = copyMap(m, 0)
				t.inPlace(m)
			}
		} else {
			t.inPlace(m)
		}
		res, own := t.set(rec, own, nil, m, true)
		return res, own, nil
	}
	st, ok := requireStruct(v)
	if !ok {
		return nil, 0, t.errorf(rec, "", "only a struct is supported for a %s with a schema, got %T", t.what(), v)
	}
	plan, err := t.plan(st.Schema())
	if err != nil {
		return nil, 0, t.errorf(rec, "", "%v", err)
	}
	out := connect.NewStruct(plan.schema)
	for i, src := range plan.src {
		out.SetAt(i, t.get.at(st, src))
	}
	res, own := t.set(rec, own, plan.schema, out, false)
	return res, own, nil
}

// inPlace filters and renames a map the chain owns.
func (t *ReplaceField) inPlace(m map[string]any) {
	if len(t.include) > 0 {
		for k := range m {
			if !t.keep(k) {
				delete(m, k)
			}
		}
	} else {
		for _, k := range t.excludeList {
			delete(m, k)
		}
	}
	switch len(t.renames) {
	case 0:
	case 1:
		for old, nw := range t.renames {
			if x, ok := m[old]; ok {
				delete(m, old)
				m[nw] = x
			}
		}
	default:
		type kv struct {
			k string
			x any
		}
		var moved []kv
		for old, nw := range t.renames {
			if x, ok := m[old]; ok {
				moved = append(moved, kv{nw, x})
				delete(m, old)
			}
		}
		for _, e := range moved {
			m[e.k] = e.x
		}
	}
}

func (t *ReplaceField) plan(in *connect.Schema) (*replacePlan, error) {
	if p, ok := t.cache.get(in); ok {
		return p, nil
	}
	p := &replacePlan{}
	var fields []connect.Field
	for _, f := range in.Fields {
		if t.keep(f.Name) {
			fields = append(fields, connect.F(t.rename(f.Name), f.Schema))
			p.src = append(p.src, f.Index)
		}
	}
	var err error
	if p.schema, err = newStructSchema(in, fields); err != nil {
		return nil, err
	}
	t.cache.put(in, p)
	return p, nil
}

// Close does nothing.
func (*ReplaceField) Close() error { return nil }
