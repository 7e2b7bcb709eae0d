// Package srclient is what Confluent's registry-backed converters
// (AvroConverter, JsonSchemaConverter) share: Confluent's serializer keys,
// the Schema Registry client (franz-go's pkg/sr), subject name strategies,
// the wire format (magic byte 0, 4-byte big-endian schema id) and the caches
// that keep the registry off the hot path: an id is looked up or registered
// once per subject and schema, a schema fetched once per id.
package srclient

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/penstockhq/penstock/connect/config"
)

// Confluent's serializer and deserializer keys.
const (
	KeyURL                   = "schema.registry.url"
	KeyAutoRegister          = "auto.register.schemas"
	KeyUseLatestVersion      = "use.latest.version"
	KeyLatestCompatStrict    = "latest.compatibility.strict"
	KeyKeySubjectStrategy    = "key.subject.name.strategy"
	KeyValueSubjectStrategy  = "value.subject.name.strategy"
	KeyBasicAuthSource       = "basic.auth.credentials.source"
	KeyBasicAuthUserInfo     = "basic.auth.user.info"
	KeyBearerAuthToken       = "bearer.auth.token"
	KeySSLTruststoreLocation = "schema.registry.ssl.truststore.location"
	KeySSLKeystoreLocation   = "schema.registry.ssl.keystore.location"
	KeySSLEndpointIdentAlg   = "schema.registry.ssl.endpoint.identification.algorithm"
	KeyRequestTimeout        = "schema.registry.request.timeout.ms"
)

// The subject name strategies, under Confluent's class names.
const (
	TopicNameStrategy       = "io.confluent.kafka.serializers.subject.TopicNameStrategy"
	RecordNameStrategy      = "io.confluent.kafka.serializers.subject.RecordNameStrategy"
	TopicRecordNameStrategy = "io.confluent.kafka.serializers.subject.TopicRecordNameStrategy"
)

var strategies = []string{TopicNameStrategy, RecordNameStrategy, TopicRecordNameStrategy}

// Def holds the keys every registry-backed converter takes.
var Def = config.NewDef(
	config.Key{Name: KeyURL, Type: config.List, Required: true, Importance: config.High,
		Doc: "Comma-separated list of URLs for Schema Registry instances that can be used to register or look up schemas. " +
			"Penstock's broker serves one at http://127.0.0.1:8081."},
	config.Key{Name: KeyAutoRegister, Type: config.Boolean, Default: true, Importance: config.Medium,
		Doc: "Specify if the Serializer should attempt to register the Schema with Schema Registry."},
	config.Key{Name: KeyUseLatestVersion, Type: config.Boolean, Default: false, Importance: config.Low,
		Doc: "Use the latest version of the schema in the subject for serialization (with auto.register.schemas=false)."},
	config.Key{Name: KeyLatestCompatStrict, Type: config.Boolean, Default: true, Importance: config.Low,
		Doc: "With use.latest.version, check that the latest subject version is backward compatible with the schema of the object being serialized."},
	config.Key{Name: KeyKeySubjectStrategy, Type: config.Class, Default: TopicNameStrategy,
		Validator: config.OneOf(strategies...), Importance: config.Medium,
		Doc: "Determines how to construct the subject name under which the key schema is registered with the Schema Registry."},
	config.Key{Name: KeyValueSubjectStrategy, Type: config.Class, Default: TopicNameStrategy,
		Validator: config.OneOf(strategies...), Importance: config.Medium,
		Doc: "Determines how to construct the subject name under which the value schema is registered with the Schema Registry."},
	config.Key{Name: KeyBasicAuthSource, Type: config.String, Default: "URL",
		Validator: config.OneOf("URL", "USER_INFO"), Importance: config.Medium,
		Doc: "Specify how to pick the credentials for the Basic authentication header: URL (user:password@ in schema.registry.url) or USER_INFO (basic.auth.user.info)."},
	config.Key{Name: KeyBasicAuthUserInfo, Type: config.Password, Importance: config.Medium,
		Doc: "Specify the user info for the Basic authentication in the form of {username}:{password}."},
	config.Key{Name: KeyBearerAuthToken, Type: config.Password, Importance: config.Medium,
		Doc: "A static bearer token sent to the Schema Registry."},
	config.Key{Name: KeySSLTruststoreLocation, Type: config.String, Importance: config.Medium,
		Doc: "The trust store file for the Schema Registry's TLS certificate: PEM (Penstock does not read JKS or PKCS12)."},
	config.Key{Name: KeySSLKeystoreLocation, Type: config.String, Importance: config.Medium,
		Doc: "A PEM file with the client certificate and its private key, for mutual TLS with the Schema Registry."},
	config.Key{Name: KeySSLEndpointIdentAlg, Type: config.String, Default: "https", Importance: config.Low,
		Doc: "The endpoint identification algorithm to validate the Schema Registry's hostname: https, or empty to not check it."},
	config.Key{Name: KeyRequestTimeout, Type: config.Int, Default: 30000, Validator: config.AtLeast(1), Importance: config.Low,
		Doc: "How long a Schema Registry request may take, in milliseconds."},
)

