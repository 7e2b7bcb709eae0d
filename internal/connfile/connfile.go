// Package connfile reads and writes connector definitions in the file
// formats users already keep them in: Kafka Connect's REST body JSON
// ({"name": ..., "config": {...}, "initial_state": ...}), a bare config map
// with a "name" key (JSON or YAML), YAML of the REST body's shape, and Java
// properties files as connect-standalone takes them. `penstock connectors
// apply` and the workers' --connectors watcher read them; `penstock
// connectors export` writes them.
package connfile

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"go.yaml.in/yaml/v4"

	"github.com/penstockhq/penstock/internal/properties"
	"github.com/penstockhq/penstock/worker/rest"
)

// Connector is one connector definition as a file gives it.
type Connector struct {
	// Name is the connector's name; Config["name"], when present, equals it.
	Name string
	// Config is the connector configuration, every value a string.
	Config map[string]string
	// InitialState is the state a new connector starts in (KIP-980):
	// RUNNING, PAUSED or STOPPED; "" means RUNNING.
	InitialState string
	// Offsets are written (as PATCH /connectors/{name}/offsets does) when
	// the connector is created, before it first starts; nil when none.
	Offsets []rest.PartitionOffset
	// File is the file the definition came from, for messages.
	File string
}

// The formats Write writes and Parse tells apart by file extension.
const (
	JSON       = "json"
	YAML       = "yaml"
	Properties = "properties"
)

// StateKey is the key that gives the initial state in the flat forms (a
// bare config map or a properties file), where the REST body's
// "initial_state" has no place. It is removed from the config.
const StateKey = "initial.state"

// Format returns the format of a file by its extension ("" when it is none
// of .json, .yaml, .yml, .properties).
func Format(path string) string {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".json":
		return JSON
	case ".yaml", ".yml":
		return YAML
	case ".properties":
		return Properties
	}
	return ""
}

// Load reads the connector definitions of files and directories: every
// file of a directory whose extension Format knows (not its
// subdirectories, nor hidden files), in name order. A file named directly
// must have a known extension too. Every problem of every file is
// reported, joined; a name defined twice is one.
func Load(paths ...string) ([]Connector, error) {
	var files []string
	var errs []error
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("connector files: %w", err))
			continue
		}
		if !fi.IsDir() {
			files = append(files, p)
			continue
		}
		entries, err := os.ReadDir(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("connector files: %w", err))
			continue
		}
		for _, e := range entries {
			if e.IsDir() || strings.HasPrefix(e.Name(), ".") || Format(e.Name()) == "" {
				continue
			}
			files = append(files, filepath.Join(p, e.Name()))
		}
	}
	var out []Connector
	seen := map[string]string{}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			errs = append(errs, fmt.Errorf("connector files: %w", err))
			continue
		}
		cs, err := Parse(data, f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, c := range cs {
			if prev, ok := seen[c.Name]; ok {
				errs = append(errs, fmt.Errorf("%s: connector %s is also defined in %s", f, c.Name, prev))
				continue
			}
			seen[c.Name] = f
			out = append(out, c)
		}
	}
	return out, errors.Join(errs...)
}

// Parse parses the connector definitions of one file, its format chosen by
// path's extension; an unknown extension is tried as JSON. A JSON file may
// hold an array of definitions and a YAML file several documents.
func Parse(data []byte, path string) ([]Connector, error) {
	var trees []any
	switch Format(path) {
	case Properties:
		props, err := properties.Parse(bytes.NewReader(data))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		flat := make(map[string]any, len(props))
		for k, v := range props {
			flat[k] = v
		}
		trees = []any{flat}
	case YAML:
		dec := yaml.NewDecoder(bytes.NewReader(data))
		for {
			var doc yaml.Node
			err := dec.Decode(&doc)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				return nil, fmt.Errorf("%s: not YAML: %w", path, err)
			}
			v, err := fromYAML(&doc)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			if v != nil {
				trees = append(trees, v)
			}
		}
	default:
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, fmt.Errorf("%s: not JSON: %w", path, err)
		}
		if dec.More() {
			return nil, fmt.Errorf("%s: more than one JSON value (use an array for several connectors)", path)
		}
		if list, ok := v.([]any); ok {
			trees = list
		} else {
			trees = []any{v}
		}
	}
	if len(trees) == 0 {
		return nil, fmt.Errorf("%s: no connector definition", path)
	}
	out := make([]Connector, 0, len(trees))
	for i, t := range trees {
		where := path
		if len(trees) > 1 {
			where = fmt.Sprintf("%s[%d]", path, i)
		}
		c, err := fromTree(t, where)
		if err != nil {
			return nil, err
		}
		c.File = path
		out = append(out, c)
	}
	return out, nil
}

