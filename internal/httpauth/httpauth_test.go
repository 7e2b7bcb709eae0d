package httpauth

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func write(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "creds")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestLoadAndAuthenticate: PropertyFileLoginModule's format (":" or "=",
// comments), roles, bearer tokens, and the refusals.
func TestLoadAndAuthenticate(t *testing.T) {
	users := write(t, "# users\n! also a comment\nadmin: s3cret\nviewer = view, read-only\n")
	tokens := write(t, "ci: tok-1\n")
	c, err := Load(users, tokens)
	if err != nil {
		t.Fatal(err)
	}
	req := func(set func(*http.Request)) *http.Request {
		r, _ := http.NewRequest("GET", "http://x/", nil)
		set(r)
		return r
	}
	cases := []struct {
		name, user, role string
		ok               bool
		set              func(*http.Request)
	}{
		{"admin", "admin", RoleAdmin, true, func(r *http.Request) { r.SetBasicAuth("admin", "s3cret") }},
		{"viewer", "viewer", RoleReadOnly, true, func(r *http.Request) { r.SetBasicAuth("viewer", "view") }},
		{"token", "ci", RoleAdmin, true, func(r *http.Request) { r.Header.Set("Authorization", "Bearer tok-1") }},
		{"wrong password", "", "", false, func(r *http.Request) { r.SetBasicAuth("admin", "nope") }},
		{"unknown user", "", "", false, func(r *http.Request) { r.SetBasicAuth("nobody", "s3cret") }},
		{"bad token", "", "", false, func(r *http.Request) { r.Header.Set("Authorization", "Bearer tok-2") }},
		{"none", "", "", false, func(*http.Request) {}},
	}
	for _, tc := range cases {
		p, ok := c.Authenticate(req(tc.set))
		if ok != tc.ok || p.Name != tc.user || p.Role != tc.role {
			t.Errorf("%s: %+v %v", tc.name, p, ok)
		}
	}
	for body, want := range map[string]string{
		"admin\n":              "want",
		"admin: s,superuser\n": "unknown role",
		": s\n":                "empty name",
		"# nothing\n":          "no users",
	} {
		if _, err := Load(write(t, body), ""); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", body, err, want)
		}
	}
}
