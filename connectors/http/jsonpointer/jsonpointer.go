// Package jsonpointer evaluates JSON Pointers (RFC 6901), such as /data/items
// or /meta/next, on JSON documents decoded by encoding/json into any; the
// HTTP sources pick records, keys and cursors out of bodies with them.
package jsonpointer

import (
	"fmt"
	"strconv"
	"strings"
)

// Pointer is a parsed JSON Pointer.
type Pointer []string

// Parse reads a pointer: "" (the whole document) or /-separated tokens with
// ~1 for / and ~0 for ~.
func Parse(s string) (Pointer, error) {
	if s == "" {
		return Pointer{}, nil
	}
	if !strings.HasPrefix(s, "/") {
		return nil, fmt.Errorf("JSON pointer %q must start with /", s)
	}
	parts := strings.Split(s[1:], "/")
	for i, p := range parts {
		parts[i] = strings.ReplaceAll(strings.ReplaceAll(p, "~1", "/"), "~0", "~")
	}
	return Pointer(parts), nil
}

// String renders the pointer.
func (p Pointer) String() string {
	var b strings.Builder
	for _, t := range p {
		b.WriteByte('/')
		b.WriteString(strings.ReplaceAll(strings.ReplaceAll(t, "~", "~0"), "/", "~1"))
	}
	return b.String()
}

// Get returns what the pointer designates in doc, and false when it
// designates nothing.
func (p Pointer) Get(doc any) (any, bool) {
	for _, t := range p {
		switch x := doc.(type) {
		case map[string]any:
			v, ok := x[t]
			if !ok {
				return nil, false
			}
			doc = v
		case []any:
			i, err := strconv.Atoi(t)
			if err != nil || i < 0 || i >= len(x) {
				return nil, false
			}
			doc = x[i]
		default:
			return nil, false
		}
	}
	return doc, true
}
