package transforms

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/penstockhq/penstock/connect/config"
)

// compileFull compiles a Java-style regular expression so that it matches
// only a whole input, as Java's Matcher.matches does. Go's RE2 syntax covers
// what topic patterns use, including named groups (?<name>...); constructs
// RE2 lacks (look-around, backreferences, possessive quantifiers) fail here
// with the compiler's message.
func compileFull(expr string) (*regexp.Regexp, error) {
	if _, err := regexp.Compile(expr); err != nil {
		return nil, err
	}
	return regexp.Compile(`^(?:` + expr + `)$`)
}

// regexValidator accepts a String that compiles with compileFull.
func regexValidator() config.Validator {
	return validatorFunc("valid regex", func(v any) error {
		s, _ := v.(string)
		if _, err := compileFull(s); err != nil {
			return fmt.Errorf("Invalid regex: %v", err)
		}
		return nil
	})
}

// javaReplacement translates a replacement string of Java's
// Matcher.replaceFirst into a template for Go's Regexp.Expand: "$1" and
// "${name}" refer to groups, a backslash makes the next character literal,
// and a literal "$" becomes "$$". Java reads a group number greedily only
// while it names an existing group ("$10" with one group is group 1 then "0"),
// so numbers are emitted braced ("${1}0"), where Go would read "$10" as a
// group called "10".
func javaReplacement(repl string, re *regexp.Regexp) (string, error) {
	var b strings.Builder
	groups := re.NumSubexp()
	for i := 0; i < len(repl); i++ {
		c := repl[i]
		switch c {
		case '\\':
			i++
			if i >= len(repl) {
				return "", errors.New("character to be escaped is missing")
			}
			if repl[i] == '$' {
				b.WriteString("$$")
			} else {
				b.WriteByte(repl[i])
			}
		case '$':
			i++
			if i >= len(repl) {
				return "", errors.New("Illegal group reference: group index is missing")
			}
			if repl[i] == '{' {
				end := strings.IndexByte(repl[i:], '}')
				if end < 0 {
					return "", errors.New("named capturing group is missing trailing '}'")
				}
				name := repl[i+1 : i+end]
				if name == "" {
					return "", errors.New("named capturing group has 0 length name")
				}
				if re.SubexpIndex(name) < 0 {
					return "", fmt.Errorf("No group with name {%s}", name)
				}
				b.WriteString("${" + name + "}")
				i += end
				continue
			}
			if repl[i] < '0' || repl[i] > '9' {
				return "", errors.New("Illegal group reference")
			}
			g := int(repl[i] - '0')
			for i+1 < len(repl) && repl[i+1] >= '0' && repl[i+1] <= '9' {
				n := g*10 + int(repl[i+1]-'0')
				if n > groups {
					break
				}
				g = n
				i++
			}
			if g > groups {
				return "", fmt.Errorf("No group %d", g)
			}
			b.WriteString("${" + strconv.Itoa(g) + "}")
		default:
			b.WriteByte(c)
		}
	}
	return b.String(), nil
}

// replacer is a compiled regex and translated replacement: Java's
// "if (matcher.matches()) matcher.replaceFirst(replacement)".
type replacer struct {
	re       *regexp.Regexp
	template string
}

func newReplacer(regex, replacement string) (*replacer, error) {
	re, err := compileFull(regex)
	if err != nil {
		return nil, err
	}
	t, err := javaReplacement(replacement, re)
	if err != nil {
		return nil, err
	}
	return &replacer{re: re, template: t}, nil
}

// replace returns the replacement of s and true when the regex matches all of s.
func (r *replacer) replace(s string) (string, bool) {
	m := r.re.FindStringSubmatchIndex(s)
	if m == nil {
		return "", false
	}
	return string(r.re.ExpandString(nil, r.template, s, m)), true
}

// topicRouter caches the routing of topic names: there are few topics and
// many records.
type topicRouter struct {
	r     *replacer
	cache stringCache[routed]
}

type routed struct {
	topic   string
	matched bool
}

func (t *topicRouter) route(topic string) (string, bool) {
	if v, ok := t.cache.get(topic); ok {
		return v.topic, v.matched
	}
	out, ok := t.r.replace(topic)
	t.cache.put(topic, routed{out, ok})
	return out, ok
}
