package postgres

import (
	"context"
	"fmt"
	"maps"

	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connect/config"
)

// ClassName is Debezium's class name of the connector; configs copied from
// Debezium's documentation name it in connector.class.
const ClassName = "io.debezium.connector.postgresql.PostgresConnector"

// Connector is the PostgreSQL change data capture source connector. Like
// Debezium's, it runs exactly one task whatever tasks.max says: one
// replication slot is one ordered stream.
type Connector struct {
	props map[string]string
}

// New returns a connector, for the plugin catalogue.
func New() connect.Configurable { return &Connector{} }

// Config returns the accepted keys.
func (c *Connector) Config() *config.Def { return ConfigDef() }

// Start checks the configuration.
func (c *Connector) Start(ctx context.Context, cctx connect.ConnectorContext, props map[string]string) error {
	if _, err := parseSettings(props); err != nil {
		return fmt.Errorf("postgres: %w", err)
	}
	c.props = maps.Clone(props)
	return nil
}

// TaskConfigs returns a single task configuration.
func (c *Connector) TaskConfigs(maxTasks int) ([]map[string]string, error) {
	if maxTasks < 1 {
		return nil, nil
	}
	return []map[string]string{maps.Clone(c.props)}, nil
}

// Stop does nothing: the task owns the connections.
func (c *Connector) Stop() error { return nil }

// NewTask returns a new task.
func (c *Connector) NewTask() connect.SourceTask { return NewTask() }

// ValidateConfig reports cross-key problems: include and exclude lists of the
// same kind together.
func (c *Connector) ValidateConfig(props map[string]string, infos *config.Infos) {
	pairs := [][2]string{{KeySchemaInclude, KeySchemaExclude}, {KeyTableInclude, KeyTableExclude}, {KeyColumnInclude, KeyColumnExclude}}
	for _, p := range pairs {
		if props[p[0]] != "" && props[p[1]] != "" {
			infos.AddError(p[1], fmt.Sprintf("%s and %s cannot both be set", p[0], p[1]))
		}
	}
}
