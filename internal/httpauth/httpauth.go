// Package httpauth authenticates HTTP requests against credential files:
// basic users as Kafka Connect's PropertyFileLoginModule reads them
// ("user: password[,role]" per line) and bearer tokens ("name: token[,role]"
// per line). The worker's REST API and the broker's schema registry share
// it, so both read the same files the same way.
package httpauth

import (
	"bufio"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net/http"
	"os"
	"strings"
)

// Roles of users and tokens. Kafka Connect's BasicAuthSecurityRestExtension
// has no roles (every authenticated user may do everything); Penstock adds a
// read-only role.
const (
	RoleAdmin    = "admin"
	RoleReadOnly = "read-only"
)

// Principal is an authenticated user or token.
type Principal struct {
	Name, Role string
	secret     string
}

// Credentials holds the users and tokens requests are checked against.
type Credentials struct {
	basic  map[string]Principal // by user name
	tokens map[[32]byte]Principal
}

// Load reads the users file and the tokens file; either path may be empty,
// not both.
func Load(usersFile, tokensFile string) (*Credentials, error) {
	c := &Credentials{basic: map[string]Principal{}, tokens: map[[32]byte]Principal{}}
	if usersFile != "" {
		ps, err := readPrincipals(usersFile)
		if err != nil {
			return nil, err
		}
		for _, p := range ps {
			c.basic[p.Name] = p
		}
	}
	if tokensFile != "" {
		ps, err := readPrincipals(tokensFile)
		if err != nil {
			return nil, err
		}
		for _, p := range ps {
			c.tokens[sha256.Sum256([]byte(p.secret))] = p
		}
	}
	if len(c.basic) == 0 && len(c.tokens) == 0 {
		return nil, fmt.Errorf("credentials: no users in %q nor tokens in %q", usersFile, tokensFile)
	}
	return c, nil
}

func readPrincipals(path string) ([]Principal, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("credentials: %w", err)
	}
	defer f.Close()
	var out []Principal
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "!") {
			continue
		}
		name, rest, ok := strings.Cut(line, ":")
		if !ok {
			if name, rest, ok = strings.Cut(line, "="); !ok {
				return nil, fmt.Errorf("credentials %s line %d: want \"name: secret[,role]\"", path, n)
			}
		}
		fields := strings.Split(rest, ",")
		p := Principal{Name: strings.TrimSpace(name), secret: strings.TrimSpace(fields[0]), Role: RoleAdmin}
		for _, r := range fields[1:] {
			switch r = strings.TrimSpace(r); r {
			case RoleAdmin, RoleReadOnly:
				p.Role = r
			case "":
			default:
				return nil, fmt.Errorf("credentials %s line %d: unknown role %q (admin or read-only)", path, n, r)
			}
		}
		if p.Name == "" || p.secret == "" {
			return nil, fmt.Errorf("credentials %s line %d: empty name or secret", path, n)
		}
		out = append(out, p)
	}
	return out, sc.Err()
}

// Authenticate finds the principal of a request (Authorization: Basic or
// Bearer), if its credentials hold.
func (c *Credentials) Authenticate(r *http.Request) (Principal, bool) {
	auth := r.Header.Get("Authorization")
	if tok, ok := strings.CutPrefix(auth, "Bearer "); ok {
		p, found := c.tokens[sha256.Sum256([]byte(strings.TrimSpace(tok)))]
		return p, found
	}
	user, pass, ok := r.BasicAuth()
	if !ok {
		return Principal{}, false
	}
	p, found := c.basic[user]
	want := p.secret
	if !found {
		want = "\x00" // compare anyway, in constant time
	}
	if subtle.ConstantTimeCompare([]byte(want), []byte(pass)) != 1 || !found {
		return Principal{}, false
	}
	return p, true
}
