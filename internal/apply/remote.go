package apply

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/penstockhq/penstock/connect/config"
	"github.com/penstockhq/penstock/internal/restclient"
	"github.com/penstockhq/penstock/worker/rest"
)

// Remote is a Cluster reached through a worker's REST API. Writes the API
// refuses with 409 and a Retry-After (the group is rebalancing) are retried
// for up to RetryFor.
type Remote struct {
	Client   *restclient.Client
	RetryFor time.Duration
}

var _ Cluster = Remote{}

// retry runs fn again while it fails with a 409 that carries Retry-After.
func (r Remote) retry(ctx context.Context, fn func() error) error {
	deadline := time.Now().Add(r.RetryFor)
	for {
		err := fn()
		var ae *restclient.APIError
		if err == nil || !errors.As(err, &ae) || ae.Status != http.StatusConflict || ae.RetryAfter <= 0 || time.Now().After(deadline) {
			return err
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(ae.RetryAfter):
		}
	}
}

// Connectors implements Cluster.
func (r Remote) Connectors(ctx context.Context) ([]string, error) { return r.Client.Connectors(ctx) }

// ConnectorConfig implements Cluster.
func (r Remote) ConnectorConfig(ctx context.Context, name string) (map[string]string, error) {
	return r.Client.Config(ctx, name)
}

// ConnectorStatus implements Cluster.
func (r Remote) ConnectorStatus(ctx context.Context, name string) (rest.ConnectorStateInfo, error) {
	return r.Client.Status(ctx, name)
}

// ValidateConfig implements Cluster.
func (r Remote) ValidateConfig(ctx context.Context, cfg map[string]string) (config.Infos, error) {
	return r.Client.Validate(ctx, cfg)
}

// PutConnectorConfig implements Cluster: POST /connectors (with the initial
// state) to create, PUT /connectors/{name}/config to replace.
func (r Remote) PutConnectorConfig(ctx context.Context, name string, cfg map[string]string, initialState string, allowReplace bool) (info rest.ConnectorInfo, created bool, err error) {
	err = r.retry(ctx, func() error {
		if allowReplace {
			info, created, err = r.Client.PutConfig(ctx, name, cfg)
			return err
		}
		info, err = r.Client.Create(ctx, restclient.CreateRequest{Name: name, Config: cfg, InitialState: initialState})
		created = err == nil
		return err
	})
	return info, created, err
}

// PatchConnectorConfig implements Cluster.
func (r Remote) PatchConnectorConfig(ctx context.Context, name string, patch map[string]*string) (info rest.ConnectorInfo, err error) {
	err = r.retry(ctx, func() error {
		info, err = r.Client.PatchConfig(ctx, name, patch)
		return err
	})
	return info, err
}

// DeleteConnector implements Cluster.
func (r Remote) DeleteConnector(ctx context.Context, name string) error {
	return r.retry(ctx, func() error { return r.Client.Delete(ctx, name) })
}

// AlterOffsets implements Cluster.
func (r Remote) AlterOffsets(ctx context.Context, name string, offsets rest.ConnectorOffsets) (msg string, err error) {
	err = r.retry(ctx, func() error {
		msg, err = r.Client.AlterOffsets(ctx, name, offsets)
		return err
	})
	return msg, err
}

// PauseConnector implements Cluster.
func (r Remote) PauseConnector(ctx context.Context, name string) error {
	return r.retry(ctx, func() error { return r.Client.Pause(ctx, name) })
}

// ResumeConnector implements Cluster.
func (r Remote) ResumeConnector(ctx context.Context, name string) error {
	return r.retry(ctx, func() error { return r.Client.Resume(ctx, name) })
}
