package plugins

import (
	"strings"
	"testing"

	"github.com/penstockhq/penstock/connect"
)

// Builtin registers every catalogue without a name conflict, and every
// plugin's factory returns the interface its kind promises.
func TestBuiltinRegistersWithoutConflicts(t *testing.T) {
	r := Builtin()
	if len(r.List()) == 0 {
		t.Fatal("no plugins registered")
	}
	for _, p := range r.List() {
		inst := p.New()
		ok := false
		switch p.Kind {
		case Source:
			_, ok = inst.(connect.SourceConnector)
		case Sink:
			_, ok = inst.(connect.SinkConnector)
		case Converter:
			_, ok = inst.(connect.Converter)
		case HeaderConverter:
			_, ok = inst.(connect.HeaderConverter)
		case Transformation:
			_, ok = inst.(connect.Transformation)
		case Predicate:
			_, ok = inst.(connect.Predicate)
		}
		if !ok {
			t.Errorf("%s (%s): New returns %T", p.Class, p.Kind, inst)
		}
		if p.Config() == nil {
			t.Errorf("%s: no config definition", p.Class)
		}
		if p.Version == "" {
			t.Errorf("%s: no version", p.Class)
		}
	}
}

func TestAliasRules(t *testing.T) {
	r := Builtin()
	cases := []struct {
		class string
		kind  Kind
		names []string
	}{
		{"org.apache.kafka.connect.file.FileStreamSourceConnector", Source,
			[]string{"org.apache.kafka.connect.file.FileStreamSourceConnector", "FileStreamSourceConnector", "FileStreamSource", "file-source"}},
		{"org.apache.kafka.connect.file.FileStreamSinkConnector", Sink,
			[]string{"FileStreamSinkConnector", "FileStreamSink", "file-sink"}},
		{"io.penstock.connect.datagen.DatagenConnector", Source,
			[]string{"DatagenConnector", "Datagen", "datagen", "io.confluent.kafka.connect.datagen.DatagenConnector"}},
		{"org.apache.kafka.connect.json.JsonConverter", Converter,
			[]string{"org.apache.kafka.connect.json.JsonConverter", "JsonConverter", "Json", " JsonConverter "}},
		{"org.apache.kafka.connect.storage.StringConverter", Converter,
			[]string{"org.apache.kafka.connect.storage.StringConverter", "StringConverter"}},
		{"org.apache.kafka.connect.converters.ByteArrayConverter", Converter,
			[]string{"org.apache.kafka.connect.converters.ByteArrayConverter", "ByteArrayConverter", "ByteArray"}},
		{"org.apache.kafka.connect.storage.SimpleHeaderConverter", HeaderConverter,
			[]string{"org.apache.kafka.connect.storage.SimpleHeaderConverter", "SimpleHeaderConverter"}},
	}
	for _, tc := range cases {
		for _, n := range tc.names {
			p, err := r.LookupKind(n, tc.kind)
			if err != nil {
				t.Errorf("%q: %v", n, err)
				continue
			}
			if p.Class != tc.class {
				t.Errorf("%q resolved to %s, want %s", n, p.Class, tc.class)
			}
		}
	}
}

func TestUnknownNameListsWhatExists(t *testing.T) {
	r := Builtin()
	_, err := r.LookupKind("com.example.NoSuchConverter", Converter)
	if err == nil {
		t.Fatal("unknown converter resolved")
	}
	for _, want := range []string{"com.example.NoSuchConverter", "org.apache.kafka.connect.json.JsonConverter",
		"org.apache.kafka.connect.storage.StringConverter", "org.apache.kafka.connect.converters.ByteArrayConverter"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
	_, err = r.LookupKind("NoSuchConnector", Source, Sink)
	if err == nil || !strings.Contains(err.Error(), "FileStreamSourceConnector") || !strings.Contains(err.Error(), "FileStreamSinkConnector") {
		t.Fatalf("unknown connector: %v", err)
	}
	// A known name of the wrong kind says what it is.
	if _, err := r.LookupKind("JsonConverter", Source, Sink); err == nil || !strings.Contains(err.Error(), "converter") {
		t.Fatalf("wrong kind: %v", err)
	}
}

func TestRegisterRejectsTakenNames(t *testing.T) {
	var r Registry
	p := demoConnectorPlugins[0]
	if err := r.Register(p); err != nil {
		t.Fatal(err)
	}
	dup := p
	dup.Class = "com.example.FileStreamSourceConnector" // same simple name
	if err := r.Register(dup); err == nil || !strings.Contains(err.Error(), "FileStreamSourceConnector") {
		t.Fatalf("duplicate simple name accepted: %v", err)
	}
}
