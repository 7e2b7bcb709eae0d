// Package examples holds runnable pipelines, one folder each, with the
// connector JSON files POSTed to /connectors. Its tests check that every
// connector file is a valid POST body and that its configuration is valid
// for the plugins Penstock ships, through a real worker's validate endpoint.
package examples

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/penstockhq/penstock/internal/brokertest"
	"github.com/penstockhq/penstock/internal/e2e"
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
	validate := validator(t)
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

// validator returns validate: the full check of a connector configuration
// through a real worker's validate endpoint, PUT
// /connector-plugins/{class}/config/validate, on a worker (and broker) started
// for the test. validate reports an error naming every key with an error when
// error_count > 0.
func validator(t *testing.T) (validate func(cfg map[string]string) error) {
	t.Helper()
	b := brokertest.Start(t)
	w := e2e.StartWorker(t, b.Addr, nil)
	return func(cfg map[string]string) error {
		class := cfg["connector.class"]
		if class == "" {
			return fmt.Errorf("%s: no connector.class", cfg["name"])
		}
		r, err := e2e.Do("PUT", w.URL+"/connector-plugins/"+url.PathEscape(class)+"/config/validate", cfg)
		if err != nil {
			return err
		}
		if r.Status != http.StatusOK {
			return fmt.Errorf("%s: validate answered %s", cfg["name"], r)
		}
		var infos struct {
			ErrorCount *int `json:"error_count"`
			Configs    []struct {
				Definition struct {
					Name string `json:"name"`
				} `json:"definition"`
				Value struct {
					Name   string   `json:"name"`
					Errors []string `json:"errors"`
				} `json:"value"`
			} `json:"configs"`
		}
		if err := json.Unmarshal(r.Body, &infos); err != nil || infos.ErrorCount == nil {
			return fmt.Errorf("%s: validate answered %s (%v)", cfg["name"], r.Body, err)
		}
		var problems []string
		known := map[string]bool{}
		for _, c := range infos.Configs {
			known[c.Definition.Name] = true
			for _, e := range c.Value.Errors {
				problems = append(problems, c.Value.Name+": "+e)
			}
		}
		// Like Kafka Connect, the endpoint accepts keys it does not know;
		// an example must not carry a typo, so every key must be one the
		// endpoint lists (the runtime's, the plugin's, each transform's and
		// predicate's under its prefix), or sit under a prefix the runtime
		// hands on to a converter or a client.
		passOn := []string{"key.converter.", "value.converter.", "header.converter.",
			"producer.override.", "consumer.override.", "admin.override.", "topic.creation."}
	keys:
		for k := range cfg {
			if known[k] {
				continue
			}
			for _, pre := range passOn {
				if strings.HasPrefix(k, pre) {
					continue keys
				}
			}
			problems = append(problems, fmt.Sprintf("%s: unknown key: the validate endpoint lists no such key for %s", k, class))
		}
		if *infos.ErrorCount == 0 && len(problems) == 0 {
			return nil
		}
		sort.Strings(problems)
		return fmt.Errorf("%s: invalid config, error_count %d:\n\t%s", cfg["name"], *infos.ErrorCount, strings.Join(problems, "\n\t"))
	}
}

// TestValidateCatches makes sure validate is not a no-op.
func TestValidateCatches(t *testing.T) {
	validate := validator(t)
	for name, cfg := range map[string]map[string]string{
		"unknown class":       {"name": "x", "connector.class": "NoSuchConnector"},
		"transform as class":  {"name": "x", "connector.class": "unwrap"},
		"missing required":    {"name": "x", "connector.class": "FileStreamSink", "topics": "t"},
		"typo in a key":       {"name": "x", "connector.class": "FileStreamSink", "topics": "t", "file": "/tmp/f", "tasks.mx": "1"},
		"sink without topics": {"name": "x", "connector.class": "FileStreamSink", "file": "/tmp/f"},
		"bad topics regex":    {"name": "x", "connector.class": "FileStreamSink", "file": "/tmp/f", "topics.regex": "("},
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
