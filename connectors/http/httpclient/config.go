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
	"slices"
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

// binding declares the keys of authentication, TLS, timeouts and retries and
// the Settings field each fills.
var binding = config.Bind(
	config.StringField(config.Key{Name: AuthTypeConfig, Default: AuthNone, Importance: config.High, Group: groupAuth, OrderInGroup: 1,
		Validator: config.OneOf(AuthNone, AuthBasic, AuthBearer, AuthOAuth2),
		Doc:       "NONE, BASIC (connection.user and connection.password), BEARER (bearer.token, a Penstock extension) or OAUTH2 (client credentials grant against oauth2.token.url; the token is cached, fetched again shortly before it expires and after a 401)."},
		func(s *Settings) *string { return &s.AuthType }),
	config.StringField(config.Key{Name: UserConfig, Importance: config.High, Group: groupAuth, OrderInGroup: 2,
		Doc: "The user for auth.type=BASIC."},
		func(s *Settings) *string { return &s.User }),
	config.PasswordField(config.Key{Name: PasswordConfig, Importance: config.High, Group: groupAuth, OrderInGroup: 3,
		Doc: "The password for auth.type=BASIC."},
		func(s *Settings) *config.Secret { return &s.password }),
	config.PasswordField(config.Key{Name: BearerTokenConfig, Importance: config.High, Group: groupAuth, OrderInGroup: 4,
		Doc: "Penstock extension. The static token sent as Authorization: Bearer with auth.type=BEARER."},
		func(s *Settings) *config.Secret { return &s.bearerToken }),
	config.StringField(config.Key{Name: OAuthTokenURLConfig, Importance: config.High, Group: groupAuth, OrderInGroup: 5,
		Doc: "The OAuth2 token endpoint (auth.type=OAUTH2)."},
		func(s *Settings) *string { return &s.OAuth.TokenURL }),
	config.StringField(config.Key{Name: OAuthClientIDConfig, Importance: config.High, Group: groupAuth, OrderInGroup: 6,
		Doc: "The OAuth2 client id."},
		func(s *Settings) *string { return &s.OAuth.ClientID }),
	config.PasswordField(config.Key{Name: OAuthClientSecretConfig, Importance: config.High, Group: groupAuth, OrderInGroup: 7,
		Doc: "The OAuth2 client secret."},
		func(s *Settings) *config.Secret { return &s.oauthSecret }),
	config.StringField(config.Key{Name: OAuthScopeConfig, Default: "", Importance: config.Low, Group: groupAuth, OrderInGroup: 8,
		Doc: "The scopes asked for, space separated as OAuth2 writes them; none when empty."},
		func(s *Settings) *string { return &s.OAuth.Scope }),
	config.StringField(config.Key{Name: OAuthAuthModeConfig, Default: "header", Importance: config.Low, Group: groupAuth, OrderInGroup: 9,
		Validator: config.OneOf("header", "url"),
		Doc:       "header sends the client id and secret as HTTP basic authentication to the token endpoint; url sends them as form fields."},
		func(s *Settings) *string { return &s.oauthMode }),
	config.StringField(config.Key{Name: OAuthTokenPropertyConfig, Default: "access_token", Importance: config.Low, Group: groupAuth, OrderInGroup: 10,
		Doc: "The field of the token endpoint's JSON answer that holds the token."},
		func(s *Settings) *string { return &s.OAuth.TokenProperty }),
	config.BoolField(config.Key{Name: SSLEnabledConfig, Default: false, Importance: config.Medium, Group: groupSecurity, OrderInGroup: 1,
		Doc: "Use the https.ssl.* files for https:// URLs. An https:// URL works without it, verified against the system's roots."},
		func(s *Settings) *bool { return &s.SSL }),
	config.BoolField(config.Key{Name: LegacySSLEnabledConfig, Default: false, Importance: config.Low, Group: groupSecurity, OrderInGroup: 1,
		Doc: "The older name of https.ssl.enabled: true has the same effect."},
		func(s *Settings) *bool { return &s.legacySSL }),
	config.StringField(config.Key{Name: SSLTruststoreLocationConfig, Importance: config.Medium, Group: groupSecurity, OrderInGroup: 2,
		Doc: "Path of a PEM file of the CA certificates that sign the server's certificate (Penstock reads PEM only). Unset: the system's roots."},
		func(s *Settings) *string { return &s.CAFile }),
	config.OnlyKey[Settings](config.Key{Name: SSLTruststoreTypeConfig, Type: config.String, Default: "PEM", Importance: config.Low, Group: groupSecurity, OrderInGroup: 3,
		Validator: config.OneOf("PEM"), Doc: "Must be PEM in Penstock: convert a JKS or PKCS12 truststore with keytool or openssl."}),
	config.OnlyKey[Settings](config.Key{Name: SSLTruststorePasswordConfig, Type: config.Password, Importance: config.Low, Group: groupSecurity, OrderInGroup: 4,
		Doc: "Accepted for compatibility and unused: PEM truststores are not encrypted."}),
	config.StringField(config.Key{Name: SSLKeystoreLocationConfig, Importance: config.Medium, Group: groupSecurity, OrderInGroup: 5,
		Doc: "Path of a PEM file holding the client certificate (with its chain) and its unencrypted private key, for mutual TLS."},
		func(s *Settings) *string { return &s.ClientCertFile }),
	config.OnlyKey[Settings](config.Key{Name: SSLKeystoreTypeConfig, Type: config.String, Default: "PEM", Importance: config.Low, Group: groupSecurity, OrderInGroup: 6,
		Validator: config.OneOf("PEM"), Doc: "Must be PEM in Penstock."}),
	config.OnlyKey[Settings](config.Key{Name: SSLKeystorePasswordConfig, Type: config.Password, Importance: config.Low, Group: groupSecurity, OrderInGroup: 7,
		Doc: "Accepted for compatibility; encrypted PEM keys are not supported."}),
	config.OnlyKey[Settings](config.Key{Name: SSLKeyPasswordConfig, Type: config.Password, Importance: config.Low, Group: groupSecurity, OrderInGroup: 8,
		Doc: "Accepted for compatibility; encrypted PEM keys are not supported."}),
	config.StringField(config.Key{Name: SSLProtocolConfig, Default: "TLSv1.2", Importance: config.Low, Group: groupSecurity, OrderInGroup: 9,
		Validator: config.OneOf("TLSv1.2", "TLSv1.3", "TLS"), Doc: "The lowest TLS version accepted."},
		func(s *Settings) *string { return &s.MinTLS }),
	config.BoolField(config.Key{Name: HostVerifierConfig, Default: true, Importance: config.Low, Group: groupSecurity, OrderInGroup: 10,
		Doc: "Verify that the server's certificate names the host of the URL. false verifies the chain only."},
		func(s *Settings) *bool { return &s.VerifyHost }),
	config.StringField(config.Key{Name: ProxyHostConfig, Default: "", Importance: config.Low, Group: groupSecurity, OrderInGroup: 11,
		Doc: "The host of an HTTP proxy requests go through; empty: the HTTP_PROXY, HTTPS_PROXY and NO_PROXY environment variables decide."},
		func(s *Settings) *string { return &s.proxyHost }),
	config.IntField(config.Key{Name: ProxyPortConfig, Default: 0, Importance: config.Low, Group: groupSecurity, OrderInGroup: 12,
		Validator: config.Between(0, 65535), Doc: "The proxy's port."},
		func(s *Settings) *int { return &s.proxyPort }),
	config.StringField(config.Key{Name: ProxyUserConfig, Default: "", Importance: config.Low, Group: groupSecurity, OrderInGroup: 13,
		Doc: "The user the proxy authenticates (basic)."},
		func(s *Settings) *string { return &s.proxyUser }),
	config.PasswordField(config.Key{Name: ProxyPasswordConfig, Importance: config.Low, Group: groupSecurity, OrderInGroup: 14,
		Doc: "The proxy user's password."},
		func(s *Settings) *config.Secret { return &s.proxyPassword }),
	config.DurationField(config.Key{Name: ConnectTimeoutConfig, Default: int64(30000), Importance: config.Low, Group: groupRetries, OrderInGroup: 1,
		Validator: config.AtLeast(1), Doc: "How long to wait for a TCP (and TLS) connection, in milliseconds. A timeout is retried."},
		func(s *Settings) *time.Duration { return &s.ConnectTimeout }),
	config.DurationField(config.Key{Name: RequestTimeoutConfig, Default: int64(30000), Importance: config.Low, Group: groupRetries, OrderInGroup: 2,
		Validator: config.AtLeast(1), Doc: "How long one request may take until its whole answer is read, in milliseconds. A timeout is retried."},
		func(s *Settings) *time.Duration { return &s.RequestTimeout }),
	config.IntField(config.Key{Name: MaxRetriesConfig, Default: 10, Importance: config.Medium, Group: groupRetries, OrderInGroup: 3,
		Validator: config.AtLeast(0), Doc: "How many times a request that failed with a retried status code, a timeout or a connection error is sent again before giving up."},
		func(s *Settings) *int { return &s.MaxRetries }),
	config.DurationField(config.Key{Name: RetryBackoffConfig, Default: int64(3000), Importance: config.Medium, Group: groupRetries, OrderInGroup: 4,
		Validator: config.AtLeast(0), Doc: "The first retry's backoff in milliseconds; it doubles with each attempt, with random jitter, up to retry.backoff.max.ms. A Retry-After header in the answer takes precedence."},
		func(s *Settings) *time.Duration { return &s.RetryBackoff }),
	config.DurationField(config.Key{Name: RetryBackoffMaxConfig, Default: int64(60000), Importance: config.Low, Group: groupRetries, OrderInGroup: 5,
		Validator: config.AtLeast(0), Doc: "Penstock extension. The longest backoff between two attempts, in milliseconds (Retry-After included)."},
		func(s *Settings) *time.Duration { return &s.RetryBackoffMax }),
	config.ListField(config.Key{Name: RetryOnStatusConfig, Default: []string{"408", "429", "500-"}, Importance: config.Medium, Group: groupRetries, OrderInGroup: 6,
		Validator: config.ValidatorFunc{Description: "codes or ranges: 429, 500-599, 500-, 5xx", Check: func(v any) error {
			_, err := parseStatusSet(v.([]string))
			return err
		}},
		Doc: "The status codes retried: codes, inclusive ranges (500-599), open ranges (500-) or classes (5xx). Any other status of 400 or more is the request's fault and is not retried."},
		func(s *Settings) *[]string { return &s.retryOn }),
)

