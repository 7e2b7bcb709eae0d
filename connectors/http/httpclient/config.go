// Package httpclient is what Penstock's HTTP sink and polling source share to
// call an API: the configuration keys of authentication (basic, static bearer
// token, OAuth2 client credentials), TLS (a custom CA, client certificates),
// timeouts and retries, named as Confluent's HTTP connectors name them, and a
// Client that applies them: it retries the status codes it is told to with
// exponential backoff and jitter, honours Retry-After, and fetches a new
// OAuth2 token before the cached one expires and after a 401.
package httpclient

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/penstockhq/penstock/connect/config"
)

// Configuration keys, as Confluent's HTTP sink names them unless marked as a
// Penstock extension.
const (
	AuthTypeConfig           = "auth.type"
	UserConfig               = "connection.user"
	PasswordConfig           = "connection.password"
	BearerTokenConfig        = "bearer.token" // Penstock extension (Confluent's HTTP sink V2 name)
	OAuthTokenURLConfig      = "oauth2.token.url"
	OAuthClientIDConfig      = "oauth2.client.id"
	OAuthClientSecretConfig  = "oauth2.client.secret"
	OAuthScopeConfig         = "oauth2.client.scope"
	OAuthAuthModeConfig      = "oauth2.client.auth.mode"
	OAuthTokenPropertyConfig = "oauth2.token.property"

	SSLEnabledConfig            = "https.ssl.enabled"
	LegacySSLEnabledConfig      = "ssl.enabled" // Confluent's name before 1.0 of the HTTP sink
	SSLTruststoreLocationConfig = "https.ssl.truststore.location"
	SSLTruststoreTypeConfig     = "https.ssl.truststore.type"
	SSLTruststorePasswordConfig = "https.ssl.truststore.password"
	SSLKeystoreLocationConfig   = "https.ssl.keystore.location"
	SSLKeystoreTypeConfig       = "https.ssl.keystore.type"
	SSLKeystorePasswordConfig   = "https.ssl.keystore.password"
	SSLKeyPasswordConfig        = "https.ssl.key.password"
	SSLProtocolConfig           = "https.ssl.protocol"
	HostVerifierConfig          = "https.host.verifier.enabled"

	ProxyHostConfig     = "http.proxy.host"
	ProxyPortConfig     = "http.proxy.port"
	ProxyUserConfig     = "http.proxy.user"
	ProxyPasswordConfig = "http.proxy.password"

	ConnectTimeoutConfig = "http.connect.timeout.ms"
	RequestTimeoutConfig = "http.request.timeout.ms"

	MaxRetriesConfig      = "max.retries"
	RetryBackoffConfig    = "retry.backoff.ms"
	RetryBackoffMaxConfig = "retry.backoff.max.ms" // Penstock extension
	RetryOnStatusConfig   = "retry.on.status.codes"
)

// Values of auth.type.
const (
	AuthNone   = "NONE"
	AuthBasic  = "BASIC"
	AuthBearer = "BEARER"
	AuthOAuth2 = "OAUTH2"
)

const (
	groupAuth     = "Authentication"
	groupSecurity = "Security"
	groupRetries  = "Retries"
)

