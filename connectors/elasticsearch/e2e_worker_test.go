package elasticsearch_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/penstockhq/penstock/internal/brokertest"
	"github.com/penstockhq/penstock/internal/e2e"
	"github.com/penstockhq/penstock/internal/testservice"
)

// walSync outlasts ZincSearch's 100ms WAL sync with a margin: a delete of a
// document indexed less than one sync earlier is lost by ZincSearch (see
// integration_test.go), so changes to one key are spaced by this much.
const walSync = 600 * time.Millisecond

const e2eTopic = "items"

var (
	keySchema   = json.RawMessage(`{"type":"string","optional":false}`)
	valueSchema = json.RawMessage(`{"type":"struct","name":"items.Value","optional":false,"fields":[` +
		`{"field":"id","type":"string","optional":false},{"field":"name","type":"string","optional":false},` +
		`{"field":"qty","type":"int32","optional":false}]}`)
)

// produceRound writes one change per key: an upsert (a row) or a delete
// (a tombstone), in JsonConverter's envelope with schemas.
func produceRound(t *testing.T, cl *kgo.Client, rows map[string]map[string]any, deletes []string) {
	t.Helper()
	var recs []*kgo.Record
	keys := make([]string, 0, len(rows))
	for k := range rows {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	enc := func(schema json.RawMessage, payload any) []byte {
		b, err := json.Marshal(map[string]any{"schema": schema, "payload": payload})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, k := range keys {
		recs = append(recs, &kgo.Record{Topic: e2eTopic, Key: enc(keySchema, k), Value: enc(valueSchema, rows[k])})
	}
	for _, k := range deletes {
		recs = append(recs, &kgo.Record{Topic: e2eTopic, Key: enc(keySchema, k)})
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
}

// topicState folds the topic's records: the last value of each key, a
// tombstone removing it.
func topicState(t *testing.T, bootstrap string) (map[string]map[string]any, int64) {
	t.Helper()
	state := map[string]map[string]any{}
	recs := e2e.ReadTopic(t, bootstrap, e2eTopic)
	for _, r := range recs {
		var k struct {
			Payload string `json:"payload"`
		}
		if err := json.Unmarshal(r.Key, &k); err != nil {
			t.Fatal(err)
		}
		if len(r.Value) == 0 {
			delete(state, k.Payload)
			continue
		}
		var v struct {
			Payload map[string]any `json:"payload"`
		}
		if err := json.Unmarshal(r.Value, &v); err != nil {
			t.Fatal(err)
		}
		state[k.Payload] = v.Payload
	}
	return state, int64(len(recs))
}

// committed sums the sink's committed kafka_offset values.
func committed(url, name string) (int64, error) {
	r, err := e2e.Do("GET", url+"/connectors/"+name+"/offsets", nil)
	if err != nil {
		return 0, err
	}
	var o struct {
		Offsets []struct {
			Offset map[string]any `json:"offset"`
		} `json:"offsets"`
	}
	if err := json.Unmarshal(r.Body, &o); err != nil || r.Status != 200 {
		return 0, fmt.Errorf("%s (%v)", r, err)
	}
	var total int64
	for _, p := range o.Offsets {
		v, _ := p.Offset["kafka_offset"].(float64)
		total += int64(v)
	}
	return total, nil
}

// TestE2ESinkWorkerKill9 is issue 9: the Elasticsearch sink in a `penstock
// worker` subprocess, SIGKILLed mid-stream and restarted while records keep
// arriving, leaves the index equal to the records in the topic (the last
// value of each key; deletes applied).
//
// The topic gets rounds of changes in which each key changes once, spaced
// by more than ZincSearch's WAL sync. Before and across the kill the rounds
// are upserts only: after the restart the sink replays from its committed
// offsets, quickly, and ZincSearch would lose a replayed delete that follows
// a replayed index of the same document within one WAL sync (Elasticsearch
// would not). Deletes come once the replay is committed.
func TestE2ESinkWorkerKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the penstock binary")
	}
	srv := testservice.Elasticsearch(t)
	b := brokertest.Start(t, brokertest.WithProps(map[string]string{"num.partitions": "2"}))
	bin := e2e.BuildPenstock(t)
	dir := t.TempDir()
	url := fmt.Sprintf("http://127.0.0.1:%d", e2e.FreePort(t))
	cfgFile := e2e.WriteProps(t, dir, e2e.WorkerProps(b.Addr, map[string]string{
		"listeners":                        url,
		"group.id":                         "es-kill9",
		"session.timeout.ms":               "6000",
		"heartbeat.interval.ms":            "1000",
		"scheduled.rebalance.max.delay.ms": "1000",
		"consumer.session.timeout.ms":      "6000",
	}))
	logFile := filepath.Join(dir, "worker.log")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("worker log:\n%s", e2e.LogTail(logFile))
		}
	})
	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()

	const keys = 60
	rng := rand.New(rand.NewPCG(9, 9))
	qty := map[string]int{}
	deleted := map[string]bool{}
	round := func(deletes int) {
		rows := map[string]map[string]any{}
		for len(rows) < keys/3 {
			k := fmt.Sprintf("item-%02d", rng.IntN(keys))
			if deleted[k] {
				continue
			}
			qty[k]++
			rows[k] = map[string]any{"id": k, "name": "name of " + k, "qty": qty[k]}
		}
		var dels []string
		for len(dels) < deletes {
			k := fmt.Sprintf("item-%02d", rng.IntN(keys))
			if _, changed := rows[k]; changed || deleted[k] || qty[k] == 0 {
				continue
			}
			deleted[k] = true
			dels = append(dels, k)
		}
		produceRound(t, cl, rows, dels)
		time.Sleep(walSync)
	}
	round(0)

	w := e2e.StartProc(t, bin, cfgFile, url, logFile)
	e2e.Expect(t, 201, "POST", url+"/connectors", map[string]any{"name": "items-sink", "config": map[string]string{
		"connector.class":         "io.confluent.connect.elasticsearch.ElasticsearchSinkConnector",
		"topics":                  e2eTopic,
		"connection.url":          srv.URL,
		"connection.username":     srv.Username,
		"connection.password":     srv.Password,
		"key.ignore":              "false",
		"schema.ignore":           "false",
		"behavior.on.null.values": "DELETE",
		"batch.size":              "7", // many bulk requests, so the kill falls between them
	}})
	e2e.WaitState(t, url, "items-sink", "RUNNING", "RUNNING", 1)

	// Upsert rounds until the sink has committed part of the stream, then
	// the kill, with more rounds while the worker is down.
	for i := 0; ; i++ {
		round(0)
		if n, err := committed(url, "items-sink"); err == nil && n > 0 && i >= 3 {
			t.Logf("killing the worker with %d records committed", n)
			break
		}
		if i > 40 {
			t.Fatal("the sink committed nothing")
		}
	}
	round(0) // produced while the worker may still be indexing
	w.Kill()
	for i := 0; i < 3; i++ {
		round(0)
	}

	e2e.StartProc(t, bin, cfgFile, url, logFile)
	e2e.WaitState(t, url, "items-sink", "RUNNING", "RUNNING", 1)
	_, total := topicState(t, b.Addr)
	e2e.Eventually(t, 45*time.Second, "the restarted sink caught up", func() error {
		n, err := committed(url, "items-sink")
		if err != nil {
			return err
		}
		if n < total {
			return fmt.Errorf("%d of %d records committed", n, total)
		}
		return nil
	})
	time.Sleep(walSync)

	// Now deletes too, and more updates.
	for i := 0; i < 5; i++ {
		round(3)
	}
	want, _ := topicState(t, b.Addr)
	var got map[string]map[string]any
	e2e.Eventually(t, 45*time.Second, "the index equal to the topic", func() error {
		got, err = srv.Documents(e2eTopic)
		if err != nil {
			return err
		}
		if !reflect.DeepEqual(normalize(got), normalize(want)) {
			var diff []string
			for k, v := range want {
				if g, ok := got[k]; !ok || fmt.Sprint(g) != fmt.Sprint(v) {
					diff = append(diff, fmt.Sprintf("%s: index %v, topic %v", k, g, v))
				}
			}
			for k := range got {
				if _, ok := want[k]; !ok {
					diff = append(diff, fmt.Sprintf("%s: in the index only", k))
				}
			}
			sort.Strings(diff)
			return fmt.Errorf("%d docs, %d keys in the topic: %s", len(got), len(want), strings.Join(diff, "; "))
		}
		return nil
	})
	t.Logf("index equal to the topic: %d documents, %d deleted keys", len(got), len(deleted))
}

// normalize makes JSON numbers comparable whatever their Go type.
func normalize(m map[string]map[string]any) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		b, _ := json.Marshal(v)
		var back map[string]any
		_ = json.Unmarshal(b, &back)
		c, _ := json.Marshal(back)
		out[k] = string(bytes.TrimSpace(c))
	}
	return out
}
