package plugins

import (
	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connectors/blob"
)

// blobPlugins lists the object storage sink under Confluent's S3 sink class
// name, with its GCS and Azure Blob Storage sinks' class names and
// Penstock's short name "blob" as aliases.
var blobPlugins = []Plugin{{
	Kind:    Sink,
	Class:   blob.S3SinkClass,
	Aliases: []string{blob.GCSSinkClass, blob.AzureSinkClass, "blob"},
	Version: blob.Version,
	Doc: "Writes records to object storage (S3, GCS, Azure Blob, files) as JSON lines, Parquet, Avro, CSV or raw bytes, " +
		"in Confluent's object layout, each record in exactly one object across crashes.",
	New: func() connect.Configurable { return &blob.Connector{} },
}}

func init() { catalogue = append(catalogue, blobPlugins) }
