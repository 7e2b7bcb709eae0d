package converters

import (
	"errors"
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// jsonNumber is a JSON number token kept as written, so that a schema can
// decide what it is (an int8, a float, a Decimal of full precision, ...).
type jsonNumber string

// integral reports whether the number has neither fraction nor exponent.
func (n jsonNumber) integral() bool {
	for i := 0; i < len(n); i++ {
		switch n[i] {
		case '.', 'e', 'E':
			return false
		}
	}
	return true
}

// maxDepth bounds the nesting of parsed JSON, so hostile input cannot exhaust
// the stack.
const maxDepth = 1000

// parser is a small JSON parser over a byte slice. It exists so that the JSON
// converter can find the raw bytes of the envelope's schema (its cache key)
// without decoding them, keep number tokens exact, and build Go values
// without reflection.
type parser struct {
	data []byte
	pos  int
	// rawNumbers makes numbers come out as jsonNumber; otherwise integral
	// numbers are int64 (float64 when they overflow) and the others float64,
	// as Kafka Connect's schemaless mode gives Long and Double.
	rawNumbers bool
	depth      int
}

// syntaxError describes malformed JSON with the byte offset where it was found.
type syntaxError struct {
	offset int
	msg    string
}

func (e *syntaxError) Error() string {
	return fmt.Sprintf("invalid JSON at offset %d: %s", e.offset, e.msg)
}

func (p *parser) fail(msg string) error { return &syntaxError{offset: p.pos, msg: msg} }

func (p *parser) skipWS() {
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return
		}
	}
}

// end checks that only whitespace follows the value just parsed.
func (p *parser) end() error {
	p.skipWS()
	if p.pos != len(p.data) {
		return p.fail("unexpected data after the JSON value")
	}
	return nil
}

// value parses one JSON value: nil, bool, string, a number (see rawNumbers),
// []any or map[string]any.
func (p *parser) value() (any, error) {
	p.skipWS()
	if p.pos >= len(p.data) {
		return nil, p.fail("unexpected end of input")
	}
	switch c := p.data[p.pos]; c {
	case '{':
		return p.object()
	case '[':
		return p.array()
	case '"':
		return p.str()
	case 't':
		return true, p.literal("true")
	case 'f':
		return false, p.literal("false")
	case 'n':
		return nil, p.literal("null")
	default:
		if c == '-' || (c >= '0' && c <= '9') {
			tok, err := p.number()
			if err != nil {
				return nil, err
			}
			if p.rawNumbers {
				return jsonNumber(tok), nil
			}
			return plainNumber(tok)
		}
		return nil, p.fail(fmt.Sprintf("unexpected character %q", c))
	}
}

// plainNumber converts a number token as schemaless Kafka Connect does:
// integral numbers to int64, others to float64.
func plainNumber(tok []byte) (any, error) {
	n := jsonNumber(tok)
	if n.integral() {
		if i, err := strconv.ParseInt(string(n), 10, 64); err == nil {
			return i, nil
		}
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return nil, fmt.Errorf("number %s: %w", tok, err)
	}
	return f, nil
}

func (p *parser) literal(word string) error {
	if len(p.data)-p.pos < len(word) || string(p.data[p.pos:p.pos+len(word)]) != word {
		return p.fail("invalid literal, expected " + word)
	}
	p.pos += len(word)
	return nil
}

// number scans a number token. Leading zeros are accepted ("0012"), as
// Kafka Connect's deserializer accepts them.
func (p *parser) number() ([]byte, error) {
	start := p.pos
	if p.data[p.pos] == '-' {
		p.pos++
	}
	digits := func() int {
		n := 0
		for p.pos < len(p.data) && p.data[p.pos] >= '0' && p.data[p.pos] <= '9' {
			p.pos++
			n++
		}
		return n
	}
	if digits() == 0 {
		return nil, p.fail("invalid number")
	}
	if p.pos < len(p.data) && p.data[p.pos] == '.' {
		p.pos++
		if digits() == 0 {
			return nil, p.fail("invalid number: no digits after the decimal point")
		}
	}
	if p.pos < len(p.data) && (p.data[p.pos] == 'e' || p.data[p.pos] == 'E') {
		p.pos++
		if p.pos < len(p.data) && (p.data[p.pos] == '+' || p.data[p.pos] == '-') {
			p.pos++
		}
		if digits() == 0 {
			return nil, p.fail("invalid number: no digits in the exponent")
		}
	}
	return p.data[start:p.pos], nil
}

