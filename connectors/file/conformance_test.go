package file_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connect/connecttest"
	"github.com/penstockhq/penstock/connectors/file"
)

func TestSourceConformance(t *testing.T) {
	path := filepath.Join(t.TempDir(), "in.txt")
	var lines atomic.Int64
	connecttest.RunSource(t, connecttest.Source{
		New:    func() connect.SourceConnector { return file.NewSource() },
		Config: map[string]string{file.FileConfig: path, file.TopicConfig: "lines"},
		Prepare: func(t *testing.T, n int) {
			f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			for range n {
				fmt.Fprintf(f, "line %d\n", lines.Add(1))
			}
		},
		Invalid: map[string]map[string]string{
			file.TopicConfig: {file.FileConfig: path, file.TopicConfig: "a,b"},
		},
	})
}

func TestSinkConformance(t *testing.T) {
	path := filepath.Join(t.TempDir(), "out.txt")
	connecttest.RunSink(t, connecttest.Sink{
		New:    func() connect.SinkConnector { return file.NewSink() },
		Config: map[string]string{file.FileConfig: path},
		Records: func(from, n int) []*connect.Record {
			out := make([]*connect.Record, n)
			for i := range out {
				out[i] = &connect.Record{Topic: "lines", Partition: 0, Offset: int64(from + i),
					ValueSchema: connect.StringSchema, Value: "record " + strconv.Itoa(from+i)}
			}
			return out
		},
		Written: func(t *testing.T) []int {
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			var out []int
			for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
				if n, err := strconv.Atoi(strings.TrimPrefix(l, "record ")); err == nil {
					out = append(out, n)
				}
			}
			return out
		},
		Invalid: map[string]map[string]string{file.FileConfig: {file.FileConfig: " "}},
	})
}
