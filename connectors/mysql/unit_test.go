package mysql

import (
	"reflect"
	"testing"
)

func TestValueParsers(t *testing.T) {
	for _, c := range []struct {
		s     string
		scale int32
		want  int64
		ok    bool
	}{{"1234.567", 3, 1234567, true}, {"-0.5", 2, -50, true}, {"7", 2, 700, true}, {"1.2345", 2, 0, false},
		{"1234567890123456789", 0, 0, false}, {"1e5", 0, 0, false}} {
		n, ok := smallDecimal(c.s, c.scale)
		if n != c.want || ok != c.ok {
			t.Errorf("smallDecimal(%q, %d) = %d, %v", c.s, c.scale, n, ok)
		}
	}
	for s, want := range map[string]int64{"00:00:00": 0, "-838:59:59.000000": -3020399000000, "01:02:03.45": 3723450000} {
		if us, err := parseTimeMicros(s); err != nil || us != want {
			t.Errorf("parseTimeMicros(%q) = %d, %v", s, us, err)
		}
	}
	if us, zero, err := parseDatetimeMicros("1969-12-31 23:59:59.5"); err != nil || zero || us != -500000 {
		t.Errorf("parseDatetimeMicros = %d %v %v", us, zero, err)
	}
	if _, zero, _ := parseDatetimeMicros("0000-00-00 00:00:00"); !zero {
		t.Error("zero datetime not seen")
	}
	for _, c := range []struct {
		us   int64
		fsp  int
		want string
	}{{0, 0, "1970-01-01T00:00:00Z"}, {1709208000500000, 3, "2024-02-29T12:00:00.500Z"}, {-1, 6, "1969-12-31T23:59:59.999999Z"}} {
		if got := formatZoned(c.us, c.fsp); got != c.want {
			t.Errorf("formatZoned(%d, %d) = %s", c.us, c.fsp, got)
		}
	}
	if got := parseEnumValues(`enum('a','it''s','b,c')`); !reflect.DeepEqual(got, []string{"a", "it's", "b,c"}) {
		t.Errorf("parseEnumValues = %q", got)
	}
	if n := stringLength(0xfe00 | 3); n != 3 { // CHAR(3) of a single-byte charset
		t.Errorf("stringLength = %d", n)
	}
}

// The canonical datetime fast path and the text-protocol (byte) parsers
// agree with the general string path: a 'T' separator takes the latter.
func TestDatetimeParsePaths(t *testing.T) {
	for _, s := range []string{"1969-12-31 23:59:59.5", "0000-00-00 00:00:00", "2024-00-10 01:02:03", "0001-01-01 00:00:00.000001",
		"9999-12-31 23:59:59.999999", "2024-02-29 12:00:00.123", "2024-02-29 12:00:00.", "1970-01-01 00:00:00"} {
		us, zero, err := parseDatetimeMicros(s)
		general := s[:10] + "T" + s[11:]
		gus, gzero, gerr := parseDatetimeMicros(general)
		bus, bzero, berr := parseDatetimeMicros([]byte(s))
		if err != nil || gerr != nil || berr != nil || us != gus || zero != gzero || us != bus || zero != bzero {
			t.Errorf("%q: %d %v %v; general %d %v %v; bytes %d %v %v", s, us, zero, err, gus, gzero, gerr, bus, bzero, berr)
		}
	}
	for _, s := range []string{"2024-01-0x 00:00:00", "2024-01", "", "2024-01-01 00:00"} {
		if _, _, err := parseDatetimeMicros(s); err == nil {
			t.Errorf("%q parsed", s)
		}
		if _, _, err := parseDatetimeMicros([]byte(s)); err == nil {
			t.Errorf("%q parsed as bytes", s)
		}
	}
	for s, want := range map[string]int64{"00:00:00": 0, "-838:59:59.000000": -3020399000000, "01:02:03.45": 3723450000} {
		if us, err := parseTimeMicros([]byte(s)); err != nil || us != want {
			t.Errorf("parseTimeMicros(%q) = %d, %v", s, us, err)
		}
	}
	for _, s := range []string{"1:2", "1:2:3:4", "a:00:00"} {
		if _, err := parseTimeMicros(s); err == nil {
			t.Errorf("parseTimeMicros(%q) parsed", s)
		}
	}
}
