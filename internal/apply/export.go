package apply

import (
	"context"
	"fmt"
	"slices"

	"github.com/penstockhq/penstock/internal/connfile"
	"github.com/penstockhq/penstock/worker/rest"
)

// Export returns the definitions of the named connectors (all when names
// is empty), sorted by name: their configs as the API shows them (secrets
// as their provider references, or masked when they were literal) and a
// PAUSED or STOPPED state as the initial state, so applying the export to
// an empty cluster recreates them.
func Export(ctx context.Context, c Cluster, names []string) ([]connfile.Connector, error) {
	if len(names) == 0 {
		all, err := c.Connectors(ctx)
		if err != nil {
			return nil, fmt.Errorf("list connectors: %w", err)
		}
		names = all
	}
	names = slices.Sorted(slices.Values(names))
	out := make([]connfile.Connector, 0, len(names))
	for _, n := range names {
		cfg, err := c.ConnectorConfig(ctx, n)
		if err != nil {
			return nil, fmt.Errorf("config of connector %s: %w", n, err)
		}
		st, err := c.ConnectorStatus(ctx, n)
		if err != nil {
			return nil, fmt.Errorf("status of connector %s: %w", n, err)
		}
		conn := connfile.Connector{Name: n, Config: cfg}
		switch st.Connector.State {
		case rest.StatePaused, rest.StateStopped:
			conn.InitialState = st.Connector.State
		}
		out = append(out, conn)
	}
	return out, nil
}
