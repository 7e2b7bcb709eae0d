package examples

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/penstockhq/penstock/internal/brokertest"
	"github.com/penstockhq/penstock/internal/e2e"
)

// TestE2EWebhookToHTTP runs examples/webhook-to-http with only the two
// listeners' ports rewritten to free ones: signed events posted to the
// first webhook go through the topic events and the HTTP sink into the
// second webhook, and end in the topic delivered with the sink's header.
func TestE2EWebhookToHTTP(t *testing.T) {
	b := brokertest.Start(t)
	w := e2e.StartWorker(t, b.Addr, nil)
	in := fmt.Sprintf("127.0.0.1:%d", e2e.FreePort(t))
	out := fmt.Sprintf("127.0.0.1:%d", e2e.FreePort(t))
	hook := readCreate(t, "webhook-to-http/connectors/events-webhook.json")
	delivered := readCreate(t, "webhook-to-http/connectors/delivered-webhook.json")
	sink := readCreate(t, "webhook-to-http/connectors/events-to-http.json")
	hook.Config["listener"] = in
	delivered.Config["listener"] = out
	sink.Config["http.api.url"] = strings.Replace(sink.Config["http.api.url"], "127.0.0.1:8091", out, 1)
	for _, c := range []createRequest{hook, delivered, sink} {
		e2e.Expect(t, 201, "POST", w.URL+"/connectors", c)
		e2e.WaitState(t, w.URL, c.Name, "RUNNING", "RUNNING", 1)
	}

	body := `[{"id":"evt-1","amount":10},{"id":"evt-2","amount":25}]`
	sign := func(b string) string {
		m := hmac.New(sha256.New, []byte(hook.Config["hmac.secret"]))
		m.Write([]byte(b))
		return "sha256=" + hex.EncodeToString(m.Sum(nil))
	}
	post := func(sig string) int {
		req, _ := http.NewRequest("POST", "http://"+in+hook.Config["path"], strings.NewReader(body))
		req.Header.Set("X-Hub-Signature-256", sig)
		req.Header.Set("X-Event-Type", "payment")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if code := post("sha256=00"); code != 401 {
		t.Fatalf("a wrong signature got %d", code)
	}
	if code := post(sign(body)); code != 200 {
		t.Fatalf("a signed request got %d", code)
	}
	e2e.Eventually(t, 30*time.Second, "both events in delivered", func() error {
		recs := e2e.ReadTopic(t, b.Addr, "delivered")
		if len(recs) != 2 {
			return fmt.Errorf("%d records", len(recs))
		}
		seen := map[string]bool{}
		for _, r := range recs {
			source := ""
			for _, h := range r.Headers {
				if h.Key == "X-Source" {
					source = string(h.Value)
				}
			}
			key := string(r.Key)
			if !strings.Contains(string(r.Value), `"id":"`+key+`"`) || !strings.HasPrefix(source, "events-") {
				return fmt.Errorf("record %s: value %s X-Source %q", key, r.Value, source)
			}
			seen[key] = true
		}
		if !seen["evt-1"] || !seen["evt-2"] {
			return fmt.Errorf("keys %v", seen)
		}
		return nil
	})
}
