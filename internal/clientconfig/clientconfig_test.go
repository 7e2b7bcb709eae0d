package clientconfig

import (
	"strings"
	"testing"
)

func TestOptsErrors(t *testing.T) {
	for _, c := range []struct {
		props map[string]string
		want  string
	}{
		{map[string]string{"security.protocol": "SASL_SSL"}, "needs sasl.jaas.config"},
		{map[string]string{"security.protocol": "TLS"}, "PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL"},
		{map[string]string{"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "GSSAPI",
			"sasl.jaas.config": `x required username="u" password="p";`}, "PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512"},
		{map[string]string{"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "PLAIN",
			"sasl.jaas.config": `x required password="p";`}, "no username"},
		{map[string]string{"security.protocol": "SSL", "ssl.truststore.type": "JKS", "ssl.truststore.location": "/x.jks"}, "PEM or PKCS12"},
	} {
		if _, err := Opts(Layers(c.props, "")); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want an error containing %q", c.props, err, c.want)
		}
	}
	if opts, err := Opts(Layers(map[string]string{}, "")); err != nil || opts != nil {
		t.Fatalf("PLAINTEXT: %v %v", opts, err)
	}
}

func TestLayers(t *testing.T) {
	props := map[string]string{"producer.sasl.mechanism": "SCRAM-SHA-512", "sasl.mechanism": "PLAIN", "security.protocol": "SASL_SSL"}
	get := Layers(props, "producer.", "")
	if v, _ := get("sasl.mechanism"); v != "SCRAM-SHA-512" {
		t.Fatalf("producer. layer: %q", v)
	}
	if v, _ := get("security.protocol"); v != "SASL_SSL" {
		t.Fatalf("plain layer: %q", v)
	}
	if _, ok := get("ssl.keystore.location"); ok {
		t.Fatal("absent key found")
	}
}
