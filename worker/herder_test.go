package worker

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/penstockhq/penstock/worker/rest"
)

func datagenConfig(topic string, count int) map[string]string {
	return map[string]string{
		"connector.class": "datagen",
		"topic":           topic,
		"count":           fmt.Sprint(count),
		"batch.size":      "100",
		"tasks.max":       "1",
	}
}

func fileSinkConfig(topic, path string) map[string]string {
	return map[string]string{
		"connector.class": "FileStreamSink",
		"topics":          topic,
		"file":            path,
		"tasks.max":       "1",
	}
}

func TestPipelineThroughHerder(t *testing.T) {
	addr := startKafka(t)
	h := startHerder(t, testConfig(t, addr, nil), Options{Version: "test"})
	ctx := context.Background()
	out := filepath.Join(t.TempDir(), "sink.txt")
	const n = 500

	info, created, err := h.PutConnectorConfig(ctx, "gen", datagenConfig("events", n), "", false)
	if err != nil || !created || info.Type != "source" || info.Config["name"] != "gen" {
		t.Fatalf("create source: %+v created=%v err=%v", info, created, err)
	}
	// Create is idempotent for an identical config, 409 for a different one.
	if _, created, err := h.PutConnectorConfig(ctx, "gen", datagenConfig("events", n), "", false); err != nil || created {
		t.Fatalf("identical re-create: created=%v err=%v", created, err)
	}
	if _, _, err := h.PutConnectorConfig(ctx, "gen", datagenConfig("other", n), "", false); restStatus(err) != http.StatusConflict {
		t.Fatalf("different re-create: %v, want 409", err)
	}
	if _, _, err := h.PutConnectorConfig(ctx, "sink", fileSinkConfig("events", out), "", false); err != nil {
		t.Fatal(err)
	}
	waitState(t, h, "gen", rest.StateRunning, rest.StateRunning, 1)
	waitState(t, h, "sink", rest.StateRunning, rest.StateRunning, 1)

	eventually(t, 60*time.Second, "every record in the sink file", func() error {
		if got := len(seqsInFile(t, out)); got != n {
			return fmt.Errorf("%d distinct records, want %d", got, n)
		}
		return nil
	})
	// Source offsets are flushed: the datagen task is at seq n-1.
	eventually(t, 10*time.Second, "source offset flushed", func() error {
		offs, err := h.Offsets(ctx, "gen")
		if err != nil {
			return err
		}
		if len(offs.Offsets) != 1 || fmt.Sprint(offs.Offsets[0].Offset["seq"]) != fmt.Sprint(n-1) {
			return fmt.Errorf("offsets %+v", offs.Offsets)
		}
		return nil
	})
	// Sink offsets are committed in the consumer group.
	eventually(t, 10*time.Second, "sink offsets committed", func() error {
		offs, err := h.Offsets(ctx, "sink")
		if err != nil {
			return err
		}
		var total int64
		for _, o := range offs.Offsets {
			v, _ := toInt64(o.Offset["kafka_offset"])
			total += v
		}
		if total != n {
			return fmt.Errorf("committed %d records (%+v)", total, offs.Offsets)
		}
		return nil
	})
	if topics, err := h.ActiveTopics(ctx, "gen"); err != nil || strings.Join(topics, ",") != "events" {
		t.Fatalf("active topics of gen: %v %v", topics, err)
	}
	if topics, err := h.ActiveTopics(ctx, "sink"); err != nil || strings.Join(topics, ",") != "events" {
		t.Fatalf("active topics of sink: %v %v", topics, err)
	}
	if err := h.ResetActiveTopics(ctx, "gen"); err != nil {
		t.Fatal(err)
	}
	if topics, _ := h.ActiveTopics(ctx, "gen"); len(topics) != 0 {
		t.Fatalf("active topics after reset: %v", topics)
	}

	// Pause and resume.
	if err := h.PauseConnector(ctx, "sink"); err != nil {
		t.Fatal(err)
	}
	waitState(t, h, "sink", rest.StatePaused, rest.StatePaused, 1)
	if err := h.ResumeConnector(ctx, "sink"); err != nil {
		t.Fatal(err)
	}
	waitState(t, h, "sink", rest.StateRunning, rest.StateRunning, 1)

	// Offsets can only change once stopped.
	if _, err := h.AlterOffsets(ctx, "gen", rest.ConnectorOffsets{Offsets: []rest.PartitionOffset{{Partition: map[string]any{"task": 0}, Offset: map[string]any{"seq": 10}}}}); restStatus(err) != http.StatusBadRequest {
		t.Fatalf("alter offsets of a running connector: %v, want 400", err)
	}
	if _, err := h.ResetOffsets(ctx, "sink"); restStatus(err) != http.StatusBadRequest {
		t.Fatalf("reset offsets of a running connector: %v, want 400", err)
	}
	if err := h.StopConnector(ctx, "gen"); err != nil {
		t.Fatal(err)
	}
	waitState(t, h, "gen", rest.StateStopped, rest.StateRunning, 0)
	if _, err := h.AlterOffsets(ctx, "gen", rest.ConnectorOffsets{}); restStatus(err) != http.StatusBadRequest {
		t.Fatalf("alter with no offsets: %v, want 400", err)
	}
	// Rewind datagen to seq 99: after resume it regenerates 100..n-1.
	msg, err := h.AlterOffsets(ctx, "gen", rest.ConnectorOffsets{Offsets: []rest.PartitionOffset{{Partition: map[string]any{"task": 0}, Offset: map[string]any{"seq": 99}}}})
	if err != nil || !strings.Contains(msg, "altered successfully") {
		t.Fatalf("alter offsets: %q %v", msg, err)
	}
	offs, err := h.Offsets(ctx, "gen")
	if err != nil || len(offs.Offsets) != 1 || fmt.Sprint(offs.Offsets[0].Offset["seq"]) != "99" {
		t.Fatalf("offsets after alter: %+v %v", offs, err)
	}
	if err := h.ResumeConnector(ctx, "gen"); err != nil {
		t.Fatal(err)
	}
	waitState(t, h, "gen", rest.StateRunning, rest.StateRunning, 1)
	eventually(t, 60*time.Second, "regenerated records in the sink file", func() error {
		seqs := seqsInFile(t, out)
		if seqs[[2]int64{0, 100}] != 2 || seqs[[2]int64{0, n - 1}] != 2 || seqs[[2]int64{0, 99}] != 1 {
			return fmt.Errorf("copies of 99, 100, %d: %d %d %d", n-1, seqs[[2]int64{0, 99}], seqs[[2]int64{0, 100}], seqs[[2]int64{0, n - 1}])
		}
		return nil
	})

	// Sink offsets: stop, reset, and the sink reads the topic again.
	if err := h.StopConnector(ctx, "sink"); err != nil {
		t.Fatal(err)
	}
	waitState(t, h, "sink", rest.StateStopped, rest.StateRunning, 0)
	msg, err = h.AlterOffsets(ctx, "sink", rest.ConnectorOffsets{Offsets: []rest.PartitionOffset{{
		Partition: map[string]any{"kafka_topic": "events", "kafka_partition": float64(0)}, Offset: map[string]any{"kafka_offset": float64(1)}}}})
	if err != nil {
		t.Fatalf("alter sink offsets: %v", err)
	}
	sinkOffs, err := h.Offsets(ctx, "sink")
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, o := range sinkOffs.Offsets {
		if o.Partition["kafka_topic"] == "events" && fmt.Sprint(o.Partition["kafka_partition"]) == "0" {
			found = fmt.Sprint(o.Offset["kafka_offset"]) == "1"
		}
	}
	if !found {
		t.Fatalf("sink offsets after alter: %+v (%s)", sinkOffs, msg)
	}
	if msg, err := h.ResetOffsets(ctx, "sink"); err != nil || !strings.Contains(msg, "reset successfully") {
		t.Fatalf("reset sink offsets: %q %v", msg, err)
	}
	if offs, err := h.Offsets(ctx, "sink"); err != nil || len(offs.Offsets) != 0 {
		t.Fatalf("sink offsets after reset: %+v %v", offs, err)
	}
	if msg, err := h.ResetOffsets(ctx, "gen"); restStatus(err) != http.StatusBadRequest {
		t.Fatalf("reset offsets of running gen: %q %v", msg, err)
	}

	// Delete.
	if err := h.DeleteConnector(ctx, "gen"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.ConnectorInfo(ctx, "gen"); restStatus(err) != http.StatusNotFound {
		t.Fatalf("info after delete: %v, want 404", err)
	}
	if err := h.DeleteConnector(ctx, "gen"); restStatus(err) != http.StatusNotFound {
		t.Fatalf("second delete: %v, want 404", err)
	}
	if names, _ := h.Connectors(ctx); strings.Join(names, ",") != "sink" {
		t.Fatalf("connectors after delete: %v", names)
	}
}

func TestHerderErrors(t *testing.T) {
	addr := startKafka(t)
	h := startHerder(t, testConfig(t, addr, nil), Options{})
	ctx := context.Background()
	for _, check := range []struct {
		what   string
		err    error
		status int
	}{
		{"info of unknown", func() error { _, err := h.ConnectorInfo(ctx, "nope"); return err }(), 404},
		{"status of unknown", func() error { _, err := h.ConnectorStatus(ctx, "nope"); return err }(), 404},
		{"config of unknown", func() error { _, err := h.ConnectorConfig(ctx, "nope"); return err }(), 404},
		{"tasks of unknown", func() error { _, err := h.Tasks(ctx, "nope"); return err }(), 404},
		{"pause unknown", h.PauseConnector(ctx, "nope"), 404},
		{"resume unknown", h.ResumeConnector(ctx, "nope"), 404},
		{"stop unknown", h.StopConnector(ctx, "nope"), 404},
		{"restart unknown", func() error { _, err := h.RestartConnector(ctx, "nope", false, false); return err }(), 404},
		{"restart task of unknown", h.RestartTask(ctx, "nope", 0), 404},
		{"offsets of unknown", func() error { _, err := h.Offsets(ctx, "nope"); return err }(), 404},
		{"patch unknown", func() error { _, err := h.PatchConnectorConfig(ctx, "nope", nil); return err }(), 404},
		{"plugin config of unknown", func() error { _, err := h.PluginConfig("nope"); return err }(), 404},
		{"validate without class", func() error { _, err := h.ValidateConfig(ctx, map[string]string{}); return err }(), 400},
	} {
		if got := restStatus(check.err); got != check.status {
			t.Errorf("%s: %v (status %d), want %d", check.what, check.err, got, check.status)
		}
	}

	// Invalid configs name every bad key.
	_, _, err := h.PutConnectorConfig(ctx, "bad", map[string]string{"connector.class": "FileStreamSink", "tasks.max": "0", "file": "/tmp/x"}, "", false)
	if restStatus(err) != 400 {
		t.Fatalf("invalid sink: %v", err)
	}
	msg := err.Error()
	if !strings.HasPrefix(msg, "Connector configuration is invalid and contains the following 2 error(s):\n") ||
		!strings.Contains(msg, "tasks.max") || !strings.Contains(msg, "topics") {
		t.Fatalf("invalid sink message: %s", msg)
	}
	_, _, err = h.PutConnectorConfig(ctx, "bad", map[string]string{"connector.class": "NoSuchConnector"}, "", false)
	if restStatus(err) != 400 || !strings.Contains(err.Error(), "NoSuchConnector") {
		t.Fatalf("unknown class: %v", err)
	}
	_, _, err = h.PutConnectorConfig(ctx, "bad", map[string]string{"connector.class": "datagen", "topic": "t", "name": "other"}, "", false)
	if restStatus(err) != 400 {
		t.Fatalf("name mismatch: %v", err)
	}
	infos, err := h.ValidateConfig(ctx, map[string]string{"connector.class": "FileStreamSink", "topics": "a", "topics.regex": "b.*", "file": "x", "name": "v"})
	if err != nil || infos.ErrorCount != 1 {
		t.Fatalf("validate: %d errors, %v", infos.ErrorCount, err)
	}
	if ps := h.Plugins(true); len(ps) == 0 {
		t.Fatal("no connector plugins")
	} else {
		for _, p := range ps {
			if p.Type != "source" && p.Type != "sink" {
				t.Fatalf("connectorsOnly listed %+v", p)
			}
		}
	}
	if keys, err := h.PluginConfig("datagen"); err != nil || len(keys) == 0 {
		t.Fatalf("plugin config: %v %v", keys, err)
	}

	// A task that fails goes FAILED with its error in trace; restart with
	// onlyFailed reports it RESTARTING.
	_, _, err = h.PutConnectorConfig(ctx, "broken", map[string]string{"connector.class": "FileStreamSink", "topics": "t", "file": "/nonexistent-dir/x"}, "", false)
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, "broken task FAILED", func() error {
		st, err := h.TaskStatus(ctx, "broken", 0)
		if err != nil {
			return err
		}
		if st.State != rest.StateFailed || !strings.Contains(st.Trace, "nonexistent-dir") {
			return fmt.Errorf("task %+v", st)
		}
		return nil
	})
	if _, err := h.TaskStatus(ctx, "broken", 5); restStatus(err) != 404 {
		t.Fatalf("status of task 5: %v", err)
	}
	st, err := h.RestartConnector(ctx, "broken", true, true)
	if err != nil || st == nil || st.Tasks[0].State != rest.StateRestarting || st.Connector.State != rest.StateRunning {
		t.Fatalf("restart onlyFailed: %+v %v", st, err)
	}
	st, err = h.RestartConnector(ctx, "broken", false, false)
	if err != nil || st != nil {
		t.Fatalf("plain restart: %+v %v", st, err)
	}
	if err := h.RestartTask(ctx, "broken", 0); err != nil {
		t.Fatal(err)
	}
	// PATCH and PUT replace; initial state applies to creation.
	v := "/nonexistent-dir/y"
	info, err := h.PatchConnectorConfig(ctx, "broken", map[string]*string{"file": &v})
	if err != nil || info.Config["file"] != v {
		t.Fatalf("patch: %+v %v", info, err)
	}
	if _, created, err := h.PutConnectorConfig(ctx, "paused", datagenConfig("p", 10), "PAUSED", false); err != nil || !created {
		t.Fatal(err)
	}
	waitState(t, h, "paused", rest.StatePaused, "", 0) // as Kafka Connect: no task configs until first resumed
	if _, _, err := h.PutConnectorConfig(ctx, "stopped", datagenConfig("s", 10), "STOPPED", false); err != nil {
		t.Fatal(err)
	}
	waitState(t, h, "stopped", rest.StateStopped, "", 0)
}

