package plugins

import (
	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connectors/datagen"
	"github.com/penstockhq/penstock/connectors/file"
)

// demoConnectorPlugins are the small connectors for demos and benchmarks:
// Kafka Connect's file connectors and a data generator.
var demoConnectorPlugins = []Plugin{
	{Kind: Source, Class: "org.apache.kafka.connect.file.FileStreamSourceConnector", Aliases: []string{"file-source"},
		Version: penstockPluginVersion, Doc: "Reads the lines of a file, following it as it grows; one record per line.",
		New: func() connect.Configurable { return file.NewSource() }},
	{Kind: Sink, Class: "org.apache.kafka.connect.file.FileStreamSinkConnector", Aliases: []string{"file-sink"},
		Version: penstockPluginVersion, Doc: "Appends each record's value to a file as one line; fsyncs on flush.",
		New: func() connect.Configurable { return file.NewSink() }},
	{Kind: Source, Class: "io.penstock.connect.datagen.DatagenConnector",
		Aliases: []string{"datagen", "io.confluent.kafka.connect.datagen.DatagenConnector"},
		Version: penstockPluginVersion, Doc: "Generates a deterministic stream of structs (seq, task, ts, name, payload) at a given rate.",
		New: func() connect.Configurable { return datagen.New() }},
}

func init() { catalogue = append(catalogue, demoConnectorPlugins) }
