package broker

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/penstockhq/penstock/broker/security"
	"github.com/penstockhq/penstock/internal/tlsconfig"
)

func init() {
	register(int16(kmsg.SASLHandshake), 0, 1, handleSaslHandshake)
	register(int16(kmsg.SASLAuthenticate), 0, 2, handleSaslAuthenticate)
	register(int16(kmsg.DescribeUserSCRAMCredentials), 0, 0, handleDescribeScram)
	register(int16(kmsg.AlterUserSCRAMCredentials), 0, 0, handleAlterScram)
}

// Anonymous is the principal of unauthenticated connections, Kafka's.
const Anonymous = "User:ANONYMOUS"

// secState is the broker's security configuration: its listeners with
// their TLS settings, the SASL authenticator and SCRAM credentials, and the
// ACL authorizer (nil without authorizer.class.name).
type secState struct {
	listeners []security.Listener
	tls       map[string]*tls.Config
	auth      *security.Authenticator
	scram     *security.ScramStore
	authz     *security.Authorizer
	reauth    time.Duration
}

// initSecurity reads the listeners and security keys from the broker's
// properties; TLS material is loaded now so a bad file fails the start.
func (s *Server) initSecurity() error {
	props := s.cfg.Props
	ls, err := security.ParseListeners(props, s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("broker: %w", err)
	}
	if s.cfg.Listen != "" && s.cfg.Listen != DefaultConfig().Listen {
		ls[0].Addr = s.cfg.Listen // --listen overrides the first listener
	}
	if s.cfg.Advertise != "" && props[security.KeyAdvertisedListeners] == "" {
		ls[0].Advertised = s.cfg.Advertise
	}
	sec := &secState{listeners: ls, tls: map[string]*tls.Config{}}
	dir := filepath.Join(s.cfg.DataDir, "security")
	write := security.WriteFileAtomic
	if sec.scram, err = security.OpenScramStore(filepath.Join(dir, "scram-credentials.json"), write); err != nil {
		return fmt.Errorf("broker: %w", err)
	}
	anySASL := false
	for _, l := range ls {
		if l.TLS() {
			c, err := tlsconfig.Server(tlsconfig.Prefixed(props, "listener.name."+strings.ToLower(l.Name)+".", true))
			if err != nil {
				return fmt.Errorf("broker: listener %s: %w", l.Name, err)
			}
			sec.tls[l.Name] = c
		}
		anySASL = anySASL || l.SASL()
	}
	if anySASL {
		if sec.auth, err = security.NewAuthenticator(props, ls, sec.scram); err != nil {
			return fmt.Errorf("broker: %w", err)
		}
	}
	if v := strings.TrimSpace(props[security.KeyReauthMs]); v != "" {
		ms, err := strconv.ParseInt(v, 10, 64)
		if err != nil || ms < 0 {
			return fmt.Errorf("broker: %s=%q: a number of milliseconds", security.KeyReauthMs, v)
		}
		sec.reauth = time.Duration(ms) * time.Millisecond
	}
	if strings.TrimSpace(props[security.KeyAuthorizer]) != "" {
		if sec.authz, err = security.OpenAuthorizer(props, filepath.Join(dir, "acls.json"), write); err != nil {
			return fmt.Errorf("broker: %w", err)
		}
	}
	s.sec = sec
	return nil
}

// Listeners returns the configured listeners.
func (s *Server) Listeners() []security.Listener { return s.sec.listeners }

func (s *Server) listener(name string) *security.Listener {
	for i := range s.sec.listeners {
		if s.sec.listeners[i].Name == name {
			return &s.sec.listeners[i]
		}
	}
	return nil
}

// session is what a connection knows about its client's identity.
type session struct {
	principal     string
	authenticated bool
	exchange      *security.Exchange
	expires       time.Time // zero: never (connections.max.reauth.ms unset)
}

// handshakeTLS completes the TLS handshake of a new connection and takes
// the principal from a client certificate.
func (c *conn) handshakeTLS() error {
	tc, ok := c.nc.(*tls.Conn)
	if !ok {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		return err
	}
	if certs := tc.ConnectionState().PeerCertificates; len(certs) > 0 && !c.lst.SASL() {
		c.sess.principal = "User:" + tlsconfig.PrincipalName(certs[0])
	}
	return nil
}

