package webhook

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/internal/testcerts"
)

type fakeContext struct{}

func (fakeContext) ConnectorName() string         { return "hook" }
func (fakeContext) TaskID() int                   { return 0 }
func (fakeContext) Offsets() connect.OffsetReader { return nil }

// runtime stands in for the worker's source loop: it polls the task and
// settles each record with ack, which a test may hold back. (The real
// worker, producing to the broker, is in e2e_worker_test.go.)
type runtime struct {
	mu   sync.Mutex
	recs []*connect.Record
	hold chan struct{} // closed: acknowledge; nil: at once
	fail error
}

func startHook(t *testing.T, props map[string]string, rt *runtime) (*Task, string) {
	t.Helper()
	props[ListenerConfig] = "127.0.0.1:0"
	props[TopicConfig] = "events"
	task := &Task{}
	if err := task.Start(context.Background(), fakeContext{}, props); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var acks sync.WaitGroup
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			recs, _ := task.Poll(ctx)
			rt.mu.Lock()
			rt.recs = append(rt.recs, recs...)
			hold, fail := rt.hold, rt.fail
			rt.mu.Unlock()
			// Polling goes on while acknowledgements are held, as in the
			// worker: a request's records may arrive over two polls.
			acks.Add(1)
			go func() {
				defer acks.Done()
				if hold != nil {
					select {
					case <-hold:
					case <-ctx.Done():
						return
					}
				}
				for _, r := range recs {
					task.CommitRecord(r, fail)
				}
			}()
		}
	}()
	t.Cleanup(func() { cancel(); <-done; acks.Wait(); task.Stop() })
	return task, "http://" + task.Addr()
}

func post(t *testing.T, url string, body string, header map[string]string) (int, string, http.Header) {
	t.Helper()
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	for k, v := range header {
		req.Header.Set(k, v)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b), res.Header
}

// TestWebhookSplitsBatchesAndKeys: a JSON array becomes one record per
// element, keyed by a JSON pointer, with forwarded headers; NDJSON likewise.
func TestWebhookSplitsBatchesAndKeys(t *testing.T) {
	for _, format := range []string{FormatJSON, FormatNDJSON} {
		rt := &runtime{}
		_, url := startHook(t, map[string]string{BodyFormatConfig: format, KeyPointerConfig: "/user/id",
			ForwardHeadersConfig: "X-Event,X-Absent", PathConfig: "/hook"}, rt)
		body := `[{"user":{"id":"u1"},"n":1}, {"user":{"id":7},"n":2}, {"n":3}]`
		if format == FormatNDJSON {
			body = "{\"user\":{\"id\":\"u1\"},\"n\":1}\n\n{\"user\":{\"id\":7},\"n\":2}\n{\"n\":3}\n"
		}
		code, msg, _ := post(t, url+"/hook", body, map[string]string{"X-Event": "push"})
		if code != 200 || !strings.Contains(msg, `"records":3`) {
			t.Fatalf("%s: %d %s", format, code, msg)
		}
		rt.mu.Lock()
		recs := rt.recs
		rt.mu.Unlock()
		wantKeys := []any{"u1", "7", nil}
		if len(recs) != 3 {
			t.Fatalf("%s: %d records", format, len(recs))
		}
		for i, r := range recs {
			if r.Key != wantKeys[i] || r.Topic != "events" || !bytes.Contains(r.Value.([]byte), []byte(`"n":`+strconv.Itoa(i+1))) {
				t.Errorf("%s: record %d: key %v value %s", format, i, r.Key, r.Value)
			}
			if h, ok := r.Headers.Last("X-Event"); !ok || h.Value != "push" || len(r.Headers) != 1 {
				t.Errorf("%s: headers %+v", format, r.Headers)
			}
		}
		if code, _, _ := post(t, url+"/other", "{}", nil); code != 404 {
			t.Errorf("other path: %d", code)
		}
		if code, _, _ := post(t, url+"/hook", "{not json", nil); code != 400 {
			t.Errorf("bad JSON: %d", code)
		}
	}
}

// TestWebhookAuthentication: bearer, basic, and HMAC in GitHub's and
// Stripe's styles, each refusing what does not match with 401.
func TestWebhookAuthentication(t *testing.T) {
	_, url := startHook(t, map[string]string{AuthTypeConfig: "BEARER", AuthTokenConfig: "tok"}, &runtime{})
	if code, _, _ := post(t, url, "{}", map[string]string{"Authorization": "Bearer nope"}); code != 401 {
		t.Errorf("bad bearer: %d", code)
	}
	if code, _, _ := post(t, url, "{}", map[string]string{"Authorization": "Bearer tok"}); code != 200 {
		t.Errorf("good bearer: %d", code)
	}

	_, url = startHook(t, map[string]string{AuthTypeConfig: "BASIC", AuthUserConfig: "u", AuthPasswordConfig: "p"}, &runtime{})
	req, _ := http.NewRequest("POST", url, strings.NewReader("{}"))
	req.SetBasicAuth("u", "p")
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != 200 {
		t.Errorf("good basic: %v %v", res, err)
	}
	if code, _, h := post(t, url, "{}", nil); code != 401 || h.Get("WWW-Authenticate") == "" {
		t.Errorf("no basic: %d", code)
	}

	task, url := startHook(t, map[string]string{AuthTypeConfig: "HMAC", HMACSecretConfig: "shh"}, &runtime{})
	body := `{"action":"opened"}`
	sig := "sha256=" + task.s.sign([]byte(body))
	if code, msg, _ := post(t, url, body, map[string]string{"X-Hub-Signature-256": sig}); code != 200 {
		t.Errorf("good GitHub signature: %d %s", code, msg)
	}
	if code, _, _ := post(t, url, body+" ", map[string]string{"X-Hub-Signature-256": sig}); code != 401 {
		t.Errorf("GitHub signature of another body: %d", code)
	}

	task, url = startHook(t, map[string]string{AuthTypeConfig: "HMAC", HMACSecretConfig: "whsec", HMACStyleConfig: "stripe",
		HMACHeaderConfig: "Stripe-Signature"}, &runtime{})
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	good := "t=" + ts + ",v1=deadbeef,v1=" + task.s.sign([]byte(ts), []byte("."), []byte(body))
	if code, msg, _ := post(t, url, body, map[string]string{"Stripe-Signature": good}); code != 200 {
		t.Errorf("good Stripe signature: %d %s", code, msg)
	}
	old := strconv.FormatInt(time.Now().Add(-time.Hour).Unix(), 10)
	replay := "t=" + old + ",v1=" + task.s.sign([]byte(old), []byte("."), []byte(body))
	if code, msg, _ := post(t, url, body, map[string]string{"Stripe-Signature": replay}); code != 401 || !strings.Contains(msg, "away") {
		t.Errorf("replayed Stripe signature: %d %s", code, msg)
	}
}

