package worker

import (
	"net/http"
	"strings"
	"time"

	"github.com/penstockhq/penstock/connect/config"
	"github.com/penstockhq/penstock/internal/httpauth"
	"github.com/penstockhq/penstock/internal/tlsconfig"
	"github.com/penstockhq/penstock/worker/rest"
)

// REST security keys. Basic users are Kafka Connect's
// BasicAuthSecurityRestExtension file (PropertyFileLoginModule's
// "user: password" lines), named here directly instead of through a JAAS
// file; roles and bearer tokens are Penstock's.
const (
	KeyRestBasicUsersFile   = "rest.auth.basic.users.file"
	KeyRestBearerTokensFile = "rest.auth.bearer.tokens.file"
	// restTLSPrefix is Kafka Connect's prefix of the HTTPS listener's
	// ssl.* keys; plain ssl.* keys are the fallback, as in Kafka Connect.
	restTLSPrefix = "listeners.https."
)

func init() {
	ConfigDef = ConfigDef.With(
		config.Key{Name: KeyRestBasicUsersFile, Type: config.String, Importance: config.High, Group: "REST",
			Doc: "File of REST API users, one \"user: password[,role]\" per line (Kafka Connect's PropertyFileLoginModule format); " +
				"role admin (the default) or read-only (GET only; Kafka Connect has no roles). When set, requests without valid credentials get 401."},
		config.Key{Name: KeyRestBearerTokensFile, Type: config.String, Importance: config.High, Group: "REST",
			Doc: "File of REST API bearer tokens, one \"name: token[,role]\" per line, sent as Authorization: Bearer <token>."},
		config.Key{Name: restTLSPrefix + tlsconfig.KeyKeystoreLocation, Type: config.String, Importance: config.High, Group: "REST",
			Doc: "PEM file with the HTTPS listener's private key and certificate chain (listeners=https://...). All ssl.* keys may be given " +
				"with the listeners.https. prefix; without it the worker's ssl.* keys apply."},
		config.Key{Name: restTLSPrefix + tlsconfig.KeyTruststoreLoc, Type: config.String, Importance: config.Medium, Group: "REST",
			Doc: "PEM file of the CA certificates that signed the other workers' HTTPS certificates, for worker-to-worker requests."},
	)
}

// restTLS reports whether the worker's first listener is https.
func (c *Config) restTLS() bool {
	return len(c.Listeners) > 0 && strings.HasPrefix(strings.ToLower(strings.TrimSpace(c.Listeners[0])), "https://")
}

func (c *Config) restGetter() tlsconfig.Getter {
	return tlsconfig.Prefixed(c.Props, restTLSPrefix, true)
}

// RESTOptions returns the REST server options the config asks for: HTTPS,
// credentials, and the client used to forward requests to other workers.
func (c *Config) RESTOptions() ([]rest.Option, error) {
	var opts []rest.Option
	if c.restTLS() {
		tc, err := tlsconfig.Server(c.restGetter())
		if err != nil {
			return nil, err
		}
		opts = append(opts, rest.WithTLS(tc))
	}
	users, tokens := strings.TrimSpace(c.Props[KeyRestBasicUsersFile]), strings.TrimSpace(c.Props[KeyRestBearerTokensFile])
	if users != "" || tokens != "" {
		creds, err := httpauth.Load(users, tokens)
		if err != nil {
			return nil, err
		}
		opts = append(opts, rest.WithCredentials(creds))
	}
	cl, err := c.RESTClient()
	if err != nil {
		return nil, err
	}
	return append(opts, rest.WithHTTPClient(cl)), nil
}

// RESTClient is the HTTP client for requests to other workers: it trusts
// the REST truststore when the API serves HTTPS.
func (c *Config) RESTClient() (*http.Client, error) {
	if !c.restTLS() {
		return http.DefaultClient, nil
	}
	_, identSet := c.Props[restTLSPrefix+tlsconfig.KeyEndpointIdentAlgo]
	tc, err := tlsconfig.Client(c.restGetter(), identSet)
	if err != nil {
		return nil, err
	}
	tc.Certificates = nil // the keystore is the server's identity here
	return &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{TLSClientConfig: tc, ForceAttemptHTTP2: true}}, nil
}
