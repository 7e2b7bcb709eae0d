package transforms

import (
	"fmt"
	"strings"

	"github.com/penstockhq/penstock/connect"
)

// Plugin describes one transformation or predicate of this package for the
// plugin catalogue: its canonical class name (the Kafka Connect or Debezium
// class it stands in for), extra names, and a factory.
type Plugin struct {
	Class string
	// Aliases are Penstock's short names and older class names.
	Aliases   []string
	Predicate bool
	Doc       string
	// New returns a fresh instance: a connect.Transformation, or a
	// connect.Predicate when Predicate is set.
	New func() connect.Configurable
}

const (
	kafkaPrefix     = "org.apache.kafka.connect.transforms."
	predicatePrefix = "org.apache.kafka.connect.transforms.predicates."
)

// Plugins lists every transformation and predicate this package provides.
func Plugins() []Plugin {
	var out []Plugin
	keyValue := func(simple, short, doc string, mk func(Operand) connect.Configurable) {
		for _, op := range []Operand{Key, Value} {
			sfx := "-value"
			if op == Key {
				sfx = "-key"
			}
			op := op
			out = append(out, Plugin{Class: kafkaPrefix + simple + op.suffix(), Aliases: []string{short + sfx},
				Doc: doc, New: func() connect.Configurable { return mk(op) }})
		}
	}
	single := func(class string, aliases []string, doc string, mk func() connect.Configurable) {
		out = append(out, Plugin{Class: class, Aliases: aliases, Doc: doc, New: mk})
	}
	keyValue("InsertField", "insert-field", "Insert the record's topic, partition, offset, timestamp or a static value as fields.",
		func(op Operand) connect.Configurable { return NewInsertField(op) })
	keyValue("ReplaceField", "replace-field", "Filter (exclude, include) and rename fields.",
		func(op Operand) connect.Configurable { return NewReplaceField(op) })
	keyValue("MaskField", "mask-field", "Mask fields with their type's empty value or a replacement.",
		func(op Operand) connect.Configurable { return NewMaskField(op) })
	keyValue("ExtractField", "extract-field", "Replace the key or value with one of its fields (or a nested field).",
		func(op Operand) connect.Configurable { return NewExtractField(op) })
	keyValue("HoistField", "hoist-field", "Wrap the key or value in a struct or map with one field.",
		func(op Operand) connect.Configurable { return NewHoistField(op) })
	keyValue("Cast", "cast", "Cast fields, or a whole primitive key or value, to another primitive type.",
		func(op Operand) connect.Configurable { return NewCast(op) })
	keyValue("TimestampConverter", "timestamp-converter", "Convert timestamps between strings, epoch numbers and Date/Time/Timestamp.",
		func(op Operand) connect.Configurable { return NewTimestampConverter(op) })
	keyValue("Flatten", "flatten", "Flatten nested structs and maps into one level.",
		func(op Operand) connect.Configurable { return NewFlatten(op) })
	keyValue("SetSchemaMetadata", "set-schema-metadata", "Set the schema name and/or version.",
		func(op Operand) connect.Configurable { return NewSetSchemaMetadata(op) })
	keyValue("HeaderFrom", "header-from", "Copy or move fields into headers.",
		func(op Operand) connect.Configurable { return NewHeaderFrom(op) })
	single(kafkaPrefix+"ValueToKey", []string{"value-to-key"}, "Replace the key with fields of the value.",
		func() connect.Configurable { return NewValueToKey() })
	single(kafkaPrefix+"RegexRouter", []string{"regex-router"}, "Rename topics matching a regular expression.",
		func() connect.Configurable { return NewRegexRouter() })
	single(kafkaPrefix+"TimestampRouter", []string{"timestamp-router"}, "Route records to topics named after their topic and timestamp.",
		func() connect.Configurable { return NewTimestampRouter() })
	single(kafkaPrefix+"InsertHeader", []string{"insert-header"}, "Add a header with a literal value.",
		func() connect.Configurable { return NewInsertHeader() })
	single(kafkaPrefix+"DropHeaders", []string{"drop-headers"}, "Remove headers by name.",
		func() connect.Configurable { return NewDropHeaders() })
	single(kafkaPrefix+"Filter", []string{"filter"}, "Drop records (use with a predicate).",
		func() connect.Configurable { return NewFilter() })
	single("io.debezium.transforms.ExtractNewRecordState", []string{"unwrap", "io.debezium.transforms.UnwrapFromEnvelope"},
		"Replace a Debezium change event with the row state after the change.",
		func() connect.Configurable { return NewExtractNewRecordState() })
	single("io.debezium.transforms.ByLogicalTableRouter", []string{"logical-table-router"},
		"Route change events of several physical tables to one logical topic, keeping keys unique.",
		func() connect.Configurable { return NewByLogicalTableRouter() })
	single("io.debezium.transforms.ToLogicalTopicRouter", []string{"logical-topic-router"},
		"Debezium's newer name for ByLogicalTableRouter; its key field defaults to __dbz__sourceIdentifier.",
		func() connect.Configurable { return NewToLogicalTopicRouter() })
	single("io.debezium.transforms.outbox.EventRouter", []string{"outbox", "outbox-event-router"},
		"Route outbox table inserts to topics per aggregate type, with the payload as value.",
		func() connect.Configurable { return NewEventRouter() })
	out = append(out,
		Plugin{Class: predicatePrefix + "TopicNameMatches", Aliases: []string{"topic-name-matches"}, Predicate: true,
			Doc: "True for records whose topic name matches a regular expression.",
			New: func() connect.Configurable { return NewTopicNameMatches() }},
		Plugin{Class: predicatePrefix + "HasHeaderKey", Aliases: []string{"has-header-key"}, Predicate: true,
			Doc: "True for records with a header of a given name.",
			New: func() connect.Configurable { return NewHasHeaderKey() }},
		Plugin{Class: predicatePrefix + "RecordIsTombstone", Aliases: []string{"record-is-tombstone"}, Predicate: true,
			Doc: "True for tombstones (records with a nil value).",
			New: func() connect.Configurable { return NewRecordIsTombstone() }},
	)
	return out
}

// Factories returns a TransformFactory and PredicateFactory that resolve this
// package's plugins by class name, simple class name or alias. The worker
// resolves through the plugin registry instead; these serve tests and
// embedded uses that need no registry.
func Factories() (TransformFactory, PredicateFactory) {
	byName := map[string]Plugin{}
	for _, p := range Plugins() {
		byName[p.Class] = p
		byName[p.Class[strings.LastIndexByte(p.Class, '.')+1:]] = p
		for _, a := range p.Aliases {
			byName[a] = p
		}
	}
	tf := func(name string) (connect.Transformation, error) {
		p, ok := byName[name]
		if !ok || p.Predicate {
			return nil, fmt.Errorf("no transformation called %s", name)
		}
		return p.New().(connect.Transformation), nil
	}
	pf := func(name string) (connect.Predicate, error) {
		p, ok := byName[name]
		if !ok || !p.Predicate {
			return nil, fmt.Errorf("no predicate called %s", name)
		}
		return p.New().(connect.Predicate), nil
	}
	return tf, pf
}
