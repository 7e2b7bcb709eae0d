package plugins

import "github.com/penstockhq/penstock/connectors/postgres"

// postgresPlugins lists the PostgreSQL change data capture source.
var postgresPlugins = []Plugin{{
	Kind:    Source,
	Class:   postgres.ClassName,
	Aliases: []string{"postgres"},
	Version: postgres.Version,
	Doc:     "Captures row changes of PostgreSQL tables through logical replication (pgoutput) as Debezium change events, after an optional consistent parallel snapshot.",
	New:     postgres.New,
}}

func init() { catalogue = append(catalogue, postgresPlugins) }
