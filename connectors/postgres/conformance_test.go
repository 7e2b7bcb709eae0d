package postgres

import (
	"fmt"
	"strconv"
	"testing"

	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connect/connecttest"
)

// The connector passes the conformance suite against a real PostgreSQL:
// rows inserted by Prepare are the records, identified by table and key
// (snapshot records share one offset).
func TestConformance(t *testing.T) {
	e := startPG(t)
	e.exec(t, "CREATE TABLE conf (id int PRIMARY KEY, note text)")
	next := 0
	props := e.props(map[string]string{KeySlotName: "conformance", KeyTableInclude: "public.conf"})
	connecttest.RunSource(t, connecttest.Source{
		New:    func() connect.SourceConnector { return &Connector{} },
		Config: props,
		Prepare: func(t *testing.T, n int) {
			for range n {
				next++
				e.exec(t, fmt.Sprintf("INSERT INTO conf VALUES (%d, 'row %d')", next, next))
			}
		},
		Identity: func(r *connect.Record) string {
			if k, ok := r.Key.(*connect.Struct); ok {
				return r.Topic + " " + strconv.Itoa(int(k.Get("id").(int32)))
			}
			return r.Topic + " (no key)"
		},
		Invalid: map[string]map[string]string{
			KeyPort:         connecttest.With(props, KeyPort, "0"),
			KeyTopicPrefix:  connecttest.With(props, KeyTopicPrefix, "bad prefix"),
			KeySnapshotMode: connecttest.With(props, KeySnapshotMode, "sometimes"),
		},
	})
}
