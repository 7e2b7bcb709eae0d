package plugins

import "github.com/penstockhq/penstock/transforms"

// transformsVersion is the version /connector-plugins reports for the
// transformations and predicates of package transforms.
const transformsVersion = "1.0.0"

// transformPlugins lists every transformation and predicate of package
// transforms under its Kafka Connect or Debezium class name (so
// `transforms.*.type` copied from their documentation resolves, as does the
// simple name, e.g. "InsertField$Value") and Penstock's short names
// (e.g. "insert-field-value", "unwrap", "outbox").
func transformPlugins() []Plugin {
	var out []Plugin
	for _, p := range transforms.Plugins() {
		kind := Transformation
		if p.Predicate {
			kind = Predicate
		}
		out = append(out, Plugin{Kind: kind, Class: p.Class, Aliases: p.Aliases, Version: transformsVersion, Doc: p.Doc, New: p.New})
	}
	return out
}

func init() { catalogue = append(catalogue, transformPlugins()) }
