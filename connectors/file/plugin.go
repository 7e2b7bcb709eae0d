package file

import (
	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/plugins"
)

// Plugins are Kafka Connect's file connectors, listed by plugins/builtin.
var Plugins = []plugins.Plugin{
	{Kind: plugins.Source, Class: "org.apache.kafka.connect.file.FileStreamSourceConnector", Aliases: []string{"file-source"},
		Version: plugins.PenstockVersion, Doc: "Reads the lines of a file, following it as it grows; one record per line.",
		New: func() connect.Configurable { return NewSource() }},
	{Kind: plugins.Sink, Class: "org.apache.kafka.connect.file.FileStreamSinkConnector", Aliases: []string{"file-sink"},
		Version: plugins.PenstockVersion, Doc: "Appends each record's value to a file as one line; fsyncs on flush.",
		New: func() connect.Configurable { return NewSink() }},
}
