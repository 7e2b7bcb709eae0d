package rest

import (
	"crypto/tls"
	"fmt"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/penstockhq/penstock/internal/httpauth"
)

// WithCredentials requires every request to authenticate (401 otherwise)
// and read-only principals to only read (403 on writes). The internal
// POST /connectors/{c}/tasks is exempt: it is signed with the session key,
// as in Kafka Connect.
func WithCredentials(c *httpauth.Credentials) Option { return func(s *Server) { s.creds = c } }

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
		p, ok := s.creds.Authenticate(r)
		if !ok {
			c.Response().Header().Set("WWW-Authenticate", `Basic realm="penstock"`)
			return &Error{Status: http.StatusUnauthorized, Message: "Credentials are required to access this resource."}
		}
		if p.Role == httpauth.RoleReadOnly && !readOnlyAllowed(r.Method, c.Path()) {
			return &Error{Status: http.StatusForbidden, Message: fmt.Sprintf("User %s (role %s) may not %s %s.", p.Name, p.Role, r.Method, r.URL.Path)}
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
