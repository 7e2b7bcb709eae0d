package transforms

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/penstockhq/penstock/connect/config"
)

// javaDateFormat formats and parses times with a java.text.SimpleDateFormat
// pattern, as Kafka Connect's TimestampConverter and TimestampRouter do, in
// UTC. Patterns are interpreted directly rather than translated to a Go
// layout, because Go layouts cannot express some Java patterns (milliseconds
// not preceded by a dot, "yyyyMMdd" with fixed-width parsing).
//
// Supported letters: G y Y M L d D E u a H k K h m s S z Z X and quoted
// literals ('T', ” for a quote). Week-based letters (w W F) are rejected.
type javaDateFormat struct {
	pattern string
	tokens  []dateToken
}

type dateToken struct {
	letter byte // 0 for a literal
	count  int
	lit    string
}

// dateFormatValidator accepts a String that is a usable date pattern.
func dateFormatValidator() config.Validator {
	return validatorFunc("SimpleDateFormat pattern", func(v any) error {
		s, _ := v.(string)
		if s == "" {
			return nil
		}
		_, err := parseJavaDateFormat(s)
		return err
	})
}

func parseJavaDateFormat(pattern string) (*javaDateFormat, error) {
	f := &javaDateFormat{pattern: pattern}
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			f.tokens = append(f.tokens, dateToken{lit: lit.String()})
			lit.Reset()
		}
	}
	for i := 0; i < len(pattern); i++ {
		c := pattern[i]
		switch {
		case c == '\'':
			if i+1 < len(pattern) && pattern[i+1] == '\'' {
				lit.WriteByte('\'')
				i++
				continue
			}
			end := i + 1
			for {
				j := strings.IndexByte(pattern[end:], '\'')
				if j < 0 {
					return nil, fmt.Errorf("Unterminated quote in date pattern %q", pattern)
				}
				lit.WriteString(pattern[end : end+j])
				end += j + 1
				if end < len(pattern) && pattern[end] == '\'' { // '' inside quotes
					lit.WriteByte('\'')
					end++
					continue
				}
				break
			}
			i = end - 1
		case (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'):
			if !strings.ContainsRune("GyYMLdDEuaHkKhmsSzZX", rune(c)) {
				if strings.ContainsRune("wWF", rune(c)) {
					return nil, fmt.Errorf("pattern letter '%c' (week based) is not supported", c)
				}
				return nil, fmt.Errorf("Illegal pattern character '%c'", c)
			}
			n := 1
			for i+n < len(pattern) && pattern[i+n] == c {
				n++
			}
			flush()
			f.tokens = append(f.tokens, dateToken{letter: c, count: n})
			i += n - 1
		default:
			lit.WriteByte(c)
		}
	}
	flush()
	return f, nil
}

var (
	monthNames = []string{"January", "February", "March", "April", "May", "June", "July", "August",
		"September", "October", "November", "December"}
	dayNames = []string{"Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"}
)

func pad(b []byte, n, width int) []byte {
	if n < 0 {
		b = append(b, '-')
		n = -n
	}
	s := strconv.Itoa(n)
	for i := len(s); i < width; i++ {
		b = append(b, '0')
	}
	return append(b, s...)
}

