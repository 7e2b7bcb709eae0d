package layout

import (
	"bufio"
	"bytes"
	"os/exec"
	"strings"
	"testing"
)

// goList runs go list over the module with a template printing the package
// path first and space-separated fields after it.
func goList(t *testing.T, args ...string) [][]string {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list"}, args...)...)
	cmd.Dir = "../.."
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %v: %v\n%s", args, err, stderr.String())
	}
	var rows [][]string
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) > 0 {
			rows = append(rows, f)
		}
	}
	return rows
}

func rel(p string) (string, bool) {
	if p == Module {
		return "", true
	}
	return strings.CutPrefix(p, Module+"/")
}

// TestImportDirections checks every package's imports against Rules.
func TestImportDirections(t *testing.T) {
	for _, row := range goList(t, "-f", "{{.ImportPath}} {{join .Imports \" \"}}", "./...") {
		pkg, ok := rel(row[0])
		if !ok {
			continue
		}
		for _, imp := range row[1:] {
			ri, ok := rel(imp)
			if !ok {
				continue
			}
			if allowed, r := Allowed(pkg, ri); !allowed {
				t.Errorf("%s imports %s, against DESIGN.md: %s", pkg, ri, r.Why)
			}
		}
	}
}

// sharedLibraries are outside modules both the runtime and connectors use:
// metrics, the Kafka client and the compression codecs it uses, PKCS12
// truststores.
var sharedLibraries = []string{"github.com/prometheus/", "github.com/twmb/franz-go/", "github.com/klauspost/compress/",
	"github.com/pierrec/lz4/", "golang.org/x/", "software.sslmate.com/src/go-pkcs12"}

// TestRuntimeImportsNoConnector checks that the runtime (worker, broker) and
// its dependencies include no connector package and none of the outside
// packages connectors import (their drivers: pgx, go-elasticsearch, ...).
func TestRuntimeImportsNoConnector(t *testing.T) {
	drivers := map[string]string{} // outside import path -> connector importing it
	for _, row := range goList(t, "-f", "{{.ImportPath}} {{join .Imports \" \"}}", "./connectors/...") {
		for _, imp := range row[1:] {
			if _, own := rel(imp); own || !strings.Contains(strings.Split(imp, "/")[0], ".") {
				continue // this module or the standard library
			}
			shared := false
			for _, s := range sharedLibraries {
				shared = shared || strings.HasPrefix(imp, s)
			}
			if !shared {
				drivers[imp] = row[0]
			}
		}
	}
	if len(drivers) == 0 {
		t.Fatal("found no connector dependency to check; is go list working?")
	}
	deps := goList(t, "-deps", "-f", "{{.ImportPath}}", "./worker/...", "./broker/...")
	for _, row := range deps {
		p := row[0]
		if r, ok := rel(p); ok && Match("connectors/...", r) {
			t.Errorf("the runtime depends on connector package %s", r)
		}
		if c, ok := drivers[p]; ok {
			t.Errorf("the runtime depends on %s, which %s imports", p, c)
		}
	}
	t.Logf("go list -deps ./worker/... ./broker/...: %d packages", len(deps))
}

func TestMatch(t *testing.T) {
	for _, c := range []struct {
		pattern, pkg string
		want         bool
	}{
		{"connect/...", "connect", true}, {"connect/...", "connect/config", true}, {"connect/...", "connectors/file", false},
		{"connectors/*", "connectors/file", true}, {"connectors/*", "connectors/file/x", false}, {"connectors/*", "connectors", false},
		{"plugins", "plugins/builtin", false},
	} {
		if got := Match(c.pattern, c.pkg); got != c.want {
			t.Errorf("Match(%q, %q) = %v", c.pattern, c.pkg, got)
		}
	}
}

// TestSignalsOnlyInCmd checks that only the binary handles process signals:
// libraries (the broker, the worker) stop when their context is done.
func TestSignalsOnlyInCmd(t *testing.T) {
	for _, row := range goList(t, "-f", "{{.ImportPath}} {{join .Imports \" \"}}", "./...") {
		pkg, _ := rel(row[0])
		if Match("cmd/...", pkg) || Match("bench/...", pkg) {
			continue
		}
		for _, imp := range row[1:] {
			if imp == "os/signal" {
				t.Errorf("%s imports os/signal; handle signals in cmd/ and pass a context", pkg)
			}
		}
	}
}
