package sink_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connect/connecttest"
	"github.com/penstockhq/penstock/connectors/http/sink"
)

// TestSinkConformance runs the runtime's sink suite against a local server.
// The task releases its records (connect.SinkRecordReleaser), so the suite
// overwrites them as soon as Put returns: the requests must still carry the
// records put, sent after Put returned.
func TestSinkConformance(t *testing.T) {
	var mu sync.Mutex
	var got []int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		mu.Lock()
		defer mu.Unlock()
		for _, l := range strings.Split(string(b), "\n") {
			if n, err := strconv.Atoi(strings.TrimPrefix(l, "record ")); err == nil {
				got = append(got, n)
			}
		}
	}))
	defer srv.Close()
	connecttest.RunSink(t, connecttest.Sink{
		New: func() connect.SinkConnector { return &sink.Connector{} },
		Config: map[string]string{sink.URLConfig: srv.URL, sink.BodyFormatConfig: sink.FormatBytes,
			sink.BatchMaxSizeConfig: "3", sink.BatchSeparatorConfig: "\n"},
		Records: func(from, n int) []*connect.Record {
			out := make([]*connect.Record, n)
			for i := range out {
				out[i] = &connect.Record{Topic: "lines", Partition: 0, Offset: int64(from + i),
					ValueSchema: connect.StringSchema, Value: "record " + strconv.Itoa(from+i)}
			}
			return out
		},
		// request.body.format=bytes cannot encode a map.
		Bad: func() *connect.Record { return &connect.Record{Value: map[string]any{"a": 1}} },
		Written: func(*testing.T) []int {
			mu.Lock()
			defer mu.Unlock()
			return append([]int(nil), got...)
		},
		Invalid: map[string]map[string]string{sink.URLConfig: {sink.URLConfig: "ftp://x"}},
	})
}
