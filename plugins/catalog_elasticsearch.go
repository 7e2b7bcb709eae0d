package plugins

import (
	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connectors/elasticsearch"
)

// elasticsearchPlugins lists the Elasticsearch sink under Confluent's class
// name (which also resolves as ElasticsearchSinkConnector and
// ElasticsearchSink) and Penstock's short name "elasticsearch".
var elasticsearchPlugins = []Plugin{{
	Kind:    Sink,
	Class:   elasticsearch.Class,
	Aliases: []string{"elasticsearch"},
	Version: elasticsearch.Version,
	Doc: "Writes records to Elasticsearch indices through the bulk API: documents keyed by record key with " +
		"the Kafka offset as external version, Debezium change events applied as index, partial update or delete.",
	New: func() connect.Configurable { return &elasticsearch.Connector{} },
}}

func init() { catalogue = append(catalogue, elasticsearchPlugins) }