// Keys returns the keys of authentication, TLS, timeouts and retries, to be
// merged into a connector's definition.
func Keys() []config.Key {
	return []config.Key{
		{Name: AuthTypeConfig, Type: config.String, Default: AuthNone, Importance: config.High, Group: groupAuth, OrderInGroup: 1,
			Validator: config.OneOf(AuthNone, AuthBasic, AuthBearer, AuthOAuth2),
			Doc:       "NONE, BASIC (connection.user and connection.password), BEARER (bearer.token, a Penstock extension) or OAUTH2 (client credentials grant against oauth2.token.url; the token is cached, fetched again shortly before it expires and after a 401)."},
		{Name: UserConfig, Type: config.String, Importance: config.High, Group: groupAuth, OrderInGroup: 2,
			Doc: "The user for auth.type=BASIC."},
		{Name: PasswordConfig, Type: config.Password, Importance: config.High, Group: groupAuth, OrderInGroup: 3,
			Doc: "The password for auth.type=BASIC."},
		{Name: BearerTokenConfig, Type: config.Password, Importance: config.High, Group: groupAuth, OrderInGroup: 4,
			Doc: "Penstock extension. The static token sent as Authorization: Bearer with auth.type=BEARER."},
		{Name: OAuthTokenURLConfig, Type: config.String, Importance: config.High, Group: groupAuth, OrderInGroup: 5,
			Doc: "The OAuth2 token endpoint (auth.type=OAUTH2)."},
		{Name: OAuthClientIDConfig, Type: config.String, Importance: config.High, Group: groupAuth, OrderInGroup: 6,
			Doc: "The OAuth2 client id."},
		{Name: OAuthClientSecretConfig, Type: config.Password, Importance: config.High, Group: groupAuth, OrderInGroup: 7,
			Doc: "The OAuth2 client secret."},
		{Name: OAuthScopeConfig, Type: config.String, Default: "", Importance: config.Low, Group: groupAuth, OrderInGroup: 8,
			Doc: "The scopes asked for, space separated as OAuth2 writes them; none when empty."},
		{Name: OAuthAuthModeConfig, Type: config.String, Default: "header", Importance: config.Low, Group: groupAuth, OrderInGroup: 9,
			Validator: config.OneOf("header", "url"),
			Doc:       "header sends the client id and secret as HTTP basic authentication to the token endpoint; url sends them as form fields."},
		{Name: OAuthTokenPropertyConfig, Type: config.String, Default: "access_token", Importance: config.Low, Group: groupAuth, OrderInGroup: 10,
			Doc: "The field of the token endpoint's JSON answer that holds the token."},

		{Name: SSLEnabledConfig, Type: config.Boolean, Default: false, Importance: config.Medium, Group: groupSecurity, OrderInGroup: 1,
			Doc: "Use the https.ssl.* files for https:// URLs. An https:// URL works without it, verified against the system's roots."},
		{Name: LegacySSLEnabledConfig, Type: config.Boolean, Default: false, Importance: config.Low, Group: groupSecurity, OrderInGroup: 1,
			Doc: "The older name of https.ssl.enabled: true has the same effect."},
		{Name: SSLTruststoreLocationConfig, Type: config.String, Importance: config.Medium, Group: groupSecurity, OrderInGroup: 2,
			Doc: "Path of a PEM file of the CA certificates that sign the server's certificate (Penstock reads PEM only). Unset: the system's roots."},
		{Name: SSLTruststoreTypeConfig, Type: config.String, Default: "PEM", Importance: config.Low, Group: groupSecurity, OrderInGroup: 3,
			Validator: config.OneOf("PEM"), Doc: "Must be PEM in Penstock: convert a JKS or PKCS12 truststore with keytool or openssl."},
		{Name: SSLTruststorePasswordConfig, Type: config.Password, Importance: config.Low, Group: groupSecurity, OrderInGroup: 4,
			Doc: "Accepted for compatibility and unused: PEM truststores are not encrypted."},
		{Name: SSLKeystoreLocationConfig, Type: config.String, Importance: config.Medium, Group: groupSecurity, OrderInGroup: 5,
			Doc: "Path of a PEM file holding the client certificate (with its chain) and its unencrypted private key, for mutual TLS."},
		{Name: SSLKeystoreTypeConfig, Type: config.String, Default: "PEM", Importance: config.Low, Group: groupSecurity, OrderInGroup: 6,
			Validator: config.OneOf("PEM"), Doc: "Must be PEM in Penstock."},
		{Name: SSLKeystorePasswordConfig, Type: config.Password, Importance: config.Low, Group: groupSecurity, OrderInGroup: 7,
			Doc: "Accepted for compatibility; encrypted PEM keys are not supported."},
		{Name: SSLKeyPasswordConfig, Type: config.Password, Importance: config.Low, Group: groupSecurity, OrderInGroup: 8,
			Doc: "Accepted for compatibility; encrypted PEM keys are not supported."},
		{Name: SSLProtocolConfig, Type: config.String, Default: "TLSv1.2", Importance: config.Low, Group: groupSecurity, OrderInGroup: 9,
			Validator: config.OneOf("TLSv1.2", "TLSv1.3", "TLS"), Doc: "The lowest TLS version accepted."},
		{Name: HostVerifierConfig, Type: config.Boolean, Default: true, Importance: config.Low, Group: groupSecurity, OrderInGroup: 10,
			Doc: "Verify that the server's certificate names the host of the URL. false verifies the chain only."},

		{Name: ProxyHostConfig, Type: config.String, Default: "", Importance: config.Low, Group: groupSecurity, OrderInGroup: 11,
			Doc: "The host of an HTTP proxy requests go through; empty: the HTTP_PROXY, HTTPS_PROXY and NO_PROXY environment variables decide."},
		{Name: ProxyPortConfig, Type: config.Int, Default: 0, Importance: config.Low, Group: groupSecurity, OrderInGroup: 12,
			Validator: config.Between(0, 65535), Doc: "The proxy's port."},
		{Name: ProxyUserConfig, Type: config.String, Default: "", Importance: config.Low, Group: groupSecurity, OrderInGroup: 13,
			Doc: "The user the proxy authenticates (basic)."},
		{Name: ProxyPasswordConfig, Type: config.Password, Importance: config.Low, Group: groupSecurity, OrderInGroup: 14,
			Doc: "The proxy user's password."},

		{Name: ConnectTimeoutConfig, Type: config.Long, Default: int64(30000), Importance: config.Low, Group: groupRetries, OrderInGroup: 1,
			Validator: config.AtLeast(1), Doc: "How long to wait for a TCP (and TLS) connection, in milliseconds. A timeout is retried."},
		{Name: RequestTimeoutConfig, Type: config.Long, Default: int64(30000), Importance: config.Low, Group: groupRetries, OrderInGroup: 2,
			Validator: config.AtLeast(1), Doc: "How long one request may take until its whole answer is read, in milliseconds. A timeout is retried."},
		{Name: MaxRetriesConfig, Type: config.Int, Default: 10, Importance: config.Medium, Group: groupRetries, OrderInGroup: 3,
			Validator: config.AtLeast(0), Doc: "How many times a request that failed with a retried status code, a timeout or a connection error is sent again before giving up."},
		{Name: RetryBackoffConfig, Type: config.Long, Default: int64(3000), Importance: config.Medium, Group: groupRetries, OrderInGroup: 4,
			Validator: config.AtLeast(0), Doc: "The first retry's backoff in milliseconds; it doubles with each attempt, with random jitter, up to retry.backoff.max.ms. A Retry-After header in the answer takes precedence."},
		{Name: RetryBackoffMaxConfig, Type: config.Long, Default: int64(60000), Importance: config.Low, Group: groupRetries, OrderInGroup: 5,
			Validator: config.AtLeast(0), Doc: "Penstock extension. The longest backoff between two attempts, in milliseconds (Retry-After included)."},
		{Name: RetryOnStatusConfig, Type: config.List, Default: []string{"408", "429", "500-"}, Importance: config.Medium, Group: groupRetries, OrderInGroup: 6,
			Validator: config.ValidatorFunc{Description: "codes or ranges: 429, 500-599, 500-, 5xx", Check: func(v any) error {
				_, err := parseStatusSet(v.([]string))
				return err
			}},
			Doc: "The status codes retried: codes, inclusive ranges (500-599), open ranges (500-) or classes (5xx). Any other status of 400 or more is the request's fault and is not retried."},
	}
}

