package http_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/penstockhq/penstock/internal/brokertest"
	"github.com/penstockhq/penstock/internal/e2e"
)

// killableWorker is a `penstock worker` subprocess that a test kills with
// SIGKILL and starts again on the same configuration.
type killableWorker struct {
	bin, cfg, url, log string
	proc               *e2e.Proc
}

func newWorker(t *testing.T, bin, bootstrap, group string) *killableWorker {
	dir := t.TempDir()
	url := fmt.Sprintf("http://127.0.0.1:%d", e2e.FreePort(t))
	w := &killableWorker{bin: bin, url: url, log: filepath.Join(dir, "worker.log")}
	w.cfg = e2e.WriteProps(t, dir, e2e.WorkerProps(bootstrap, map[string]string{
		"listeners":                        url,
		"group.id":                         group,
		"session.timeout.ms":               "6000",
		"heartbeat.interval.ms":            "1000",
		"scheduled.rebalance.max.delay.ms": "1000",
		"consumer.session.timeout.ms":      "6000",
	}))
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("worker log:\n%s", e2e.LogTail(w.log))
		}
	})
	w.start(t)
	return w
}

func (w *killableWorker) start(t *testing.T) { w.proc = e2e.StartProc(t, w.bin, w.cfg, w.url, w.log) }

func (w *killableWorker) create(t *testing.T, name string, cfg map[string]string) {
	e2e.Expect(t, 201, "POST", w.url+"/connectors", map[string]any{"name": name, "config": cfg})
	e2e.WaitState(t, w.url, name, "RUNNING", "RUNNING", 1)
}

// TestE2EWorkerKill9 runs the three HTTP connectors in `penstock worker`
// subprocesses killed with SIGKILL mid-stream and started again:
//   - webhook: concurrent callers keep posting; every event that got a 2xx
//     is in the topic;
//   - poll: an API that keeps growing, read in paging (SIMPLE_INCREMENTING)
//     and cursor (CURSOR_PAGINATION) modes; no item is missing from either
//     topic;
//   - sink: every record reaches the API at least once, and each key's
//     records arrive in order (a replay after the restart may go back, never
//     skip ahead).
func TestE2EWorkerKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the penstock binary")
	}
	b := brokertest.Start(t, brokertest.WithProps(map[string]string{"num.partitions": "3"}))
	bin := e2e.BuildPenstock(t)
	t.Run("webhook", func(t *testing.T) { webhookKill9(t, bin, b.Addr) })
	t.Run("poll", func(t *testing.T) { pollKill9(t, bin, b.Addr) })
	t.Run("sink", func(t *testing.T) { sinkKill9(t, bin, b.Addr) })
}

var stringConverters = map[string]string{
	"key.converter":   "org.apache.kafka.connect.storage.StringConverter",
	"value.converter": "org.apache.kafka.connect.storage.StringConverter",
}

func with(base map[string]string, more map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range base {
		out[k] = v
	}
	for k, v := range more {
		out[k] = v
	}
	return out
}

func webhookKill9(t *testing.T, bin, bootstrap string) {
	w := newWorker(t, bin, bootstrap, "http-webhook-kill9")
	hook := fmt.Sprintf("http://127.0.0.1:%d/events", e2e.FreePort(t))
	w.create(t, "hooks", with(stringConverters, map[string]string{
		"connector.class": "http-webhook", "listener": strings.TrimSuffix(strings.TrimPrefix(hook, "http://"), "/events"),
		"path": "/events", "topic": "hooks", "key.json.pointer": "/id", "auth.type": "BEARER", "auth.bearer.token": "tok",
	}))

	var mu sync.Mutex
	acked := map[string]bool{}
	var failed atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 10 * time.Second}
	for g := 0; g < 6; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				id := fmt.Sprintf("c%d-%d", g, i)
				body := fmt.Sprintf(`{"id":%q,"n":%d}`, id, i)
				if i%5 == 0 { // a batch of two
					body = fmt.Sprintf(`[{"id":%q},{"id":"%s-b"}]`, id, id)
				}
				req, _ := http.NewRequest("POST", hook, strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer tok")
				res, err := client.Do(req)
				if err == nil {
					io.Copy(io.Discard, res.Body)
					res.Body.Close()
				}
				if err != nil || res.StatusCode/100 != 2 {
					failed.Add(1)
					time.Sleep(20 * time.Millisecond)
					continue
				}
				mu.Lock()
				acked[id] = true
				if i%5 == 0 {
					acked[id+"-b"] = true
				}
				mu.Unlock()
			}
		}()
	}
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(acked) }
	e2e.Eventually(t, 60*time.Second, "300 events acknowledged", func() error {
		if n := count(); n < 300 {
			return fmt.Errorf("%d acknowledged", n)
		}
		return nil
	})
	w.proc.Kill()
	before := count()
	t.Logf("killed the worker with %d events acknowledged", before)
	time.Sleep(500 * time.Millisecond)
	w.start(t)
	e2e.WaitState(t, w.url, "hooks", "RUNNING", "RUNNING", 1)
	e2e.Eventually(t, 60*time.Second, "300 more events acknowledged after the restart", func() error {
		if n := count(); n < before+300 {
			return fmt.Errorf("%d acknowledged", n)
		}
		return nil
	})
	close(stop)
	wg.Wait()

	inTopic := map[string]bool{}
	for _, r := range e2e.ReadTopic(t, bootstrap, "hooks") {
		inTopic[string(r.Key)] = true
	}
	var missing []string
	mu.Lock()
	for id := range acked {
		if !inTopic[id] {
			missing = append(missing, id)
		}
	}
	n := len(acked)
	mu.Unlock()
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Fatalf("%d of %d acknowledged events are not in the topic: %v", len(missing), n, missing[:min(20, len(missing))])
	}
	t.Logf("all %d acknowledged events in the topic (%d records; %d requests failed or were refused meanwhile)", n, len(inTopic), failed.Load())
}

