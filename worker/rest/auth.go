package rest

import (
	"bufio"
	"crypto/sha256"
	"crypto/subtle"
	"crypto/tls"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/labstack/echo/v4"
)

// Roles of REST users. Kafka Connect's BasicAuthSecurityRestExtension has
// no roles (every authenticated user may do everything); Penstock adds a
// read-only role.
const (
	RoleAdmin    = "admin"
	RoleReadOnly = "read-only"
)

// Credentials authenticates REST requests: HTTP basic users from a
// property file, as Kafka Connect's PropertyFileLoginModule reads it
// ("user: password[,role]" per line), and bearer tokens ("name: token[,role]"
// per line).
type Credentials struct {
	basic  map[string]principal // by user name
	tokens map[[32]byte]principal
}

type principal struct {
	name, secret, role string
}

// LoadCredentials reads the users file and the tokens file; either path
// may be empty.
func LoadCredentials(usersFile, tokensFile string) (*Credentials, error) {
	c := &Credentials{basic: map[string]principal{}, tokens: map[[32]byte]principal{}}
	if usersFile != "" {
		ps, err := readPrincipals(usersFile)
		if err != nil {
			return nil, err
		}
		for _, p := range ps {
			c.basic[p.name] = p
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
		return nil, fmt.Errorf("rest: no users in %q nor tokens in %q", usersFile, tokensFile)
	}
	return c, nil
}

func readPrincipals(path string) ([]principal, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("rest credentials: %w", err)
	}
	defer f.Close()
	var out []principal
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "!") {
			continue
		}
		name, rest, ok := strings.Cut(line, ":")
		if !ok {
			if name, rest, ok = strings.Cut(line, "="); !ok {
				return nil, fmt.Errorf("rest credentials %s line %d: want \"name: secret[,role]\"", path, n)
			}
		}
		fields := strings.Split(rest, ",")
		p := principal{name: strings.TrimSpace(name), secret: strings.TrimSpace(fields[0]), role: RoleAdmin}
		for _, r := range fields[1:] {
			switch r = strings.TrimSpace(r); r {
			case RoleAdmin, RoleReadOnly:
				p.role = r
			case "":
			default:
				return nil, fmt.Errorf("rest credentials %s line %d: unknown role %q (admin or read-only)", path, n, r)
			}
		}
		if p.name == "" || p.secret == "" {
			return nil, fmt.Errorf("rest credentials %s line %d: empty name or secret", path, n)
		}
		out = append(out, p)
	}
	return out, sc.Err()
}

// authenticate finds the principal of a request, if its credentials hold.
func (c *Credentials) authenticate(r *http.Request) (principal, bool) {
	auth := r.Header.Get("Authorization")
	if tok, ok := strings.CutPrefix(auth, "Bearer "); ok {
		p, found := c.tokens[sha256.Sum256([]byte(strings.TrimSpace(tok)))]
		return p, found
	}
	user, pass, ok := r.BasicAuth()
	if !ok {
		return principal{}, false
	}
	p, found := c.basic[user]
	want := p.secret
	if !found {
		want = "\x00" // compare anyway, in constant time
	}
	if subtle.ConstantTimeCompare([]byte(want), []byte(pass)) != 1 || !found {
		return principal{}, false
	}
	return p, true
}

// WithCredentials requires every request to authenticate (401 otherwise)
// and read-only principals to only read (403 on writes). The internal
// POST /connectors/{c}/tasks is exempt: it is signed with the session key,
// as in Kafka Connect.
func WithCredentials(c *Credentials) Option { return func(s *Server) { s.creds = c } }

// WithTLS serves HTTPS with cfg (listeners=https://...).
func WithTLS(cfg *tls.Config) Option { return func(s *Server) { s.tls = cfg } }

// WithHTTPClient sets the client that forwards requests to other workers
// (it must trust their certificates when they serve HTTPS).
func WithHTTPClient(c *http.Client) Option { return func(s *Server) { s.httpClient = c } }

func (s *Server) client() *http.Client {
	if s.httpClient != nil {
		return s.httpClient
	}
	return http.DefaultClient
}

func (s *Server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if r.Method == http.MethodPost && c.Path() == "/connectors/:c/tasks" && r.Header.Get(SignatureHeader) != "" {
			return next(c)
		}
		p, ok := s.creds.authenticate(r)
		if !ok {
			c.Response().Header().Set("WWW-Authenticate", `Basic realm="penstock"`)
			return &Error{Status: http.StatusUnauthorized, Message: "Credentials are required to access this resource."}
		}
		if p.role == RoleReadOnly && !readOnlyAllowed(r.Method, c.Path()) {
			return &Error{Status: http.StatusForbidden, Message: fmt.Sprintf("User %s (role %s) may not %s %s.", p.name, p.role, r.Method, r.URL.Path)}
		}
		return next(c)
	}
}

// readOnlyAllowed: reads, and validating a config (which changes nothing).
func readOnlyAllowed(method, path string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return true
	}
	return method == http.MethodPut && path == "/connector-plugins/:p/config/validate"
}
