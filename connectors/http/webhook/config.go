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

// ConfigDef is the definition of the webhook source's keys.
var ConfigDef = config.NewDef(
	config.Key{Name: ListenerConfig, Type: config.String, Required: true, Importance: config.High, Group: "Listener", OrderInGroup: 1,
		Validator: config.ValidatorFunc{Description: "host:port", Check: func(v any) error {
			_, _, err := net.SplitHostPort(v.(string))
			return err
		}},
		Doc: "The address the connector listens on, host:port (0.0.0.0:8090 for every interface). One task listens: tasks.max is ignored."},
	config.Key{Name: PathConfig, Type: config.String, Default: "/", Importance: config.High, Group: "Listener", OrderInGroup: 2,
		Doc: "The path requests are taken on (POST or PUT); other paths answer 404."},
	config.Key{Name: TopicConfig, Type: config.String, Required: true, Validator: config.NonEmpty(), Importance: config.High, Group: "Listener", OrderInGroup: 3,
		Doc: "The topic records are written to."},
	config.Key{Name: TLSKeystoreConfig, Type: config.String, Importance: config.Medium, Group: "Listener", OrderInGroup: 4,
		Doc: "Path of a PEM file with the listener's certificate and unencrypted key: the listener then speaks HTTPS."},
	config.Key{Name: TLSTruststoreConfig, Type: config.String, Importance: config.Medium, Group: "Listener", OrderInGroup: 5,
		Doc: "Path of a PEM file of CA certificates: with it, callers must present a client certificate they sign (mutual TLS)."},

	config.Key{Name: AuthTypeConfig, Type: config.String, Default: AuthNone, Importance: config.High, Group: "Authentication", OrderInGroup: 1,
		Validator: config.OneOf(AuthNone, AuthBasic, AuthBearer, AuthHMAC),
		Doc:       "How callers prove who they are: NONE, BASIC (auth.user, auth.password), BEARER (auth.bearer.token) or HMAC (a signature of the body in hmac.header, keyed with hmac.secret, as GitHub and Stripe sign their webhooks). A refused request gets 401."},
	config.Key{Name: AuthUserConfig, Type: config.String, Importance: config.Medium, Group: "Authentication", OrderInGroup: 2, Doc: "The user of auth.type=BASIC."},
	config.Key{Name: AuthPasswordConfig, Type: config.Password, Importance: config.Medium, Group: "Authentication", OrderInGroup: 3, Doc: "The password of auth.type=BASIC."},
	config.Key{Name: AuthTokenConfig, Type: config.Password, Importance: config.Medium, Group: "Authentication", OrderInGroup: 4, Doc: "The token of auth.type=BEARER."},
	config.Key{Name: HMACSecretConfig, Type: config.Password, Importance: config.Medium, Group: "Authentication", OrderInGroup: 5, Doc: "The shared secret of auth.type=HMAC."},
	config.Key{Name: HMACHeaderConfig, Type: config.String, Default: "X-Hub-Signature-256", Importance: config.Medium, Group: "Authentication", OrderInGroup: 6,
		Doc: "The header holding the signature (Stripe: Stripe-Signature)."},
	config.Key{Name: HMACAlgorithmConfig, Type: config.String, Default: "SHA256", Importance: config.Low, Group: "Authentication", OrderInGroup: 7,
		Validator: config.OneOf("SHA1", "SHA256", "SHA512"), Doc: "The hash of the HMAC."},
	config.Key{Name: HMACPrefixConfig, Type: config.String, Default: "sha256=", Importance: config.Low, Group: "Authentication", OrderInGroup: 8,
		Doc: "With hmac.style=github: the text before the hex signature in the header."},
	config.Key{Name: HMACStyleConfig, Type: config.String, Default: StyleGitHub, Importance: config.Medium, Group: "Authentication", OrderInGroup: 9,
		Validator: config.OneOf(StyleGitHub, StyleStripe),
		Doc:       "github: the header is hmac.prefix followed by the hex HMAC of the body. stripe: the header is t=<unix time>,v1=<hex HMAC of \"<time>.<body>\">[,v1=...], and a time further than hmac.tolerance.ms from now is refused (replays)."},
	config.Key{Name: HMACToleranceConfig, Type: config.Long, Default: int64(300000), Importance: config.Low, Group: "Authentication", OrderInGroup: 10,
		Validator: config.AtLeast(0), Doc: "With hmac.style=stripe: how far the signed time may be from now, in milliseconds."},

	config.Key{Name: BodyFormatConfig, Type: config.String, Default: FormatJSON, Importance: config.High, Group: "Records", OrderInGroup: 1,
		Validator: config.OneOf(FormatJSON, FormatNDJSON, FormatRaw),
		Doc:       "json: the body is one JSON document, a record, or a JSON array whose elements are records; ndjson: each non-empty line is a JSON record; raw: the body is one record whatever it holds. Values are the bytes as received (the element's JSON text): use StringConverter or ByteArrayConverter to write them unchanged. A body that is not what this says gets 400."},
	config.Key{Name: KeyPointerConfig, Type: config.String, Default: "", Importance: config.Medium, Group: "Records", OrderInGroup: 2,
		Validator: config.ValidatorFunc{Description: "a JSON pointer such as /id", Check: func(v any) error {
			_, err := jsonpointer.Parse(v.(string))
			return err
		}},
		Doc: "A JSON pointer (/id, /data/object/id) to the field of each record that becomes its key, as text; a record without it has a null key. Not with raw bodies."},
	config.Key{Name: KeyHeaderConfig, Type: config.String, Default: "", Importance: config.Medium, Group: "Records", OrderInGroup: 3,
		Doc: "A request header (such as X-GitHub-Delivery) whose value becomes the key of the request's records, when key.json.pointer is not set."},
	config.Key{Name: ForwardHeadersConfig, Type: config.List, Default: []string{}, Importance: config.Medium, Group: "Records", OrderInGroup: 4,
		Doc: "Request headers copied to each record's headers (as strings), e.g. X-GitHub-Event,Content-Type."},

	config.Key{Name: MaxRequestBytesConfig, Type: config.Long, Default: int64(1 << 20), Importance: config.Medium, Group: "Limits", OrderInGroup: 1,
		Validator: config.AtLeast(1), Doc: "The largest body accepted, in bytes; a larger one gets 413."},
	config.Key{Name: MaxQueuedConfig, Type: config.Int, Default: 10000, Importance: config.Medium, Group: "Limits", OrderInGroup: 2,
		Validator: config.AtLeast(1), Doc: "The most records received and not yet acknowledged by the broker. A request that would exceed it gets 503 with Retry-After."},
	config.Key{Name: RetryAfterConfig, Type: config.Int, Default: 1, Importance: config.Low, Group: "Limits", OrderInGroup: 3,
		Validator: config.AtLeast(0), Doc: "The Retry-After of a 503, in seconds."},
	config.Key{Name: AckTimeoutConfig, Type: config.Long, Default: int64(30000), Importance: config.Low, Group: "Limits", OrderInGroup: 4,
		Validator: config.AtLeast(1), Doc: "How long a request waits for the broker to acknowledge its records, in milliseconds; then it gets 503 (its records may still arrive: the caller's retry can duplicate them, at least once)."},
)

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
}

