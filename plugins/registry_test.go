package plugins

import (
	"strings"
	"testing"
)

func TestRegisterRejectsTakenNames(t *testing.T) {
	var r Registry
	p := Converters[0]
	if err := r.Register(p); err != nil {
		t.Fatal(err)
	}
	dup := p
	dup.Class = "com.example.JsonConverter" // same simple name
	if err := r.Register(dup); err == nil || !strings.Contains(err.Error(), "JsonConverter") {
		t.Fatalf("duplicate simple name accepted: %v", err)
	}
}
