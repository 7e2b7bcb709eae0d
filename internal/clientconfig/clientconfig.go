// Package clientconfig maps Kafka's client security keys (security.protocol,
// sasl.mechanism, sasl.jaas.config, ssl.*) onto franz-go options, so a
// worker reaches secured clusters configured exactly as a Kafka Connect
// worker is: the worker-level keys, their producer., consumer. and admin.
// forms, and a connector's producer.override. (and so on) forms. Connectors
// with Kafka clients of their own (the MySQL schema history) read the same
// keys under their own prefixes, as Debezium's do.
package clientconfig

import (
	"fmt"
	"strings"

	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/sasl"
	"github.com/twmb/franz-go/pkg/sasl/plain"
	"github.com/twmb/franz-go/pkg/sasl/scram"

	"github.com/penstockhq/penstock/internal/jaas"
	"github.com/penstockhq/penstock/internal/tlsconfig"
)

// Client security keys, Kafka's names.
const (
	KeySecurityProtocol = "security.protocol"
	KeySASLMechanism    = "sasl.mechanism"
	KeySASLJAASConfig   = "sasl.jaas.config"
)

// Keys lists every client security key this package reads, unprefixed.
var Keys = []string{KeySecurityProtocol, KeySASLMechanism, KeySASLJAASConfig,
	tlsconfig.KeyKeystoreType, tlsconfig.KeyKeystoreLocation, tlsconfig.KeyKeystorePassword, tlsconfig.KeyKeyPassword,
	tlsconfig.KeyKeystoreChain, tlsconfig.KeyKeystoreKey, tlsconfig.KeyTruststoreType, tlsconfig.KeyTruststoreLoc,
	tlsconfig.KeyTruststorePass, tlsconfig.KeyTruststoreCerts, tlsconfig.KeyEndpointIdentAlgo}

// PasswordKeys are the secret ones among Keys (masked in answers and logs).
var PasswordKeys = append([]string{KeySASLJAASConfig}, tlsconfig.PasswordKeys...)

// Lookup finds a key in layers, the first layer holding it wins (a
// connector's override, then the worker's producer. key, then the worker's
// own key).
type Lookup func(key string) (string, bool)

// Layers builds a Lookup over props with prefixes tried in order; "" is the
// plain key.
func Layers(props map[string]string, prefixes ...string) Lookup {
	return func(key string) (string, bool) {
		for _, p := range prefixes {
			if v, ok := props[p+key]; ok {
				return strings.TrimSpace(v), true
			}
		}
		return "", false
	}
}

// Opts returns the franz-go options for the security keys found by get:
// TLS for SSL and SASL_SSL, a SASL mechanism for SASL_*. PLAINTEXT (the
// default) returns none.
func Opts(get Lookup) ([]kgo.Opt, error) {
	proto, _ := get(KeySecurityProtocol)
	proto = strings.ToUpper(proto)
	var opts []kgo.Opt
	switch proto {
	case "", "PLAINTEXT":
		return nil, nil
	case "SSL", "SASL_SSL":
		g := func(k string) string { v, _ := get(k); return v }
		_, identSet := get(tlsconfig.KeyEndpointIdentAlgo)
		tc, err := tlsconfig.Client(g, identSet)
		if err != nil {
			return nil, fmt.Errorf("%s=%s: %w", KeySecurityProtocol, proto, err)
		}
		opts = append(opts, kgo.DialTLSConfig(tc))
	case "SASL_PLAINTEXT":
	default:
		return nil, fmt.Errorf("%s=%q: PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL", KeySecurityProtocol, proto)
	}
	if strings.HasPrefix(proto, "SASL_") {
		m, err := mechanism(get)
		if err != nil {
			return nil, err
		}
		opts = append(opts, kgo.SASL(m))
	}
	return opts, nil
}

func mechanism(get Lookup) (sasl.Mechanism, error) {
	mech, _ := get(KeySASLMechanism)
	if mech == "" {
		mech = "GSSAPI" // Kafka's default, which we cannot serve
	}
	spec, _ := get(KeySASLJAASConfig)
	if spec == "" {
		return nil, fmt.Errorf("%s=%s needs %s with username and password", KeySASLMechanism, mech, KeySASLJAASConfig)
	}
	jc, err := jaas.Parse(spec)
	if err != nil {
		return nil, err
	}
	user, pass := jc.Options["username"], jc.Options["password"]
	if user == "" {
		return nil, fmt.Errorf("%s: no username option", KeySASLJAASConfig)
	}
	switch strings.ToUpper(mech) {
	case "PLAIN":
		return plain.Auth{User: user, Pass: pass}.AsMechanism(), nil
	case "SCRAM-SHA-256":
		return scram.Auth{User: user, Pass: pass}.AsSha256Mechanism(), nil
	case "SCRAM-SHA-512":
		return scram.Auth{User: user, Pass: pass}.AsSha512Mechanism(), nil
	}
	return nil, fmt.Errorf("%s=%s: PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512", KeySASLMechanism, mech)
}
