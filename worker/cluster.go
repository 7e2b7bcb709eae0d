package worker

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"strings"
	"time"

	"github.com/penstockhq/penstock/worker/rest"
)

// The herder's side of distributed workers: applying assignments from the
// group, the leader's duties, and rest.Cluster for forwarding.

// sessionKeyTTL is how long a session key lives before the leader rotates
// it (Kafka Connect's inter.worker.key.ttl.ms default).
const sessionKeyTTL = time.Hour

var _ rest.Cluster = (*Herder)(nil)

// applyAssignment acts on a round's assignment: it reads the config topic
// up to the leader's offset, stops revoked work (synchronously, so the
// member rejoins only after it stopped), and starts the assigned work.
func (h *Herder) applyAssignment(ctx context.Context, a *groupAssignment) {
	for h.configs.snapshot().offset < a.ConfigOffset && ctx.Err() == nil {
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		if err := h.configs.readToEnd(rctx); err != nil {
			h.log.Warn("reading the config topic up to the leader's offset", "offset", a.ConfigOffset, "err", err)
		}
		cancel()
	}
	h.asgMu.Lock()
	h.asg = a
	h.asgMu.Unlock()
	h.metrics.rebalances.Inc()
	h.metrics.groupGen.Set(float64(a.Generation))
	if a.isLeader() {
		h.metrics.groupLeader.Set(1)
	} else {
		h.metrics.groupLeader.Set(0)
	}
	h.reconcile()
	if !a.Revoked.empty() {
		fctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_ = h.statuses.log.Flush(fctx) // UNASSIGNED before the new owner's RUNNING
		cancel()
	}
	h.firstOnce.Do(func() { close(h.firstAsg) })
}

// currentAssignment returns the group's last assignment (nil before the first).
func (h *Herder) currentAssignment() *groupAssignment {
	h.asgMu.Lock()
	defer h.asgMu.Unlock()
	return h.asg
}

// currentWork is the work this worker runs now, as its subscription reports it.
func (h *Herder) currentWork() workSet {
	if a := h.currentAssignment(); a != nil {
		return a.Assigned
	}
	return workSet{}
}

// isLeader reports whether this worker does the leader's duties: the
// group's leader, or a worker without a group.
func (h *Herder) isLeader() bool {
	if h.grp == nil {
		return true
	}
	return h.currentAssignment().isLeader()
}

// Leader implements rest.Cluster.
func (h *Herder) Leader() (string, bool) {
	if h.grp == nil {
		return "", true
	}
	a := h.currentAssignment()
	if a == nil {
		return "", false
	}
	return a.LeaderURL, a.isLeader()
}

// TaskOwner implements rest.Cluster: the owner is the worker whose id the
// task's status shows, RUNNING or not, as long as the task is assigned.
func (h *Herder) TaskOwner(connector string, task int) (string, bool) {
	h.mu.Lock()
	_, mine := h.tasks[TaskID{Connector: connector, Task: task}]
	h.mu.Unlock()
	if mine || h.grp == nil {
		return "", true
	}
	st, ok := h.statuses.get(taskStatusKey(connector, task))
	if !ok || st.WorkerID == "" || st.State == rest.StateUnassigned {
		return "", false
	}
	if st.WorkerID == h.workerID {
		return "", true
	}
	return workerURL(st.WorkerID), false
}

// leaderDuties runs in reconcile on the leader: the session key and empty
// task configs for stopped connectors.
func (h *Herder) leaderDuties(snap configSnapshot) {
	if !h.isLeader() {
		return
	}
	if h.grp != nil {
		if k := h.configs.sessionKey(); k == nil || time.Since(time.UnixMilli(k.Created)) > sessionKeyTTL {
			h.writeSessionKey()
		}
	}
	for name := range snap.connectors {
		if snap.target(name) == targetStopped && len(snap.taskConfigs[name]) > 0 {
			// Kafka Connect writes empty task configs for a stopped
			// connector: its offsets can then be altered safely.
			if err := h.configs.putTaskConfigs(h.ctx, name, nil); err != nil {
				h.log.Error("writing empty task configs of a stopped connector failed", "connector", name, "err", err)
			}
		}
	}
}

// groupDuties runs in reconcile on every member of a group: a config view
// with other connectors or task counts than the last assignment covered
// starts a round, so new work is assigned and deleted work forgotten.
func (h *Herder) groupDuties(snap configSnapshot) {
	if h.grp == nil {
		return
	}
	if a := h.currentAssignment(); a != nil && a.ConfigShape != configShape(snap) {
		h.grp.requestRejoin()
	}
}