// Settings are the parsed keys of Keys.
type Settings struct {
	AuthType       string
	User, Password string
	BearerToken    string
	OAuth          OAuthSettings

	SSL            bool
	CAFile         string
	ClientCertFile string
	MinTLS         string
	VerifyHost     bool

	Proxy *url.URL // nil: from the environment

	ConnectTimeout time.Duration
	RequestTimeout time.Duration

	MaxRetries      int
	RetryBackoff    time.Duration
	RetryBackoffMax time.Duration
	RetryOn         StatusSet
}

// OAuthSettings configure the client credentials grant.
type OAuthSettings struct {
	TokenURL, ClientID, ClientSecret, Scope string
	SecretInForm                            bool // oauth2.client.auth.mode=url
	TokenProperty                           string
}

// Parse reads the keys of Keys from parsed values; the error names the key
// that is missing or wrong.
func Parse(v *config.Values) (*Settings, error) {
	s := &Settings{
		AuthType:        strings.ToUpper(v.String(AuthTypeConfig)),
		User:            v.String(UserConfig),
		Password:        v.Password(PasswordConfig).Value(),
		BearerToken:     v.Password(BearerTokenConfig).Value(),
		SSL:             v.Bool(SSLEnabledConfig) || v.Bool(LegacySSLEnabledConfig),
		CAFile:          v.String(SSLTruststoreLocationConfig),
		ClientCertFile:  v.String(SSLKeystoreLocationConfig),
		MinTLS:          v.String(SSLProtocolConfig),
		VerifyHost:      v.Bool(HostVerifierConfig),
		ConnectTimeout:  v.Duration(ConnectTimeoutConfig),
		RequestTimeout:  v.Duration(RequestTimeoutConfig),
		MaxRetries:      v.Int(MaxRetriesConfig),
		RetryBackoff:    v.Duration(RetryBackoffConfig),
		RetryBackoffMax: v.Duration(RetryBackoffMaxConfig),
		OAuth: OAuthSettings{
			TokenURL: v.String(OAuthTokenURLConfig), ClientID: v.String(OAuthClientIDConfig),
			ClientSecret: v.Password(OAuthClientSecretConfig).Value(), Scope: v.String(OAuthScopeConfig),
			SecretInForm: strings.EqualFold(v.String(OAuthAuthModeConfig), "url"), TokenProperty: v.String(OAuthTokenPropertyConfig),
		},
	}
	if host := strings.TrimSpace(v.String(ProxyHostConfig)); host != "" {
		if v.Int(ProxyPortConfig) == 0 {
			return nil, fmt.Errorf("Missing configuration %s, required with %s", ProxyPortConfig, ProxyHostConfig)
		}
		s.Proxy = &url.URL{Scheme: "http", Host: net.JoinHostPort(host, strconv.Itoa(v.Int(ProxyPortConfig)))}
		if u := v.String(ProxyUserConfig); u != "" {
			s.Proxy.User = url.UserPassword(u, v.Password(ProxyPasswordConfig).Value())
		}
	}
	var err error
	if s.RetryOn, err = parseStatusSet(v.List(RetryOnStatusConfig)); err != nil {
		return nil, fmt.Errorf("Invalid value for configuration %s: %w", RetryOnStatusConfig, err)
	}
	need := func(key, val string) error {
		if strings.TrimSpace(val) == "" {
			return fmt.Errorf("Missing configuration %s, required with %s=%s", key, AuthTypeConfig, s.AuthType)
		}
		return nil
	}
	switch s.AuthType {
	case AuthBasic:
		err = need(UserConfig, s.User)
	case AuthBearer:
		err = need(BearerTokenConfig, s.BearerToken)
	case AuthOAuth2:
		if err = need(OAuthTokenURLConfig, s.OAuth.TokenURL); err == nil {
			if err = need(OAuthClientIDConfig, s.OAuth.ClientID); err == nil {
				err = need(OAuthClientSecretConfig, s.OAuth.ClientSecret)
			}
		}
	}
	if err != nil {
		return nil, err
	}
	if !s.SSL && (s.CAFile != "" || s.ClientCertFile != "") {
		return nil, fmt.Errorf("Invalid value false for configuration %s: the https.ssl.* files are read only with %s=true", SSLEnabledConfig, SSLEnabledConfig)
	}
	return s, nil
}

