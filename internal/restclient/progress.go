package restclient

import (
	"context"
	"net/http"

	"github.com/penstockhq/penstock/worker/rest"
)

// Progress returns a connector's snapshot progress and lag (Penstock's
// GET /penstock/connectors/{name}/progress).
func (c *Client) Progress(ctx context.Context, name string) (rest.ConnectorProgress, error) {
	var out rest.ConnectorProgress
	_, err := c.do(ctx, http.MethodGet, "/penstock"+connectorPath(name, "/progress"), nil, nil, &out)
	return out, err
}
