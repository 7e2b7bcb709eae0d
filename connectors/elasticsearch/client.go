package elasticsearch

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"time"

	es "github.com/elastic/go-elasticsearch/v8"
)

// maxBackoff caps the exponential retry backoff.
const maxBackoff = time.Minute

// backoff returns the wait before retry number attempt (1 for the first):
// base doubled for each earlier attempt, capped, with "full jitter" (a
// uniform random share of it) so that many clients retrying together spread
// out instead of hammering the cluster in lockstep.
func backoff(base time.Duration, attempt int) time.Duration {
	if base <= 0 || attempt <= 0 {
		return 0
	}
	d := base
	for i := 1; i < attempt && d < maxBackoff; i++ {
		d *= 2
	}
	d = min(d, maxBackoff)
	// Half fixed, half random: never zero, never above the cap.
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

// newClient returns an Elasticsearch client for s: its URLs, basic auth,
// TLS, timeouts, and transport-level retries of whole requests refused with
// 429, 500, 502, 503 or 504 (or failing to connect) with exponential backoff.
func newClient(s *settings) (*es.Client, error) {
	tlsConf, err := tlsConfig(s)
	if err != nil {
		return nil, err
	}
	dialer := &net.Dialer{Timeout: s.connectTimeout, KeepAlive: 30 * time.Second}
	transport := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer.DialContext,
		TLSHandshakeTimeout:   s.connectTimeout + 5*time.Second,
		ResponseHeaderTimeout: s.readTimeout,
		MaxIdleConnsPerHost:   s.maxInFlight * 2,
		TLSClientConfig:       tlsConf,
		ForceAttemptHTTP2:     false,
	}
	cfg := es.Config{
		Addresses:     s.urls,
		Username:      s.username,
		Password:      s.password.Value(),
		Transport:     transport,
		RetryOnStatus: []int{429, 500, 502, 503, 504},
		MaxRetries:    s.maxRetries,
		RetryBackoff:  func(attempt int) time.Duration { return backoff(s.retryBackoff, attempt) },
	}
	if s.maxRetries == 0 {
		cfg.DisableRetry = true
	}
	c, err := es.NewClient(cfg)
	if err != nil {
		return nil, fmt.Errorf("elasticsearch client for %v: %w", s.urls, err)
	}
	return c, nil
}

// tlsConfig builds the TLS configuration of elastic.security.protocol=SSL:
// the CA certificates of the PEM truststore, the client certificate and key
// of the PEM keystore, and hostname verification unless the endpoint
// identification algorithm is empty. It returns nil for PLAINTEXT.
func tlsConfig(s *settings) (*tls.Config, error) {
	if !s.ssl {
		return nil, nil
	}
	conf := &tls.Config{MinVersion: tls.VersionTLS12}
	if s.caFile != "" {
		pem, err := os.ReadFile(s.caFile)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", SSLTruststoreLocationConfig, err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s: %s holds no PEM certificate", SSLTruststoreLocationConfig, s.caFile)
		}
		conf.RootCAs = pool
	}
	if s.clientCertFile != "" {
		pem, err := os.ReadFile(s.clientCertFile)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", SSLKeystoreLocationConfig, err)
		}
		cert, err := tls.X509KeyPair(pem, pem)
		if err != nil {
			return nil, fmt.Errorf("%s: %s must hold a PEM certificate and its unencrypted key: %w", SSLKeystoreLocationConfig, s.clientCertFile, err)
		}
		conf.Certificates = []tls.Certificate{cert}
	}
	if !s.verifyHostname {
		// Verify the chain against the roots, but not the host name: what an
		// empty endpoint identification algorithm means in Java.
		roots := conf.RootCAs
		conf.InsecureSkipVerify = true
		conf.VerifyConnection = func(cs tls.ConnectionState) error {
			if len(cs.PeerCertificates) == 0 {
				return errors.New("server sent no certificate")
			}
			opts := x509.VerifyOptions{Roots: roots, Intermediates: x509.NewCertPool()}
			for _, c := range cs.PeerCertificates[1:] {
				opts.Intermediates.AddCert(c)
			}
			_, err := cs.PeerCertificates[0].Verify(opts)
			return err
		}
	}
	return conf, nil
}
