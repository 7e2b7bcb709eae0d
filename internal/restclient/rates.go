package restclient

import (
	"context"
	"net/http"

	"github.com/penstockhq/penstock/worker/console"
)

// ConnectorRates returns the worker's per-connector record totals and
// records/s (GET console.MetricsPath, Penstock's own endpoint).
func (c *Client) ConnectorRates(ctx context.Context) (console.RatesReport, error) {
	var out console.RatesReport
	_, err := c.do(ctx, http.MethodGet, console.MetricsPath, nil, nil, &out)
	return out, err
}
