package plugins

import (
	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connect/converters"
)

// converterPlugins are the converters and header converters, under Kafka
// Connect's class names. Kafka Connect also lists StringConverter and
// JsonConverter as header converters; a name has one kind here, so they are
// registered as converters only.
var converterPlugins = []Plugin{
	{Kind: Converter, Class: "org.apache.kafka.connect.json.JsonConverter", Version: penstockPluginVersion,
		Doc: "JSON with Kafka Connect's {\"schema\",\"payload\"} envelope (schemas.enable) or plain JSON.",
		New: func() connect.Configurable { return converters.NewJSON() }},
	{Kind: Converter, Class: "org.apache.kafka.connect.storage.StringConverter", Version: penstockPluginVersion,
		Doc: "Values as strings in converter.encoding (UTF-8).",
		New: func() connect.Configurable { return converters.NewString() }},
	{Kind: Converter, Class: "org.apache.kafka.connect.converters.ByteArrayConverter", Version: penstockPluginVersion,
		Doc: "Raw bytes, passed through unchanged.",
		New: func() connect.Configurable { return converters.NewByteArray() }},
	{Kind: HeaderConverter, Class: "org.apache.kafka.connect.storage.SimpleHeaderConverter", Version: penstockPluginVersion,
		Doc: "Header values as strings, with the schema inferred when read (Kafka Connect's default).",
		New: func() connect.Configurable { return converters.NewSimpleHeader() }},
}

func init() { catalogue = append(catalogue, converterPlugins) }

// penstockPluginVersion is the version /connector-plugins reports for the
// plugins Penstock ships. (It belongs in catalog.go; it lives here until the
// lead moves it.)
const penstockPluginVersion = "0.1.0-dev"