// format renders t (converted to UTC) with the pattern.
func (f *javaDateFormat) format(t time.Time) string {
	t = t.UTC()
	b := make([]byte, 0, 32)
	for _, tk := range f.tokens {
		n := tk.count
		switch tk.letter {
		case 0:
			b = append(b, tk.lit...)
		case 'G':
			if t.Year() > 0 {
				b = append(b, "AD"...)
			} else {
				b = append(b, "BC"...)
			}
		case 'y', 'Y':
			if n == 2 {
				b = pad(b, t.Year()%100, 2)
			} else {
				b = pad(b, t.Year(), n)
			}
		case 'M', 'L':
			switch {
			case n >= 4:
				b = append(b, monthNames[t.Month()-1]...)
			case n == 3:
				b = append(b, monthNames[t.Month()-1][:3]...)
			default:
				b = pad(b, int(t.Month()), n)
			}
		case 'd':
			b = pad(b, t.Day(), n)
		case 'D':
			b = pad(b, t.YearDay(), n)
		case 'E':
			if n >= 4 {
				b = append(b, dayNames[t.Weekday()]...)
			} else {
				b = append(b, dayNames[t.Weekday()][:3]...)
			}
		case 'u':
			d := int(t.Weekday())
			if d == 0 {
				d = 7
			}
			b = pad(b, d, n)
		case 'a':
			if t.Hour() < 12 {
				b = append(b, "AM"...)
			} else {
				b = append(b, "PM"...)
			}
		case 'H':
			b = pad(b, t.Hour(), n)
		case 'k':
			h := t.Hour()
			if h == 0 {
				h = 24
			}
			b = pad(b, h, n)
		case 'K':
			b = pad(b, t.Hour()%12, n)
		case 'h':
			h := t.Hour() % 12
			if h == 0 {
				h = 12
			}
			b = pad(b, h, n)
		case 'm':
			b = pad(b, t.Minute(), n)
		case 's':
			b = pad(b, t.Second(), n)
		case 'S':
			b = pad(b, t.Nanosecond()/1e6, n)
		case 'z':
			if n >= 4 {
				b = append(b, "Coordinated Universal Time"...)
			} else {
				b = append(b, "UTC"...)
			}
		case 'Z':
			b = append(b, "+0000"...)
		case 'X':
			b = append(b, 'Z')
		}
	}
	return string(b)
}

func isNumericToken(tk dateToken) bool {
	switch tk.letter {
	case 'y', 'Y', 'd', 'D', 'u', 'H', 'k', 'K', 'h', 'm', 's', 'S':
		return true
	case 'M', 'L':
		return tk.count <= 2
	}
	return false
}

// parse reads s with the pattern; the result is in UTC. A numeric field
// directly followed by another numeric field reads exactly as many digits as
// the pattern letter repeats ("yyyyMMdd"), otherwise as many as there are.
func (f *javaDateFormat) parse(s string) (time.Time, error) {
	year, month, day, yday := 1970, 1, 1, 0
	hour, minute, sec, milli := 0, 0, 0, 0
	pm, have12 := false, false
	offset := 0
	bc := false
	pos := 0
	fail := func(what string) (time.Time, error) {
		return time.Time{}, fmt.Errorf("unparseable date %q for pattern %q: %s at position %d", s, f.pattern, what, pos)
	}
	for i, tk := range f.tokens {
		if tk.letter == 0 {
			if !strings.HasPrefix(s[pos:], tk.lit) {
				return fail(fmt.Sprintf("expected %q", tk.lit))
			}
			pos += len(tk.lit)
			continue
		}
		if isNumericToken(tk) {
			width := 0
			if i+1 < len(f.tokens) && isNumericToken(f.tokens[i+1]) {
				width = tk.count
			}
			start := pos
			neg := false
			if (tk.letter == 'y' || tk.letter == 'Y') && pos < len(s) && s[pos] == '-' && width == 0 {
				neg = true
				pos++
			}
			end := pos
			for end < len(s) && s[end] >= '0' && s[end] <= '9' && (width == 0 || end-pos < width) {
				end++
			}
			if end == pos || (width > 0 && end-pos < width) {
				pos = start
				return fail("expected a number")
			}
			n, err := strconv.Atoi(s[pos:end])
			if err != nil {
				return fail("number out of range")
			}
			digits := end - pos
			pos = end
			if neg {
				n = -n
			}
			switch tk.letter {
			case 'y', 'Y':
				if tk.count <= 2 && digits == 2 && !neg {
					// Java's two-digit year: within 80 years before and 20 after now.
					startYear := time.Now().Year() - 80
					n += startYear / 100 * 100
					if n < startYear {
						n += 100
					}
				}
				year = n
			case 'M', 'L':
				month = n
			case 'd':
				day = n
			case 'D':
				yday = n
			case 'u':
			case 'H':
				hour = n
			case 'k':
				hour = n % 24
			case 'K', 'h':
				hour, have12 = n%12, true
			case 'm':
				minute = n
			case 's':
				sec = n
			case 'S':
				milli = n
			}
			continue
		}
		switch tk.letter {
		case 'G':
			switch {
			case strings.HasPrefix(s[pos:], "AD"):
			case strings.HasPrefix(s[pos:], "BC"):
				bc = true
			default:
				return fail("expected AD or BC")
			}
			pos += 2
		case 'M', 'L':
			m, n := matchName(s[pos:], monthNames)
			if m < 0 {
				return fail("expected a month name")
			}
			month, pos = m+1, pos+n
		case 'E':
			d, n := matchName(s[pos:], dayNames)
			if d < 0 {
				return fail("expected a day name")
			}
			pos += n
		case 'a':
			switch {
			case hasPrefixFold(s[pos:], "AM"):
			case hasPrefixFold(s[pos:], "PM"):
				pm = true
			default:
				return fail("expected AM or PM")
			}
			pos += 2
		case 'z', 'Z', 'X':
			off, n, err := parseZone(s[pos:])
			if err != nil {
				return fail(err.Error())
			}
			offset, pos = off, pos+n
		}
	}
	if pos != len(s) {
		return fail("unexpected trailing text")
	}
	if have12 && pm {
		hour += 12
	}
	if bc {
		year = 1 - year
	}
	var t time.Time
	if yday > 0 {
		t = time.Date(year, 1, yday, hour, minute, sec, 0, time.UTC)
	} else {
		t = time.Date(year, time.Month(month), day, hour, minute, sec, 0, time.UTC)
	}
	t = t.Add(time.Duration(milli) * time.Millisecond)
	return t.Add(-time.Duration(offset) * time.Second), nil
}

