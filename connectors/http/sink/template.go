package sink

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/penstockhq/penstock/connect"
)

// template is a text with ${...} references to a record: ${topic},
// ${partition}, ${offset}, ${key}, ${key.a.b}, ${value.a.b}.
type template struct {
	parts  []part
	escape bool // URL: substituted values are escaped as path segments
}

type part struct {
	lit  string
	ref  string   // "" for a literal: topic, partition, offset, key or value
	path []string // the field path under key or value
}

// parseTemplate reads s; escape says it is a URL.
func parseTemplate(s string, escape bool) (*template, error) {
	t := &template{escape: escape}
	for s != "" {
		i := strings.Index(s, "${")
		if i < 0 {
			t.parts = append(t.parts, part{lit: s})
			break
		}
		if i > 0 {
			t.parts = append(t.parts, part{lit: s[:i]})
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 {
			return nil, fmt.Errorf("unterminated ${ in %q", s)
		}
		name := s[i+2 : i+j]
		s = s[i+j+1:]
		head, rest, _ := strings.Cut(name, ".")
		p := part{ref: head}
		if rest != "" {
			p.path = strings.Split(rest, ".")
		}
		switch {
		case (head == "topic" || head == "partition" || head == "offset") && rest == "":
		case head == "key" || (head == "value" && rest != ""):
		default:
			return nil, fmt.Errorf("unknown template ${%s}: use ${topic}, ${partition}, ${offset}, ${key}, ${key.field} or ${value.field}", name)
		}
		t.parts = append(t.parts, p)
	}
	return t, nil
}

// static reports whether the template holds no reference.
func (t *template) static() bool {
	for _, p := range t.parts {
		if p.ref != "" {
			return false
		}
	}
	return true
}

// literalPrefix returns the text before the first reference.
func (t *template) literalPrefix() string {
	if len(t.parts) > 0 && t.parts[0].ref == "" {
		return t.parts[0].lit
	}
	return ""
}

// hasKey reports whether the template references ${key}.
func (t *template) hasKey() bool {
	for _, p := range t.parts {
		if p.ref == "key" && len(p.path) == 0 {
			return true
		}
	}
	return false
}

// render fills the template from rec.
func (t *template) render(rec *connect.Record) (string, error) {
	if len(t.parts) == 1 && t.parts[0].ref == "" {
		return t.parts[0].lit, nil
	}
	var b strings.Builder
	for _, p := range t.parts {
		if p.ref == "" {
			b.WriteString(p.lit)
			continue
		}
		var s string
		switch p.ref {
		case "topic":
			s = rec.Topic
		case "partition":
			s = strconv.Itoa(int(rec.Partition))
		case "offset":
			s = strconv.FormatInt(rec.Offset, 10)
		case "key", "value":
			v := rec.Key
			if p.ref == "value" {
				v = rec.Value
			}
			f, err := field(v, p.path)
			if err != nil {
				return "", fmt.Errorf("${%s.%s}: %w", p.ref, strings.Join(p.path, "."), err)
			}
			if f == nil {
				return "", fmt.Errorf("${%s}: the %s is null", strings.Join(append([]string{p.ref}, p.path...), "."), p.ref)
			}
			s = text(f)
		}
		if t.escape {
			s = url.PathEscape(s)
		}
		b.WriteString(s)
	}
	return b.String(), nil
}

// field follows path through structs and maps.
func field(v any, path []string) (any, error) {
	for i, name := range path {
		switch x := v.(type) {
		case *connect.Struct:
			if _, ok := x.Schema().Field(name); !ok {
				return nil, fmt.Errorf("no field %q", strings.Join(path[:i+1], "."))
			}
			v = x.Get(name)
		case map[string]any:
			f, ok := x[name]
			if !ok {
				return nil, fmt.Errorf("no field %q", strings.Join(path[:i+1], "."))
			}
			v = f
		case nil:
			return nil, fmt.Errorf("field %q is null", strings.Join(path[:i], "."))
		default:
			return nil, errors.New("not a struct or map at " + strconv.Quote(strings.Join(path[:i], ".")))
		}
	}
	return v, nil
}

// text renders a key or field value: strings and bytes as they are, other
// scalars as Go prints them, structured values as JSON.
func text(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case []byte:
		return string(x)
	case *connect.Struct, map[string]any, []any:
		b, err := jsonOf(nil, v)
		if err != nil {
			return fmt.Sprint(v)
		}
		return string(b)
	}
	return fmt.Sprint(v)
}
