// Package layout states, as data, the direction of imports DESIGN.md sets
// for Penstock's packages; its tests check the module against it, so an
// import that breaks the architecture fails `go test` rather than review.
package layout

// Module is the module path all package paths below are relative to.
const Module = "github.com/penstockhq/penstock"

// Rule says which packages of this module the packages matched by From may
// import. A pattern "x/..." matches x and every package below it; "x/*"
// matches the packages directly below x; anything else matches one package.
type Rule struct {
	From  string
	Allow []string
	// Why is the sentence of DESIGN.md the rule comes from.
	Why string
}

// Rules are the import directions of DESIGN.md, first match wins. Packages
// no rule matches (cmd, internal harnesses, bench, examples) may import
// anything: they assemble or test the whole.
var Rules = []Rule{
	{From: "connect/...", Allow: []string{"connect/..."},
		Why: "connect is the public API a connector author imports; it depends on nothing else here"},
	{From: "plugins", Allow: []string{"connect/..."},
		Why: "plugins is the registry; the list of built-in plugins is assembled apart from it"},
	{From: "plugins/builtin", Allow: []string{"connect/...", "plugins", "connectors/...", "transforms", "internal/debeziumnames"},
		Why: "plugins/builtin lists the plugins; the runtime does not import it"},
	{From: "transforms", Allow: []string{"connect/...", "internal/debeziumnames"},
		Why: "transforms -> connect"},
	{From: "connectors/debezium", Allow: []string{"connect/...", "internal/debeziumnames"},
		Why: "what CDC connectors share, in a package of its own that imports no connector"},
	{From: "connectors/http/...", Allow: []string{"connect/...", "plugins", "connectors/http/..."},
		Why: "connectors -> connect; a family's packages may import each other, never another connector"},
	{From: "connectors/*", Allow: []string{"connect/...", "plugins", "connectors/debezium", "internal/debeziumnames", "internal/clientconfig",
		"internal/tlsconfig"},
		Why: "connectors -> connect; each declares its own plugin entry; no connector imports another; leaf internals (tlsconfig reads truststores as the worker does)"},
	{From: "offsets", Allow: []string{"connect/...", "internal/topiclog"},
		Why: "offsets stores source offsets on a topic"},
	{From: "worker/...", Allow: []string{"connect/...", "plugins", "offsets", "transforms", "worker/...", "internal/properties", "internal/topiclog",
		"internal/tlsconfig", "internal/jaas", "internal/httpauth", "internal/clientconfig"},
		Why: "worker -> connect, plugins, offsets (never a connector, never the broker)"},
	{From: "broker/...", Allow: []string{"broker/...", "internal/properties", "internal/tlsconfig", "internal/jaas", "internal/httpauth"},
		Why: "broker -> nothing here but leaf internals"},
}

// Match reports whether the module-relative package path pkg matches pattern.
func Match(pattern, pkg string) bool {
	switch {
	case len(pattern) > 4 && pattern[len(pattern)-4:] == "/...":
		base := pattern[:len(pattern)-4]
		return pkg == base || (len(pkg) > len(base) && pkg[:len(base)+1] == base+"/")
	case len(pattern) > 2 && pattern[len(pattern)-2:] == "/*":
		base := pattern[:len(pattern)-1]
		if len(pkg) <= len(base) || pkg[:len(base)] != base {
			return false
		}
		for _, c := range pkg[len(base):] {
			if c == '/' {
				return false
			}
		}
		return true
	}
	return pattern == pkg
}

// Allowed reports whether pkg may import imp (both module-relative), and the
// rule that decided (nil when no rule covers pkg).
func Allowed(pkg, imp string) (bool, *Rule) {
	for i := range Rules {
		r := &Rules[i]
		if !Match(r.From, pkg) {
			continue
		}
		for _, a := range r.Allow {
			if Match(a, imp) {
				return true, r
			}
		}
		return false, r
	}
	return true, nil
}
