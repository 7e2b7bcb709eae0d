// Package jaas reads the one-line JAAS configurations Kafka puts in
// sasl.jaas.config, such as
//
//	org.apache.kafka.common.security.plain.PlainLoginModule required username="alice" password="s3cret";
//
// Brokers and clients both need only the login module's class and its
// options.
package jaas

import (
	"fmt"
	"strings"
)

// Config is a parsed login module entry.
type Config struct {
	// Module is the login module's class name.
	Module string
	// Flag is required, requisite, sufficient or optional.
	Flag string
	// Options are the key="value" pairs.
	Options map[string]string
}

// Parse reads one login module entry.
func Parse(s string) (Config, error) {
	var c Config
	s = strings.TrimSpace(s)
	s = strings.TrimSuffix(s, ";")
	fields := strings.Fields(s)
	if len(fields) < 2 {
		return c, fmt.Errorf("sasl.jaas.config: want \"<LoginModule> required key=\\\"value\\\" ...;\", got %q", s)
	}
	c.Module, c.Flag = fields[0], fields[1]
	c.Options = map[string]string{}
	rest := strings.TrimSpace(s[strings.Index(s, c.Flag)+len(c.Flag):])
	for rest != "" {
		eq := strings.IndexByte(rest, '=')
		if eq < 0 {
			return c, fmt.Errorf("sasl.jaas.config: option without value near %q", rest)
		}
		key := strings.TrimSpace(rest[:eq])
		rest = strings.TrimLeft(rest[eq+1:], " \t")
		var val string
		if strings.HasPrefix(rest, `"`) {
			var b strings.Builder
			i := 1
			for ; i < len(rest) && rest[i] != '"'; i++ {
				if rest[i] == '\\' && i+1 < len(rest) {
					i++
				}
				b.WriteByte(rest[i])
			}
			if i >= len(rest) {
				return c, fmt.Errorf("sasl.jaas.config: unterminated quote in option %s", key)
			}
			val, rest = b.String(), rest[i+1:]
		} else {
			end := strings.IndexAny(rest, " \t")
			if end < 0 {
				end = len(rest)
			}
			val, rest = rest[:end], rest[end:]
		}
		c.Options[key] = val
		rest = strings.TrimSpace(rest)
	}
	return c, nil
}
