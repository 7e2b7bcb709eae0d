package worker

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connect/config"
	"github.com/penstockhq/penstock/plugins"
	"github.com/penstockhq/penstock/transforms"
)

// pipeline is what a task's records go through between the task and Kafka:
// the key, value and header converters and the transformation chain, all
// instantiated for the task from the connector's (resolved) config.
type pipeline struct {
	keyConv     connect.Converter
	keyClass    string
	valueConv   connect.Converter
	valueClass  string
	headerConv  connect.HeaderConverter
	headerClass string
	transforms  transformChain

	// keyRead and valueRead convert a fetched record's key and value: the
	// converter's ToConnectAliased where it has one (fetched bytes are never
	// modified, so they need not be copied), else ToConnect.
	keyRead, valueRead func(topic string, data []byte) (*connect.Schema, any, error)
}

// transformChain applies a connector's transformations in order.
type transformChain interface {
	// Apply returns the transformed record, or nil when it is dropped.
	Apply(rec *connect.Record) (*connect.Record, error)
	Close() error
}

// noTransforms is the chain of a connector without transforms.
type noTransforms struct{}

func (noTransforms) Apply(rec *connect.Record) (*connect.Record, error) { return rec, nil }
func (noTransforms) Close() error                                       { return nil }

// buildTransforms is the one place a connector's transformation chain is
// made: transforms.NewChain from the connector's transforms/predicates
// properties, with plugins resolved through the registry.
func buildTransforms(reg *plugins.Registry, props map[string]string) (transformChain, error) {
	if len(splitList(props[KeyTransforms])) == 0 {
		return noTransforms{}, nil
	}
	c, err := transforms.NewChain(props, transformFactory(reg), predicateFactory(reg))
	if err != nil {
		return nil, fmt.Errorf("transforms: %w", err)
	}
	return c, nil
}

func transformFactory(reg *plugins.Registry) transforms.TransformFactory {
	return func(class string) (connect.Transformation, error) {
		p, err := reg.LookupKind(class, plugins.Transformation)
		if err != nil {
			return nil, err
		}
		t, ok := p.New().(connect.Transformation)
		if !ok {
			return nil, fmt.Errorf("%s is not a transformation", p.Class)
		}
		return t, nil
	}
}

func predicateFactory(reg *plugins.Registry) transforms.PredicateFactory {
	return func(class string) (connect.Predicate, error) {
		p, err := reg.LookupKind(class, plugins.Predicate)
		if err != nil {
			return nil, err
		}
		t, ok := p.New().(connect.Predicate)
		if !ok {
			return nil, fmt.Errorf("%s is not a predicate", p.Class)
		}
		return t, nil
	}
}

// newPipeline instantiates converters and transforms for a task. The
// connector's key.converter etc. win over the worker's; their prefixed
// properties come from the same place as the class.
func (h *Herder) newPipeline(props map[string]string) (*pipeline, error) {
	p := &pipeline{}
	var err error
	if p.keyConv, p.keyClass, err = h.converter(props, KeyKeyConverter, h.cfg.KeyConverter, true); err != nil {
		return nil, err
	}
	if p.valueConv, p.valueClass, err = h.converter(props, KeyValueConverter, h.cfg.ValueConverter, false); err != nil {
		return nil, err
	}
	if p.headerConv, p.headerClass, err = h.headerConverter(props); err != nil {
		return nil, err
	}
	if p.transforms, err = buildTransforms(h.reg, props); err != nil {
		return nil, err
	}
	p.keyRead, p.valueRead = fetchedReader(p.keyConv), fetchedReader(p.valueConv)
	return p, nil
}

// fetchedReader returns how c reads fetched bytes (see pipeline.keyRead).
func fetchedReader(c connect.Converter) func(string, []byte) (*connect.Schema, any, error) {
	if a, ok := c.(connect.AliasingConverter); ok {
		return a.ToConnectAliased
	}
	return c.ToConnect
}

func (h *Herder) converter(props map[string]string, key, workerClass string, isKey bool) (connect.Converter, string, error) {
	class, cprops := strings.TrimSpace(props[key]), config.WithPrefix(props, key+".")
	if class == "" {
		class, cprops = workerClass, config.WithPrefix(h.cfg.Props, key+".")
	}
	pl, err := h.reg.LookupKind(class, plugins.Converter)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", key, err)
	}
	c, ok := pl.New().(connect.Converter)
	if !ok {
		return nil, "", fmt.Errorf("%s: %s is not a converter", key, pl.Class)
	}
	if err := c.Configure(cprops, isKey); err != nil {
		return nil, "", fmt.Errorf("%s %s: %w", key, pl.Class, err)
	}
	return c, pl.Class, nil
}

