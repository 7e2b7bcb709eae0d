package http_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/penstockhq/penstock/internal/brokertest"
	"github.com/penstockhq/penstock/internal/e2e"
)

// TestE2ESinkDeadLetterQueue runs the HTTP sink in an in-process worker
// against an API that refuses records whose value says "bad" with 400: they
// land in the dead letter queue with the status and the API's answer in
// the error headers, the others reach the API, and the committed offsets
// cover them all. The connector's secrets are masked in the REST API.
func TestE2ESinkDeadLetterQueue(t *testing.T) {
	b := brokertest.Start(t)
	w := e2e.StartWorker(t, b.Addr, nil)
	var mu sync.Mutex
	var accepted []string
	api := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if u, p, ok := r.BasicAuth(); !ok || u != "svc" || p != "pw-123" {
			rw.WriteHeader(401)
			return
		}
		if strings.Contains(string(body), "bad") {
			rw.WriteHeader(400)
			rw.Write([]byte(`{"error":"field amount must be positive"}`))
			return
		}
		mu.Lock()
		accepted = append(accepted, string(body))
		mu.Unlock()
		rw.WriteHeader(201)
	}))
	defer api.Close()

	cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr), kgo.AllowAutoTopicCreation(), kgo.DefaultProduceTopic("payments"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	var recs []*kgo.Record
	for i := 0; i < 30; i++ {
		v := fmt.Sprintf("payment-%d", i)
		if i%10 == 4 {
			v = fmt.Sprintf("bad-%d", i)
		}
		recs = append(recs, &kgo.Record{Key: []byte(fmt.Sprint(i)), Value: []byte(v)})
	}
	if err := cl.ProduceSync(context.Background(), recs...).FirstErr(); err != nil {
		t.Fatal(err)
	}
	e2e.Expect(t, 201, "POST", w.URL+"/connectors", map[string]any{"name": "payments-sink", "config": map[string]string{
		"connector.class": "http-sink", "topics": "payments", "http.api.url": api.URL + "/payments/${key}",
		"key.converter": "org.apache.kafka.connect.storage.StringConverter", "value.converter": "org.apache.kafka.connect.storage.StringConverter",
		"auth.type": "BASIC", "connection.user": "svc", "connection.password": "pw-123",
		"errors.tolerance": "all", "errors.deadletterqueue.topic.name": "payments-dlq", "errors.deadletterqueue.context.headers.enable": "true",
		"max.retries": "0",
	}})
	e2e.WaitState(t, w.URL, "payments-sink", "RUNNING", "RUNNING", 1)

	e2e.Eventually(t, 30*time.Second, "3 records in the dead letter queue", func() error {
		if n := len(e2e.ReadTopic(t, b.Addr, "payments-dlq")); n != 3 {
			return fmt.Errorf("%d records", n)
		}
		return nil
	})
	for _, r := range e2e.ReadTopic(t, b.Addr, "payments-dlq") {
		var msg string
		for _, h := range r.Headers {
			if h.Key == "__connect.errors.exception.message" {
				msg = string(h.Value)
			}
		}
		if !strings.HasPrefix(string(r.Value), "bad-") || !strings.Contains(msg, "answered 400") ||
			!strings.Contains(msg, "field amount must be positive") || !strings.Contains(msg, "/payments/"+string(r.Key)) {
			t.Errorf("DLQ record %s=%s with message %q", r.Key, r.Value, msg)
		}
	}
	e2e.Eventually(t, 30*time.Second, "every offset committed", func() error {
		if n := committed(w.URL, "payments-sink"); n != 30 {
			return fmt.Errorf("%d committed", n)
		}
		return nil
	})
	mu.Lock()
	if len(accepted) != 27 {
		t.Errorf("%d records accepted by the API, want 27", len(accepted))
	}
	mu.Unlock()

	r := e2e.Call(t, "GET", w.URL+"/connectors/payments-sink", nil)
	var info struct {
		Config map[string]string `json:"config"`
	}
	r.JSON(t, &info)
	if info.Config["connection.password"] != "[hidden]" || strings.Contains(string(r.Body), "pw-123") {
		t.Errorf("the password is not masked: %s", r.Body)
	}
}
