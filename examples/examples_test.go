// Package examples holds runnable pipelines, one folder each, with the
// connector JSON files POSTed to /connectors. Its tests check that every
// connector file is a valid POST body and that its configuration is valid
// for the plugins Penstock ships.
package examples

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/penstockhq/penstock/connect/config"
	"github.com/penstockhq/penstock/plugins"
	"github.com/penstockhq/penstock/worker"
)

// createRequest is the body of POST /connectors.
type createRequest struct {
	Name         string            `json:"name"`
	Config       map[string]string `json:"config"`
	InitialState string            `json:"initial_state,omitempty"`
}

// connectorFiles returns every examples/*/connectors/*.json file.
func connectorFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("*", "connectors", "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) == 0 {
		t.Fatal("no connector files found")
	}
	sort.Strings(files)
	return files
}

func TestExampleFolders(t *testing.T) {
	dirs, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, d := range dirs {
		if !d.IsDir() {
			continue
		}
		n++
		readme, err := os.ReadFile(filepath.Join(d.Name(), "README.md"))
		if err != nil {
			t.Errorf("%s: %v", d.Name(), err)
			continue
		}
		conns, _ := filepath.Glob(filepath.Join(d.Name(), "connectors", "*.json"))
		if len(conns) == 0 {
			t.Errorf("%s has no connectors/*.json", d.Name())
		}
		// The README shows how to create each connector.
		for _, c := range conns {
			if !bytes.Contains(readme, []byte(filepath.ToSlash(strings.TrimPrefix(c, d.Name()+string(filepath.Separator))))) {
				t.Errorf("%s/README.md does not mention %s", d.Name(), c)
			}
		}
	}
	if n < 2 {
		t.Errorf("%d example folders, want at least 2", n)
	}
}

// TestExampleConnectors parses every connector file as a POST /connectors
// body and validates its configuration.
func TestExampleConnectors(t *testing.T) {
	for _, f := range connectorFiles(t) {
		t.Run(filepath.ToSlash(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			var req createRequest
			dec := json.NewDecoder(bytes.NewReader(data))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&req); err != nil {
				t.Fatalf("not a POST /connectors body (name, config of strings): %v", err)
			}
			if want := strings.TrimSuffix(filepath.Base(f), ".json"); req.Name != want {
				t.Errorf("name %q, want the file's name %q", req.Name, want)
			}
			if n, ok := req.Config["name"]; ok && n != req.Name {
				t.Errorf("config name %q differs from name %q", n, req.Name)
			}
			cfg := make(map[string]string, len(req.Config)+1)
			for k, v := range req.Config {
				cfg[k] = v
			}
			cfg["name"] = req.Name // as the REST API adds it
			if err := validate(cfg); err != nil {
				t.Error(err)
			}
		})
	}
}

