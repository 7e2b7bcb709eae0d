package mysql

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connect/config"
	"github.com/penstockhq/penstock/internal/brokertest"
	"github.com/penstockhq/penstock/internal/clientconfig"
	"github.com/penstockhq/penstock/internal/testcerts"
)

// TestSchemaHistoryOnSecuredBroker: with Debezium's
// schema.history.internal.producer./consumer. security keys the history
// reaches a SASL_SSL broker (written as the connector streams, replayed at
// a restart), and the keys' secrets are masked.
func TestSchemaHistoryOnSecuredBroker(t *testing.T) {
	logs := captureLog(t)
	ca := testcerts.NewCA(t, "history-test-ca")
	srv := ca.Server(t, "broker")
	b := brokertest.Start(t, brokertest.WithProps(map[string]string{
		"listeners":               "SASL_SSL://127.0.0.1:0",
		"sasl.enabled.mechanisms": "PLAIN",
		"ssl.keystore.type":       "PEM",
		"ssl.keystore.location":   srv.File,
		"listener.name.sasl_ssl.plain.sasl.jaas.config": `org.apache.kafka.common.security.plain.PlainLoginModule required ` +
			`user_writer="writer-secret" user_reader="reader-secret";`,
	}))
	client := func(user string) map[string]string {
		return map[string]string{"security.protocol": "SASL_SSL", "sasl.mechanism": "PLAIN", "ssl.truststore.type": "PEM",
			"ssl.truststore.location": ca.CertFile,
			"sasl.jaas.config": `org.apache.kafka.common.security.plain.PlainLoginModule required username="` + user +
				`" password="` + user + `-secret";`}
	}
	e := startMariaDB(t)
	e.exec(t, "SET GLOBAL binlog_row_metadata = MINIMAL", "CREATE TABLE items (id INT PRIMARY KEY, v INT NOT NULL)")
	extra := map[string]string{KeyHistoryTopic: "srv-history", KeyHistoryServers: b.Addr}
	for k, v := range client("writer") {
		extra[HistoryProducerPrefix+k] = v
	}
	for k, v := range client("reader") {
		extra[HistoryConsumerPrefix+k] = v
	}
	props := e.props(extra)
	masked := config.MaskPasswords(props, ConfigDef())
	for _, k := range []string{HistoryProducerPrefix + "sasl.jaas.config", HistoryConsumerPrefix + "sasl.jaas.config"} {
		if masked[k] != config.HiddenValue {
			t.Errorf("%s shown as %q, want it masked", k, masked[k])
		}
	}

	w := &fakeWorker{}
	task := startTask(t, w, props) // writes the history's baseline when streaming starts
	pollUntil(t, task, w, 30*time.Second, func([]*connect.Record) bool { return strings.Contains(logs.String(), "streaming started") })
	e.exec(t, "INSERT INTO items VALUES (1, 1)")
	recs := pollUntil(t, task, w, 30*time.Second, func(r []*connect.Record) bool { return hasKey(r, "srv.app.items", int32(1)) })
	w.store(recs[len(recs)-1])
	if err := task.Stop(); err != nil {
		t.Fatal(err)
	}
	// Row 2 has a column the table no longer has: only the history describes it.
	e.exec(t, "ALTER TABLE items ADD COLUMN extra VARCHAR(10) DEFAULT 'x'", "INSERT INTO items VALUES (2, 2, 'e2')",
		"ALTER TABLE items DROP COLUMN extra", "INSERT INTO items VALUES (3, 3)")
	w2 := &fakeWorker{stored: w.stored}
	task2 := startTask(t, w2, props) // replays the history through the consumer
	got := pollUntil(t, task2, w2, 30*time.Second, func(r []*connect.Record) bool { return hasKey(r, "srv.app.items", int32(3)) })
	if !strings.Contains(logs.String(), "schema history replayed") {
		t.Fatalf("the restarted task did not replay the history:\n%s", logs.String())
	}
	row2 := ""
	for _, r := range topicRecords(got, "srv.app.items") {
		if s := afterString(r); strings.HasPrefix(s, "id=2 ") {
			row2 = s
		}
	}
	if row2 != "id=2 v=2 extra=e2" {
		t.Fatalf("row 2 after the restart: %q, want id=2 v=2 extra=e2", row2)
	}

	sec, err := clientconfig.Opts(clientconfig.Layers(client("reader"), ""))
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(append([]kgo.Opt{kgo.SeedBrokers(b.Addr)}, sec...)...)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	ends, err := kadm.NewClient(cl).ListEndOffsets(context.Background(), "srv-history")
	if err != nil {
		t.Fatal(err)
	}
	if end, _ := ends.Lookup("srv-history", 0); end.Offset < 3 {
		t.Fatalf("the history topic holds %d records, want the baseline and the two ALTERs", end.Offset)
	}
}
