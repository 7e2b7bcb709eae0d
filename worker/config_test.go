package worker

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestLoadConfigKafkaConnectKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), "worker.properties")
	err := os.WriteFile(path, []byte(`# Kafka Connect's sample
bootstrap.servers=localhost:9092, other:9092
group.id = connect-cluster
key.converter: org.apache.kafka.connect.storage.StringConverter
key.converter.schemas.enable=false
config.storage.topic=connect-configs
offset.storage.topic=connect-offsets
status.storage.topic=connect-status
offset.flush.interval.ms=\
10000
config.providers=file
config.providers.file.class=org.apache.kafka.common.config.provider.FileConfigProvider
`), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	c, err := LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(c.BootstrapServers, "|") != "localhost:9092|other:9092" || c.GroupID != "connect-cluster" ||
		c.KeyConverter != "org.apache.kafka.connect.storage.StringConverter" || c.ValueConverter != JSONConverterClass ||
		c.OffsetFlushEvery != 10*time.Second || c.OffsetFlushLimit != 5*time.Second || c.OffsetPartitions != 25 ||
		c.StatusPartitions != 5 || c.ListenAddr() != ":8083" || Prefixed(c.Props, "key.converter.")["schemas.enable"] != "false" {
		t.Fatalf("parsed %+v", c)
	}
	if _, err := ParseConfig(map[string]string{"bootstrap.servers": "x"}); err == nil || !strings.Contains(err.Error(), "group.id") {
		t.Fatalf("missing keys: %v", err)
	}
	p, err := newProviders(c)
	if err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(t.TempDir(), "s.properties")
	os.WriteFile(secret, []byte("pw=hunter2\n"), 0o600)
	got, err := p.resolve(map[string]string{"a": "${file:" + secret + ":pw}", "b": "${env:HOME}", "c": "plain"})
	if err != nil || got["a"] != "hunter2" || got["b"] != "${env:HOME}" || got["c"] != "plain" {
		t.Fatalf("resolved %v %v (env is not a configured provider here)", got, err)
	}
	if _, err := p.resolve(map[string]string{"a": "${file:" + secret + ":nope}"}); err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Fatalf("missing key: %v", err)
	}
}
