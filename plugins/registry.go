// Package plugins is the plugin registry: the kinds, class names, aliases,
// versions and factories of connectors, converters, transformations and
// predicates. A Registry is what GET /connector-plugins lists and how the
// worker resolves `connector.class`, `key.converter` and
// `transforms.*.type`.
//
// The package imports no connector, so the runtime that resolves plugins
// does not depend on any of them. Each connector package declares its own
// Plugin entries beside its code; plugins/builtin, imported by the binary
// and by tests only, lists every set Penstock ships.
//
// Names resolve by Kafka Connect's alias rules: a plugin's full class name
// (for a plugin with a Kafka Connect, Debezium or Confluent counterpart, that
// counterpart's class name), its simple name (after the last dot), and for
// connectors and converters the simple name without its "Connector" or
// "Converter" suffix. Penstock's own short names are extra aliases.
package plugins

import (
	"fmt"
	"sort"
	"strings"

	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connect/config"
)

// Kind is a plugin's type, as /connector-plugins reports it.
type Kind string

// The plugin kinds.
const (
	Source          Kind = "source"
	Sink            Kind = "sink"
	Converter       Kind = "converter"
	HeaderConverter Kind = "header_converter"
	Transformation  Kind = "transformation"
	Predicate       Kind = "predicate"
)

// Plugin describes one plugin and makes new instances of it.
type Plugin struct {
	Kind Kind
	// Class is the canonical name /connector-plugins shows.
	Class string
	// Aliases are extra names that resolve to the plugin, such as Penstock's
	// short name ("datagen") or a counterpart's older class name.
	Aliases []string
	Version string
	// Doc is a one-paragraph description for generated docs.
	Doc string
	// New returns a fresh instance: a connect.SourceConnector for Source,
	// connect.SinkConnector for Sink, connect.Converter, connect.HeaderConverter,
	// connect.Transformation or connect.Predicate for the other kinds.
	New func() connect.Configurable
}

// Config returns the plugin's config definition.
func (p Plugin) Config() *config.Def { return p.New().Config() }

// Names returns every name that resolves to the plugin: the class, its simple
// name, the simple name without a Connector/Converter suffix, and the aliases.
func (p Plugin) Names() []string {
	names := []string{p.Class}
	simple := p.Class[strings.LastIndexByte(p.Class, '.')+1:]
	if simple != p.Class {
		names = append(names, simple)
	}
	for _, suffix := range []string{"Connector", "Converter"} {
		if s, ok := strings.CutSuffix(simple, suffix); ok && s != "" {
			names = append(names, s)
		}
	}
	return append(names, p.Aliases...)
}

// Registry resolves plugin names. The zero value is empty and ready to use.
type Registry struct {
	plugins []Plugin
	byName  map[string]int // name -> index, names unique across kinds
}

// Register adds p. It returns an error when one of p's names is taken.
func (r *Registry) Register(p Plugin) error {
	if p.Class == "" || p.New == nil || p.Kind == "" {
		return fmt.Errorf("plugin %q: class, kind and New are required", p.Class)
	}
	if r.byName == nil {
		r.byName = map[string]int{}
	}
	names := p.Names()
	for _, n := range names {
		if i, taken := r.byName[n]; taken {
			return fmt.Errorf("plugin name %q of %s is already taken by %s", n, p.Class, r.plugins[i].Class)
		}
	}
	for _, n := range names {
		r.byName[n] = len(r.plugins)
	}
	r.plugins = append(r.plugins, p)
	return nil
}

// Lookup returns the plugin called name (any of its names).
func (r *Registry) Lookup(name string) (Plugin, bool) {
	i, ok := r.byName[strings.TrimSpace(name)]
	if !ok {
		return Plugin{}, false
	}
	return r.plugins[i], true
}

// LookupKind returns the plugin called name if it is one of kinds; the error
// says which names exist when it is not found.
func (r *Registry) LookupKind(name string, kinds ...Kind) (Plugin, error) {
	p, ok := r.Lookup(name)
	if ok {
		for _, k := range kinds {
			if p.Kind == k {
				return p, nil
			}
		}
		return Plugin{}, fmt.Errorf("class %s is a %s plugin, not a %s", name, p.Kind, joinKinds(kinds))
	}
	return Plugin{}, fmt.Errorf("Failed to find any class that implements %s and which name matches %s, available %s plugins are: %s",
		joinKinds(kinds), name, joinKinds(kinds), strings.Join(r.classes(kinds...), ", "))
}

func joinKinds(kinds []Kind) string {
	s := make([]string, len(kinds))
	for i, k := range kinds {
		s[i] = string(k)
	}
	return strings.Join(s, " or ")
}

func (r *Registry) classes(kinds ...Kind) []string {
	var out []string
	for _, p := range r.List(kinds...) {
		out = append(out, p.Class)
	}
	return out
}

// List returns the plugins of the given kinds (all when none are given),
// sorted by kind then class.
func (r *Registry) List(kinds ...Kind) []Plugin {
	var out []Plugin
	for _, p := range r.plugins {
		if len(kinds) == 0 || containsKind(kinds, p.Kind) {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Kind != out[j].Kind {
			return out[i].Kind < out[j].Kind
		}
		return out[i].Class < out[j].Class
	})
	return out
}

func containsKind(kinds []Kind, k Kind) bool {
	for _, x := range kinds {
		if x == k {
			return true
		}
	}
	return false
}