func (p *parser) enter() error {
	p.depth++
	if p.depth > maxDepth {
		return p.fail("nested too deeply")
	}
	return nil
}

func (p *parser) object() (any, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	p.pos++ // {
	m := map[string]any{}
	p.skipWS()
	if p.pos < len(p.data) && p.data[p.pos] == '}' {
		p.pos++
		p.depth--
		return m, nil
	}
	for {
		p.skipWS()
		if p.pos >= len(p.data) || p.data[p.pos] != '"' {
			return nil, p.fail("expected a string object key")
		}
		k, err := p.str()
		if err != nil {
			return nil, err
		}
		p.skipWS()
		if p.pos >= len(p.data) || p.data[p.pos] != ':' {
			return nil, p.fail("expected ':' after object key")
		}
		p.pos++
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		m[k] = v
		p.skipWS()
		if p.pos >= len(p.data) {
			return nil, p.fail("unterminated object")
		}
		switch p.data[p.pos] {
		case ',':
			p.pos++
		case '}':
			p.pos++
			p.depth--
			return m, nil
		default:
			return nil, p.fail("expected ',' or '}' in object")
		}
	}
}

func (p *parser) array() (any, error) {
	if err := p.enter(); err != nil {
		return nil, err
	}
	p.pos++ // [
	a := []any{}
	p.skipWS()
	if p.pos < len(p.data) && p.data[p.pos] == ']' {
		p.pos++
		p.depth--
		return a, nil
	}
	for {
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		a = append(a, v)
		p.skipWS()
		if p.pos >= len(p.data) {
			return nil, p.fail("unterminated array")
		}
		switch p.data[p.pos] {
		case ',':
			p.pos++
		case ']':
			p.pos++
			p.depth--
			return a, nil
		default:
			return nil, p.fail("expected ',' or ']' in array")
		}
	}
}

// str parses a string starting at its opening quote.
func (p *parser) str() (string, error) {
	p.pos++ // opening quote
	start := p.pos
	ascii := true
	for p.pos < len(p.data) {
		c := p.data[p.pos]
		switch {
		case c == '"':
			s := p.data[start:p.pos]
			p.pos++
			if !ascii && !utf8.Valid(s) {
				return string([]rune(string(s))), nil // replaces invalid bytes by U+FFFD
			}
			return string(s), nil
		case c == '\\':
			return p.strSlow(start)
		case c < 0x20:
			return "", p.fail("control character in string")
		case c >= 0x80:
			ascii = false
		}
		p.pos++
	}
	return "", p.fail("unterminated string")
}

// strSlow decodes a string with escapes; p.pos is at the first backslash.
func (p *parser) strSlow(start int) (string, error) {
	buf := make([]byte, 0, p.pos-start+16)
	buf = append(buf, p.data[start:p.pos]...)
	for p.pos < len(p.data) {
		c := p.data[p.pos]
		switch {
		case c == '"':
			p.pos++
			if !utf8.Valid(buf) {
				return string([]rune(string(buf))), nil
			}
			return string(buf), nil
		case c < 0x20:
			return "", p.fail("control character in string")
		case c != '\\':
			buf = append(buf, c)
			p.pos++
			continue
		}
		p.pos++
		if p.pos >= len(p.data) {
			break
		}
		e := p.data[p.pos]
		p.pos++
		switch e {
		case '"', '\\', '/':
			buf = append(buf, e)
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			r, ok := p.hex4()
			if !ok {
				return "", p.fail("invalid \\u escape")
			}
			if utf16.IsSurrogate(r) {
				r2 := rune(-1)
				if p.pos+1 < len(p.data) && p.data[p.pos] == '\\' && p.data[p.pos+1] == 'u' {
					save := p.pos
					p.pos += 2
					var ok2 bool
					if r2, ok2 = p.hex4(); !ok2 {
						return "", p.fail("invalid \\u escape")
					}
					if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
						r = d
					} else {
						p.pos = save
						r = utf8.RuneError
					}
				} else {
					r = utf8.RuneError
				}
			}
			buf = utf8.AppendRune(buf, r)
		default:
			return "", p.fail(fmt.Sprintf("invalid escape \\%c", e))
		}
	}
	return "", p.fail("unterminated string")
}