func parseSettings(props map[string]string) (*settings, error) {
	v, err := ConfigDef.Parse(props)
	if err != nil {
		return nil, err
	}
	s := &settings{
		listener: v.String(ListenerConfig), path: v.String(PathConfig), topic: v.String(TopicConfig),
		authType: strings.ToUpper(v.String(AuthTypeConfig)), user: v.String(AuthUserConfig),
		password: v.Password(AuthPasswordConfig).Value(), token: v.Password(AuthTokenConfig).Value(),
		hmacSecret: v.Password(HMACSecretConfig).Value(), hmacHeader: v.String(HMACHeaderConfig),
		hmacAlgo: strings.ToUpper(v.String(HMACAlgorithmConfig)), hmacPrefix: v.String(HMACPrefixConfig),
		hmacStyle: strings.ToLower(v.String(HMACStyleConfig)), hmacTolerance: v.Duration(HMACToleranceConfig),
		format: strings.ToLower(v.String(BodyFormatConfig)), keyHeader: v.String(KeyHeaderConfig), forward: v.List(ForwardHeadersConfig),
		maxBytes: v.Long(MaxRequestBytesConfig), maxQueued: v.Int(MaxQueuedConfig), retryAfter: v.Int(RetryAfterConfig),
		ackTimeout: v.Duration(AckTimeoutConfig), certFile: v.String(TLSKeystoreConfig), caFile: v.String(TLSTruststoreConfig),
	}
	if p := v.String(KeyPointerConfig); p != "" {
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
