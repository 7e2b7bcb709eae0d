package tlsconfig

import (
	"strings"
	"testing"

	"github.com/penstockhq/penstock/internal/testcerts"
)

func TestConfigErrors(t *testing.T) {
	ca := testcerts.NewCA(t, "ca")
	pair := ca.Server(t, "s")
	get := func(kv ...string) Getter {
		m := map[string]string{}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return Prefixed(m, "", false)
	}
	for _, c := range []struct {
		get  Getter
		want string
	}{
		{get(), "needs ssl.keystore.location"},
		{get(KeyKeystoreType, "PKCS12", KeyKeystoreLocation, pair.File), "only PEM"},
		{get(KeyKeystoreLocation, "/nonexistent.pem"), "ssl.keystore.location"},
		{get(KeyKeystoreLocation, pair.File, KeyClientAuth, "required"), "needs a truststore"},
		{get(KeyKeystoreLocation, pair.File, KeyClientAuth, "maybe"), "none, requested or required"},
		{get(KeyKeystoreChain, pair.CertPEM, KeyKeystoreKey, "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n"), "encrypted private keys"},
	} {
		if _, err := Server(c.get); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v, want an error containing %q", err, c.want)
		}
	}
	if _, err := Server(get(KeyKeystoreChain, pair.CertPEM, KeyKeystoreKey, pair.KeyPEM, KeyClientAuth, "requested",
		KeyTruststoreCerts, ca.CertPEM)); err != nil {
		t.Fatal(err)
	}
	if _, err := Client(get(KeyTruststoreCerts, "not pem"), false); err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Fatalf("bad truststore: %v", err)
	}
}
