package security

import (
	"strings"
	"testing"
)

func TestParseListeners(t *testing.T) {
	ls, err := ParseListeners(map[string]string{
		KeyListeners:           "INTERNAL://127.0.0.1:9092, external://0.0.0.0:9093",
		KeyProtocolMap:         "INTERNAL:PLAINTEXT,EXTERNAL:SASL_SSL",
		KeyAdvertisedListeners: "EXTERNAL://kafka.example.com:9093",
	}, "127.0.0.1:9092")
	if err != nil {
		t.Fatal(err)
	}
	if len(ls) != 2 || ls[0] != (Listener{"INTERNAL", Plaintext, "127.0.0.1:9092", ""}) ||
		ls[1] != (Listener{"EXTERNAL", SASLSSL, "0.0.0.0:9093", "kafka.example.com:9093"}) {
		t.Fatalf("%+v", ls)
	}
	if !ls[1].TLS() || !ls[1].SASL() || ls[0].TLS() {
		t.Fatal("protocol flags")
	}
	for props, want := range map[[3]string]string{
		{"CUSTOM://:1", "", ""}:                          "has no protocol",
		{"SSL://:1,SSL://:2", "", ""}:                    "named twice",
		{"SSL://nohostport", "", ""}:                     "SSL://nohostport",
		{"SSL://:1", "SSL:TLS", ""}:                      "NAME:PROTOCOL",
		{"SSL://:1", "", "PLAINTEXT://x:1"}:              "not in listeners",
		{"PLAINTEXT://:1", "", "PLAINTEXT://nohostport"}: "nohostport",
	} {
		_, err := ParseListeners(map[string]string{KeyListeners: props[0], KeyProtocolMap: props[1], KeyAdvertisedListeners: props[2]}, "")
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%v: %v, want an error containing %q", props, err, want)
		}
	}
	if ls, _ := ParseListeners(map[string]string{}, "127.0.0.1:9092"); len(ls) != 1 || ls[0].Protocol != Plaintext {
		t.Fatalf("default: %+v", ls)
	}
	if !Loopback("127.0.0.1:9092") || !Loopback("[::1]:1") || !Loopback("localhost:1") || Loopback("0.0.0.0:1") || Loopback(":9092") {
		t.Fatal("Loopback")
	}
}
