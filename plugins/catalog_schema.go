package plugins

import (
	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connect/converters/avro"
)

// schemaConverterPlugins are Confluent's Schema Registry converters.
var schemaConverterPlugins = []Plugin{
	{Kind: Converter, Class: "io.confluent.connect.avro.AvroConverter", Version: penstockPluginVersion,
		Doc: "Avro in Confluent's wire format, schemas registered in a Schema Registry (schema.registry.url; penstock broker serves one).",
		New: func() connect.Configurable { return avro.New() }},
}

func init() { catalogue = append(catalogue, schemaConverterPlugins) }
