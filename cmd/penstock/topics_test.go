package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/penstockhq/penstock/internal/brokertest"
)

// The topics and consume commands run against Penstock's broker, started in
// process on a free port.

func TestTopicsCommands(t *testing.T) {
	b := brokertest.Start(t)

	out := mustRun(t, newTopicsCmd(), "topics", "create", "orders", "--broker", b.Addr, "--partitions", "3", "--config", "retention.ms=3600000")
	wantContains(t, out, "created topic orders")
	mustRun(t, newTopicsCmd(), "topics", "create", "compacted", "--broker", b.Addr, "-c", "cleanup.policy=compact")

	// Creating it again: the broker's error, named.
	if _, err := run(t, newTopicsCmd(), "topics", "create", "orders", "--broker", b.Addr); err == nil || !strings.Contains(err.Error(), "TOPIC_ALREADY_EXISTS") {
		t.Errorf("create existing topic: err = %v", err)
	}
	if _, err := run(t, newTopicsCmd(), "topics", "create", "x", "--broker", b.Addr, "--config", "novalue"); err == nil {
		t.Error("--config without = accepted")
	}

	out = mustRun(t, newTopicsCmd(), "topics", "list", "--broker", b.Addr)
	wantContains(t, out, "NAME", "orders", "compacted")
	out = mustRun(t, newTopicsCmd(), "topics", "list", "--broker", b.Addr, "-o", "json")
	var rows []topicRow
	if err := json.Unmarshal([]byte(out), &rows); err != nil {
		t.Fatalf("list -o json: %v\n%s", err, out)
	}
	found := false
	for _, r := range rows {
		if r.Name == "orders" {
			found = true
			if r.Partitions != 3 || r.ReplicationFactor != 1 {
				t.Errorf("orders listed as %+v", r)
			}
		}
	}
	if !found {
		t.Errorf("orders not listed: %s", out)
	}

	produce(t, b.Addr, "orders", 0, nil, []byte("a"), []byte("b"))
	out = mustRun(t, newTopicsCmd(), "topics", "describe", "orders", "--broker", b.Addr, "-o", "json")
	var d topicRow
	if err := json.Unmarshal([]byte(out), &d); err != nil {
		t.Fatalf("describe -o json: %v\n%s", err, out)
	}
	if d.Partitions != 3 || len(d.PartitionDetails) != 3 || d.PartitionDetails[0].EndOffset != 2 || d.PartitionDetails[0].StartOffset != 0 {
		t.Errorf("describe: %+v", d)
	}
	if d.Configs["retention.ms"] != "3600000" {
		t.Errorf("describe configs: %v", d.Configs)
	}
	out = mustRun(t, newTopicsCmd(), "topics", "describe", "compacted", "--broker", b.Addr)
	wantContains(t, out, "Topic: compacted", "cleanup.policy=compact", "PARTITION")

	if _, err := run(t, newTopicsCmd(), "topics", "describe", "nope", "--broker", b.Addr); err == nil {
		t.Error("describe of a missing topic succeeded")
	}

	mustRun(t, newTopicsCmd(), "topics", "delete", "compacted", "--broker", b.Addr)
	out = mustRun(t, newTopicsCmd(), "topics", "list", "--broker", b.Addr)
	if strings.Contains(out, "compacted") {
		t.Errorf("deleted topic still listed:\n%s", out)
	}
}

// produce writes values with key to partition p of topic, synchronously.
func produce(t *testing.T, addr, topic string, p int32, key []byte, values ...[]byte) {
	t.Helper()
	cl, err := kgo.NewClient(kgo.SeedBrokers(addr), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	for _, v := range values {
		recs = append(recs, &kgo.Record{Topic: topic, Partition: p, Key: key, Value: v})
	}
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	if err := cl.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		t.Fatalf("produce: %v", err)
	}
}