// TestWebhookLimitsAndBackpressure: a body over max.request.bytes gets
// 413; with the broker not acknowledging, requests beyond
// max.queued.records get 503 with Retry-After while the first waits, and it
// gets its 200 only once acknowledged. A record that failed gets 500.
func TestWebhookLimitsAndBackpressure(t *testing.T) {
	rt := &runtime{hold: make(chan struct{})}
	_, url := startHook(t, map[string]string{MaxRequestBytesConfig: "100", MaxQueuedConfig: "2", RetryAfterConfig: "7"}, rt)
	if code, _, _ := post(t, url, `"`+strings.Repeat("x", 200)+`"`, nil); code != 413 {
		t.Errorf("large body: %d", code)
	}
	first := make(chan int)
	go func() {
		code, _, _ := post(t, url, `[1,2]`, nil)
		first <- code
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		rt.mu.Lock()
		n := len(rt.recs)
		rt.mu.Unlock()
		if n == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the first request's records were not polled: %d", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	code, _, h := post(t, url, `3`, nil)
	if code != 503 || h.Get("Retry-After") != "7" {
		t.Errorf("while 2 records wait: %d, Retry-After %q", code, h.Get("Retry-After"))
	}
	select {
	case code := <-first:
		t.Fatalf("answered %d before the broker acknowledged", code)
	case <-time.After(200 * time.Millisecond):
	}
	close(rt.hold)
	if code := <-first; code != 200 {
		t.Fatalf("after the acknowledgement: %d", code)
	}

	rt = &runtime{fail: errors.New("record too large")}
	_, url = startHook(t, map[string]string{}, rt)
	if code, msg, _ := post(t, url, `{"a":1}`, nil); code != 500 || !strings.Contains(msg, "record too large") {
		t.Errorf("failed record: %d %s", code, msg)
	}
}

func TestWebhookConfig(t *testing.T) {
	for _, props := range []map[string]string{
		{ListenerConfig: "nope", TopicConfig: "t"},
		{ListenerConfig: ":0", TopicConfig: "t", AuthTypeConfig: "HMAC"},
		{ListenerConfig: ":0", TopicConfig: "t", BodyFormatConfig: "raw", KeyPointerConfig: "/id"},
		{ListenerConfig: ":0", TopicConfig: "t", KeyPointerConfig: "id"},
	} {
		if _, err := parseSettings(props); err == nil {
			t.Errorf("%v accepted", props)
		}
	}
}

// TestWebhookMutualTLS: with a keystore the listener speaks HTTPS; with a
// truststore it takes only callers presenting a certificate the CA signed.
func TestWebhookMutualTLS(t *testing.T) {
	p := testcerts.New(t, true)
	_, url := startHook(t, map[string]string{TLSKeystoreConfig: p.ServerFile, TLSTruststoreConfig: p.CAFile}, &runtime{})
	url = strings.Replace(url, "http://", "https://", 1)
	cert, err := tls.LoadX509KeyPair(p.ClientFile, p.ClientFile)
	if err != nil {
		t.Fatal(err)
	}
	withCert := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: p.Pool, Certificates: []tls.Certificate{cert}}}}
	res, err := withCert.Post(url, "application/json", strings.NewReader(`{"a":1}`))
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("with a client certificate: %v %v", res, err)
	}
	res.Body.Close()
	without := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: p.Pool}}}
	if res, err := without.Post(url, "application/json", strings.NewReader(`{"a":1}`)); err == nil {
		res.Body.Close()
		t.Fatalf("without a client certificate: %d", res.StatusCode)
	}
}

// TestWebhookRawBodyKeyedByHeader: a raw body is one record whatever it
// holds, keyed by a request header.
func TestWebhookRawBodyKeyedByHeader(t *testing.T) {
	rt := &runtime{}
	_, url := startHook(t, map[string]string{BodyFormatConfig: FormatRaw, KeyHeaderConfig: "X-Delivery"}, rt)
	if code, msg, _ := post(t, url, "not json\nat all", map[string]string{"X-Delivery": "d-42"}); code != 200 {
		t.Fatalf("%d %s", code, msg)
	}
	rt.mu.Lock()
	defer rt.mu.Unlock()
	if len(rt.recs) != 1 || rt.recs[0].Key != "d-42" || string(rt.recs[0].Value.([]byte)) != "not json\nat all" {
		t.Fatalf("records %+v", rt.recs)
	}
}
