package sink

import (
	"encoding/json"
	"testing"

	"github.com/tidwall/gjson"
)

// validCases are edge cases of JSON validity: numbers, escapes, control
// characters, trailing commas and garbage, whitespace.
var validCases = []string{``, ` `, `1`, `-`, `-0`, `01`, `1.`, `1.e5`, `1e`, `1e+`, `1E+5`, `"a`, `"a\"`, `"\u12"`,
	`"\u12zz"`, `"\x"`, "\"a\tb\"", "\"a\x01\"", `[1,]`, `{"a":1,}`, `{"a" 1}`, `{a:1}`, `[1 2]`, `nul`, `null `, ` true`,
	`tru`, `falsey`, `1 2`, `{"a":[1,{"b":null}]}`, `"\ud800"`, "\"\xff\"", `[`, `]`, `{}`, `[]`, `{"a":1}}`, `[1]]`,
	`0.5`, `.5`, `+1`, `1e5`, `-1.5E-3`, `"\/"`, `"\b\f\n\r\t"`, "\x00", `[,1]`, `{,}`, `{"a":}`, `Infinity`, `NaN`,
	"1\n", "\t[1]\r\n", `{"id":1,"name":"record 1","amount":1.25,"tags":["a","b"]}`}

// TestValidJSON checks that the sink's JSON check (gjson's, for speed)
// accepts exactly what encoding/json does: a string value that is JSON is
// sent as it is, any other is sent as a JSON string.
func TestValidJSON(t *testing.T) {
	for _, c := range validCases {
		if want, got := json.Valid([]byte(c)), gjson.Valid(c); got != want {
			t.Errorf("%q: gjson.Valid %v, encoding/json %v", c, got, want)
		}
	}
}

func FuzzValidJSON(f *testing.F) {
	for _, c := range validCases {
		f.Add(c)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if want, got := json.Valid([]byte(s)), gjson.Valid(s); got != want {
			t.Errorf("%q: gjson.Valid %v, encoding/json %v", s, got, want)
		}
	})
}
