package docgen

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connect/config"
	"github.com/penstockhq/penstock/plugins"
)

// fakePlugin is a plugin with a given definition.
type fakePlugin struct{ def *config.Def }

func (f fakePlugin) Config() *config.Def { return f.def }

func testRegistry(t *testing.T) *plugins.Registry {
	t.Helper()
	def := config.NewDef(
		config.Key{Name: "url", Type: config.String, Required: true, Importance: config.High, Group: "Connection",
			Doc: "Where to connect: <host>:<port> | anything\nsecond line with __dunder__."},
		config.Key{Name: "mode", Type: config.String, Default: "fast", Validator: config.OneOf("fast", "safe"), Importance: config.Medium, Group: "Connection"},
		config.Key{Name: "secret", Type: config.Password, Importance: config.Low, Group: "Auth"},
		config.Key{Name: "items", Type: config.List, Default: []string{}, Importance: config.Low, Group: "Auth"},
	)
	var reg plugins.Registry
	for _, p := range []plugins.Plugin{
		{Kind: plugins.Source, Class: "com.example.ThingConnector", Aliases: []string{"thing"}, Version: "1.2", Doc: "Reads things.",
			New: func() connect.Configurable { return fakePlugin{def} }},
		{Kind: plugins.Transformation, Class: "com.example.Mangle$Value", Doc: "Mangles.",
			New: func() connect.Configurable { return fakePlugin{config.NewDef()} }},
	} {
		if err := reg.Register(p); err != nil {
			t.Fatal(err)
		}
	}
	return &reg
}

func TestGenerate(t *testing.T) {
	files := Generate(testRegistry(t), Page{Name: "worker", Title: "Worker", Sections: []Section{{Heading: "Keys", Def: config.NewDef(
		config.Key{Name: "group.id", Type: config.String, Required: true, Importance: config.High})}}})
	var names []string
	for n := range files {
		names = append(names, n)
	}
	want := []string{"config/worker.md", "plugins/README.md", "plugins/source/ThingConnector.md", "plugins/transformation/Mangle-Value.md"}
	if strings.Join(slices.Sorted(slices.Values(names)), ",") != strings.Join(want, ",") {
		t.Fatalf("files %v, want %v", slices.Sorted(slices.Values(names)), want)
	}
	page := string(files["plugins/source/ThingConnector.md"])
	for _, w := range []string{
		Header,
		"# ThingConnector",
		"| class | `com.example.ThingConnector` |",
		"`ThingConnector`, `Thing`, `thing`",
		"### Connection", "### Auth",
		"| `url` | string | *required* |  | high | Where to connect: &lt;host&gt;:&lt;port&gt; \\| anything<br>second line with \\_\\_dunder\\_\\_. |",
		"| `mode` | string | `fast` | `[fast, safe]` | medium |",
		"| `secret` | password |  |  | low |",
		"| `items` | list | \"\" |  | low |",
	} {
		if !strings.Contains(page, w) {
			t.Errorf("plugin page lacks %q:\n%s", w, page)
		}
	}
	index := string(files["plugins/README.md"])
	for _, w := range []string{"[`com.example.ThingConnector`](source/ThingConnector.md)", "[`com.example.Mangle$Value`](transformation/Mangle-Value.md)", "(../config/worker.md)"} {
		if !strings.Contains(index, w) {
			t.Errorf("index lacks %q:\n%s", w, index)
		}
	}
	if !strings.Contains(string(files["plugins/transformation/Mangle-Value.md"]), "no configuration keys") {
		t.Error("a plugin without keys does not say so")
	}
}

func TestWriteAndDiff(t *testing.T) {
	dir := t.TempDir()
	files := Generate(testRegistry(t))
	if diffs, _ := Diff(dir, files); len(diffs) != len(files) {
		t.Errorf("empty dir: diffs %v", diffs)
	}
	// A stale page in a managed dir and a hand-written file outside them.
	stalePage := filepath.Join(dir, "plugins", "sink", "Gone.md")
	own := filepath.Join(dir, "guide.md")
	for _, p := range []string{stalePage, own} {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	diffs, err := Diff(dir, files)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(diffs, "\n"), "no longer generated: plugins/sink/Gone.md") {
		t.Errorf("stale page not reported: %v", diffs)
	}
	if err := Write(dir, files); err != nil {
		t.Fatal(err)
	}
	if diffs, err := Diff(dir, files); err != nil || len(diffs) != 0 {
		t.Errorf("after Write: %v %v", diffs, err)
	}
	if _, err := os.Stat(stalePage); !os.IsNotExist(err) {
		t.Error("stale page not removed")
	}
	if _, err := os.Stat(own); err != nil {
		t.Error("file outside the managed dirs removed")
	}
	// A changed page is reported.
	p := filepath.Join(dir, "plugins", "README.md")
	if err := os.WriteFile(p, []byte("edited"), 0o644); err != nil {
		t.Fatal(err)
	}
	if diffs, _ := Diff(dir, files); len(diffs) != 1 || diffs[0] != "out of date: plugins/README.md" {
		t.Errorf("edited page: %v", diffs)
	}
}
