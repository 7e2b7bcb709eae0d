package mysql

import "github.com/penstockhq/penstock/plugins"

// Plugins is the connector's entry in the plugin registry, listed by
// plugins/builtin: one connector under both Debezium class names.
var Plugins = []plugins.Plugin{{
	Kind:    plugins.Source,
	Class:   ClassName,
	Aliases: []string{"mysql"},
	Version: Version,
	Doc:     "Captures row changes of MySQL and MariaDB tables from the binlog (GTIDs or file and position) as Debezium change events, after an optional consistent parallel snapshot taken under a lock held for milliseconds.",
	New:     New,
}, {
	Kind:    plugins.Source,
	Class:   MariaDBClassName,
	Aliases: []string{"mariadb"},
	Version: Version,
	Doc:     "Captures row changes of MariaDB (and MySQL) tables from the binlog as Debezium change events; the same connector as io.debezium.connector.mysql.MySqlConnector.",
	New:     New,
}}
