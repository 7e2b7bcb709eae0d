package security

import (
	"bytes"
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"

	"github.com/penstockhq/penstock/internal/jaas"
)

// Broker keys about SASL.
const (
	KeySASLMechanisms = "sasl.enabled.mechanisms"
	KeyReauthMs       = "connections.max.reauth.ms"
	Plain             = "PLAIN"
)

// ErrAuthentication is wrapped by every failed authentication.
var ErrAuthentication = errors.New("authentication failed")

// Authenticator checks SASL credentials for the broker's listeners.
type Authenticator struct {
	// Mechanisms are the enabled mechanisms (sasl.enabled.mechanisms,
	// default GSSAPI in Kafka; PLAIN and SCRAM here, GSSAPI is not offered).
	Mechanisms []string
	plain      map[string]map[string]string // listener -> user -> password
	scram      *ScramStore
}

// NewAuthenticator reads sasl.enabled.mechanisms and, for PLAIN, the users
// of listener.name.<listener>.plain.sasl.jaas.config (user_<name>="<password>")
// for every SASL listener, falling back to sasl.jaas.config.
func NewAuthenticator(props map[string]string, listeners []Listener, scram *ScramStore) (*Authenticator, error) {
	a := &Authenticator{plain: map[string]map[string]string{}, scram: scram}
	mechs := strings.TrimSpace(props[KeySASLMechanisms])
	if mechs == "" {
		mechs = Plain
	}
	for _, m := range strings.Split(mechs, ",") {
		m = strings.ToUpper(strings.TrimSpace(m))
		switch m {
		case Plain, ScramSHA256, ScramSHA512:
			a.Mechanisms = append(a.Mechanisms, m)
		default:
			return nil, fmt.Errorf("%s: %s is not supported (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512)", KeySASLMechanisms, m)
		}
	}
	for _, l := range listeners {
		if !l.SASL() || !a.enabled(Plain) {
			continue
		}
		key := "listener.name." + strings.ToLower(l.Name) + ".plain.sasl.jaas.config"
		spec, ok := props[key]
		if !ok {
			key, spec = "sasl.jaas.config", props["sasl.jaas.config"]
		}
		users := map[string]string{}
		if strings.TrimSpace(spec) != "" {
			c, err := jaas.Parse(spec)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", key, err)
			}
			for k, v := range c.Options {
				if u, ok := strings.CutPrefix(k, "user_"); ok {
					users[u] = v
				}
			}
		}
		a.plain[l.Name] = users
	}
	return a, nil
}

func (a *Authenticator) enabled(mech string) bool {
	for _, m := range a.Mechanisms {
		if m == mech {
			return true
		}
	}
	return false
}

// Exchange is one SASL authentication in progress on a connection.
type Exchange struct {
	a        *Authenticator
	listener string
	mech     string
	scram    *scramServer
}

// Start begins an exchange with mech, as SaslHandshake asks; it fails when
// the mechanism is not enabled.
func (a *Authenticator) Start(listener, mech string) (*Exchange, error) {
	if !a.enabled(mech) {
		return nil, fmt.Errorf("unsupported SASL mechanism %s", mech)
	}
	x := &Exchange{a: a, listener: listener, mech: mech}
	if mech != Plain {
		x.scram = &scramServer{mech: mech, store: a.scram}
	}
	return x, nil
}

// Step consumes one client token (SaslAuthenticate's bytes). When done, the
// exchange authenticated user. Errors wrap ErrAuthentication.
func (x *Exchange) Step(token []byte) (resp []byte, user string, done bool, err error) {
	if x.scram != nil {
		resp, done, err = x.scram.next(token)
		if err != nil {
			return nil, "", false, fmt.Errorf("%w: %v", ErrAuthentication, err)
		}
		return resp, x.scram.user, done, nil
	}
	// PLAIN: authzid NUL authcid NUL password (RFC 4616).
	parts := bytes.Split(token, []byte{0})
	if len(parts) != 3 {
		return nil, "", false, fmt.Errorf("%w: malformed PLAIN token", ErrAuthentication)
	}
	authz, user, pass := string(parts[0]), string(parts[1]), string(parts[2])
	if authz != "" && authz != user {
		return nil, "", false, fmt.Errorf("%w: authorization id %s differs from user %s", ErrAuthentication, authz, user)
	}
	want, ok := x.a.plain[x.listener][user]
	if !ok || subtle.ConstantTimeCompare([]byte(want), []byte(pass)) != 1 {
		return nil, "", false, fmt.Errorf("%w: invalid username or password", ErrAuthentication)
	}
	return nil, user, true, nil
}
