package plugins

import (
	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connect/converters/avro"
	"github.com/penstockhq/penstock/connect/converters/jsonschema"
)

// schemaConverterPlugins are Confluent's Schema Registry converters.
var schemaConverterPlugins = []Plugin{
	{Kind: Converter, Class: "io.confluent.connect.avro.AvroConverter", Version: penstockPluginVersion,
		Doc: "Avro in Confluent's wire format, schemas registered in a Schema Registry (schema.registry.url; penstock broker serves one).",
		New: func() connect.Configurable { return avro.New() }},
	{Kind: Converter, Class: "io.confluent.connect.json.JsonSchemaConverter", Version: penstockPluginVersion,
		Doc: "JSON in Confluent's wire format, JSON Schemas registered in a Schema Registry (schema.registry.url).",
		New: func() connect.Configurable { return jsonschema.New() }},
}

func init() { catalogue = append(catalogue, schemaConverterPlugins) }
