package sink

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/internal/brokertest"
)

// TestSinkReporterTopics: with reporter.bootstrap.servers each answer is
// reported, per record: the response body to ${connector}-success, the
// failure to ${connector}-error, with the input record's coordinates and the
// status in headers.
func TestSinkReporterTopics(t *testing.T) {
	b := brokertest.Start(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasSuffix(r.URL.Path, "/3") {
			w.WriteHeader(422)
			w.Write([]byte("unprocessable"))
			return
		}
		fmt.Fprintf(w, "stored %s", r.URL.Path)
	}))
	defer srv.Close()
	task := startTask(t, &fakeTaskContext{tolerate: true}, map[string]string{URLConfig: srv.URL + "/items/${key}",
		ReporterBootstrapConfig: b.Addr, ReportErrorsAsConfig: "http_response"})
	var recs []*connect.Record
	for i := int64(0); i < 5; i++ {
		recs = append(recs, rec("t", 0, i, fmt.Sprint(i), map[string]any{"i": i}))
	}
	if err := task.Put(context.Background(), recs); err != nil {
		t.Fatal(err)
	}
	flushed(t, task, map[connect.TopicPartition]int64{{Topic: "t"}: 5})
	task.Stop() // flushes the reports
	header := func(hs []struct{ k, v string }, k string) string {
		for _, h := range hs {
			if h.k == k {
				return h.v
			}
		}
		return ""
	}
	for topic, want := range map[string]int{"http-test-success": 4, "http-test-error": 1} {
		cl, err := kgo.NewClient(kgo.SeedBrokers(b.Addr), kgo.ConsumeTopics(topic), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()))
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		var rs []*kgo.Record
		for len(rs) < want && ctx.Err() == nil {
			rs = append(rs, cl.PollFetches(ctx).Records()...)
		}
		cancel()
		cl.Close()
		if len(rs) != want {
			t.Fatalf("%s: %d records, want %d", topic, len(rs), want)
		}
		for _, r := range rs {
			var hs []struct{ k, v string }
			for _, h := range r.Headers {
				hs = append(hs, struct{ k, v string }{h.Key, string(h.Value)})
			}
			key := string(r.Key)
			if header(hs, "input_record_topic") != "t" || header(hs, "input_record_offset") != key || header(hs, "input_record_partition") != "0" {
				t.Errorf("%s: headers %v for key %s", topic, hs, key)
			}
			switch topic {
			case "http-test-success":
				if string(r.Value) != "stored /items/"+key || header(hs, "status_code") != "200" {
					t.Errorf("success report %s: %q %v", key, r.Value, hs)
				}
			default:
				if key != "3" || string(r.Value) != "unprocessable" || header(hs, "status_code") != "422" {
					t.Errorf("error report %s: %q %v", key, r.Value, hs)
				}
			}
		}
	}
}
