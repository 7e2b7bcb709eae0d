package plugins

import (
	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connectors/http/sink"
)

// httpPlugins are the HTTP connectors: the sink under Confluent's class
// name and http-sink.
var httpPlugins = []Plugin{{
	Kind:    Sink,
	Class:   sink.Class,
	Aliases: []string{"http-sink"},
	Version: sink.Version,
	Doc: "Sends records to an HTTP API: templated URL and headers, batches per partition in order, " +
		"retries with backoff and Retry-After, refused records to the dead letter queue; basic, bearer, OAuth2 and mTLS.",
	New: func() connect.Configurable { return &sink.Connector{} },
}}

func init() { catalogue = append(catalogue, httpPlugins) }
