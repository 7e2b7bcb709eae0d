package properties

import (
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