func TestConfigProvidersAndMasking(t *testing.T) {
	addr := startKafka(t)
	dir := t.TempDir()
	secrets := filepath.Join(dir, "secrets.properties")
	if err := writeFile(secrets, "topic.name=from-file\n"); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PENSTOCK_TEST_FILE", filepath.Join(dir, "sink.txt"))
	h := startHerder(t, testConfig(t, addr, nil), Options{})
	ctx := context.Background()
	cfg := map[string]string{
		"connector.class": "FileStreamSink",
		"topics":          "${file:" + secrets + ":topic.name}",
		"file":            "${env:PENSTOCK_TEST_FILE}",
	}
	if _, _, err := h.PutConnectorConfig(ctx, "prov", cfg, "", false); err != nil {
		t.Fatal(err)
	}
	waitState(t, h, "prov", rest.StateRunning, rest.StateRunning, 1)
	got, err := h.ConnectorConfig(ctx, "prov")
	if err != nil || got["file"] != "${env:PENSTOCK_TEST_FILE}" || !strings.HasPrefix(got["topics"], "${file:") {
		t.Fatalf("config is stored resolved: %v %v", got, err)
	}
	tasks, err := h.Tasks(ctx, "prov")
	if err != nil || len(tasks) != 1 || tasks[0].Config["file"] != "${env:PENSTOCK_TEST_FILE}" {
		t.Fatalf("task config is stored resolved: %+v %v", tasks, err)
	}
	// PASSWORD keys are masked in every response; provider references stay.
	masked := maskConfig(h.reg, map[string]string{"connector.class": "io.debezium.connector.postgresql.PostgresConnector",
		"database.password": "s3cret", "database.user": "u"})
	if masked["database.password"] != "[hidden]" || masked["database.user"] != "u" {
		t.Fatalf("masked: %v", masked)
	}
	masked = maskConfig(h.reg, map[string]string{"connector.class": "io.debezium.connector.postgresql.PostgresConnector",
		"database.password": "${env:PW}"})
	if masked["database.password"] != "${env:PW}" {
		t.Fatalf("masked reference: %v", masked)
	}
}

func writeFile(path, content string) error { return os.WriteFile(path, []byte(content), 0o600) }