// growingAPI serves items 1..n, n growing over time, as /inc?from=&limit=
// pages and /cursor?c= pages of 20 with meta.next.
type growingAPI struct {
	mu sync.Mutex
	n  int
}

func (a *growingAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.mu.Lock()
	n := a.n
	a.mu.Unlock()
	if r.Method != "GET" {
		w.WriteHeader(405)
		return
	}
	q := r.URL.Query()
	out := map[string]any{}
	var items []map[string]any
	add := func(from, to int) {
		for i := from; i <= to && i <= n; i++ {
			items = append(items, map[string]any{"id": i})
		}
	}
	switch r.URL.Path {
	case "/inc":
		from, err1 := strconv.Atoi(q.Get("from"))
		limit, err2 := strconv.Atoi(q.Get("limit"))
		if err1 != nil || err2 != nil {
			w.WriteHeader(400)
			return
		}
		add(from+1, from+limit)
	case "/cursor":
		page, err := strconv.Atoi(q.Get("c"))
		if err != nil {
			w.WriteHeader(400)
			return
		}
		add(page*20+1, page*20+20)
		if (page+1)*20 < n {
			out["meta"] = map[string]any{"next": strconv.Itoa(page + 1)}
		}
	}
	out["items"] = items
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(out)
}

func pollKill9(t *testing.T, bin, bootstrap string) {
	const total = 1500
	api := &growingAPI{n: 50}
	srv := httptest.NewServer(api)
	defer srv.Close()
	growing := make(chan struct{})
	go func() {
		defer close(growing)
		for {
			time.Sleep(3 * time.Millisecond)
			api.mu.Lock()
			api.n++
			done := api.n >= total
			api.mu.Unlock()
			if done {
				return
			}
		}
	}()
	w := newWorker(t, bin, bootstrap, "http-poll-kill9")
	common := with(stringConverters, map[string]string{"http.response.data.json.pointer": "/items", "key.json.pointer": "/id",
		"poll.interval.ms": "50", "http.initial.offset": "0"})
	w.create(t, "poll-pages", with(common, map[string]string{"connector.class": "http-poll", "url": srv.URL + "/inc?from=${offset}",
		"http.request.parameters": "limit=25", "http.offset.mode": "SIMPLE_INCREMENTING", "topic.name.pattern": "pages"}))
	w.create(t, "poll-cursor", with(common, map[string]string{"connector.class": "io.confluent.connect.http.HttpSourceConnector",
		"url": srv.URL + "/cursor?c=${offset}", "http.offset.mode": "CURSOR_PAGINATION", "http.next.page.json.pointer": "/meta/next",
		"topic.name.pattern": "cursor"}))
	e2e.Eventually(t, 60*time.Second, "both topics past 300 records", func() error {
		for _, topic := range []string{"pages", "cursor"} {
			if n := len(e2e.ReadTopic(t, bootstrap, topic)); n < 300 {
				return fmt.Errorf("%s: %d records", topic, n)
			}
		}
		return nil
	})
	w.proc.Kill()
	t.Log("killed the worker")
	time.Sleep(time.Second)
	w.start(t)
	<-growing
	for _, topic := range []string{"pages", "cursor"} {
		var dups int
		e2e.Eventually(t, 90*time.Second, topic+" holding every item", func() error {
			seen := map[string]int{}
			for _, r := range e2e.ReadTopic(t, bootstrap, topic) {
				seen[string(r.Key)]++
			}
			dups = 0
			for _, c := range seen {
				dups += c - 1
			}
			for i := 1; i <= total; i++ {
				if seen[strconv.Itoa(i)] == 0 {
					return fmt.Errorf("item %d missing (%d distinct items)", i, len(seen))
				}
			}
			if len(seen) != total {
				return fmt.Errorf("%d distinct keys, want %d", len(seen), total)
			}
			return nil
		})
		t.Logf("%s: all %d items, %d duplicates (at least once)", topic, total, dups)
	}
}

