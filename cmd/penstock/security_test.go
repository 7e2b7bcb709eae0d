package main

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestCredentialFlags(t *testing.T) {
	var got string
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = r.Header.Get("Authorization")
	}))
	defer srv.Close()
	t.Setenv(passwordEnv, "from-env")
	for _, c := range []struct {
		f    credFlags
		want string
	}{
		{credFlags{user: "alice:pw"}, "Basic YWxpY2U6cHc="},
		{credFlags{user: "alice"}, "Basic YWxpY2U6ZnJvbS1lbnY="},
		{credFlags{token: "tok"}, "Bearer tok"},
	} {
		hc, err := c.f.httpClient()
		if err != nil {
			t.Fatal(err)
		}
		// The test server's certificate is trusted through its own client's transport.
		hc.Transport.(authTransport).next.(*http.Transport).TLSClientConfig = srv.Client().Transport.(*http.Transport).TLSClientConfig
		resp, err := hc.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got != c.want {
			t.Errorf("%+v: Authorization %q, want %q", c.f, got, c.want)
		}
	}
	if hc, err := (&credFlags{}).httpClient(); err != nil || hc != nil {
		t.Fatalf("no credentials: %v %v", hc, err)
	}
}
