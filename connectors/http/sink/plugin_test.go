package sink_test

import (
	"testing"

	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connect/config"
	"github.com/penstockhq/penstock/connectors/http/httpclient"
	"github.com/penstockhq/penstock/connectors/http/sink"
	"github.com/penstockhq/penstock/plugins"
	"github.com/penstockhq/penstock/plugins/builtin"
)

func TestRegisteredUnderConfluentNames(t *testing.T) {
	for _, name := range []string{sink.Class, "HttpSinkConnector", "http-sink"} {
		p, err := builtin.Registry().LookupKind(name, plugins.Sink)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if _, ok := p.New().(connect.SinkConnector); !ok {
			t.Fatalf("%s: not a sink connector", name)
		}
	}
	def := sink.ConfigDef()
	for _, k := range []string{httpclient.PasswordConfig, httpclient.OAuthClientSecretConfig, httpclient.BearerTokenConfig,
		sink.SensitiveHeadersConfig, httpclient.ProxyPasswordConfig} {
		if key, _ := def.Key(k); key.Type != config.Password {
			t.Errorf("%s is not a PASSWORD key", k)
		}
	}
	for _, c := range []struct {
		props map[string]string
		key   string
	}{
		{map[string]string{sink.URLConfig: "http://h/${nope}"}, sink.URLConfig},
		{map[string]string{sink.URLConfig: "ftp://h/"}, sink.URLConfig},
		{map[string]string{sink.URLConfig: "http://h/", sink.BatchJSONAsArrayConfig: "true"}, sink.BatchJSONAsArrayConfig},
		{map[string]string{sink.URLConfig: "http://h/", httpclient.AuthTypeConfig: "OAUTH2"}, httpclient.OAuthTokenURLConfig},
		{map[string]string{sink.URLConfig: "http://h/", httpclient.RetryOnStatusConfig: "5xx,abc"}, httpclient.RetryOnStatusConfig},
	} {
		infos := sink.ConfigDef().Validate(sink.Class, c.props)
		(&sink.Connector{}).ValidateConfig(c.props, &infos)
		found := false
		for _, ci := range infos.Configs {
			if ci.Definition.Name == c.key && len(ci.Value.Errors) > 0 {
				found = true
			}
		}
		if !found {
			t.Errorf("%v: no error on %s", c.props, c.key)
		}
	}
}
