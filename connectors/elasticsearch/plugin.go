package elasticsearch

import (
	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/plugins"
)

// Plugins is the sink's entry in the plugin registry, listed by
// plugins/builtin: Confluent's class name (which also resolves as
// ElasticsearchSinkConnector and ElasticsearchSink) and Penstock's short
// name "elasticsearch".
var Plugins = []plugins.Plugin{{
	Kind:    plugins.Sink,
	Class:   Class,
	Aliases: []string{"elasticsearch"},
	Version: Version,
	Doc: "Writes records to Elasticsearch indices through the bulk API: documents keyed by record key with " +
		"the Kafka offset as external version, Debezium change events applied as index, partial update or delete.",
	New: func() connect.Configurable { return &Connector{} },
}}
