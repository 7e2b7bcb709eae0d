package worker

// Offsets administration (KIP-875): reading, altering and resetting the
// committed offsets of a stopped connector, source offsets on the offsets
// topic and sink offsets in the connector's consumer group.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/penstockhq/penstock/connect"
	"github.com/penstockhq/penstock/plugins"
	"github.com/penstockhq/penstock/worker/rest"
)

// sinkGroup returns a sink connector's consumer group: connect-<name>
// unless consumer.override.group.id says otherwise.
func sinkGroup(name string, props map[string]string) string {
	if g := strings.TrimSpace(props[KeyConsumerGroupID]); g != "" {
		return g
	}
	return "connect-" + name
}

// Offsets implements rest.Herder.
func (h *Herder) Offsets(ctx context.Context, name string) (rest.ConnectorOffsets, error) {
	raw, ok := h.configs.connector(name)
	if !ok {
		return rest.ConnectorOffsets{}, h.notFound(name)
	}
	out := rest.ConnectorOffsets{Offsets: []rest.PartitionOffset{}}
	if h.connectorType(raw) == string(plugins.Sink) {
		resp, err := h.adm.FetchOffsets(ctx, sinkGroup(name, raw))
		if err != nil && !errors.Is(err, kerr.GroupIDNotFound) {
			return out, fmt.Errorf("fetching offsets of connector %s: %w", name, err)
		}
		resp.Each(func(o kadm.OffsetResponse) {
			if o.Err != nil || o.At < 0 {
				return
			}
			out.Offsets = append(out.Offsets, rest.PartitionOffset{
				Partition: map[string]any{"kafka_topic": o.Topic, "kafka_partition": o.Partition},
				Offset:    map[string]any{"kafka_offset": o.At},
			})
		})
		sort.Slice(out.Offsets, func(i, j int) bool {
			a, b := out.Offsets[i].Partition, out.Offsets[j].Partition
			if a["kafka_topic"] != b["kafka_topic"] {
				return a["kafka_topic"].(string) < b["kafka_topic"].(string)
			}
			return a["kafka_partition"].(int32) < b["kafka_partition"].(int32)
		})
		return out, nil
	}
	if err := h.offsets.ReadToEnd(ctx); err != nil {
		return out, err
	}
	for _, o := range h.offsets.Offsets(name) {
		out.Offsets = append(out.Offsets, rest.PartitionOffset{Partition: o.Partition, Offset: o.Offset})
	}
	return out, nil
}

