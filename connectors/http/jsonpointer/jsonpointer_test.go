package jsonpointer

import (
	"encoding/json"
	"testing"
)

func TestPointer(t *testing.T) {
	var doc any
	json.Unmarshal([]byte(`{"a/b":{"m~n":[10,{"c":"x"}]},"":1}`), &doc)
	for ptr, want := range map[string]any{"": doc, "/a~1b/m~0n/0": 10.0, "/a~1b/m~0n/1/c": "x", "/": 1.0} {
		p, err := Parse(ptr)
		if err != nil {
			t.Fatal(err)
		}
		got, ok := p.Get(doc)
		if b1, _ := json.Marshal(got); !ok || string(b1) != func() string { b, _ := json.Marshal(want); return string(b) }() {
			t.Errorf("%q: %v %v", ptr, got, ok)
		}
		if p.String() != ptr {
			t.Errorf("%q renders as %q", ptr, p.String())
		}
	}
	for _, ptr := range []string{"/a~1b/m~0n/2", "/a~1b/m~0n/x", "/nope", "/a~1b/m~0n/0/deeper"} {
		p, _ := Parse(ptr)
		if _, ok := p.Get(doc); ok {
			t.Errorf("%q found something", ptr)
		}
	}
	if _, err := Parse("a"); err == nil {
		t.Error("a pointer without / accepted")
	}
}
