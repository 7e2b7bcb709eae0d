package builtin

import (
	"strings"
	"testing"

	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/plugins"
)

// Registry registers every plugin set without a name conflict, and every
// plugin's factory returns the interface its kind promises.
func TestBuiltinRegistersWithoutConflicts(t *testing.T) {
	r := Registry()
	if len(r.List()) == 0 {
		t.Fatal("no plugins registered")
	}
	for _, p := range r.List() {
		inst := p.New()
		ok := false
		switch p.Kind {
		case plugins.Source:
			_, ok = inst.(connect.SourceConnector)
		case plugins.Sink:
			_, ok = inst.(connect.SinkConnector)
		case plugins.Converter:
			_, ok = inst.(connect.Converter)
		case plugins.HeaderConverter:
			_, ok = inst.(connect.HeaderConverter)
		case plugins.Transformation:
			_, ok = inst.(connect.Transformation)
		case plugins.Predicate:
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
	r := Registry()
	cases := []struct {
		class string
		kind  plugins.Kind
		names []string
	}{
		{"org.apache.kafka.connect.file.FileStreamSourceConnector", plugins.Source,
			[]string{"org.apache.kafka.connect.file.FileStreamSourceConnector", "FileStreamSourceConnector", "FileStreamSource", "file-source"}},
		{"org.apache.kafka.connect.file.FileStreamSinkConnector", plugins.Sink,
			[]string{"FileStreamSinkConnector", "FileStreamSink", "file-sink"}},
		{"io.penstock.connect.datagen.DatagenConnector", plugins.Source,
			[]string{"DatagenConnector", "Datagen", "datagen", "io.confluent.kafka.connect.datagen.DatagenConnector"}},
		{"org.apache.kafka.connect.json.JsonConverter", plugins.Converter,
			[]string{"org.apache.kafka.connect.json.JsonConverter", "JsonConverter", "Json", " JsonConverter "}},
		{"org.apache.kafka.connect.storage.StringConverter", plugins.Converter,
			[]string{"org.apache.kafka.connect.storage.StringConverter", "StringConverter"}},
		{"org.apache.kafka.connect.converters.ByteArrayConverter", plugins.Converter,
			[]string{"org.apache.kafka.connect.converters.ByteArrayConverter", "ByteArrayConverter", "ByteArray"}},
		{"org.apache.kafka.connect.storage.SimpleHeaderConverter", plugins.HeaderConverter,
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
	r := Registry()
	_, err := r.LookupKind("com.example.NoSuchConverter", plugins.Converter)
	if err == nil {
		t.Fatal("unknown converter resolved")
	}
	for _, want := range []string{"com.example.NoSuchConverter", "org.apache.kafka.connect.json.JsonConverter",
		"org.apache.kafka.connect.storage.StringConverter", "org.apache.kafka.connect.converters.ByteArrayConverter"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
	_, err = r.LookupKind("NoSuchConnector", plugins.Source, plugins.Sink)
	if err == nil || !strings.Contains(err.Error(), "FileStreamSourceConnector") || !strings.Contains(err.Error(), "FileStreamSinkConnector") {
		t.Fatalf("unknown connector: %v", err)
	}
	// A known name of the wrong kind says what it is.
	if _, err := r.LookupKind("JsonConverter", plugins.Source, plugins.Sink); err == nil || !strings.Contains(err.Error(), "converter") {
		t.Fatalf("wrong kind: %v", err)
	}
}