func (p *parser) hex4() (rune, bool) {
	if len(p.data)-p.pos < 4 {
		return 0, false
	}
	var r rune
	for _, c := range p.data[p.pos : p.pos+4] {
		var d byte
		switch {
		case c >= '0' && c <= '9':
			d = c - '0'
		case c >= 'a' && c <= 'f':
			d = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			d = c - 'A' + 10
		default:
			return 0, false
		}
		r = r<<4 | rune(d)
	}
	p.pos += 4
	return r, true
}

// skip checks the syntax of the next value and moves past it, returning its
// raw bytes (without surrounding whitespace). It allocates nothing.
func (p *parser) skip() ([]byte, error) {
	p.skipWS()
	start := p.pos
	if p.pos >= len(p.data) {
		return nil, p.fail("unexpected end of input")
	}
	switch c := p.data[p.pos]; {
	case c == '{' || c == '[':
		if err := p.enter(); err != nil {
			return nil, err
		}
		closing := byte('}')
		if c == '[' {
			closing = ']'
		}
		p.pos++
		p.skipWS()
		if p.pos < len(p.data) && p.data[p.pos] == closing {
			p.pos++
			p.depth--
			return p.data[start:p.pos], nil
		}
		for {
			if c == '{' {
				p.skipWS()
				if p.pos >= len(p.data) || p.data[p.pos] != '"' {
					return nil, p.fail("expected a string object key")
				}
				if err := p.skipString(); err != nil {
					return nil, err
				}
				p.skipWS()
				if p.pos >= len(p.data) || p.data[p.pos] != ':' {
					return nil, p.fail("expected ':' after object key")
				}
				p.pos++
			}
			if _, err := p.skip(); err != nil {
				return nil, err
			}
			p.skipWS()
			if p.pos >= len(p.data) {
				return nil, p.fail("unterminated " + map[byte]string{'{': "object", '[': "array"}[c])
			}
			if p.data[p.pos] == ',' {
				p.pos++
				continue
			}
			if p.data[p.pos] == closing {
				p.pos++
				p.depth--
				return p.data[start:p.pos], nil
			}
			return nil, p.fail(fmt.Sprintf("expected ',' or '%c'", closing))
		}
	case c == '"':
		if err := p.skipString(); err != nil {
			return nil, err
		}
	case c == 't':
		if err := p.literal("true"); err != nil {
			return nil, err
		}
	case c == 'f':
		if err := p.literal("false"); err != nil {
			return nil, err
		}
	case c == 'n':
		if err := p.literal("null"); err != nil {
			return nil, err
		}
	case c == '-' || (c >= '0' && c <= '9'):
		if _, err := p.number(); err != nil {
			return nil, err
		}
	default:
		return nil, p.fail(fmt.Sprintf("unexpected character %q", c))
	}
	return p.data[start:p.pos], nil
}

func (p *parser) skipString() error {
	p.pos++
	for p.pos < len(p.data) {
		switch c := p.data[p.pos]; {
		case c == '"':
			p.pos++
			return nil
		case c == '\\':
			p.pos += 2
			continue
		case c < 0x20:
			return p.fail("control character in string")
		}
		p.pos++
	}
	return p.fail("unterminated string")
}

// isNull reports whether raw is the JSON literal null.
func isNull(raw []byte) bool { return string(raw) == "null" }