// validate checks a connector configuration as far as the plugin registry
// can without a running worker: connector.class resolves to a source or
// sink; the runtime's connector keys and the plugin's own keys parse; the
// converters, transforms and predicates named resolve to plugins of the
// right kind and their prefixed keys parse; a sink names topics or
// topics.regex (a valid expression); and every key is known, so a typo
// fails.
//
// Once the worker's herder is ready, this is to become the full check
// through its validate endpoint (PUT /connector-plugins/{class}/config/validate
// over rest.New(herder).Handler(), an error when error_count > 0); the test
// calls nothing else.
func validate(cfg map[string]string) error {
	reg := plugins.Builtin()
	var problems []string
	add := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }

	p, err := reg.LookupKind(cfg["connector.class"], plugins.Source, plugins.Sink)
	if err != nil {
		return fmt.Errorf("connector.class: %w", err)
	}
	runtimeDef := worker.SourceConnectorDef
	if p.Kind == plugins.Sink {
		runtimeDef = worker.SinkConnectorDef
	}
	pluginDef := p.Config()
	if _, err := runtimeDef.Parse(cfg); err != nil {
		add("runtime keys: %v", err)
	}
	if _, err := pluginDef.Parse(cfg); err != nil {
		add("%s keys: %v", p.Class, err)
	}
	known := func(k string) bool {
		_, inRuntime := runtimeDef.Key(k)
		_, inPlugin := pluginDef.Key(k)
		return inRuntime || inPlugin
	}

	// Converters: the class resolves, its prefixed keys parse.
	prefixes := []string{}
	for key, kind := range map[string]plugins.Kind{"key.converter": plugins.Converter, "value.converter": plugins.Converter, "header.converter": plugins.HeaderConverter} {
		prefixes = append(prefixes, key+".")
		class := strings.TrimSpace(cfg[key])
		if class == "" {
			continue
		}
		cp, err := reg.LookupKind(class, kind)
		if err != nil {
			add("%s: %v", key, err)
			continue
		}
		if _, err := cp.Config().Parse(config.WithPrefix(cfg, key+".")); err != nil {
			add("%s: %v", key, err)
		}
	}

	// Transforms and predicates: every alias has a type of the right kind
	// whose keys parse; a transform's predicate is declared.
	declared := map[string]bool{}
	for _, group := range []struct {
		list string
		kind plugins.Kind
	}{{"predicates", plugins.Predicate}, {"transforms", plugins.Transformation}} {
		for _, alias := range splitList(cfg[group.list]) {
			prefix := group.list + "." + alias + "."
			prefixes = append(prefixes, prefix)
			typ := cfg[prefix+"type"]
			if typ == "" {
				add("%stype is missing", prefix)
				continue
			}
			tp, err := reg.LookupKind(typ, group.kind)
			if err != nil {
				add("%stype: %v", prefix, err)
				continue
			}
			props := config.WithPrefix(cfg, prefix)
			if _, err := tp.Config().Parse(props); err != nil {
				add("%s (%s): %v", strings.TrimSuffix(prefix, "."), tp.Class, err)
			}
			for k := range props {
				if _, ok := tp.Config().Key(k); !ok && k != "type" && k != "predicate" && k != "negate" {
					add("%s%s: %s has no key %q", prefix, k, tp.Class, k)
				}
			}
			if group.list == "predicates" {
				declared[alias] = true
			} else if pr := props["predicate"]; pr != "" && !declared[pr] {
				add("%spredicate: predicate %q is not declared in predicates", prefix, pr)
			}
		}
	}

	if p.Kind == plugins.Sink {
		topics, regex := strings.TrimSpace(cfg["topics"]), strings.TrimSpace(cfg["topics.regex"])
		switch {
		case topics == "" && regex == "":
			add("a sink needs topics or topics.regex")
		case topics != "" && regex != "":
			add("topics and topics.regex are mutually exclusive")
		case regex != "":
			if _, err := regexp.Compile(regex); err != nil {
				add("topics.regex: %v", err)
			}
		}
	}

	// Every key is known: the runtime's, the plugin's, or under a prefix
	// checked above (or one the runtime passes on to clients and topics).
	passOn := []string{"producer.override.", "consumer.override.", "admin.override.", "topic.creation.", "errors."}
	for k := range cfg {
		if known(k) {
			continue
		}
		ok := false
		for _, pre := range append(prefixes, passOn...) {
			if strings.HasPrefix(k, pre) {
				ok = true
				break
			}
		}
		if !ok {
			add("unknown key %q: neither a runtime key nor one of %s", k, p.Class)
		}
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return fmt.Errorf("%s: invalid config:\n\t%s", cfg["name"], strings.Join(problems, "\n\t"))
	}
	return nil
}

// splitList splits a comma-separated list, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, x := range strings.Split(s, ",") {
		if x = strings.TrimSpace(x); x != "" {
			out = append(out, x)
		}
	}
	return out
}

// TestValidateCatches makes sure validate is not a no-op.
func TestValidateCatches(t *testing.T) {
	for name, cfg := range map[string]map[string]string{
		"unknown class":       {"name": "x", "connector.class": "NoSuchConnector"},
		"transform as class":  {"name": "x", "connector.class": "unwrap"},
		"missing required":    {"name": "x", "connector.class": "FileStreamSink", "topics": "t"},
		"typo in a key":       {"name": "x", "connector.class": "FileStreamSink", "topics": "t", "file": "/tmp/f", "tasks.mx": "1"},
		"sink without topics": {"name": "x", "connector.class": "FileStreamSink", "file": "/tmp/f"},
		"bad regex":           {"name": "x", "connector.class": "FileStreamSink", "file": "/tmp/f", "topics.regex": "("},
		"bad value":           {"name": "x", "connector.class": "datagen", "topic": "t", "rate": "fast"},
		"unknown transform":   {"name": "x", "connector.class": "datagen", "topic": "t", "transforms": "a", "transforms.a.type": "Nope"},
		"bad transform key": {"name": "x", "connector.class": "datagen", "topic": "t", "transforms": "a",
			"transforms.a.type": "io.debezium.transforms.ExtractNewRecordState", "transforms.a.delete.tombstone.handling.mode": "keep"},
		"unknown transform key": {"name": "x", "connector.class": "datagen", "topic": "t", "transforms": "a",
			"transforms.a.type": "io.debezium.transforms.ExtractNewRecordState", "transforms.a.delete.handling.mod": "drop"},
		"undeclared predicate": {"name": "x", "connector.class": "datagen", "topic": "t", "transforms": "a",
			"transforms.a.type": "Filter", "transforms.a.predicate": "p"},
		"bad converter": {"name": "x", "connector.class": "datagen", "topic": "t", "value.converter": "datagen"},
	} {
		if err := validate(cfg); err == nil {
			t.Errorf("%s: validate accepted %v", name, cfg)
		}
	}
}
