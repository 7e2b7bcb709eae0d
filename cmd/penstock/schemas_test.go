package main

import (
	"strings"
	"testing"

	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connect/converters/avro"
	"github.com/penstockhq/penstock/connect/converters/jsonschema"
	"github.com/penstockhq/penstock/internal/brokertest"
	"github.com/penstockhq/penstock/internal/registrytest"
)

// TestSchemasAndConsumeDecoding writes Avro and JSON Schema records through
// the converters and the registry, then lists the subjects with `penstock
// schemas` and prints the records with `penstock consume`, decoded.
func TestSchemasAndConsumeDecoding(t *testing.T) {
	url, b := registrytest.Start(t)
	s := connect.NewStructSchema("shop.Order", connect.F("id", connect.Int32Schema), connect.F("note", connect.OptionalStringSchema))
	v := connect.NewStruct(s)
	v.SetAt(0, int32(7))
	v.SetAt(1, "fast")
	props := map[string]string{"schema.registry.url": url}
	av, js := avro.New(), jsonschema.New()
	if err := av.Configure(props, false); err != nil {
		t.Fatal(err)
	}
	if err := js.Configure(props, false); err != nil {
		t.Fatal(err)
	}
	ab, err := av.FromConnect("orders", s, v)
	if err != nil {
		t.Fatal(err)
	}
	jb, err := js.FromConnect("orders-json", s, v)
	if err != nil {
		t.Fatal(err)
	}
	for _, topic := range []string{"orders", "orders-json"} {
		mustRun(t, newTopicsCmd(), "topics", "create", topic, "--broker", b.Addr, "--partitions", "1")
	}
	produce(t, b.Addr, "orders", 0, nil, ab)
	produce(t, b.Addr, "orders-json", 0, nil, jb)

	out := mustRun(t, newSchemasCmd(), "schemas", "--schema-registry", url)
	wantContains(t, out, "orders-value")
	wantContains(t, out, "orders-json-value")
	if !strings.Contains(out, "AVRO") || !strings.Contains(out, "JSON") || !strings.Contains(out, "BACKWARD") {
		t.Errorf("schemas output:\n%s", out)
	}
	out = mustRun(t, newSchemasCmd(), "schemas", "orders-value", "--schema-registry", url)
	wantContains(t, out, `"name":"Order"`)

	for _, topic := range []string{"orders", "orders-json"} {
		out = mustRun(t, newConsumeCmd(), "consume", topic, "--broker", b.Addr, "--from-beginning", "--max", "1", "--schema-registry", url)
		if want := "0@0\tnull\t{\"id\":7,\"note\":\"fast\"}"; strings.TrimSpace(out) != want {
			t.Errorf("consume %s:\n%s\nwant:\n%s", topic, out, want)
		}
	}
}

// TestSchemasSecuredRegistry: `penstock schemas` and `penstock consume`
// reach a registry serving HTTPS with credentials, the credentials in the
// URL and the CA from --schema-registry-cacert.
func TestSchemasSecuredRegistry(t *testing.T) {
	reg := registrytest.StartSecure(t)
	b := brokertest.Start(t)
	s := connect.NewStructSchema("shop.Item", connect.F("id", connect.Int32Schema))
	v := connect.NewStruct(s)
	v.SetAt(0, int32(3))
	av := avro.New()
	if err := av.Configure(map[string]string{"schema.registry.url": reg.URL, "schema.registry.ssl.truststore.location": reg.CAFile,
		"basic.auth.credentials.source": "USER_INFO", "basic.auth.user.info": registrytest.AdminUser + ":" + registrytest.AdminPassword}, false); err != nil {
		t.Fatal(err)
	}
	ab, err := av.FromConnect("items", s, v)
	if err != nil {
		t.Fatal(err)
	}
	mustRun(t, newTopicsCmd(), "topics", "create", "items", "--broker", b.Addr, "--partitions", "1")
	produce(t, b.Addr, "items", 0, nil, ab)
	url := strings.Replace(reg.URL, "https://", "https://"+registrytest.ViewerUser+":"+registrytest.ViewerPassword+"@", 1)
	out := mustRun(t, newSchemasCmd(), "schemas", "--schema-registry", url, "--schema-registry-cacert", reg.CAFile)
	wantContains(t, out, "items-value")
	out = mustRun(t, newConsumeCmd(), "consume", "items", "--broker", b.Addr, "--from-beginning", "--max", "1",
		"--schema-registry", url, "--schema-registry-cacert", reg.CAFile)
	if want := "0@0\tnull\t{\"id\":3}"; strings.TrimSpace(out) != want {
		t.Errorf("consume:\n%s\nwant:\n%s", out, want)
	}
}
