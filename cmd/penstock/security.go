package main

import (
	"crypto/tls"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/penstockhq/penstock/broker/security"
	"github.com/penstockhq/penstock/internal/tlsconfig"
	"github.com/penstockhq/penstock/worker"
	"github.com/penstockhq/penstock/worker/rest"
)

// Environment variables of the REST client's credentials.
const (
	userEnv     = "PENSTOCK_USER"
	passwordEnv = "PENSTOCK_PASSWORD"
	tokenEnv    = "PENSTOCK_TOKEN"
	cacertEnv   = "PENSTOCK_CACERT"
)

// credFlags are the credentials of the commands that call the REST API.
type credFlags struct {
	user, token, cacert string
}

func (f *credFlags) register(cmd *cobra.Command) {
	cmd.PersistentFlags().StringVar(&f.user, "user", os.Getenv(userEnv),
		"REST API user as user:password, or user with the password in $"+passwordEnv+" (default $"+userEnv+")")
	cmd.PersistentFlags().StringVar(&f.token, "token", os.Getenv(tokenEnv), "REST API bearer token (default $"+tokenEnv+")")
	cmd.PersistentFlags().StringVar(&f.cacert, "cacert", os.Getenv(cacertEnv),
		"PEM file of the CA that signed the worker's HTTPS certificate (default $"+cacertEnv+")")
}

// httpClient returns nil (the default client) without credentials or CA,
// else a client adding them.
func (f *credFlags) httpClient() (*http.Client, error) {
	if f.user == "" && f.token == "" && f.cacert == "" {
		return nil, nil
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if f.cacert != "" {
		pool, err := tlsconfig.ReadTruststore(f.cacert, "PEM", "")
		if err != nil {
			return nil, fmt.Errorf("--cacert: %w", err)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	auth := authTransport{next: tr, token: f.token}
	if f.user != "" {
		u, p, ok := strings.Cut(f.user, ":")
		if !ok {
			p = os.Getenv(passwordEnv)
		}
		auth.user, auth.pass = u, p
	}
	return &http.Client{Timeout: 2 * time.Minute, Transport: auth}, nil
}

// authTransport adds basic or bearer credentials to every request.
type authTransport struct {
	next              http.RoundTripper
	user, pass, token string
}

func (t authTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	switch {
	case t.token != "":
		r.Header.Set("Authorization", "Bearer "+t.token)
	case t.user != "":
		r.SetBasicAuth(t.user, t.pass)
	}
	return t.next.RoundTrip(r)
}

// warnOpenREST warns when the REST API is reachable beyond loopback
// without HTTPS or without authentication.
func warnOpenREST(log *slog.Logger, cfg *worker.Config, listener string) {
	addr, err := rest.ListenAddr(listener)
	if err != nil || security.Loopback(addr) {
		return
	}
	https := strings.HasPrefix(strings.ToLower(strings.TrimSpace(listener)), "https://")
	auth := cfg.Props[worker.KeyRestBasicUsersFile] != "" || cfg.Props[worker.KeyRestBearerTokensFile] != ""
	if !https || !auth {
		log.Warn("the REST API listens beyond loopback without HTTPS or authentication: anyone who reaches it may read and change connectors; "+
			"set listeners=https://... and "+worker.KeyRestBasicUsersFile, "listener", listener, "https", https, "authentication", auth)
	}
}
