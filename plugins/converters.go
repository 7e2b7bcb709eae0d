package plugins

import (
	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connect/converters"
	"github.com/penstockhq/penstock/connect/converters/avro"
	"github.com/penstockhq/penstock/connect/converters/jsonschema"
)

// Converters are the converters and header converters of package
// connect/converters and its Schema Registry converters, under Kafka Connect's
// and Confluent's class names. Kafka Connect also lists StringConverter and
// JsonConverter as header converters; a name has one kind here, so they are
// registered as converters only.
var Converters = []Plugin{
	{Kind: Converter, Class: "org.apache.kafka.connect.json.JsonConverter", Version: PenstockVersion,
		Doc: "JSON with Kafka Connect's {\"schema\",\"payload\"} envelope (schemas.enable) or plain JSON.",
		New: func() connect.Configurable { return converters.NewJSON() }},
	{Kind: Converter, Class: "org.apache.kafka.connect.storage.StringConverter", Version: PenstockVersion,
		Doc: "Values as strings in converter.encoding (UTF-8).",
		New: func() connect.Configurable { return converters.NewString() }},
	{Kind: Converter, Class: "org.apache.kafka.connect.converters.ByteArrayConverter", Version: PenstockVersion,
		Doc: "Raw bytes, passed through unchanged.",
		New: func() connect.Configurable { return converters.NewByteArray() }},
	{Kind: HeaderConverter, Class: "org.apache.kafka.connect.storage.SimpleHeaderConverter", Version: PenstockVersion,
		Doc: "Header values as strings, with the schema inferred when read (Kafka Connect's default).",
		New: func() connect.Configurable { return converters.NewSimpleHeader() }},
	{Kind: Converter, Class: "io.confluent.connect.avro.AvroConverter", Version: PenstockVersion,
		Doc: "Avro in Confluent's wire format, schemas registered in a Schema Registry (schema.registry.url; penstock broker serves one).",
		New: func() connect.Configurable { return avro.New() }},
	{Kind: Converter, Class: "io.confluent.connect.json.JsonSchemaConverter", Version: PenstockVersion,
		Doc: "JSON in Confluent's wire format, JSON Schemas registered in a Schema Registry (schema.registry.url).",
		New: func() connect.Configurable { return jsonschema.New() }},
}
