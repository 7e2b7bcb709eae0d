package webhook

import (
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/penstockhq/penstock/connect/config"
	"github.com/penstockhq/penstock/connectors/http/jsonpointer"
)

// Configuration keys. The connector has no Confluent counterpart: the names
// follow Penstock's HTTP sink where they can.
const (
	ListenerConfig = "listener"
	PathConfig     = "path"
	TopicConfig    = "topic"

	AuthTypeConfig     = "auth.type"
	AuthUserConfig     = "auth.user"
	AuthPasswordConfig = "auth.password"
	AuthTokenConfig    = "auth.bearer.token"

	HMACSecretConfig    = "hmac.secret"
	HMACHeaderConfig    = "hmac.header"
	HMACAlgorithmConfig = "hmac.algorithm"
	HMACPrefixConfig    = "hmac.prefix"
	HMACStyleConfig     = "hmac.style"
	HMACToleranceConfig = "hmac.tolerance.ms"

	BodyFormatConfig     = "request.body.format"
	KeyPointerConfig     = "key.json.pointer"
	KeyHeaderConfig      = "key.header"
	ForwardHeadersConfig = "headers.forward"

	MaxRequestBytesConfig = "max.request.bytes"
	MaxQueuedConfig       = "max.queued.records"
	RetryAfterConfig      = "retry.after.seconds"
	AckTimeoutConfig      = "ack.timeout.ms"

	TLSKeystoreConfig   = "https.ssl.keystore.location"
	TLSTruststoreConfig = "https.ssl.truststore.location"
)

// Values of the enumerated keys.
const (
	AuthNone   = "NONE"
	AuthBasic  = "BASIC"
	AuthBearer = "BEARER"
	AuthHMAC   = "HMAC"

	StyleGitHub = "github"
	StyleStripe = "stripe"

	FormatJSON   = "json"
	FormatNDJSON = "ndjson"
	FormatRaw    = "raw"
)

