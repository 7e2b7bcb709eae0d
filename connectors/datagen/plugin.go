package datagen

import (
	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/plugins"
)

// Plugins is the data generator's entry in the plugin registry, listed by
// plugins/builtin.
var Plugins = []plugins.Plugin{{
	Kind: plugins.Source, Class: "io.penstock.connect.datagen.DatagenConnector",
	Aliases: []string{"datagen", "io.confluent.kafka.connect.datagen.DatagenConnector"},
	Version: plugins.PenstockVersion, Doc: "Generates a deterministic stream of structs (seq, task, ts, name, payload) at a given rate.",
	New: func() connect.Configurable { return New() },
}}
