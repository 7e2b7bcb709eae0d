package schemaregistry

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sort"
)

// jsonReadable returns why a document valid against JSON Schema writer may
// be invalid against reader (nothing when every such document is valid), the
// rule behind Confluent's JSON Schema compatibility. It covers the changes
// Confluent's documentation lists: types widened or narrowed, properties
// added to or removed from open and closed content models, required
// properties, enums, numeric and length bounds, array items and
// additionalProperties. $refs are compared by name; oneOf/anyOf alternatives
// each need a reader alternative that accepts them.
func jsonReadable(reader, writer any, at string) []string {
	if accepts(reader) || rejects(writer) {
		return nil
	}
	if rejects(reader) {
		return []string{at + ": the new schema accepts nothing"}
	}
	if writer == true {
		writer = map[string]any{} // writes anything
	}
	r, _ := reader.(map[string]any)
	w, _ := writer.(map[string]any)
	if r == nil || w == nil {
		return nil // not a schema document; the compiler rejected it already
	}
	if rr, wr := r["$ref"], w["$ref"]; rr != nil || wr != nil {
		if !reflect.DeepEqual(rr, wr) {
			return []string{fmt.Sprintf("%s: reference changed from %v to %v", at, wr, rr)}
		}
		return nil
	}
	if alts := alternatives(w); alts != nil {
		var msgs []string
		for i, a := range alts {
			msgs = append(msgs, jsonReadable(reader, a, fmt.Sprintf("%s/oneOf/%d", at, i))...)
		}
		return msgs
	}
	if alts := alternatives(r); alts != nil {
		for _, a := range alts {
			if len(jsonReadable(a, writer, at)) == 0 {
				return nil
			}
		}
		return []string{at + ": no alternative of the new schema accepts the old one"}
	}
	var msgs []string
	add := func(format string, args ...any) { msgs = append(msgs, at+": "+fmt.Sprintf(format, args...)) }

	if rt := types(r); rt != nil {
		wt := types(w)
		if wt == nil {
			add("type narrowed from any to %v", rt)
		}
		for _, t := range wt {
			if !slices.Contains(rt, t) && !(t == "integer" && slices.Contains(rt, "number")) {
				add("type %s no longer allowed (now %v)", t, rt)
			}
		}
	}
	if re, ok := r["enum"].([]any); ok {
		we, ok := w["enum"].([]any)
		if !ok {
			add("enum added")
		}
		for _, v := range we {
			if !slices.ContainsFunc(re, func(x any) bool { return reflect.DeepEqual(x, v) }) {
				add("enum value %v removed", v)
			}
		}
	}
	for _, k := range []string{"minimum", "exclusiveMinimum", "minLength", "minItems", "minProperties"} {
		if rv, ok := number(r[k]); ok {
			if wv, ok := number(w[k]); !ok || rv > wv {
				add("%s raised to %v", k, rv)
			}
		}
	}
	for _, k := range []string{"maximum", "exclusiveMaximum", "maxLength", "maxItems", "maxProperties", "multipleOf"} {
		if rv, ok := number(r[k]); ok {
			if wv, ok := number(w[k]); !ok || (rv < wv && k != "multipleOf") || (k == "multipleOf" && rv != wv) {
				add("%s changed to %v", k, rv)
			}
		}
	}
	if rp, ok := r["pattern"]; ok && !reflect.DeepEqual(rp, w["pattern"]) {
		add("pattern changed to %v", rp)
	}

	rprops, _ := r["properties"].(map[string]any)
	wprops, _ := w["properties"].(map[string]any)
	rextra, wextra := additional(r), additional(w)
	for _, name := range sortedKeys(wprops) {
		if rs, ok := rprops[name]; ok {
			msgs = append(msgs, jsonReadable(rs, wprops[name], at+"/properties/"+name)...)
		} else if rejects(rextra) {
			add("property %q removed from a closed content model", name)
		} else {
			msgs = append(msgs, jsonReadable(rextra, wprops[name], at+"/properties/"+name)...)
		}
	}
	for _, name := range sortedKeys(rprops) {
		if _, ok := wprops[name]; !ok && !rejects(wextra) {
			if m := jsonReadable(rprops[name], wextra, at+"/properties/"+name); len(m) > 0 {
				add("property %q added to an open content model", name)
			}
		}
	}
	wreq := stringsOf(w["required"])
	for _, name := range stringsOf(r["required"]) {
		if !slices.Contains(wreq, name) {
			add("required property %q added", name)
		}
	}
	if _, ok := r["additionalProperties"]; ok || rprops != nil {
		if !accepts(rextra) && !rejects(wextra) && len(jsonReadable(rextra, wextra, at)) > 0 {
			add("additionalProperties narrowed")
		}
	}
	if ri, ok := r["items"]; ok {
		wi, ok := w["items"]
		if !ok {
			wi = true
		}
		msgs = append(msgs, jsonReadable(ri, wi, at+"/items")...)
	}
	return msgs
}

// accepts reports whether s accepts every document (true, {}).
func accepts(s any) bool {
	if b, ok := s.(bool); ok {
		return b
	}
	m, ok := s.(map[string]any)
	if !ok {
		return false
	}
	for k := range m {
		switch k {
		case "$schema", "$id", "title", "description", "$comment", "default", "examples":
		default:
			return false
		}
	}
	return true
}

// rejects reports whether s is false.
func rejects(s any) bool { b, ok := s.(bool); return ok && !b }

// additional is the schema of an object's additional properties (true when absent).
func additional(s map[string]any) any {
	if a, ok := s["additionalProperties"]; ok {
		return a
	}
	return true
}

// alternatives returns the oneOf or anyOf alternatives of s, nil when none.
func alternatives(s map[string]any) []any {
	for _, k := range []string{"oneOf", "anyOf"} {
		if a, ok := s[k].([]any); ok {
			return a
		}
	}
	return nil
}

// types returns s's "type" as a list (nil: any type).
func types(s map[string]any) []string {
	switch t := s["type"].(type) {
	case string:
		return []string{t}
	case []any:
		return stringsOf(t)
	}
	return nil
}

func stringsOf(v any) []string {
	l, _ := v.([]any)
	out := make([]string, 0, len(l))
	for _, x := range l {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case json.Number:
		f, err := n.Float64()
		return f, err == nil
	}
	return 0, false
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