func TestConsumeCommand(t *testing.T) {
	b := brokertest.Start(t)
	mustRun(t, newTopicsCmd(), "topics", "create", "cdc", "--broker", b.Addr, "--partitions", "1")

	// What JsonConverter with schemas writes, plain JSON, text and a tombstone.
	key := []byte(`{"schema":{"type":"struct","fields":[{"type":"int32","optional":false,"field":"id"}],"optional":false,"name":"shop.public.customers.Key"},"payload":{"id":1}}`)
	produce(t, b.Addr, "cdc", 0, key,
		[]byte(`{"schema":{"type":"struct","fields":[{"type":"int32","optional":false,"field":"id"},{"type":"string","optional":true,"field":"name"}],"optional":false},"payload":{"id":1,"name":"Ada <3"}}`),
		[]byte(`{"id": 1, "name": "plain"}`),
		[]byte("just text"),
		nil,
	)

	out := mustRun(t, newConsumeCmd(), "consume", "cdc", "--broker", b.Addr, "--from-beginning", "--max", "4")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	want := []string{
		"0@0\t{\"id\":1}\t{\"id\":1,\"name\":\"Ada <3\"}",
		"0@1\t{\"id\":1}\t{\"id\":1,\"name\":\"plain\"}",
		"0@2\t{\"id\":1}\t\"just text\"",
		"0@3\t{\"id\":1}\tnull",
	}
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Errorf("consume output:\n%s\nwant:\n%s", out, strings.Join(want, "\n"))
	}

	// JSON lines, --raw keeps the envelope, --max stops early.
	out = mustRun(t, newConsumeCmd(), "consume", "cdc", "--broker", b.Addr, "--from-beginning", "--max", "1", "-o", "json", "--raw")
	var rec consumedRecord
	if err := json.Unmarshal([]byte(out), &rec); err != nil {
		t.Fatalf("consume -o json: %v\n%s", err, out)
	}
	if rec.Topic != "cdc" || rec.Offset != 0 || !strings.Contains(string(rec.Value), `"schema"`) || !strings.Contains(string(rec.Key), `"payload"`) {
		t.Errorf("consume -o json --raw: %+v", rec)
	}

	// A group resumes where it left off: two records, then the next two.
	out = mustRun(t, newConsumeCmd(), "consume", "cdc", "--broker", b.Addr, "--from-beginning", "--group", "g1", "--max", "2", "--timeout", "20s")
	if got := strings.Count(out, "\n"); got != 2 || !strings.HasPrefix(out, "0@0\t") {
		t.Errorf("group first run:\n%s", out)
	}
	out = mustRun(t, newConsumeCmd(), "consume", "cdc", "--broker", b.Addr, "--from-beginning", "--group", "g1", "--max", "2", "--timeout", "20s")
	if !strings.HasPrefix(out, "0@2\t") {
		t.Errorf("group second run does not resume at offset 2:\n%s", out)
	}

	// Without --from-beginning only new records print; --timeout ends the wait.
	start := time.Now()
	out = mustRun(t, newConsumeCmd(), "consume", "cdc", "--broker", b.Addr, "--timeout", "1s")
	if strings.TrimSpace(out) != "" {
		t.Errorf("consume from the end printed old records:\n%s", out)
	}
	if time.Since(start) > 15*time.Second {
		t.Errorf("--timeout 1s took %s", time.Since(start))
	}

	// From the end, then a record written while consuming.
	done := make(chan string, 1)
	go func() {
		out, err := run(t, newConsumeCmd(), "consume", "cdc", "--broker", b.Addr, "--max", "1", "--timeout", "20s")
		if err != nil {
			out = "error: " + err.Error()
		}
		done <- out
	}()
	deadline := time.After(20 * time.Second)
	for {
		produce(t, b.Addr, "cdc", 0, nil, []byte(`"new"`))
		select {
		case out := <-done:
			if !strings.Contains(out, "\"new\"") || strings.Contains(out, "Ada") {
				t.Errorf("consume of new records: %q", out)
			}
			return
		case <-time.After(500 * time.Millisecond):
		case <-deadline:
			t.Fatal("consume of new records did not return")
		}
	}
}