// gate enforces SASL authentication: before it (and once its session has
// expired) only ApiVersions, SaslHandshake and SaslAuthenticate pass; any
// other request closes the connection, as Kafka does.
func (c *conn) gate(key int16) error {
	switch kmsg.Key(key) {
	case kmsg.ApiVersions, kmsg.SASLHandshake, kmsg.SASLAuthenticate:
		return nil
	}
	if !c.sess.authenticated {
		return fmt.Errorf("%s before SASL authentication", kmsg.NameForKey(key))
	}
	if !c.sess.expires.IsZero() && time.Now().After(c.sess.expires) {
		return errors.New("SASL session expired without re-authentication")
	}
	return nil
}

func handleSaslHandshake(rc *RequestContext, kreq kmsg.Request) Reply {
	req := kreq.(*kmsg.SASLHandshakeRequest)
	resp := req.ResponseKind().(*kmsg.SASLHandshakeResponse)
	l := rc.Server.listener(rc.Listener)
	if l == nil || !l.SASL() || rc.sess == nil {
		resp.ErrorCode = kerr.IllegalSaslState.Code
		return Respond(resp)
	}
	a := rc.Server.sec.auth
	resp.SupportedMechanisms = a.Mechanisms
	x, err := a.Start(l.Name, strings.ToUpper(req.Mechanism))
	if err != nil {
		resp.ErrorCode = kerr.UnsupportedSaslMechanism.Code
		return Respond(resp)
	}
	rc.sess.exchange = x
	return Respond(resp)
}

func handleSaslAuthenticate(rc *RequestContext, kreq kmsg.Request) Reply {
	req := kreq.(*kmsg.SASLAuthenticateRequest)
	resp := req.ResponseKind().(*kmsg.SASLAuthenticateResponse)
	ss := rc.sess
	if ss == nil || ss.exchange == nil {
		resp.ErrorCode = kerr.IllegalSaslState.Code
		resp.ErrorMessage = kmsg.StringPtr("SaslAuthenticate without SaslHandshake")
		return Respond(resp)
	}
	out, user, done, err := ss.exchange.Step(req.SASLAuthBytes)
	if err != nil {
		ss.exchange = nil
		rc.Server.log.Info("SASL authentication failed", "remote", rc.Remote.String(), "listener", rc.Listener, "err", err)
		resp.ErrorCode = kerr.SaslAuthenticationFailed.Code
		resp.ErrorMessage = kmsg.StringPtr(err.Error())
		return Respond(resp)
	}
	resp.SASLAuthBytes = out
	if !done {
		return Respond(resp)
	}
	ss.exchange = nil
	principal := "User:" + user
	if ss.authenticated && principal != ss.principal {
		resp.ErrorCode = kerr.SaslAuthenticationFailed.Code
		resp.ErrorMessage = kmsg.StringPtr("re-authentication must keep the principal " + ss.principal)
		return Respond(resp)
	}
	ss.principal, ss.authenticated = principal, true
	if r := rc.Server.sec.reauth; r > 0 {
		ss.expires = time.Now().Add(r)
		resp.SessionLifetimeMillis = r.Milliseconds()
	}
	return Respond(resp)
}

func handleDescribeScram(rc *RequestContext, kreq kmsg.Request) Reply {
	req := kreq.(*kmsg.DescribeUserSCRAMCredentialsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeUserSCRAMCredentialsResponse)
	store := rc.Server.sec.scram
	users := store.Users()
	if req.Users != nil {
		users = users[:0:0]
		for _, u := range req.Users {
			users = append(users, u.Name)
		}
	}
	for _, u := range users {
		r := kmsg.NewDescribeUserSCRAMCredentialsResponseResult()
		r.User = u
		creds := store.Describe(u)
		if len(creds) == 0 {
			r.ErrorCode = kerr.ResourceNotFound.Code
			r.ErrorMessage = kmsg.StringPtr("no SCRAM credential for user " + u)
		}
		for _, m := range []string{security.ScramSHA256, security.ScramSHA512} {
			if it, ok := creds[m]; ok {
				ci := kmsg.NewDescribeUserSCRAMCredentialsResponseResultCredentialInfo()
				ci.Mechanism, ci.Iterations = security.ScramMechanismID(m), it
				r.CredentialInfos = append(r.CredentialInfos, ci)
			}
		}
		resp.Results = append(resp.Results, r)
	}
	return Respond(resp)
}

