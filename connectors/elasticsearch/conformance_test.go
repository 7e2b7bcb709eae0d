package elasticsearch

import (
	"maps"
	"strconv"
	"testing"

	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connect/connecttest"
	"github.com/penstockhq/penstock/internal/testservice"
)

// The sink passes the conformance suite against ZincSearch (an
// Elasticsearch-API server): record i is document "k<i>" {"n": i}; a record
// without a key cannot become a document.
func TestConformance(t *testing.T) {
	srv := testservice.Elasticsearch(t)
	props := map[string]string{
		ConnectionURLConfig: srv.URL, ConnectionUsernameConfig: srv.Username, ConnectionPasswordConfig: srv.Password,
		ReadTimeoutConfig: "30000", SchemaIgnoreConfig: "true",
	}
	with := func(k, v string) map[string]string {
		p := maps.Clone(props)
		p[k] = v
		return p
	}
	connecttest.RunSink(t, connecttest.Sink{
		New:    func() connect.SinkConnector { return &Connector{} },
		Config: props,
		Records: func(from, n int) []*connect.Record {
			out := make([]*connect.Record, n)
			for i := range out {
				out[i] = flatRecord("conformance", int64(from+i), "k"+strconv.Itoa(from+i), map[string]any{"n": int64(from + i)})
			}
			return out
		},
		Written: func(t *testing.T) []int {
			// Search sees acknowledged writes once Zinc applied its WAL.
			if err := srv.Settle("conformance"); err != nil {
				t.Fatal(err)
			}
			docs, err := srv.Documents("conformance")
			if err != nil {
				t.Fatal(err)
			}
			var out []int
			for id := range docs {
				if n, err := strconv.Atoi(id[1:]); err == nil {
					out = append(out, n)
				}
			}
			return out
		},
		Bad: func() *connect.Record { return &connect.Record{Value: map[string]any{"n": 1}} },
		Invalid: map[string]map[string]string{
			ConnectionURLConfig:  with(ConnectionURLConfig, "ftp://es:9200"),
			DataStreamTypeConfig: with(DataStreamTypeConfig, "LOGS"),
			WriteMethodConfig:    with(WriteMethodConfig, "replace"),
		},
	})
}
