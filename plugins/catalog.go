package plugins

import "sync"

// catalogue lists the plugin sets Penstock ships; each set lives in its own
// catalog_*.go file beside the code family it lists.
var catalogue = [][]Plugin{}

var (
	builtinOnce sync.Once
	builtin     *Registry
)

// Builtin returns the registry of every plugin Penstock ships. It panics if
// two plugins claim one name, a mistake the package's tests catch.
func Builtin() *Registry {
	builtinOnce.Do(func() {
		builtin = &Registry{}
		for _, set := range catalogue {
			for _, p := range set {
				if err := builtin.Register(p); err != nil {
					panic("plugins: " + err.Error())
				}
			}
		}
	})
	return builtin
}