func hasPrefixFold(s, p string) bool { return len(s) >= len(p) && strings.EqualFold(s[:len(p)], p) }

// matchName finds the full or three-letter name at the start of s.
func matchName(s string, names []string) (int, int) {
	for i, n := range names {
		if hasPrefixFold(s, n) {
			return i, len(n)
		}
	}
	for i, n := range names {
		if hasPrefixFold(s, n[:3]) {
			return i, 3
		}
	}
	return -1, 0
}

// parseZone reads "Z", "UTC", "GMT", an offset "+hh", "+hhmm", "+hh:mm",
// optionally after "GMT"/"UTC"; it returns the offset east of UTC in seconds.
func parseZone(s string) (int, int, error) {
	n := 0
	for _, name := range []string{"Coordinated Universal Time", "UTC", "GMT"} {
		if strings.HasPrefix(s, name) {
			n = len(name)
			break
		}
	}
	if n == 0 && strings.HasPrefix(s, "Z") {
		return 0, 1, nil
	}
	rest := s[n:]
	if rest == "" || (rest[0] != '+' && rest[0] != '-') {
		if n > 0 {
			return 0, n, nil
		}
		return 0, 0, errors.New("expected a time zone")
	}
	sign := 1
	if rest[0] == '-' {
		sign = -1
	}
	digits := func(s string, k int) (int, bool) {
		if len(s) < k {
			return 0, false
		}
		v, err := strconv.Atoi(s[:k])
		return v, err == nil && s[0] != '+' && s[0] != '-'
	}
	h, ok := digits(rest[1:], 2)
	if !ok {
		return 0, 0, errors.New("expected a time zone offset")
	}
	used := 3
	m := 0
	if len(rest) >= 6 && rest[3] == ':' {
		if m, ok = digits(rest[4:], 2); ok {
			used = 6
		}
	} else if v, ok2 := digits(rest[3:], 2); ok2 {
		m, used = v, 5
	}
	return sign * (h*3600 + m*60), n + used, nil
}