// binding declares the webhook source's keys and the settings field each
// fills.
var binding = config.Bind(
	config.StringField(config.Key{Name: ListenerConfig, Required: true, Importance: config.High, Group: "Listener", OrderInGroup: 1,
		Validator: config.ValidatorFunc{Description: "host:port", Check: func(v any) error {
			_, _, err := net.SplitHostPort(v.(string))
			return err
		}},
		Doc: "The address the connector listens on, host:port (0.0.0.0:8090 for every interface). One task listens: tasks.max is ignored."},
		func(s *settings) *string { return &s.listener }),
	config.StringField(config.Key{Name: PathConfig, Default: "/", Importance: config.High, Group: "Listener", OrderInGroup: 2,
		Doc: "The path requests are taken on (POST or PUT); other paths answer 404."},
		func(s *settings) *string { return &s.path }),
	config.StringField(config.Key{Name: TopicConfig, Required: true, Validator: config.NonEmpty(), Importance: config.High, Group: "Listener", OrderInGroup: 3,
		Doc: "The topic records are written to."},
		func(s *settings) *string { return &s.topic }),
	config.StringField(config.Key{Name: TLSKeystoreConfig, Importance: config.Medium, Group: "Listener", OrderInGroup: 4,
		Doc: "Path of a PEM file with the listener's certificate and unencrypted key: the listener then speaks HTTPS."},
		func(s *settings) *string { return &s.certFile }),
	config.StringField(config.Key{Name: TLSTruststoreConfig, Importance: config.Medium, Group: "Listener", OrderInGroup: 5,
		Doc: "Path of a PEM file of CA certificates: with it, callers must present a client certificate they sign (mutual TLS)."},
		func(s *settings) *string { return &s.caFile }),
	config.StringField(config.Key{Name: AuthTypeConfig, Default: AuthNone, Importance: config.High, Group: "Authentication", OrderInGroup: 1,
		Validator: config.OneOf(AuthNone, AuthBasic, AuthBearer, AuthHMAC),
		Doc:       "How callers prove who they are: NONE, BASIC (auth.user, auth.password), BEARER (auth.bearer.token) or HMAC (a signature of the body in hmac.header, keyed with hmac.secret, as GitHub and Stripe sign their webhooks). A refused request gets 401."},
		func(s *settings) *string { return &s.authType }),
	config.StringField(config.Key{Name: AuthUserConfig, Importance: config.Medium, Group: "Authentication", OrderInGroup: 2, Doc: "The user of auth.type=BASIC."},
		func(s *settings) *string { return &s.user }),
	config.PasswordField(config.Key{Name: AuthPasswordConfig, Importance: config.Medium, Group: "Authentication", OrderInGroup: 3, Doc: "The password of auth.type=BASIC."},
		func(s *settings) *config.Secret { return &s.rawPassword }),
	config.PasswordField(config.Key{Name: AuthTokenConfig, Importance: config.Medium, Group: "Authentication", OrderInGroup: 4, Doc: "The token of auth.type=BEARER."},
		func(s *settings) *config.Secret { return &s.rawToken }),
	config.PasswordField(config.Key{Name: HMACSecretConfig, Importance: config.Medium, Group: "Authentication", OrderInGroup: 5, Doc: "The shared secret of auth.type=HMAC."},
		func(s *settings) *config.Secret { return &s.rawHMACSecret }),
	config.StringField(config.Key{Name: HMACHeaderConfig, Default: "X-Hub-Signature-256", Importance: config.Medium, Group: "Authentication", OrderInGroup: 6,
		Doc: "The header holding the signature (Stripe: Stripe-Signature)."},
		func(s *settings) *string { return &s.hmacHeader }),
	config.StringField(config.Key{Name: HMACAlgorithmConfig, Default: "SHA256", Importance: config.Low, Group: "Authentication", OrderInGroup: 7,
		Validator: config.OneOf("SHA1", "SHA256", "SHA512"), Doc: "The hash of the HMAC."},
		func(s *settings) *string { return &s.hmacAlgo }),
	config.StringField(config.Key{Name: HMACPrefixConfig, Default: "sha256=", Importance: config.Low, Group: "Authentication", OrderInGroup: 8,
		Doc: "With hmac.style=github: the text before the hex signature in the header."},
		func(s *settings) *string { return &s.hmacPrefix }),
	config.StringField(config.Key{Name: HMACStyleConfig, Default: StyleGitHub, Importance: config.Medium, Group: "Authentication", OrderInGroup: 9,
		Validator: config.OneOf(StyleGitHub, StyleStripe),
		Doc:       "github: the header is hmac.prefix followed by the hex HMAC of the body. stripe: the header is t=<unix time>,v1=<hex HMAC of \"<time>.<body>\">[,v1=...], and a time further than hmac.tolerance.ms from now is refused (replays)."},
		func(s *settings) *string { return &s.hmacStyle }),
	config.DurationField(config.Key{Name: HMACToleranceConfig, Default: int64(300000), Importance: config.Low, Group: "Authentication", OrderInGroup: 10,
		Validator: config.AtLeast(0), Doc: "With hmac.style=stripe: how far the signed time may be from now, in milliseconds."},
		func(s *settings) *time.Duration { return &s.hmacTolerance }),
	config.StringField(config.Key{Name: BodyFormatConfig, Default: FormatJSON, Importance: config.High, Group: "Records", OrderInGroup: 1,
		Validator: config.OneOf(FormatJSON, FormatNDJSON, FormatRaw),
		Doc:       "json: the body is one JSON document, a record, or a JSON array whose elements are records; ndjson: each non-empty line is a JSON record; raw: the body is one record whatever it holds. Values are the bytes as received (the element's JSON text): use StringConverter or ByteArrayConverter to write them unchanged. A body that is not what this says gets 400."},
		func(s *settings) *string { return &s.format }),
	config.StringField(config.Key{Name: KeyPointerConfig, Default: "", Importance: config.Medium, Group: "Records", OrderInGroup: 2,
		Validator: config.ValidatorFunc{Description: "a JSON pointer such as /id", Check: func(v any) error {
			_, err := jsonpointer.Parse(v.(string))
			return err
		}},
		Doc: "A JSON pointer (/id, /data/object/id) to the field of each record that becomes its key, as text; a record without it has a null key. Not with raw bodies."},
		func(s *settings) *string { return &s.rawKeyPointer }),
	config.StringField(config.Key{Name: KeyHeaderConfig, Default: "", Importance: config.Medium, Group: "Records", OrderInGroup: 3,
		Doc: "A request header (such as X-GitHub-Delivery) whose value becomes the key of the request's records, when key.json.pointer is not set."},
		func(s *settings) *string { return &s.keyHeader }),
	config.ListField(config.Key{Name: ForwardHeadersConfig, Default: []string{}, Importance: config.Medium, Group: "Records", OrderInGroup: 4,
		Doc: "Request headers copied to each record's headers (as strings), e.g. X-GitHub-Event,Content-Type."},
		func(s *settings) *[]string { return &s.forward }),
	config.LongField(config.Key{Name: MaxRequestBytesConfig, Default: int64(1 << 20), Importance: config.Medium, Group: "Limits", OrderInGroup: 1,
		Validator: config.AtLeast(1), Doc: "The largest body accepted, in bytes; a larger one gets 413."},
		func(s *settings) *int64 { return &s.maxBytes }),
	config.IntField(config.Key{Name: MaxQueuedConfig, Default: 10000, Importance: config.Medium, Group: "Limits", OrderInGroup: 2,
		Validator: config.AtLeast(1), Doc: "The most records received and not yet acknowledged by the broker. A request that would exceed it gets 503 with Retry-After."},
		func(s *settings) *int { return &s.maxQueued }),
	config.IntField(config.Key{Name: RetryAfterConfig, Default: 1, Importance: config.Low, Group: "Limits", OrderInGroup: 3,
		Validator: config.AtLeast(0), Doc: "The Retry-After of a 503, in seconds."},
		func(s *settings) *int { return &s.retryAfter }),
	config.DurationField(config.Key{Name: AckTimeoutConfig, Default: int64(30000), Importance: config.Low, Group: "Limits", OrderInGroup: 4,
		Validator: config.AtLeast(1), Doc: "How long a request waits for the broker to acknowledge its records, in milliseconds; then it gets 503 (its records may still arrive: the caller's retry can duplicate them, at least once)."},
		func(s *settings) *time.Duration { return &s.ackTimeout }),
)

