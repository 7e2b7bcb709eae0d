// Package console is Penstock's web console: static pages (HTML, CSS and
// vanilla JavaScript modules, embedded in the binary, no build step) that
// every worker serves under /ui on its REST listener, and what the JSON
// endpoints they need beyond Kafka Connect's REST API compute: per-connector
// record rates from the worker's Prometheus counters (Rates) and the
// cluster's topics, tail and consumer groups (Topics). The REST server
// (worker/rest) serves those endpoints; the pages call them from the
// browser; the console has no state of its own.
package console

import (
	"embed"
	"io/fs"
	"net/http"
	"strings"
)

// Path is where the console's pages are served; "/" redirects browsers here.
const Path = "/ui"

// MetricsPath answers the per-connector rates as JSON (see Rates). It is
// Penstock's, not Kafka Connect's.
const MetricsPath = "/penstock/metrics/connectors"

//go:embed ui
var files embed.FS

// New returns the handler of Path and everything below it: the pages.
// The REST server serves the JSON endpoints they call.
func New() http.Handler {
	ui, err := fs.Sub(files, "ui")
	if err != nil {
		panic(err) // the embedded tree always has ui/
	}
	static := http.StripPrefix(Path, http.FileServer(http.FS(ui)))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch p := r.URL.Path; {
		case p == Path || p == Path+"/":
			// index.html through the file server would redirect to "./";
			// serve it directly so /ui and /ui/ both work.
			w.Header().Set("Cache-Control", "no-cache")
			http.ServeFileFS(w, r, ui, "index.html")
		case strings.HasPrefix(p, Path+"/"):
			w.Header().Set("Cache-Control", "no-cache")
			static.ServeHTTP(w, r)
		default:
			http.NotFound(w, r)
		}
	})
}

// WantsHTML reports whether a request comes from a browser navigating to a
// page (its Accept header lists text/html), so GET / can redirect it to the
// console while API clients keep getting the server info.
func WantsHTML(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "text/html")
}