func sinkKill9(t *testing.T, bin, bootstrap string) {
	const keys, perRound = 6, 40
	var mu sync.Mutex
	got := map[string][]int{} // key -> seqs in arrival order
	var calls atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1)%10 == 0 {
			w.Header().Set("Retry-After", "0")
			w.WriteHeader(503)
			return
		}
		var batch []struct {
			K   string
			Seq int
		}
		body, _ := io.ReadAll(r.Body)
		if r.Method != "POST" || r.Header.Get("Content-Type") != "application/json" || json.Unmarshal(body, &batch) != nil || len(batch) == 0 {
			t.Errorf("bad request %s %v %q", r.Method, r.Header, body)
			w.WriteHeader(400)
			return
		}
		mu.Lock()
		for _, rec := range batch {
			got[rec.K] = append(got[rec.K], rec.Seq)
		}
		mu.Unlock()
		w.WriteHeader(200)
	}))
	defer srv.Close()
	cl, err := kgo.NewClient(kgo.SeedBrokers(bootstrap), kgo.AllowAutoTopicCreation())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	next := 0
	round := func() {
		var recs []*kgo.Record
		for s := next; s < next+perRound; s++ {
			for k := 0; k < keys; k++ {
				key := fmt.Sprintf("k%d", k)
				recs = append(recs, &kgo.Record{Topic: "orders", Key: []byte(key), Value: []byte(fmt.Sprintf(`{"k":%q,"seq":%d}`, key, s))})
			}
		}
		next += perRound
		if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
			t.Fatal(err)
		}
	}
	round()
	w := newWorker(t, bin, bootstrap, "http-sink-kill9")
	w.create(t, "orders-sink", map[string]string{
		"connector.class": "http-sink", "topics": "orders", "http.api.url": srv.URL + "/in/${partition}",
		"key.converter": "org.apache.kafka.connect.storage.StringConverter", "value.converter": "org.apache.kafka.connect.json.JsonConverter",
		"value.converter.schemas.enable": "false", "request.body.format": "json", "batch.max.size": "5", "batch.json.as.array": "true",
		"max.retries": "50", "retry.backoff.ms": "10",
	})
	received := func() int {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, s := range got {
			n += len(s)
		}
		return n
	}
	// Rounds until part of the stream is committed, then one more and the kill.
	for i := 0; committed(w.url, "orders-sink") == 0; i++ {
		if i > 100 {
			t.Fatal("the sink committed nothing")
		}
		round()
		time.Sleep(200 * time.Millisecond)
	}
	round()
	w.proc.Kill()
	t.Logf("killed the worker with %d deliveries made", received())
	round()
	round()
	w.start(t)
	e2e.Eventually(t, 90*time.Second, "every record delivered", func() error {
		mu.Lock()
		defer mu.Unlock()
		for k := 0; k < keys; k++ {
			seen := map[int]bool{}
			for _, s := range got[fmt.Sprintf("k%d", k)] {
				seen[s] = true
			}
			if len(seen) != next {
				return fmt.Errorf("k%d: %d of %d records", k, len(seen), next)
			}
		}
		return nil
	})
	mu.Lock()
	defer mu.Unlock()
	dups := 0
	for key, seqs := range got {
		most := -1
		for i, s := range seqs {
			if s > most+1 {
				t.Fatalf("%s: seq %d arrived (at %d) before seq %d: %v", key, s, i, most+1, seqs)
			}
			most = max(most, s)
		}
		dups += len(seqs) - next
	}
	t.Logf("%d records per key delivered in order, %d redelivered after the kill", next, dups)
}

// committed sums a sink's committed offsets, as the REST API reports them.
func committed(url, name string) int64 {
	r, err := e2e.Do("GET", url+"/connectors/"+name+"/offsets", nil)
	if err != nil || r.Status != 200 {
		return 0
	}
	var o struct {
		Offsets []struct {
			Offset map[string]any `json:"offset"`
		} `json:"offsets"`
	}
	if json.Unmarshal(r.Body, &o) != nil {
		return 0
	}
	var total int64
	for _, p := range o.Offsets {
		v, _ := p.Offset["kafka_offset"].(float64)
		total += int64(v)
	}
	return total
}