// ConfigDef is the definition of the webhook source's keys.
var ConfigDef = binding.Def()

// settings are the parsed configuration of the task.
type settings struct {
	listener, path, topic string

	authType, user, password, token string

	hmacSecret, hmacHeader, hmacAlgo, hmacPrefix, hmacStyle string
	hmacTolerance                                           time.Duration

	format     string
	keyPointer jsonpointer.Pointer
	keyHeader  string
	forward    []string

	maxBytes   int64
	maxQueued  int
	retryAfter int
	ackTimeout time.Duration

	certFile, caFile string

	// The keys as parsed, read into the fields above by parseSettings.
	rawPassword, rawToken, rawHMACSecret config.Secret
	rawKeyPointer                        string
}

func parseSettings(props map[string]string) (*settings, error) {
	s := &settings{}
	if _, err := binding.Parse(props, s); err != nil {
		return nil, err
	}
	s.password, s.token, s.hmacSecret = s.rawPassword.Value(), s.rawToken.Value(), s.rawHMACSecret.Value()
	if p := s.rawKeyPointer; p != "" {
		if s.format == FormatRaw {
			return nil, fmt.Errorf("Invalid value %s for configuration %s: raw bodies are not parsed; use key.header", p, KeyPointerConfig)
		}
		s.keyPointer, _ = jsonpointer.Parse(p)
	}
	if !strings.HasPrefix(s.path, "/") {
		s.path = "/" + s.path
	}
	missing := ""
	switch {
	case s.authType == AuthBasic && s.user == "":
		missing = AuthUserConfig
	case s.authType == AuthBearer && s.token == "":
		missing = AuthTokenConfig
	case s.authType == AuthHMAC && s.hmacSecret == "":
		missing = HMACSecretConfig
	}
	if missing != "" {
		return nil, fmt.Errorf("Missing configuration %s, required with %s=%s", missing, AuthTypeConfig, s.authType)
	}
	if s.caFile != "" && s.certFile == "" {
		return nil, fmt.Errorf("Invalid value %s for configuration %s: client certificates need TLS: set %s", s.caFile, TLSTruststoreConfig, TLSKeystoreConfig)
	}
	return s, nil
}
