package blob

import (
	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/plugins"
)

// Plugins lists the object storage sink under Confluent's S3 sink class
// name, with its GCS and Azure Blob Storage sinks' class names and
// Penstock's short name "blob" as aliases, and the restoring source under
// Confluent's S3 Source class name ("blob-source"). plugins/builtin lists it.
var Plugins = []plugins.Plugin{{
	Kind:    plugins.Sink,
	Class:   S3SinkClass,
	Aliases: []string{GCSSinkClass, AzureSinkClass, "blob"},
	Version: Version,
	Doc: "Writes records to object storage (S3, GCS, Azure Blob, files) as JSON lines, Parquet, Avro, CSV or raw bytes, " +
		"in Confluent's object layout, each record in exactly one object across crashes.",
	New: func() connect.Configurable { return &Connector{} },
}, {
	Kind:    plugins.Source,
	Class:   S3SourceClass,
	Aliases: []string{"blob-source"},
	Version: Version,
	Doc: "Restores objects the object storage sink wrote (JSON lines or bytes, with the keys, headers and timestamps " +
		"of store.kafka.keys/headers) into topics, in order, resuming by object name and record.",
	New: func() connect.Configurable { return &SourceConnector{} },
}}
