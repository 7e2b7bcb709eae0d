// Package tlsconfig builds crypto/tls configurations from Kafka's ssl.* keys
// (ssl.keystore.*, ssl.truststore.*, ssl.client.auth,
// ssl.endpoint.identification.algorithm), in PEM (files or inline) or PKCS12
// files. The broker's listeners, the workers' Kafka clients and the REST
// server all read their TLS settings through it, each with its own key
// prefix; connectors read their truststore files (Debezium's
// database.ssl.truststore) with ReadTruststore.
//
// Server configurations re-read their files when they change, so a renewed
// certificate takes effect on the next handshake without a restart.
package tlsconfig

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"software.sslmate.com/src/go-pkcs12"
)

// Kafka's TLS keys, without prefix.
const (
	KeyKeystoreType      = "ssl.keystore.type"
	KeyKeystoreLocation  = "ssl.keystore.location"
	KeyKeystorePassword  = "ssl.keystore.password"
	KeyKeyPassword       = "ssl.key.password"
	KeyKeystoreChain     = "ssl.keystore.certificate.chain"
	KeyKeystoreKey       = "ssl.keystore.key"
	KeyTruststoreType    = "ssl.truststore.type"
	KeyTruststoreLoc     = "ssl.truststore.location"
	KeyTruststorePass    = "ssl.truststore.password"
	KeyTruststoreCerts   = "ssl.truststore.certificates"
	KeyClientAuth        = "ssl.client.auth"
	KeyEndpointIdentAlgo = "ssl.endpoint.identification.algorithm"
)

// PasswordKeys are the secret keys among them, to be masked. JKS is not
// read: keytool converts it to PKCS12.
var PasswordKeys = []string{KeyKeystorePassword, KeyKeyPassword, KeyKeystoreKey, KeyTruststorePass}

// Getter looks a key up: a prefixed key first, then the plain one, as Kafka
// reads listener.name.<l>.ssl.* before ssl.*.
type Getter func(key string) string

// Prefixed returns a Getter reading prefix+key from props, falling back to
// key itself when fallback is set.
func Prefixed(props map[string]string, prefix string, fallback bool) Getter {
	return func(key string) string {
		if v, ok := props[prefix+key]; ok {
			return strings.TrimSpace(v)
		}
		if fallback {
			return strings.TrimSpace(props[key])
		}
		return ""
	}
}

// HasKeystore reports whether get names a certificate.
func HasKeystore(get Getter) bool {
	return get(KeyKeystoreLocation) != "" || get(KeyKeystoreChain) != ""
}

// material is what one load of the files produced.
type material struct {
	cert  *tls.Certificate
	roots *x509.CertPool
}

func load(get Getter) (material, error) {
	var m material
	for _, k := range []string{KeyKeystoreType, KeyTruststoreType} {
		if t := strings.ToUpper(get(k)); t != "" && t != "PEM" && t != "PKCS12" {
			return m, fmt.Errorf("%s=%s: PEM or PKCS12 (convert JKS with keytool -importkeystore -deststoretype PKCS12)", k, t)
		}
	}
	if strings.EqualFold(get(KeyKeystoreType), "PKCS12") && get(KeyKeystoreLocation) != "" {
		cert, err := loadPKCS12(get(KeyKeystoreLocation), get(KeyKeystorePassword))
		if err != nil {
			return m, err
		}
		m.cert = cert
	} else if HasKeystore(get) {
		var chain, key []byte
		if loc := get(KeyKeystoreLocation); loc != "" {
			b, err := os.ReadFile(loc)
			if err != nil {
				return m, fmt.Errorf("%s: %w", KeyKeystoreLocation, err)
			}
			chain, key = b, b
		} else {
			chain, key = []byte(get(KeyKeystoreChain)), []byte(get(KeyKeystoreKey))
		}
		cert, err := tls.X509KeyPair(chain, key)
		if err != nil {
			if blk, _ := pem.Decode(key); blk != nil && strings.Contains(blk.Type, "ENCRYPTED") {
				return m, fmt.Errorf("%s: encrypted private keys (%s) are not supported; store the key unencrypted with restricted file permissions", KeyKeystoreKey, KeyKeyPassword)
			}
			return m, fmt.Errorf("ssl keystore: %w", err)
		}
		m.cert = &cert
	}
	if loc := get(KeyTruststoreLoc); loc != "" {
		typ := get(KeyTruststoreType)
		if typ == "" {
			typ = "PEM"
		}
		roots, err := ReadTruststore(loc, typ, get(KeyTruststorePass))
		if err != nil {
			return m, fmt.Errorf("%s: %w", KeyTruststoreLoc, err)
		}
		m.roots = roots
	} else if c := get(KeyTruststoreCerts); c != "" {
		m.roots = x509.NewCertPool()
		if !m.roots.AppendCertsFromPEM([]byte(c)) {
			return m, fmt.Errorf("%s: no PEM certificate found", KeyTruststoreCerts)
		}
	}
	return m, nil
}