// Client is one converter's view of the registry: its client, its subject
// naming, and its caches.
type Client struct {
	cl           *sr.Client
	isKey        bool
	strategy     string
	autoRegister bool
	useLatest    bool
	latestStrict bool
	timeout      time.Duration

	ids  Cache[idKey, written] // (subject, schema text) -> id to write with
	byID Cache[int, sr.Schema] // id -> schema
}

type idKey struct{ subject, schema string }

// written is the id a schema is written with, and the schema that id
// stands for (another one with use.latest.version).
type written struct {
	id     int
	schema sr.Schema
}

// New returns the client the converter configured with v uses for keys
// (isKey) or values.
func New(v *config.Values, isKey bool) (*Client, error) {
	var urls []string
	var user, pass string
	for _, u := range v.List(KeyURL) {
		u = strings.TrimSpace(u)
		// Credentials in the URL (basic.auth.credentials.source=URL).
		if i, j := strings.Index(u, "://"), strings.LastIndex(u, "@"); i >= 0 && j > i {
			if ui := u[i+3 : j]; strings.Contains(ui, ":") {
				user, pass, _ = strings.Cut(ui, ":")
			}
			u = u[:i+3] + u[j+1:]
		}
		urls = append(urls, strings.TrimRight(u, "/"))
	}
	if len(urls) == 0 {
		return nil, fmt.Errorf("%s: no URL", KeyURL)
	}
	timeout := time.Duration(v.Int(KeyRequestTimeout)) * time.Millisecond
	opts := []sr.ClientOpt{sr.URLs(urls...), sr.UserAgent("penstock")}
	if v.String(KeyBasicAuthSource) == "USER_INFO" {
		user, pass, _ = strings.Cut(v.Password(KeyBasicAuthUserInfo).Value(), ":")
	}
	if user != "" {
		opts = append(opts, sr.BasicAuth(user, pass))
	}
	if tok := v.Password(KeyBearerAuthToken).Value(); tok != "" {
		opts = append(opts, sr.BearerToken(tok))
	}
	tlsCfg, err := tlsConfig(v)
	if err != nil {
		return nil, err
	}
	if tlsCfg != nil {
		opts = append(opts, sr.DialTLSConfig(tlsCfg))
	}
	cl, err := sr.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("schema registry client for %v: %w", urls, err)
	}
	strategy := v.String(KeyValueSubjectStrategy)
	if isKey {
		strategy = v.String(KeyKeySubjectStrategy)
	}
	return &Client{cl: cl, isKey: isKey, strategy: strategy, autoRegister: v.Bool(KeyAutoRegister),
		useLatest: v.Bool(KeyUseLatestVersion), latestStrict: v.Bool(KeyLatestCompatStrict), timeout: timeout}, nil
}

func tlsConfig(v *config.Values) (*tls.Config, error) {
	trust, keystore := v.String(KeySSLTruststoreLocation), v.String(KeySSLKeystoreLocation)
	if trust == "" && keystore == "" && v.String(KeySSLEndpointIdentAlg) != "" {
		return nil, nil
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12}
	if trust != "" {
		pem, err := os.ReadFile(trust)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", KeySSLTruststoreLocation, err)
		}
		c.RootCAs = x509.NewCertPool()
		if !c.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s: %s holds no PEM certificate", KeySSLTruststoreLocation, trust)
		}
	}
	if keystore != "" {
		cert, err := tls.LoadX509KeyPair(keystore, keystore)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", KeySSLKeystoreLocation, err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	if v.String(KeySSLEndpointIdentAlg) == "" {
		c.InsecureSkipVerify = true // as Confluent's empty endpoint.identification.algorithm
	}
	return c, nil
}

// SR returns the franz-go registry client, configured with the keys' URLs,
// credentials and TLS, for callers that need more of the API (penstock
// schemas lists subjects with it).
func (c *Client) SR() *sr.Client { return c.cl }