// fromTree reads one definition from a decoded document: the REST body
// shape when it has a "config" object, a flat config map otherwise.
func fromTree(tree any, where string) (Connector, error) {
	top, ok := tree.(map[string]any)
	if !ok {
		return Connector{}, fmt.Errorf("%s: a connector definition is an object, not %T", where, tree)
	}
	var c Connector
	var err error
	if cfg, ok := top["config"]; ok {
		raw, ok := cfg.(map[string]any)
		if !ok {
			return c, fmt.Errorf("%s: config: must be an object of keys and values, not %s", where, kind(cfg))
		}
		for k := range top {
			switch k {
			case "name", "config", "initial_state", "offsets":
			default:
				return c, fmt.Errorf("%s: unknown field %q (expected name, config, initial_state, offsets)", where, k)
			}
		}
		if c.Config, err = flatten(raw, where+": config"); err != nil {
			return c, err
		}
		if n, ok := top["name"]; ok {
			if c.Name, err = scalar(n); err != nil {
				return c, fmt.Errorf("%s: name: %w", where, err)
			}
		}
		if s, ok := top["initial_state"]; ok {
			if c.InitialState, err = scalar(s); err != nil {
				return c, fmt.Errorf("%s: initial_state: %w", where, err)
			}
		}
		if o, ok := top["offsets"]; ok {
			if c.Offsets, err = offsets(o); err != nil {
				return c, fmt.Errorf("%s: offsets: %w", where, err)
			}
		}
	} else {
		if c.Config, err = flatten(top, where); err != nil {
			return c, err
		}
		c.InitialState = c.Config[StateKey]
		delete(c.Config, StateKey)
	}
	if c.Name == "" {
		c.Name = c.Config["name"]
	}
	if c.Name == "" {
		return c, fmt.Errorf("%s: no connector name (give \"name\")", where)
	}
	if n, ok := c.Config["name"]; ok && n != c.Name {
		return c, fmt.Errorf("%s: config name %q differs from the connector's name %q", where, n, c.Name)
	}
	c.Config["name"] = c.Name
	c.InitialState = strings.ToUpper(strings.TrimSpace(c.InitialState))
	switch c.InitialState {
	case "", rest.StateRunning, rest.StatePaused, rest.StateStopped:
	default:
		return c, fmt.Errorf("%s: initial state %q: must be RUNNING, PAUSED or STOPPED", where, c.InitialState)
	}
	return c, nil
}

// flatten turns a config object's values into strings: scalars as their
// text, a list of scalars as Kafka Connect's comma-separated list.
func flatten(m map[string]any, where string) (map[string]string, error) {
	out := make(map[string]string, len(m))
	for k, v := range m {
		if list, ok := v.([]any); ok {
			parts := make([]string, len(list))
			for i, e := range list {
				s, err := scalar(e)
				if err != nil {
					return nil, fmt.Errorf("%s: key %s: %w", where, k, err)
				}
				parts[i] = s
			}
			out[k] = strings.Join(parts, ",")
			continue
		}
		s, err := scalar(v)
		if err != nil {
			return nil, fmt.Errorf("%s: key %s: %w", where, k, err)
		}
		out[k] = s
	}
	return out, nil
}

// scalar returns the text of a string, number or boolean.
func scalar(v any) (string, error) {
	switch x := v.(type) {
	case string:
		return x, nil
	case json.Number:
		return x.String(), nil
	case bool:
		return fmt.Sprint(x), nil
	case nil:
		return "", errors.New("no value (null)")
	}
	return "", fmt.Errorf("a value must be a string, number or boolean, not %s", kind(v))
}