func handleAlterScram(rc *RequestContext, kreq kmsg.Request) Reply {
	req := kreq.(*kmsg.AlterUserSCRAMCredentialsRequest)
	resp := req.ResponseKind().(*kmsg.AlterUserSCRAMCredentialsResponse)
	var changes []security.ScramChange
	var idx []int
	fail := func(user string, code int16, msg string) {
		r := kmsg.NewAlterUserSCRAMCredentialsResponseResult()
		r.User, r.ErrorCode, r.ErrorMessage = user, code, kmsg.StringPtr(msg)
		resp.Results = append(resp.Results, r)
	}
	ok := func(user string) {
		r := kmsg.NewAlterUserSCRAMCredentialsResponseResult()
		r.User = user
		idx = append(idx, len(resp.Results))
		resp.Results = append(resp.Results, r)
	}
	for _, d := range req.Deletions {
		m := security.ScramMechanismName(d.Mechanism)
		if m == "" {
			fail(d.Name, kerr.UnsupportedSaslMechanism.Code, fmt.Sprintf("unknown SCRAM mechanism %d", d.Mechanism))
			continue
		}
		if _, found := rc.Server.sec.scram.Get(d.Name, m); !found {
			fail(d.Name, kerr.ResourceNotFound.Code, "no "+m+" credential for user "+d.Name)
			continue
		}
		changes = append(changes, security.ScramChange{User: d.Name, Mechanism: m})
		ok(d.Name)
	}
	for _, u := range req.Upsertions {
		m := security.ScramMechanismName(u.Mechanism)
		switch {
		case m == "":
			fail(u.Name, kerr.UnsupportedSaslMechanism.Code, fmt.Sprintf("unknown SCRAM mechanism %d", u.Mechanism))
			continue
		case u.Iterations < security.MinIterations || u.Iterations > 16384:
			fail(u.Name, kerr.UnacceptableCredential.Code, fmt.Sprintf("iterations %d outside 4096..16384", u.Iterations))
			continue
		case u.Name == "":
			fail(u.Name, kerr.UnacceptableCredential.Code, "empty user name")
			continue
		}
		cred := security.NewScramCredential(m, u.Salt, u.SaltedPassword, u.Iterations)
		changes = append(changes, security.ScramChange{User: u.Name, Mechanism: m, Cred: &cred})
		ok(u.Name)
	}
	if err := rc.Server.sec.scram.Apply(changes); err != nil {
		rc.Server.log.Error("storing SCRAM credentials failed", "err", err)
		for _, i := range idx {
			resp.Results[i].ErrorCode = kerr.KafkaStorageError.Code
			resp.Results[i].ErrorMessage = kmsg.StringPtr(err.Error())
		}
	}
	return Respond(resp)
}

// warnOpen logs a warning for a listener reachable beyond loopback with
// neither TLS nor SASL.
func (s *Server) warnOpen(l security.Listener, addr net.Addr) {
	if security.Loopback(addr.String()) {
		return
	}
	switch l.Protocol {
	case security.Plaintext:
		s.log.Warn("listener accepts unauthenticated plaintext connections from the network; "+
			"use SSL or SASL_SSL listeners (listeners=SASL_SSL://...) or bind to 127.0.0.1",
			"listener", l.Name, "addr", addr.String())
	case security.SASLPlaintext:
		s.log.Warn("listener authenticates without TLS: passwords (PLAIN) and records cross the network in the clear; "+
			"use SASL_SSL", "listener", l.Name, "addr", addr.String())
	}
}