// requireStopped returns the connector's config when it is STOPPED and its
// tasks are gone, a 400 when it is not stopped.
func (h *Herder) requireStopped(ctx context.Context, name string) (map[string]string, error) {
	if err := h.configs.readToEnd(ctx); err != nil {
		return nil, err
	}
	snap := h.configs.snapshot()
	raw, ok := snap.connectors[name]
	if !ok {
		return nil, h.notFound(name)
	}
	if snap.target(name) != targetStopped {
		return nil, rest.BadRequest("Connectors must be in the STOPPED state before their offsets can be modified. This can be done for the specified connector by issuing a 'PUT' request to the '/connectors/%s/stop' endpoint", name)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		h.mu.Lock()
		running := 0
		for id := range h.tasks {
			if id.Connector == name {
				running++
			}
		}
		h.mu.Unlock()
		if running == 0 {
			return raw, nil
		}
		if time.Now().After(deadline) {
			return nil, &rest.Error{Status: http.StatusConflict, Message: fmt.Sprintf("Connector %s is stopping its tasks; try again", name), RetryAfter: time.Second}
		}
		h.kick()
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// AlterOffsets implements rest.Herder.
func (h *Herder) AlterOffsets(ctx context.Context, name string, offs rest.ConnectorOffsets) (string, error) {
	raw, err := h.requireStopped(ctx, name)
	if err != nil {
		return "", err
	}
	if len(offs.Offsets) == 0 {
		return "", rest.BadRequest("The offsets to be modified must not be empty")
	}
	if h.connectorType(raw) == string(plugins.Sink) {
		return h.alterSinkOffsets(ctx, name, raw, offs)
	}
	var out []connect.SourceOffset
	for _, po := range offs.Offsets {
		if po.Partition == nil {
			return "", rest.BadRequest("Source partitions may not be null")
		}
		out = append(out, connect.SourceOffset{Partition: po.Partition, Offset: po.Offset})
	}
	if err := h.offsets.Write(ctx, name, out); err != nil {
		return "", err
	}
	h.log.Info("source offsets altered", "connector", name, "partitions", len(out))
	return "The Connect framework-managed offsets for this connector have been altered successfully. However, if this connector manages offsets externally, they will need to be manually altered in the system that the connector uses.", nil
}

func toInt64(v any) (int64, bool) {
	switch x := v.(type) {
	case int:
		return int64(x), true
	case int32:
		return int64(x), true
	case int64:
		return x, true
	case float64:
		if x == float64(int64(x)) {
			return int64(x), true
		}
	case string:
		n, err := strconv.ParseInt(x, 10, 64)
		return n, err == nil
	case interface{ Int64() (int64, error) }:
		n, err := x.Int64()
		return n, err == nil
	}
	return 0, false
}

func (h *Herder) alterSinkOffsets(ctx context.Context, name string, raw map[string]string, offs rest.ConnectorOffsets) (string, error) {
	commit := kadm.Offsets{}
	del := map[string][]int32{}
	for _, po := range offs.Offsets {
		topic, ok := po.Partition["kafka_topic"].(string)
		if !ok || topic == "" {
			return "", rest.BadRequest("Partitions of sink connectors must have a kafka_topic string")
		}
		p, ok := toInt64(po.Partition["kafka_partition"])
		if !ok || p < 0 {
			return "", rest.BadRequest("Partitions of sink connectors must have a non-negative integer kafka_partition")
		}
		if po.Offset == nil {
			del[topic] = append(del[topic], int32(p))
			continue
		}
		o, ok := toInt64(po.Offset["kafka_offset"])
		if !ok || o < 0 {
			return "", rest.BadRequest("Offsets of sink connectors must have a non-negative integer kafka_offset")
		}
		commit.Add(kadm.Offset{Topic: topic, Partition: int32(p), At: o, LeaderEpoch: -1})
	}
	group := sinkGroup(name, raw)
	if len(commit) > 0 {
		resp, err := h.adm.CommitOffsets(ctx, group, commit)
		if err == nil {
			err = resp.Error()
		}
		if err != nil {
			return "", fmt.Errorf("altering offsets of sink connector %s (group %s): %w", name, group, err)
		}
	}
	if len(del) > 0 {
		set := kadm.TopicsSet{}
		for t, ps := range del {
			set.Add(t, ps...)
		}
		resp, err := h.adm.DeleteOffsets(ctx, group, set)
		if err == nil {
			err = resp.Error()
		}
		if err != nil && !errors.Is(err, kerr.GroupIDNotFound) {
			return "", fmt.Errorf("resetting offsets of sink connector %s (group %s): %w", name, group, err)
		}
	}
	h.log.Info("sink offsets altered", "connector", name, "group", group)
	return "The offsets for this connector have been altered successfully", nil
}

// ResetOffsets implements rest.Herder.
func (h *Herder) ResetOffsets(ctx context.Context, name string) (string, error) {
	raw, err := h.requireStopped(ctx, name)
	if err != nil {
		return "", err
	}
	if h.connectorType(raw) == string(plugins.Sink) {
		group := sinkGroup(name, raw)
		resp, err := h.adm.DeleteGroup(ctx, group)
		if err == nil {
			err = resp.Err
		}
		if err != nil && !errors.Is(err, kerr.GroupIDNotFound) {
			return "", fmt.Errorf("resetting offsets of sink connector %s (deleting group %s): %w", name, group, err)
		}
		h.log.Info("sink offsets reset", "connector", name, "group", group)
		return "The offsets for this connector have been reset successfully", nil
	}
	if err := h.offsets.Reset(ctx, name); err != nil {
		return "", err
	}
	h.log.Info("source offsets reset", "connector", name)
	return "The Connect framework-managed offsets for this connector have been reset successfully. However, if this connector manages offsets externally, they will need to be manually reset in the system that the connector uses.", nil
}