func kind(v any) string {
	switch v.(type) {
	case map[string]any:
		return "an object"
	case []any:
		return "a list"
	case string:
		return "a string"
	}
	return fmt.Sprintf("%T", v)
}

// offsets reads the "offsets" field: the list PATCH /connectors/{name}/offsets
// takes under its "offsets" key (or that whole body).
func offsets(v any) ([]rest.PartitionOffset, error) {
	if m, ok := v.(map[string]any); ok {
		v = m["offsets"]
	}
	data, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var out []rest.PartitionOffset
	if err := dec.Decode(&out); err != nil {
		return nil, fmt.Errorf("expected a list of {\"partition\": {...}, \"offset\": {...}}: %w", err)
	}
	for i, po := range out {
		if po.Partition == nil {
			return nil, fmt.Errorf("entry %d has no partition", i)
		}
	}
	return out, nil
}

// fromYAML converts a YAML document to the values JSON decoding gives:
// objects, lists, and scalars as strings (their exact text) or nil; so
// `tasks.max: 1` and `tasks.max: "1"` read the same. Offsets keep YAML's
// numbers through json.Number.
func fromYAML(n *yaml.Node) (any, error) {
	switch n.Kind {
	case 0:
		return nil, nil
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return fromYAML(n.Content[0])
	case yaml.AliasNode:
		return fromYAML(n.Alias)
	case yaml.MappingNode:
		m := make(map[string]any, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			if k.Kind != yaml.ScalarNode {
				return nil, fmt.Errorf("line %d: a key must be a string", k.Line)
			}
			if _, dup := m[k.Value]; dup {
				return nil, fmt.Errorf("line %d: key %s given twice", k.Line, k.Value)
			}
			v, err := fromYAML(n.Content[i+1])
			if err != nil {
				return nil, err
			}
			m[k.Value] = v
		}
		return m, nil
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for _, c := range n.Content {
			v, err := fromYAML(c)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case "!!null":
			return nil, nil
		case "!!int", "!!float":
			return json.Number(n.Value), nil
		case "!!bool":
			return strings.ToLower(n.Value) == "true", nil
		}
		return n.Value, nil
	}
	return nil, fmt.Errorf("line %d: unsupported YAML node", n.Line)
}

// Write writes connectors in format: JSON as the REST body (an array when
// there are several), YAML as the same shape (one document each), or a
// properties file (one connector only; its initial state as StateKey).
// Offsets are not written: they are the cluster's, not the definition's.
func Write(w io.Writer, format string, cs []Connector) error {
	switch format {
	case JSON:
		bodies := make([]body, len(cs))
		for i, c := range cs {
			bodies[i] = body{Name: c.Name, Config: c.Config, InitialState: c.InitialState}
		}
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		var v any = bodies
		if len(bodies) == 1 {
			v = bodies[0]
		}
		if err := enc.Encode(v); err != nil {
			return fmt.Errorf("write JSON: %w", err)
		}
		return nil
	case YAML:
		enc := yaml.NewEncoder(w)
		enc.SetIndent(2)
		for _, c := range cs {
			if err := enc.Encode(body{Name: c.Name, Config: c.Config, InitialState: c.InitialState}); err != nil {
				return fmt.Errorf("write YAML: %w", err)
			}
		}
		if err := enc.Close(); err != nil {
			return fmt.Errorf("write YAML: %w", err)
		}
		return nil
	case Properties:
		if len(cs) != 1 {
			return fmt.Errorf("a properties file holds one connector, not %d (write one file each)", len(cs))
		}
		props := map[string]string{}
		for k, v := range cs[0].Config {
			props[k] = v
		}
		props["name"] = cs[0].Name
		if s := cs[0].InitialState; s != "" && s != rest.StateRunning {
			props[StateKey] = s
		}
		return properties.Write(w, props)
	}
	return fmt.Errorf("format %q: must be %s", format, strings.Join(Formats(), ", "))
}

// Formats lists the formats Write writes.
func Formats() []string { return slices.Clone(formats) }

var formats = []string{JSON, YAML, Properties}

// body is the REST body shape Write writes.
type body struct {
	Name         string            `json:"name" yaml:"name"`
	Config       map[string]string `json:"config" yaml:"config"`
	InitialState string            `json:"initial_state,omitempty" yaml:"initial_state,omitempty"`
}
