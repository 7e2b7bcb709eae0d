package plugins

import "sync"

// PenstockVersion is the version /connector-plugins reports for the plugins
// Penstock ships that have no version of their own.
const PenstockVersion = "0.1.0-dev"

// penstockPluginVersion is PenstockVersion under the name the old catalog
// files used.
//
// Deprecated: use PenstockVersion.
const penstockPluginVersion = PenstockVersion

// catalogue holds the plugin sets that plugins/catalog_<name>.go files add in
// their init functions, the layout before plugins/builtin.
//
// Deprecated: a connector declares its Plugins beside its code and
// plugins/builtin lists them. The catalogue stays so that connectors written
// against the old layout still build; plugins/builtin includes it, and its
// dependency test fails while a catalog file makes this package import a
// connector.
var catalogue [][]Plugin

// Catalogued returns the plugins of the deprecated catalog_<name>.go files.
func Catalogued() []Plugin {
	var out []Plugin
	for _, set := range catalogue {
		out = append(out, set...)
	}
	return out
}

var (
	catalogueOnce sync.Once
	catalogueReg  *Registry
)

// Builtin returns a registry of the plugins of the deprecated
// catalog_<name>.go files only.
//
// Deprecated: use plugins/builtin.Registry, which holds every plugin Penstock
// ships.
func Builtin() *Registry {
	catalogueOnce.Do(func() {
		catalogueReg = &Registry{}
		for _, p := range Catalogued() {
			if err := catalogueReg.Register(p); err != nil {
				panic("plugins: " + err.Error())
			}
		}
	})
	return catalogueReg
}
