package httpclient

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"strings"
)

// Header is one Name:value pair of a headers key.
type Header struct{ Name, Value string }

// ParseHeaders reads Name:value pairs separated by sep, the form of
// Confluent's headers keys; names are trimmed, values too.
func ParseHeaders(raw, sep string) ([]Header, error) {
	var out []Header
	for _, part := range strings.Split(raw, sep) {
		if strings.TrimSpace(part) == "" {
			continue
		}
		name, value, ok := strings.Cut(part, ":")
		if name = strings.TrimSpace(name); !ok || name == "" {
			return nil, fmt.Errorf("header %q is not Name:value", part)
		}
		out = append(out, Header{Name: name, Value: strings.TrimSpace(value)})
	}
	return out, nil
}

// LoadCertPool reads a PEM file of CA certificates named by the key.
func LoadCertPool(key, path string) (*x509.CertPool, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s: no PEM certificate in %s", key, path)
	}
	return pool, nil
}

// LoadKeyPair reads a PEM file, named by the key, holding a certificate
// (with its chain) and its unencrypted private key.
func LoadKeyPair(key, path string) (tls.Certificate, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("%s: %w", key, err)
	}
	cert, err := tls.X509KeyPair(pem, pem)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("%s: %s must hold a PEM certificate and its unencrypted key: %w", key, path, err)
	}
	return cert, nil
}

// ProblemKey returns the configuration key a problem message names
// ("Invalid value X for configuration KEY: ..." or "Missing configuration
// KEY, ..."), or fallback; connectors' ValidateConfig put cross-key
// problems on that key.
func ProblemKey(msg, fallback string) string {
	for _, marker := range []string{" for configuration ", "Missing configuration "} {
		if i := strings.Index(msg, marker); i >= 0 {
			rest := msg[i+len(marker):]
			if j := strings.IndexAny(rest, ": ,"); j >= 0 {
				rest = rest[:j]
			}
			return rest
		}
	}
	return fallback
}
