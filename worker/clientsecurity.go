package worker

import (
	"fmt"
	"slices"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/penstockhq/penstock/connect/config"
	"github.com/penstockhq/penstock/internal/tlsconfig"
	"github.com/penstockhq/penstock/worker/clientconfig"
)

// Client role prefixes, Kafka Connect's: the worker's own clients read the
// plain keys; source producers, sink consumers and admin clients read
// producer., consumer. and admin. keys first, and a connector's
// <role>override. keys before those.
const (
	rolePlain    = ""
	roleProducer = "producer."
	roleConsumer = "consumer."
	roleAdmin    = "admin."
)

var clientSecurityDocs = map[string]string{
	clientconfig.KeySecurityProtocol: "Protocol used to reach the brokers: PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL.",
	clientconfig.KeySASLMechanism:    "SASL mechanism: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512.",
	clientconfig.KeySASLJAASConfig:   "JAAS login, e.g. org.apache.kafka.common.security.scram.ScramLoginModule required username=\"u\" password=\"p\"; (PlainLoginModule for PLAIN).",
	tlsconfig.KeyKeystoreType:        "Keystore format: PEM or PKCS12 (convert JKS with keytool -importkeystore).",
	tlsconfig.KeyKeystoreLocation:    "File holding the client's private key and certificate chain (PEM, or PKCS12 with ssl.keystore.type=PKCS12), for mutual TLS.",
	tlsconfig.KeyKeystorePassword:    "Password of a PKCS12 keystore.",
	tlsconfig.KeyKeyPassword:         "Private key password (encrypted PEM keys are refused; accepted for compatibility).",
	tlsconfig.KeyKeystoreChain:       "The client's certificate chain in PEM, inline.",
	tlsconfig.KeyKeystoreKey:         "The client's private key in PEM, inline.",
	tlsconfig.KeyTruststoreType:      "Truststore format: PEM or PKCS12.",
	tlsconfig.KeyTruststoreLoc:       "File of the CA certificates trusted to sign the brokers' certificates (PEM or PKCS12; default: the system's).",
	tlsconfig.KeyTruststorePass:      "Password of a PKCS12 truststore.",
	tlsconfig.KeyTruststoreCerts:     "CA certificates in PEM, inline.",
	tlsconfig.KeyEndpointIdentAlgo:   "https checks that the broker's certificate names its host; empty turns the check off (the chain is still verified).",
}

// clientSecurityKeys declares the client security keys under prefix;
// secrets are PASSWORD keys, masked wherever configs are shown.
func clientSecurityKeys(prefix, group, doc string) []config.Key {
	var keys []config.Key
	for _, k := range clientconfig.Keys {
		t := config.String
		if slices.Contains(clientconfig.PasswordKeys, k) {
			t = config.Password
		}
		keys = append(keys, config.Key{Name: prefix + k, Type: t, Importance: config.Medium, Group: group,
			Doc: clientSecurityDocs[k] + doc})
	}
	return keys
}

// connectorClientDef declares a connector's client overrides so their
// secrets are masked in REST answers.
var connectorClientDef = func() *config.Def {
	var keys []config.Key
	for _, r := range []string{roleProducer, roleConsumer, roleAdmin} {
		keys = append(keys, clientSecurityKeys(r+"override.", "Client overrides", "")...)
	}
	return config.NewDef(keys...)
}()

func init() {
	ConfigDef = ConfigDef.With(clientSecurityKeys(rolePlain, "Security",
		" Also read as producer.<key>, consumer.<key> and admin.<key> for those clients, and per connector as <role>.override.<key>.")...)
}

// clientSecurity returns the franz-go options that make a client of role
// reach the brokers as configured, connector overrides (connProps, may be
// nil) first, then the worker's role and plain keys, resolved through the
// config providers.
func (h *Herder) clientSecurity(role string, connProps map[string]string) ([]kgo.Opt, error) {
	wp, err := h.providers.resolve(h.cfg.Props)
	if err != nil {
		return nil, err
	}
	prefixes := []string{rolePlain}
	if role != rolePlain {
		prefixes = []string{role, rolePlain}
	}
	get := clientconfig.Layers(wp, prefixes...)
	if role != rolePlain && connProps != nil {
		over, worker := clientconfig.Layers(connProps, role+"override."), get
		get = func(key string) (string, bool) {
			if v, ok := over(key); ok {
				return v, true
			}
			return worker(key)
		}
	}
	opts, err := clientconfig.Opts(get)
	if err != nil {
		return nil, fmt.Errorf("worker %sclient security: %w", role, err)
	}
	return opts, nil
}

// roleOpts returns the options of a new client of role: the brokers, the
// options given to New, and the role's security.
func (h *Herder) roleOpts(role string, connProps map[string]string) ([]kgo.Opt, error) {
	sec, err := h.clientSecurity(role, connProps)
	if err != nil {
		return nil, err
	}
	return append(append([]kgo.Opt(nil), h.baseOpts...), sec...), nil
}
