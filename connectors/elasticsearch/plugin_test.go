package elasticsearch_test

import (
	"testing"

	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connect/config"
	"github.com/penstockhq/penstock/connectors/elasticsearch"
	"github.com/penstockhq/penstock/plugins"
	"github.com/penstockhq/penstock/plugins/builtin"
)

func TestRegisteredUnderConfluentNames(t *testing.T) {
	for _, name := range []string{elasticsearch.Class, "ElasticsearchSinkConnector", "ElasticsearchSink", "elasticsearch"} {
		p, err := builtin.Registry().LookupKind(name, plugins.Sink)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, ok := p.New().(connect.SinkConnector); !ok {
			t.Fatalf("%s: not a sink connector", name)
		}
	}
	def := elasticsearch.ConfigDef()
	if k, _ := def.Key(elasticsearch.ConnectionPasswordConfig); k.Type != config.Password {
		t.Error("connection.password is not a PASSWORD key")
	}
	infos := &config.Infos{}
	(&elasticsearch.Connector{}).ValidateConfig(map[string]string{
		elasticsearch.ConnectionURLConfig: "http://h:9200", elasticsearch.DataStreamTypeConfig: "LOGS"}, infos)
	if infos.ErrorCount != 1 || infos.Configs[0].Definition.Name != elasticsearch.DataStreamTypeConfig {
		t.Errorf("validation: %+v", infos)
	}
}