// Keys returns the keys of authentication, TLS, timeouts and retries, to be
// merged into a connector's definition.
func Keys() []config.Key { return slices.Clone(binding.Def().Keys()) }

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

	// The keys as parsed, read into the fields above by Parse.
	password, bearerToken, oauthSecret, proxyPassword config.Secret
	oauthMode, proxyHost, proxyUser                   string
	proxyPort                                         int
	legacySSL                                         bool
	retryOn                                           []string
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
	s := &Settings{}
	binding.Set(v, s)
	s.Password, s.BearerToken = s.password.Value(), s.bearerToken.Value()
	s.OAuth.ClientSecret, s.OAuth.SecretInForm = s.oauthSecret.Value(), s.oauthMode == "url"
	s.SSL = s.SSL || s.legacySSL
	if host := strings.TrimSpace(s.proxyHost); host != "" {
		if s.proxyPort == 0 {
			return nil, fmt.Errorf("Missing configuration %s, required with %s", ProxyPortConfig, ProxyHostConfig)
		}
		s.Proxy = &url.URL{Scheme: "http", Host: net.JoinHostPort(host, strconv.Itoa(s.proxyPort))}
		if s.proxyUser != "" {
			s.Proxy.User = url.UserPassword(s.proxyUser, s.proxyPassword.Value())
		}
	}
	var err error
	if s.RetryOn, err = parseStatusSet(s.retryOn); err != nil {
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
