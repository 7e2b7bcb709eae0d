package config

import (
	"strings"
	"testing"
	"time"
)

type bound struct {
	host    string
	port    int
	size    int64
	ratio   float64
	on      bool
	tags    []string
	secret  Secret
	mode    string
	modes   []string
	wait    time.Duration
	timeout time.Duration
}

var testBinding = Bind(
	StringField(Key{Name: "host", Required: true, Doc: "host"}, func(b *bound) *string { return &b.host }),
	IntField(Key{Name: "port", Default: 80}, func(b *bound) *int { return &b.port }),
	LongField(Key{Name: "size", Default: int64(5)}, func(b *bound) *int64 { return &b.size }),
	DoubleField(Key{Name: "ratio", Default: 0.5}, func(b *bound) *float64 { return &b.ratio }),
	BoolField(Key{Name: "on", Default: true}, func(b *bound) *bool { return &b.on }),
	ListField(Key{Name: "tags", Default: []string{}}, func(b *bound) *[]string { return &b.tags }),
	PasswordField(Key{Name: "secret"}, func(b *bound) *Secret { return &b.secret }),
	StringField(Key{Name: "mode", Default: "fast", Validator: OneOf("fast", "SAFE")}, func(b *bound) *string { return &b.mode }),
	ListField(Key{Name: "modes", Default: []string{}, Validator: OneOf("c", "u")}, func(b *bound) *[]string { return &b.modes }),
	DurationField(Key{Name: "wait.ms", Default: 2 * time.Second}, func(b *bound) *time.Duration { return &b.wait }),
	DurationField(Key{Name: "timeout.ms", Type: Int, Default: 1500 * time.Millisecond}, func(b *bound) *time.Duration { return &b.timeout }),
	OnlyKey[bound](Key{Name: "legacy", Type: String}),
)

func TestBindingDeclaresOnceAndReadsTyped(t *testing.T) {
	var b bound
	v, err := testBinding.Parse(map[string]string{"host": "h", "tags": "a, b", "secret": "s3", "mode": "safe",
		"modes": "C,u", "timeout.ms": "250", "legacy": "x"}, &b)
	if err != nil {
		t.Fatal(err)
	}
	if b.host != "h" || b.port != 80 || b.size != 5 || b.ratio != 0.5 || !b.on || strings.Join(b.tags, "|") != "a|b" ||
		b.secret.Value() != "s3" || b.wait != 2*time.Second || b.timeout != 250*time.Millisecond {
		t.Fatalf("%+v", b)
	}
	if b.mode != "SAFE" || strings.Join(b.modes, ",") != "c,u" {
		t.Fatalf("OneOf did not normalise case: %q %q", b.mode, b.modes)
	}
	if v.String("legacy") != "x" || v.Duration("timeout.ms") != 250*time.Millisecond {
		t.Fatal("values of the binding's Def")
	}
	k, _ := testBinding.Def().Key("wait.ms")
	if k.Type != Long || k.Default != int64(2000) {
		t.Fatalf("duration key %+v", k)
	}
	if k, _ := testBinding.Def().Key("timeout.ms"); k.Type != Int || k.Default != 1500 {
		t.Fatalf("int duration key %+v", k)
	}
	if _, err := testBinding.Parse(map[string]string{"mode": "slow"}, &b); err == nil ||
		!strings.Contains(err.Error(), MissingError("host").Error()) || !strings.Contains(err.Error(), "Invalid value slow for configuration mode") {
		t.Fatalf("errors: %v", err)
	}
}

func TestBindRejectsMisfitDefaults(t *testing.T) {
	for name, f := range map[string]func(){
		"int default on a long key": func() { LongField(Key{Name: "x", Default: 5}, func(b *bound) *int64 { return &b.size }) },
		"long type on a string":     func() { StringField(Key{Name: "x", Type: Long}, func(b *bound) *string { return &b.host }) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: no panic", name)
				}
			}()
			f()
		}()
	}
}
