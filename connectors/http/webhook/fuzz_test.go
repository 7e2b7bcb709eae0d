package webhook

import (
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// FuzzRequestBody feeds request bodies and signature headers, which come
// from outside, to the parsers of each body format: they must answer with
// records or an error, never panic, and a JSON array of n elements gives n
// records.
func FuzzRequestBody(f *testing.F) {
	for _, seed := range []string{`{"id":1}`, `[{"id":"a"},{"id":2},3]`, "{\"id\":1}\n\n{\"x\":[1]}\n", `[`, ``, `"s"`, "\xff"} {
		f.Add(seed, "t=1,v1=00")
	}
	f.Fuzz(func(t *testing.T, body, sig string) {
		for _, format := range []string{FormatJSON, FormatNDJSON, FormatRaw} {
			s, err := parseSettings(map[string]string{ListenerConfig: "127.0.0.1:0", TopicConfig: "t", BodyFormatConfig: format,
				KeyPointerConfig: map[bool]string{true: "", false: "/id"}[format == FormatRaw], ForwardHeadersConfig: "X-A",
				AuthTypeConfig: "HMAC", HMACSecretConfig: "k", HMACStyleConfig: "stripe"})
			if err != nil {
				t.Fatal(err)
			}
			task := &Task{s: s}
			req := httptest.NewRequest("POST", "/", strings.NewReader(body))
			req.Header.Set("X-A", "v")
			recs, err := task.records(req, []byte(body))
			if err == nil && format == FormatRaw && len(recs) != 1 {
				t.Fatalf("raw: %d records", len(recs))
			}
			_ = s.verifySignature(sig, []byte(body), time.Unix(1, 0))
		}
	})
}
