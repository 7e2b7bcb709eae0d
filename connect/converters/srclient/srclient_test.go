package srclient_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/penstockhq/penstock/connect/converters/srclient"
)

func newClient(t *testing.T, props map[string]string, isKey bool) *srclient.Client {
	t.Helper()
	v, err := srclient.Def.Parse(props)
	if err != nil {
		t.Fatal(err)
	}
	c, err := srclient.New(v, isKey)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestSubjectStrategies(t *testing.T) {
	for _, tc := range []struct {
		key, strategy string
		isKey         bool
		want          string
	}{
		{"value.subject.name.strategy", srclient.TopicNameStrategy, false, "orders-value"},
		{"key.subject.name.strategy", srclient.TopicNameStrategy, true, "orders-key"},
		{"value.subject.name.strategy", srclient.RecordNameStrategy, false, "shop.Order"},
		{"value.subject.name.strategy", srclient.TopicRecordNameStrategy, false, "orders-shop.Order"},
	} {
		c := newClient(t, map[string]string{"schema.registry.url": "http://127.0.0.1:1", tc.key: tc.strategy}, tc.isKey)
		if got, err := c.Subject("orders", "shop.Order"); err != nil || got != tc.want {
			t.Errorf("%s: %q %v, want %q", tc.strategy, got, err, tc.want)
		}
	}
	c := newClient(t, map[string]string{"schema.registry.url": "http://127.0.0.1:1",
		"value.subject.name.strategy": srclient.RecordNameStrategy}, false)
	if _, err := c.Subject("orders", ""); err == nil {
		t.Error("RecordNameStrategy without a record name accepted")
	}
	if _, err := srclient.Def.Parse(map[string]string{"schema.registry.url": "x", "value.subject.name.strategy": "Nope"}); err == nil {
		t.Error("unknown strategy accepted")
	}
}

func TestWireFormat(t *testing.T) {
	b := srclient.AppendHeader(nil, 258)
	if string(b) != "\x00\x00\x00\x01\x02" {
		t.Fatalf("header % x", b)
	}
	id, rest, err := srclient.SplitHeader(append(b, 'x'))
	if err != nil || id != 258 || string(rest) != "x" {
		t.Fatalf("split: %d %q %v", id, rest, err)
	}
	for _, bad := range []string{"", "\x00\x00", "{\"a\":1}"} {
		if _, _, err := srclient.SplitHeader([]byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestBasicAuth checks the Authorization header the client sends, from the
// URL's user info and from basic.auth.user.info, against a real HTTP server
// (the built-in registry has no authentication yet); several URLs fail over.
func TestBasicAuth(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, p, _ := r.BasicAuth()
		got = append(got, u+":"+p)
		w.Header().Set("Content-Type", "application/vnd.schemaregistry.v1+json")
		_, _ = w.Write([]byte(`{"schema":"\"string\""}`))
	}))
	defer srv.Close()
	withCreds := strings.Replace(srv.URL, "http://", "http://ann:secret@", 1)
	for i, props := range []map[string]string{
		{"schema.registry.url": withCreds},
		{"schema.registry.url": "http://127.0.0.1:1," + srv.URL, "basic.auth.credentials.source": "USER_INFO", "basic.auth.user.info": "bob:pw"},
	} {
		c := newClient(t, props, false)
		if _, err := c.Schema(i + 1); err != nil {
			t.Fatalf("%v: %v", props, err)
		}
	}
	if strings.Join(got, ",") != "ann:secret,bob:pw" {
		t.Fatalf("credentials sent: %v", got)
	}
}
