package postgres_test

import (
	"testing"

	"github.com/penstockhq/penstock/connectors/postgres"
	"github.com/penstockhq/penstock/plugins"
	"github.com/penstockhq/penstock/plugins/builtin"
)

// The connector resolves by Debezium's class name and by its alias, and runs one task.
func TestPluginRegistered(t *testing.T) {
	p, err := builtin.Registry().LookupKind("io.debezium.connector.postgresql.PostgresConnector", plugins.Source)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := builtin.Registry().LookupKind("postgres", plugins.Source); err != nil {
		t.Fatal(err)
	}
	c := p.New().(*postgres.Connector)
	if err := c.Start(t.Context(), nil, map[string]string{postgres.KeyHostname: "h", postgres.KeyUser: "u", postgres.KeyDBName: "d", postgres.KeyTopicPrefix: "x"}); err != nil {
		t.Fatal(err)
	}
	cfgs, _ := c.TaskConfigs(8)
	if len(cfgs) != 1 {
		t.Fatalf("TaskConfigs(8) = %d configs, want 1", len(cfgs))
	}
}
