package properties

import (
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	in := `# comment
! also a comment
bootstrap.servers=localhost:9092
group.id : connect-cluster
key.converter org.apache.kafka.connect.json.JsonConverter
listeners = http://:8083, \
   http://127.0.0.1:8084
path=C:\\data\\x
unicode=caf\u00e9
empty=
tab\tkey=v
`
	got, err := Parse(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"bootstrap.servers": "localhost:9092",
		"group.id":          "connect-cluster",
		"key.converter":     "org.apache.kafka.connect.json.JsonConverter",
		"listeners":         "http://:8083, http://127.0.0.1:8084",
		"path":              `C:\data\x`,
		"unicode":           "café",
		"empty":             "",
		"tab\tkey":          "v",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%q = %q, want %q", k, got[k], v)
		}
	}
	if len(got) != len(want) {
		t.Errorf("got %d keys, want %d: %v", len(got), len(want), got)
	}
}

func TestWriteRoundTrip(t *testing.T) {
	in := map[string]string{
		"name":           "orders",
		"a key=with:sep": " leading space, trailing ",
		"#comment":       "!bang",
		"path":           `C:\data\file`,
		"multi":          "line1\nline2\ttab",
		"unicode":        "café ☕ 😀",
		"empty":          "",
	}
	var b strings.Builder
	if err := Write(&b, in); err != nil {
		t.Fatal(err)
	}
	out, err := Parse(strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	if !maps.Equal(in, out) {
		t.Errorf("round trip:\n%s\ngot %q\nwant %q", b.String(), out, in)
	}
}

// ReadFile parses a file; its errors name the file.
func TestReadFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "client.properties")
	if err := os.WriteFile(path, []byte("bootstrap.servers=a:9092\nsasl.mechanism = PLAIN\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	props, err := ReadFile(path)
	if err != nil || props["bootstrap.servers"] != "a:9092" || props["sasl.mechanism"] != "PLAIN" {
		t.Fatalf("%v, %v", props, err)
	}
	if _, err := ReadFile(path + ".missing"); err == nil || !strings.Contains(err.Error(), path+".missing") {
		t.Fatalf("a missing file: %v", err)
	}
}
