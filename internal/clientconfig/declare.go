package clientconfig

import (
	"slices"

	"github.com/penstockhq/penstock/connect/config"
	"github.com/penstockhq/penstock/internal/tlsconfig"
)

var docs = map[string]string{
	KeySecurityProtocol:            "Protocol used to reach the brokers: PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL.",
	KeySASLMechanism:               "SASL mechanism: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512.",
	KeySASLJAASConfig:              "JAAS login, e.g. org.apache.kafka.common.security.scram.ScramLoginModule required username=\"u\" password=\"p\"; (PlainLoginModule for PLAIN).",
	tlsconfig.KeyKeystoreType:      "Keystore format: PEM or PKCS12 (convert JKS with keytool -importkeystore).",
	tlsconfig.KeyKeystoreLocation:  "File holding the client's private key and certificate chain (PEM, or PKCS12 with ssl.keystore.type=PKCS12), for mutual TLS.",
	tlsconfig.KeyKeystorePassword:  "Password of a PKCS12 keystore.",
	tlsconfig.KeyKeyPassword:       "Private key password (encrypted PEM keys are refused; accepted for compatibility).",
	tlsconfig.KeyKeystoreChain:     "The client's certificate chain in PEM, inline.",
	tlsconfig.KeyKeystoreKey:       "The client's private key in PEM, inline.",
	tlsconfig.KeyTruststoreType:    "Truststore format: PEM or PKCS12.",
	tlsconfig.KeyTruststoreLoc:     "File of the CA certificates trusted to sign the brokers' certificates (PEM or PKCS12; default: the system's).",
	tlsconfig.KeyTruststorePass:    "Password of a PKCS12 truststore.",
	tlsconfig.KeyTruststoreCerts:   "CA certificates in PEM, inline.",
	tlsconfig.KeyEndpointIdentAlgo: "https checks that the broker's certificate names its host; empty turns the check off (the chain is still verified).",
}

// Declare declares the client security keys under prefix, in group, each
// doc followed by doc; secrets are PASSWORD keys, masked wherever configs
// are shown. The worker declares them for its clients and connectors'
// overrides, and a connector with clients of its own for those.
func Declare(prefix, group, doc string) []config.Key {
	var keys []config.Key
	for _, k := range Keys {
		t := config.String
		if slices.Contains(PasswordKeys, k) {
			t = config.Password
		}
		keys = append(keys, config.Key{Name: prefix + k, Type: t, Importance: config.Medium, Group: group, Doc: docs[k] + doc})
	}
	return keys
}
