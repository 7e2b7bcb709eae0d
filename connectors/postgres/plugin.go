package postgres

import "github.com/penstockhq/penstock/plugins"

// Plugins is the connector's entry in the plugin registry, listed by
// plugins/builtin.
var Plugins = []plugins.Plugin{{
	Kind:    plugins.Source,
	Class:   ClassName,
	Aliases: []string{"postgres"},
	Version: Version,
	Doc:     "Captures row changes of PostgreSQL tables through logical replication (pgoutput) as Debezium change events, after an optional consistent parallel snapshot.",
	New:     New,
}}
