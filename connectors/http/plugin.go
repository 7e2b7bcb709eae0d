package http

import (
	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connectors/http/poll"
	"github.com/penstockhq/penstock/connectors/http/sink"
	"github.com/penstockhq/penstock/connectors/http/webhook"
	"github.com/penstockhq/penstock/plugins"
)

// Plugins are the HTTP connectors: the sink under Confluent's class
// name and http-sink, the webhook source as http-webhook, the polling
// source under Confluent's HTTP source class name and http-poll.
// plugins/builtin lists them.
var Plugins = []plugins.Plugin{{
	Kind:    plugins.Sink,
	Class:   sink.Class,
	Aliases: []string{"http-sink"},
	Version: sink.Version,
	Doc: "Sends records to an HTTP API: templated URL and headers, batches per partition in order, " +
		"retries with backoff and Retry-After, refused records to the dead letter queue; basic, bearer, OAuth2 and mTLS.",
	New: func() connect.Configurable { return &sink.Connector{} },
}, {
	Kind:    plugins.Source,
	Class:   "io.penstock.connect.http.WebhookSourceConnector",
	Aliases: []string{"http-webhook"},
	Version: webhook.Version,
	Doc: "Listens for HTTP requests (webhooks) and turns each, or each element of a JSON array or NDJSON body, into a record; " +
		"answers 2xx only once the broker acknowledged them, 503 with Retry-After under backpressure; bearer, basic or HMAC signatures.",
	New: func() connect.Configurable { return &webhook.Connector{} },
}, {
	Kind:    plugins.Source,
	Class:   poll.Class,
	Aliases: []string{"http-poll"},
	Version: poll.Version,
	Doc: "Polls an HTTP API: records picked from each JSON answer by a JSON pointer, pages followed, the position " +
		"(a number, the last record's field, or a cursor) kept as the source offset.",
	New: func() connect.Configurable { return &poll.Connector{} },
}}