// Subject returns the subject for topic and a record named recordName
// (the schema's full name), by the configured strategy.
func (c *Client) Subject(topic, recordName string) (string, error) {
	switch c.strategy {
	case RecordNameStrategy, TopicRecordNameStrategy:
		if recordName == "" {
			return "", fmt.Errorf("%s needs a named record schema (a struct schema with a name)", c.strategy)
		}
		if c.strategy == RecordNameStrategy {
			return recordName, nil
		}
		return topic + "-" + recordName, nil
	}
	if c.isKey {
		return topic + "-key", nil
	}
	return topic + "-value", nil
}

// ID returns the id to write schema with under subject: with
// auto.register.schemas the registered id (registering it if new), with
// use.latest.version the subject's latest version (checked for
// compatibility when latest.compatibility.strict), else the id of the schema
// looked up in the subject. It returns the schema the id stands for too:
// schema itself, or the latest version's with use.latest.version, which the
// datum must then be encoded with. Answers are cached.
func (c *Client) ID(subject string, schema sr.Schema) (int, sr.Schema, error) {
	w, err := c.ids.Get(idKey{subject, schema.Schema}, func() (written, error) { return c.id(subject, schema) })
	return w.id, w.schema, err
}

func (c *Client) id(subject string, schema sr.Schema) (written, error) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	switch {
	case c.autoRegister:
		s, err := c.cl.CreateSchema(ctx, subject, schema)
		if err != nil {
			return written{}, fmt.Errorf("register schema under subject %s: %w", subject, err)
		}
		return written{s.ID, schema}, nil
	case c.useLatest:
		s, err := c.cl.SchemaByVersion(ctx, subject, -1)
		if err != nil {
			return written{}, fmt.Errorf("latest schema of subject %s: %w", subject, err)
		}
		if c.latestStrict {
			res, err := c.cl.CheckCompatibility(ctx, subject, s.Version, schema)
			if err != nil {
				return written{}, fmt.Errorf("check schema against subject %s version %d: %w", subject, s.Version, err)
			}
			if !res.Is {
				return written{}, fmt.Errorf("latest version %d of subject %s is not compatible with the record's schema (latest.compatibility.strict)", s.Version, subject)
			}
		}
		return written{s.ID, s.Schema}, nil
	}
	s, err := c.cl.LookupSchema(ctx, subject, schema)
	if err != nil {
		return written{}, fmt.Errorf("look up schema in subject %s (auto.register.schemas=false): %w", subject, err)
	}
	return written{s.ID, schema}, nil
}

// Schema returns the schema with id.
func (c *Client) Schema(id int) (sr.Schema, error) {
	return c.byID.Get(id, func() (sr.Schema, error) {
		ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
		defer cancel()
		s, err := c.cl.SchemaByID(ctx, id)
		if err != nil {
			return s, fmt.Errorf("schema %d from the registry: %w", id, err)
		}
		return s, nil
	})
}

// References returns the schemas s references, resolved recursively,
// dependencies first, for parsers that need them.
func (c *Client) References(s sr.Schema) ([]sr.Schema, error) {
	var out []sr.Schema
	for _, r := range s.References {
		ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
		ss, err := c.cl.SchemaByVersion(ctx, r.Subject, r.Version)
		cancel()
		if err != nil {
			return nil, fmt.Errorf("reference %s (subject %s version %d): %w", r.Name, r.Subject, r.Version, err)
		}
		deps, err := c.References(ss.Schema)
		if err != nil {
			return nil, err
		}
		out = append(append(out, deps...), ss.Schema)
	}
	return out, nil
}

// magic is the first byte of Confluent's wire format.
const magic = 0

// AppendHeader appends the wire format's header for schema id to b.
func AppendHeader(b []byte, id int) []byte {
	return binary.BigEndian.AppendUint32(append(b, magic), uint32(id))
}

// ErrNotRegistryFormat is the error for data without the wire format's header.
var ErrNotRegistryFormat = errors.New("unknown magic byte: the data was not written by a Schema Registry serializer (magic byte 0 and a 4-byte schema id)")

// SplitHeader returns the schema id of data in the wire format and the
// encoded datum after the header.
func SplitHeader(data []byte) (int, []byte, error) {
	if len(data) < 5 || data[0] != magic {
		return 0, nil, ErrNotRegistryFormat
	}
	return int(binary.BigEndian.Uint32(data[1:5])), data[5:], nil
}
