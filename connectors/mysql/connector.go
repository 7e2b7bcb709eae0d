package mysql

import (
	"context"
	"fmt"
	"maps"

	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connect/config"
)

// Debezium's class names of its MySQL and MariaDB connectors; configs
// copied from Debezium's documentation name them in connector.class. Both
// run this connector, which detects the server's flavour.
const (
	ClassName        = "io.debezium.connector.mysql.MySqlConnector"
	MariaDBClassName = "io.debezium.connector.mariadb.MariaDbConnector"
)

// Connector is the MySQL and MariaDB change data capture source connector.
// Like Debezium's, it runs exactly one task whatever tasks.max says: one
// binlog is one ordered stream.
type Connector struct {
	props map[string]string
}

var _ connect.SourceConnector = (*Connector)(nil)
var _ connect.ConfigValidator = (*Connector)(nil)

// New returns a connector, for the plugin catalogue.
func New() connect.Configurable { return &Connector{} }

// Config returns the accepted keys.
func (c *Connector) Config() *config.Def { return ConfigDef() }

// Start checks the configuration.
func (c *Connector) Start(ctx context.Context, cctx connect.ConnectorContext, props map[string]string) error {
	if _, err := parseSettings(props); err != nil {
		return fmt.Errorf("mysql: %w", err)
	}
	c.props = maps.Clone(props)
	return nil
}

// TaskConfigs returns a single task configuration. A random server id is
// drawn here when none is configured, so a restarted task keeps it.
func (c *Connector) TaskConfigs(maxTasks int) ([]map[string]string, error) {
	if maxTasks < 1 {
		return nil, nil
	}
	props := maps.Clone(c.props)
	if props[KeyServerID] == "" {
		s, err := parseSettings(props)
		if err != nil {
			return nil, fmt.Errorf("mysql: %w", err)
		}
		props[KeyServerID] = fmt.Sprint(s.serverID)
	}
	return []map[string]string{props}, nil
}

// Stop does nothing: the task owns the connections.
func (c *Connector) Stop() error { return nil }

// NewTask returns a new task.
func (c *Connector) NewTask() connect.SourceTask { return NewTask() }

// ValidateConfig reports cross-key problems: include and exclude lists of the
// same kind together.
func (c *Connector) ValidateConfig(props map[string]string, infos *config.Infos) {
	for _, p := range includeExcludePairs {
		if props[p[0]] != "" && props[p[1]] != "" {
			infos.AddError(p[1], fmt.Sprintf("%s and %s cannot both be set", p[0], p[1]))
		}
	}
}
