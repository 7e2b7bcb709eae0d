// Package builtin lists every plugin Penstock ships: the converters, the
// transformations and predicates, and each connector family's Plugins. It is
// where the binary is assembled, so only cmd/ and tests import it; the
// runtime (worker) receives the Registry it returns and depends on no
// connector.
//
// Adding a connector family is one line in Plugins below.
package builtin

import (
	"slices"
	"sync"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/penstockhq/penstock/connectors/blob"
	"github.com/penstockhq/penstock/connectors/datagen"
	"github.com/penstockhq/penstock/connectors/debezium"
	"github.com/penstockhq/penstock/connectors/elasticsearch"
	"github.com/penstockhq/penstock/connectors/file"
	"github.com/penstockhq/penstock/connectors/http"
	"github.com/penstockhq/penstock/connectors/mysql"
	"github.com/penstockhq/penstock/connectors/postgres"
	"github.com/penstockhq/penstock/plugins"
	"github.com/penstockhq/penstock/transforms"
)

// Plugins returns every plugin Penstock ships, one set per family.
func Plugins() []plugins.Plugin {
	return slices.Concat(
		file.Plugins,
		datagen.Plugins,
		plugins.Converters,
		elasticsearch.Plugins,
		postgres.Plugins,
		blob.Plugins,
		mysql.Plugins,
		http.Plugins,
		transformPlugins(),
	)
}

// Collectors returns the connectors' Prometheus metrics (snapshot progress,
// CDC lag), for the worker's registry to serve at /metrics beside its own.
func Collectors() []prometheus.Collector {
	return slices.Concat(debezium.Collectors(), postgres.Collectors())
}

var (
	once sync.Once
	reg  *plugins.Registry
)

// Registry returns the registry of Plugins, made once. It panics if two
// plugins claim one name, a mistake the package's tests catch.
func Registry() *plugins.Registry {
	once.Do(func() {
		reg = &plugins.Registry{}
		for _, p := range Plugins() {
			if err := reg.Register(p); err != nil {
				panic("plugins/builtin: " + err.Error())
			}
		}
	})
	return reg
}

// transformsVersion is the version /connector-plugins reports for the
// transformations and predicates of package transforms.
const transformsVersion = "1.0.0"

// transformPlugins lists every transformation and predicate of package
// transforms under its Kafka Connect or Debezium class name (so
// `transforms.*.type` copied from their documentation resolves, as does the
// simple name, e.g. "InsertField$Value") and Penstock's short names
// (e.g. "insert-field-value", "unwrap", "outbox").
func transformPlugins() []plugins.Plugin {
	var out []plugins.Plugin
	for _, p := range transforms.Plugins() {
		kind := plugins.Transformation
		if p.Predicate {
			kind = plugins.Predicate
		}
		out = append(out, plugins.Plugin{Kind: kind, Class: p.Class, Aliases: p.Aliases, Version: transformsVersion, Doc: p.Doc, New: p.New})
	}
	return out
}
