//go:build knownbugs

// Tests of product bugs found by the end-to-end tests, kept out of the
// normal build until the bugs are fixed: go test -tags knownbugs -run
// TestE2E ./worker. Once a test passes, move it to e2e_rest_test.go.

package worker_test

import (
	"testing"

	"github.com/penstockhq/penstock/internal/brokertest"
	"github.com/penstockhq/penstock/internal/e2e"
)

// TestE2ERestartIncludeTasksSettles restarts a running connector with its
// tasks through POST /connectors/{c}/restart?includeTasks=true and expects
// the status to come back to RUNNING/RUNNING.
//
// BUG (worker/herder.go, RestartConnector): the restart request goes to the
// config topic first and the RESTARTING statuses are written after it; when
// the herder loop applies the request and the restarted connector and task
// report RUNNING before those writes, RESTARTING overwrites RUNNING and stays
// for good. It failed against the committed herder (2 runs of 2, -race);
// the herder being reworked for distributed workers applies restarts later,
// which hides the race without removing it.
func TestE2ERestartIncludeTasksSettles(t *testing.T) {
	b := brokertest.Start(t)
	w := e2e.StartWorker(t, b.Addr, nil)
	e2e.Expect(t, 201, "POST", w.URL+"/connectors", map[string]any{"name": "gen", "config": map[string]string{
		"connector.class": "datagen", "topic": "events", "rate": "100"}})
	e2e.WaitState(t, w.URL, "gen", "RUNNING", "RUNNING", 1)
	for i := 0; i < 5; i++ {
		e2e.Expect(t, 202, "POST", w.URL+"/connectors/gen/restart?includeTasks=true", nil)
		e2e.WaitState(t, w.URL, "gen", "RUNNING", "RUNNING", 1)
	}
}
