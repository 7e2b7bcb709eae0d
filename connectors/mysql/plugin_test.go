package mysql_test

import (
	"strconv"
	"testing"

	"github.com/penstockhq/penstock/connectors/mysql"
	"github.com/penstockhq/penstock/plugins"
	"github.com/penstockhq/penstock/plugins/builtin"
)

// The connector resolves by both Debezium class names and both aliases, runs
// one task, and gives it a server id in Debezium's default range when none is
// configured.
func TestPluginRegistered(t *testing.T) {
	for _, name := range []string{mysql.ClassName, mysql.MariaDBClassName, "mysql", "mariadb"} {
		p, err := builtin.Registry().LookupKind(name, plugins.Source)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		c := p.New().(*mysql.Connector)
		if err := c.Start(t.Context(), nil, map[string]string{mysql.KeyHostname: "h", mysql.KeyUser: "u", mysql.KeyTopicPrefix: "x"}); err != nil {
			t.Fatal(err)
		}
		cfgs, _ := c.TaskConfigs(8)
		if len(cfgs) != 1 {
			t.Fatalf("TaskConfigs(8) = %d configs, want 1", len(cfgs))
		}
		id, err := strconv.Atoi(cfgs[0][mysql.KeyServerID])
		if err != nil || id < 5400 || id > 6400 {
			t.Fatalf("%s = %q, want 5400..6400", mysql.KeyServerID, cfgs[0][mysql.KeyServerID])
		}
	}
}
