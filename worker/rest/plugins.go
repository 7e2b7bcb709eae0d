package rest

import (
	"context"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/penstockhq/penstock/connect/config"
)

// connectorClassKey is the connector config key naming the plugin.
const connectorClassKey = "connector.class"

// listPlugins answers GET /connector-plugins. As in Kafka Connect,
// connectorsOnly defaults to true: only sources and sinks are listed unless
// the request says connectorsOnly=false.
func (s *Server) listPlugins(c echo.Context) error {
	connectorsOnly := queryBool(c, "connectorsOnly", true)
	return writeJSON(c, http.StatusOK, nonNil(s.herder.Plugins(connectorsOnly)))
}

// pluginConfig answers GET /connector-plugins/{p}/config: the plugin's keys.
func (s *Server) pluginConfig(c echo.Context) error {
	plugin := param(c, "p")
	keys, err := get(s, c, func(context.Context) ([]config.KeyInfo, error) { return s.herder.PluginConfig(plugin) })
	if err != nil {
		return err
	}
	return writeJSON(c, http.StatusOK, nonNil(keys))
}

// validateConfig answers PUT /connector-plugins/{p}/config/validate: 200
// with the ConfigInfos, whose errors are in the body; 400 when the body's
// connector.class names another plugin than {p}.
func (s *Server) validateConfig(c echo.Context) error {
	plugin := param(c, "p")
	var cfg configMap
	if err := decodeBody(c, &cfg); err != nil {
		return err
	}
	if cfg == nil {
		return BadRequest("Connector config must be a JSON object of string values")
	}
	if included, ok := cfg[connectorClassKey]; ok && !samePlugin(included, plugin) {
		return BadRequest("Included connector type %s does not match request type %s", included, plugin)
	}
	infos, err := get(s, c, func(ctx context.Context) (config.Infos, error) { return s.herder.ValidateConfig(ctx, cfg) })
	if err != nil {
		return err
	}
	infos.Groups = nonNil(infos.Groups)
	infos.Configs = nonNil(infos.Configs)
	return writeJSON(c, http.StatusOK, infos)
}

// samePlugin is Kafka Connect's check that a config's connector.class and
// the plugin in the URL agree: with a trailing "Connector" dropped from both,
// one ends with the other. Kafka Connect only accepts the class ending with
// the URL's name and compares case-sensitively; Penstock also accepts the
// reverse and ignores case, so short aliases ("postgres") and full class
// names (io.debezium.connector.postgresql.PostgresConnector) match either way
// round. The herder still validates the class itself.
func samePlugin(included, plugin string) bool {
	a := strings.ToLower(trimConnectorSuffix(strings.TrimSpace(included)))
	b := strings.ToLower(trimConnectorSuffix(strings.TrimSpace(plugin)))
	return strings.HasSuffix(a, b) || strings.HasSuffix(b, a)
}

// trimConnectorSuffix drops the "Connector" suffix of a plugin name, which
// Kafka Connect's aliases omit.
func trimConnectorSuffix(name string) string {
	const suffix = "Connector"
	if len(name) > len(suffix) && strings.HasSuffix(name, suffix) {
		return name[:len(name)-len(suffix)]
	}
	return name
}
