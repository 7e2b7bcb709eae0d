package schemaregistry

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/penstockhq/penstock/internal/httpauth"
)

// Codes of the authentication errors, as Confluent's security plugin and
// Confluent Cloud answer them.
const (
	CodeUnauthorized = http.StatusUnauthorized
	CodeForbidden    = 40301
)

// authenticate is the middleware of WithCredentials.
func authenticate(creds *httpauth.Credentials) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			r := c.Request()
			p, ok := creds.Authenticate(r)
			if !ok {
				c.Response().Header().Set("WWW-Authenticate", `Basic realm="penstock-schema-registry"`)
				return &Error{Code: CodeUnauthorized, Message: "Unauthorized"}
			}
			if p.Role == httpauth.RoleReadOnly && !readOnlyAllowed(r.Method, c.Path()) {
				return errorf(CodeForbidden, "User %s (role %s) is denied operation %s %s", p.Name, p.Role, r.Method, r.URL.Path)
			}
			return next(c)
		}
	}
}

// readOnlyAllowed: reads, and the two POSTs that change nothing: looking a
// schema up in a subject (what a serializer with auto.register.schemas=false
// calls) and checking compatibility.
func readOnlyAllowed(method, path string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return true
	case http.MethodPost:
		switch path {
		case "/subjects/:subject", "/compatibility/subjects/:subject/versions/:version", "/compatibility/subjects/:subject/versions":
			return true
		}
	}
	return false
}
