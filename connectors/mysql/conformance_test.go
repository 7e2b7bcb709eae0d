package mysql

import (
	"fmt"
	"strconv"
	"testing"

	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/connect/connecttest"
)

// The connector passes the conformance suite against a real MariaDB: rows
// inserted by Prepare are the records, identified by table and key
// (snapshot records share one offset).
func TestConformance(t *testing.T) {
	e := startMariaDB(t)
	e.exec(t, "CREATE TABLE conf (id INT PRIMARY KEY, note TEXT)")
	next := 0
	props := e.props(map[string]string{KeyTableInclude: `app\.conf`, KeySchemaChanges: "false"})
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
