// Package security holds the broker's security model, independent of the
// wire: listeners and their protocols (Kafka's listeners,
// listener.security.protocol.map, advertised.listeners), SASL
// authentication (PLAIN and SCRAM-SHA-256/512 server side) with durable
// SCRAM credentials, and an ACL authorizer with durable ACLs that follows
// Kafka's StandardAuthorizer rules.
package security

import (
	"fmt"
	"net"
	"strings"
)

// Security protocols, Kafka's names.
const (
	Plaintext     = "PLAINTEXT"
	SSL           = "SSL"
	SASLPlaintext = "SASL_PLAINTEXT"
	SASLSSL       = "SASL_SSL"
)

// Broker keys about listeners.
const (
	KeyListeners           = "listeners"
	KeyAdvertisedListeners = "advertised.listeners"
	KeyProtocolMap         = "listener.security.protocol.map"
)

// Listener is one named endpoint of the broker.
type Listener struct {
	// Name is the listener name (PLAINTEXT, SASL_SSL, or a custom name
	// mapped to a protocol).
	Name string
	// Protocol is its security protocol.
	Protocol string
	// Addr is the host:port to bind.
	Addr string
	// Advertised is the host:port clients connecting here are told
	// about; empty means the bound address.
	Advertised string
}

// TLS reports whether the listener wraps connections in TLS.
func (l Listener) TLS() bool { return l.Protocol == SSL || l.Protocol == SASLSSL }

// SASL reports whether clients must authenticate with SASL.
func (l Listener) SASL() bool { return l.Protocol == SASLPlaintext || l.Protocol == SASLSSL }

// ParseListeners reads listeners, listener.security.protocol.map and
// advertised.listeners. With no listeners key it returns one PLAINTEXT
// listener on defaultAddr.
func ParseListeners(props map[string]string, defaultAddr string) ([]Listener, error) {
	protos := map[string]string{Plaintext: Plaintext, SSL: SSL, SASLPlaintext: SASLPlaintext, SASLSSL: SASLSSL}
	if m := strings.TrimSpace(props[KeyProtocolMap]); m != "" {
		protos = map[string]string{}
		for _, kv := range strings.Split(m, ",") {
			name, proto, ok := strings.Cut(strings.TrimSpace(kv), ":")
			proto = strings.ToUpper(strings.TrimSpace(proto))
			if !ok || !validProtocol(proto) {
				return nil, fmt.Errorf("%s: %q is not NAME:PROTOCOL with a protocol of PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL", KeyProtocolMap, kv)
			}
			protos[strings.ToUpper(strings.TrimSpace(name))] = proto
		}
	}
	spec := strings.TrimSpace(props[KeyListeners])
	if spec == "" {
		return []Listener{{Name: Plaintext, Protocol: Plaintext, Addr: defaultAddr}}, nil
	}
	entries, err := parseEntries(KeyListeners, spec)
	if err != nil {
		return nil, err
	}
	adv := map[string]string{}
	if a := strings.TrimSpace(props[KeyAdvertisedListeners]); a != "" {
		aes, err := parseEntries(KeyAdvertisedListeners, a)
		if err != nil {
			return nil, err
		}
		for _, e := range aes {
			adv[e[0]] = e[1]
		}
	}
	var out []Listener
	seen := map[string]bool{}
	for _, e := range entries {
		name, addr := e[0], e[1]
		proto, ok := protos[name]
		if !ok {
			return nil, fmt.Errorf("%s: listener %s has no protocol in %s", KeyListeners, name, KeyProtocolMap)
		}
		if seen[name] {
			return nil, fmt.Errorf("%s: listener %s named twice", KeyListeners, name)
		}
		seen[name] = true
		out = append(out, Listener{Name: name, Protocol: proto, Addr: addr, Advertised: adv[name]})
	}
	for name := range adv {
		if !seen[name] {
			return nil, fmt.Errorf("%s: listener %s is not in %s", KeyAdvertisedListeners, name, KeyListeners)
		}
	}
	return out, nil
}

func validProtocol(p string) bool {
	return p == Plaintext || p == SSL || p == SASLPlaintext || p == SASLSSL
}

func parseEntries(key, spec string) ([][2]string, error) {
	var out [][2]string
	for _, e := range strings.Split(spec, ",") {
		e = strings.TrimSpace(e)
		name, addr, ok := strings.Cut(e, "://")
		if !ok {
			return nil, fmt.Errorf("%s: %q is not NAME://host:port", key, e)
		}
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return nil, fmt.Errorf("%s: %q: %w", key, e, err)
		}
		out = append(out, [2]string{strings.ToUpper(name), addr})
	}
	return out, nil
}

// Loopback reports whether addr binds only a loopback interface.
func Loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
