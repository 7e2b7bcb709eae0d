package properties

import (
	"bufio"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
)

// Write writes props as Java properties lines, keys sorted, escaped so that
// Parse (and Java's Properties.load, which reads ISO-8859-1) reads back the
// same map: separators and comment marks in keys, leading spaces in values,
// control characters and every non-ASCII rune as \uXXXX.
func Write(w io.Writer, props map[string]string) error {
	bw := bufio.NewWriter(w)
	for _, k := range slices.Sorted(maps.Keys(props)) {
		fmt.Fprintf(bw, "%s=%s\n", escape(k, true), escape(props[k], false))
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write properties: %w", err)
	}
	return nil
}

// escape escapes a key (every space, '=' and ':' too) or a value (only a
// leading space); both escape '#' and '!' at the start, backslashes, control
// characters and non-ASCII runes of the Basic Multilingual Plane (runes
// above it stay UTF-8, which Parse reads).
func escape(s string, key bool) string {
	var b strings.Builder
	for i, r := range s {
		switch {
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\f':
			b.WriteString(`\f`)
		case r == ' ' && (key || i == 0):
			b.WriteString(`\ `)
		case (r == '=' || r == ':') && key:
			b.WriteByte('\\')
			b.WriteRune(r)
		case (r == '#' || r == '!') && i == 0:
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || (r > 0x7e && r <= 0xffff):
			fmt.Fprintf(&b, `\u%04x`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}