// StatusSet is a set of HTTP status codes (100 to 599).
type StatusSet [600]bool

// Has reports whether code is in the set.
func (s *StatusSet) Has(code int) bool { return code >= 0 && code < len(s) && s[code] }

func (s *StatusSet) add(from, to int) {
	for c := from; c <= to; c++ {
		s[c] = true
	}
}

// parseStatusSet reads codes (429), inclusive ranges (500-599), open ranges
// (500-) and classes (5xx).
func parseStatusSet(items []string) (StatusSet, error) {
	var s StatusSet
	for _, it := range items {
		it = strings.ToLower(strings.TrimSpace(it))
		if len(it) == 3 && strings.HasSuffix(it, "xx") && it[0] >= '1' && it[0] <= '5' {
			c := int(it[0]-'0') * 100
			s.add(c, c+99)
			continue
		}
		from, to, isRange := strings.Cut(it, "-")
		lo, err := strconv.Atoi(from)
		if err != nil || lo < 100 || lo > 599 {
			return s, fmt.Errorf("%q is not a status code, a range or a class such as 5xx", it)
		}
		hi := lo
		if isRange {
			hi = 599
			if to != "" {
				if hi, err = strconv.Atoi(to); err != nil || hi < lo || hi > 599 {
					return s, fmt.Errorf("%q is not a range of status codes", it)
				}
			}
		}
		s.add(lo, hi)
	}
	return s, nil
}