func (h *Herder) writeSessionKey() {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		h.log.Error("generating a session key", "err", err)
		return
	}
	k := sessionKey{Key: base64.StdEncoding.EncodeToString(b), Algorithm: "HmacSHA256", Created: time.Now().UnixMilli()}
	ctx, cancel := context.WithTimeout(h.ctx, 10*time.Second)
	defer cancel()
	if err := h.configs.putSessionKey(ctx, k); err != nil {
		h.log.Error("writing the session key", "err", err)
		return
	}
	if err := h.configs.readToEnd(ctx); err != nil {
		h.log.Warn("reading the session key back", "err", err)
	}
	h.log.Info("wrote a new session key")
}

func sign(key *sessionKey, body []byte) (string, error) {
	raw, err := base64.StdEncoding.DecodeString(key.Key)
	if err != nil {
		return "", err
	}
	mac := hmac.New(sha256.New, raw)
	mac.Write(body)
	return base64.StdEncoding.EncodeToString(mac.Sum(nil)), nil
}

// sendTaskConfigs hands task configs computed here to the leader, signed
// with the session key; on failure the connector asks again later.
func (h *Herder) sendTaskConfigs(c *connectorRuntime, configs []map[string]string) {
	a := h.currentAssignment()
	retry := func(err error) {
		h.log.Warn("handing task configs to the leader failed; retrying", "connector", c.name, "err", err)
		time.AfterFunc(time.Second, func() { c.RequestTaskReconfiguration() })
	}
	if a == nil || a.LeaderURL == "" {
		retry(fmt.Errorf("no known leader"))
		return
	}
	key := h.configs.sessionKey()
	if key == nil {
		retry(fmt.Errorf("no session key yet"))
		return
	}
	body, _ := json.Marshal(configs)
	sig, err := sign(key, body)
	if err != nil {
		retry(err)
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(h.ctx, 30*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, rest.TaskConfigsURL(a.LeaderURL, c.name), bytes.NewReader(body))
		if err != nil {
			retry(err)
			return
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(rest.SignatureHeader, sig)
		req.Header.Set(rest.SignatureAlgorithmHeader, key.Algorithm)
		cl, err := h.cfg.RESTClient()
		if err != nil {
			retry(err)
			return
		}
		resp, err := cl.Do(req)
		if err != nil {
			retry(err)
			return
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			retry(fmt.Errorf("leader answered %d: %s", resp.StatusCode, strings.TrimSpace(string(b))))
		}
	}()
}

// PutTaskConfigs implements rest.Cluster: the leader writes task configs a
// connector on another worker computed.
func (h *Herder) PutTaskConfigs(ctx context.Context, connector string, body []byte, signature, algorithm string) error {
	if !h.isLeader() {
		return &rest.Error{Status: http.StatusConflict, RetryAfter: time.Second, Message: "Cannot complete request because this worker is not the leader (e.g. worker rebalance)"}
	}
	key := h.configs.sessionKey()
	if key == nil {
		return &rest.Error{Status: http.StatusServiceUnavailable, Message: "No session key yet"}
	}
	if algorithm != "" && !strings.EqualFold(algorithm, key.Algorithm) {
		return &rest.Error{Status: http.StatusBadRequest, Message: fmt.Sprintf("Unsupported signature algorithm %s", algorithm)}
	}
	want, err := sign(key, body)
	if err != nil || !hmac.Equal([]byte(want), []byte(signature)) {
		return &rest.Error{Status: http.StatusForbidden, Message: "Internal request has an invalid signature"}
	}
	var configs []map[string]string
	if err := json.Unmarshal(body, &configs); err != nil {
		return rest.BadRequest("Task configs: %v", err)
	}
	h.writeMu.Lock()
	defer h.writeMu.Unlock()
	if err := h.configs.readToEnd(ctx); err != nil {
		return err
	}
	snap := h.configs.snapshot()
	if _, ok := snap.connectors[connector]; !ok {
		return h.notFound(connector)
	}
	committed := snap.taskConfigs[connector]
	same := len(configs) == len(committed)
	for i := 0; same && i < len(configs); i++ {
		same = maps.Equal(configs[i], committed[i])
	}
	if same {
		return nil
	}
	if err := h.configs.putTaskConfigs(ctx, connector, configs); err != nil {
		return err
	}
	h.log.Info("task configs written for a connector on another worker", "connector", connector, "tasks", len(configs))
	return nil
}