func (h *Herder) headerConverter(props map[string]string) (connect.HeaderConverter, string, error) {
	class, cprops := strings.TrimSpace(props[KeyHeaderConverter]), config.WithPrefix(props, KeyHeaderConverter+".")
	if class == "" {
		class, cprops = h.cfg.HeaderConverter, config.WithPrefix(h.cfg.Props, KeyHeaderConverter+".")
	}
	pl, err := h.reg.LookupKind(class, plugins.HeaderConverter, plugins.Converter)
	if err != nil {
		if class == SimpleHeaderConverterClass {
			// Not (yet) registered: the built-in fallback behaves alike
			// for strings and bytes.
			return simpleHeaders{}, SimpleHeaderConverterClass, nil
		}
		return nil, "", fmt.Errorf("%s: %w", KeyHeaderConverter, err)
	}
	switch c := pl.New().(type) {
	case connect.HeaderConverter:
		if err := c.Configure(cprops); err != nil {
			return nil, "", fmt.Errorf("%s %s: %w", KeyHeaderConverter, pl.Class, err)
		}
		return c, pl.Class, nil
	case connect.Converter:
		if err := c.Configure(cprops, false); err != nil {
			return nil, "", fmt.Errorf("%s %s: %w", KeyHeaderConverter, pl.Class, err)
		}
		return converterHeaders{c}, pl.Class, nil
	}
	return nil, "", fmt.Errorf("%s: %s is not a header converter", KeyHeaderConverter, pl.Class)
}

// converterHeaders uses a record converter for header values, as Kafka
// Connect allows (e.g. header.converter=StringConverter).
type converterHeaders struct{ c connect.Converter }

func (c converterHeaders) Config() *config.Def { return c.c.Config() }
func (c converterHeaders) Configure(props map[string]string) error {
	return c.c.Configure(props, false)
}
func (c converterHeaders) FromConnectHeader(topic, _ string, s *connect.Schema, v any) ([]byte, error) {
	return c.c.FromConnect(topic, s, v)
}
func (c converterHeaders) ToConnectHeader(topic, _ string, data []byte) (*connect.Schema, any, error) {
	return c.c.ToConnect(topic, data)
}

// simpleHeaders is a minimal SimpleHeaderConverter: strings and bytes as
// UTF-8, other values as JSON; reading yields strings.
type simpleHeaders struct{}

func (simpleHeaders) Config() *config.Def               { return config.NewDef() }
func (simpleHeaders) Configure(map[string]string) error { return nil }
func (simpleHeaders) FromConnectHeader(_, _ string, _ *connect.Schema, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return nil, nil
	case string:
		return []byte(x), nil
	case []byte:
		return x, nil
	}
	return json.Marshal(jsonable(v))
}
func (simpleHeaders) ToConnectHeader(_, _ string, data []byte) (*connect.Schema, any, error) {
	if data == nil {
		return connect.OptionalStringSchema, nil, nil
	}
	return connect.StringSchema, string(data), nil
}

// maskConfig masks the PASSWORD keys of a connector config: the connector
// plugin's, the runtime's, and those of the converters, transforms and
// predicates it names (under their prefixes). Provider references stay.
func maskConfig(reg *plugins.Registry, props map[string]string) map[string]string {
	defs := []*config.Def{SourceConnectorDef, connectorClientDef}
	if p, err := connectorPlugin(reg, props); err == nil {
		defs = append(defs, p.Config())
	}
	out := config.MaskPasswords(props, defs...)
	prefixes := map[string]string{}
	for _, k := range []string{KeyKeyConverter, KeyValueConverter, KeyHeaderConverter} {
		if c := props[k]; c != "" {
			prefixes[k+"."] = c
		}
	}
	for _, a := range splitList(props[KeyTransforms]) {
		prefixes["transforms."+a+"."] = props["transforms."+a+".type"]
	}
	for _, a := range splitList(props[KeyPredicates]) {
		prefixes["predicates."+a+"."] = props["predicates."+a+".type"]
	}
	for prefix, class := range prefixes {
		p, ok := reg.Lookup(class)
		if !ok {
			continue
		}
		def := p.Config()
		for k, v := range props {
			if sub, ok := strings.CutPrefix(k, prefix); ok {
				if key, ok := def.Key(sub); ok && key.Type == config.Password && !strings.HasPrefix(v, "${") {
					out[k] = config.HiddenValue
				}
			}
		}
	}
	return out
}

// transformClass names the transform that failed, for error reports.
func transformClass(err error) string {
	var se *transforms.StageError
	if errors.As(err, &se) {
		return se.Class
	}
	return "transforms"
}
