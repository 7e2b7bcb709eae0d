package plugins

import "github.com/penstockhq/penstock/connectors/mysql"

// mysqlPlugins lists the MySQL and MariaDB change data capture source under
// both Debezium class names.
var mysqlPlugins = []Plugin{{
	Kind:    Source,
	Class:   mysql.ClassName,
	Aliases: []string{"mysql"},
	Version: mysql.Version,
	Doc:     "Captures row changes of MySQL and MariaDB tables from the binlog (GTIDs or file and position) as Debezium change events, after an optional consistent parallel snapshot taken under a lock held for milliseconds.",
	New:     mysql.New,
}, {
	Kind:    Source,
	Class:   mysql.MariaDBClassName,
	Aliases: []string{"mariadb"},
	Version: mysql.Version,
	Doc:     "Captures row changes of MariaDB (and MySQL) tables from the binlog as Debezium change events; the same connector as io.debezium.connector.mysql.MySqlConnector.",
	New:     mysql.New,
}}

func init() { catalogue = append(catalogue, mysqlPlugins) }