// Server returns a server configuration from get's keys: the keystore is
// required; ssl.client.auth (none, requested, required) asks for client
// certificates checked against the truststore. Files are re-read when their
// modification time changes (checked at most once a second).
func Server(get Getter) (*tls.Config, error) {
	if !HasKeystore(get) {
		return nil, fmt.Errorf("TLS needs %s or %s", KeyKeystoreLocation, KeyKeystoreChain)
	}
	auth := tls.NoClientCert
	switch strings.ToLower(get(KeyClientAuth)) {
	case "", "none":
	case "requested":
		auth = tls.VerifyClientCertIfGiven
	case "required":
		auth = tls.RequireAndVerifyClientCert
	default:
		return nil, fmt.Errorf("%s=%q: must be none, requested or required", KeyClientAuth, get(KeyClientAuth))
	}
	r := &reloader{get: get, auth: auth}
	if _, err := r.config(); err != nil {
		return nil, err
	}
	if auth != tls.NoClientCert && r.cur.ClientCAs == nil {
		return nil, fmt.Errorf("%s=%s needs a truststore (%s)", KeyClientAuth, get(KeyClientAuth), KeyTruststoreLoc)
	}
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) {
			return r.config()
		},
	}, nil
}

type reloader struct {
	get     Getter
	auth    tls.ClientAuthType
	mu      sync.Mutex
	cur     *tls.Config
	stamp   string
	checked time.Time
}

// stamp identifies the files' current versions.
func (r *reloader) fileStamp() string {
	var b strings.Builder
	for _, k := range []string{KeyKeystoreLocation, KeyTruststoreLoc} {
		if p := r.get(k); p != "" {
			if fi, err := os.Stat(p); err == nil {
				fmt.Fprintf(&b, "%s:%d:%d;", p, fi.ModTime().UnixNano(), fi.Size())
			}
		}
	}
	return b.String()
}

func (r *reloader) config() (*tls.Config, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cur != nil && time.Since(r.checked) < time.Second {
		return r.cur, nil
	}
	r.checked = time.Now()
	st := r.fileStamp()
	if r.cur != nil && st == r.stamp {
		return r.cur, nil
	}
	m, err := load(r.get)
	if err != nil {
		if r.cur != nil { // keep serving the last good certificate
			return r.cur, nil
		}
		return nil, err
	}
	r.cur = &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{*m.cert},
		ClientAuth:   r.auth,
		ClientCAs:    m.roots,
	}
	r.stamp = st
	return r.cur, nil
}

// Client returns a client configuration from get's keys: the truststore
// (system roots when absent), a keystore for mutual TLS, and host name
// verification unless ssl.endpoint.identification.algorithm is empty.
func Client(get Getter, endpointKeySet bool) (*tls.Config, error) {
	m, err := load(get)
	if err != nil {
		return nil, err
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: m.roots}
	if m.cert != nil {
		c.Certificates = []tls.Certificate{*m.cert}
	}
	if endpointKeySet && get(KeyEndpointIdentAlgo) == "" {
		// Kafka's way to turn host name checks off: still verify the
		// chain, not the name.
		c.InsecureSkipVerify = true
		c.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("tls: no server certificate")
			}
			opts := x509.VerifyOptions{Roots: m.roots, Intermediates: x509.NewCertPool()}
			for _, ic := range cs.PeerCertificates[1:] {
				opts.Intermediates.AddCert(ic)
			}
			_, err := cs.PeerCertificates[0].Verify(opts)
			return err
		}
	}
	return c, nil
}

// PrincipalName is Kafka's principal name for a client certificate: its
// subject distinguished name (RFC 2253 form).
func PrincipalName(cert *x509.Certificate) string {
	return cert.Subject.String()
}

// ErrNoPEMCertificate is ReadTruststore's error (wrapped) for a PEM file
// without a certificate: its password is not at fault.
var ErrNoPEMCertificate = errors.New("no PEM certificate in it")

// ReadTruststore reads the CA certificates of the truststore file at path:
// PEM certificates, or a PKCS12 truststore opened with password. typ is PEM
// or PKCS12; empty tells them apart by the content (PEM is text with
// -----BEGIN lines). Its errors name the file, not the key that named it:
// the caller wraps them with its key (connectors read truststores under
// their own keys, as Debezium's database.ssl.truststore).
func ReadTruststore(path, typ, password string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if strings.EqualFold(typ, "PEM") || (typ == "" && strings.Contains(string(b), "-----BEGIN")) {
		if !pool.AppendCertsFromPEM(b) {
			return nil, fmt.Errorf("%s: %w", path, ErrNoPEMCertificate)
		}
		return pool, nil
	}
	certs, err := pkcs12.DecodeTrustStore(b, password)
	if err != nil {
		if typ == "" {
			return nil, fmt.Errorf("%s: neither PEM nor a PKCS12 truststore its password opens (JKS: convert it with keytool -importkeystore -deststoretype PKCS12): %w", path, err)
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for _, c := range certs {
		pool.AddCert(c)
	}
	return pool, nil
}

// loadPKCS12 reads a PKCS12 keystore: its key, certificate and chain.
func loadPKCS12(path, password string) (*tls.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", KeyKeystoreLocation, err)
	}
	key, leaf, chain, err := pkcs12.DecodeChain(b, password)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", KeyKeystoreLocation, path, err)
	}
	c := &tls.Certificate{Certificate: [][]byte{leaf.Raw}, PrivateKey: key, Leaf: leaf}
	for _, ca := range chain {
		c.Certificate = append(c.Certificate, ca.Raw)
	}
	return c, nil
}
