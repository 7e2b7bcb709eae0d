package rest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
)

// response is what a test request got back.
type response struct {
	code int
	hdr  http.Header
	body string
}

// send makes one request against h.
func send(t *testing.T, h http.Handler, method, path, body string) response {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, r)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return response{rec.Code, rec.Header(), rec.Body.String()}
}

// expect checks status and exact body.
func expect(t *testing.T, got response, code int, body string) {
	t.Helper()
	if got.code != code || got.body != body {
		t.Fatalf("got %d %s\nwant %d %s", got.code, got.body, code, body)
	}
}

// expectJSONType checks the Content-Type of a JSON answer.
func expectJSONType(t *testing.T, got response) {
	t.Helper()
	if ct := got.hdr.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type = %q, want application/json", ct)
	}
}

func newTestServer(opts ...Option) (*fakeHerder, *Server) {
	f := newFakeHerder()
	return f, New(f, opts...)
}

func TestRootAndHealth(t *testing.T) {
	f, s := newTestServer()
	h := s.Handler()

	got := send(t, h, "GET", "/", "")
	expect(t, got, 200, `{"version":"0.1.0","commit":"abc123","kafka_cluster_id":"cluster-1"}`)
	expectJSONType(t, got)

	expect(t, send(t, h, "GET", "/health", ""), 200,
		`{"status":"healthy","message":"Worker has completed startup and is ready to handle requests."}`)

	f.health = starting("Joining the group.")
	expect(t, send(t, h, "GET", "/health", ""), 503,
		`{"status":"starting","message":"Worker is still starting up. Joining the group."}`)

	f.health = unhealthy("config topic unreadable")
	expect(t, send(t, h, "GET", "/health", ""), 500,
		`{"status":"unhealthy","message":"Worker was unable to handle this request and may be unable to handle other requests. config topic unreadable"}`)
}

func TestHealthTimesOut(t *testing.T) {
	f, s := newTestServer(WithRequestTimeout(50 * time.Millisecond))
	f.block = make(chan struct{})
	defer close(f.block)
	expect(t, send(t, s.Handler(), "GET", "/health", ""), 500,
		`{"status":"unhealthy","message":"Worker was unable to handle this request and may be unable to handle other requests. Request timed out"}`)
}

func TestCreateConnector(t *testing.T) {
	f, s := newTestServer()
	h := s.Handler()

	// Name set into the config; numbers accepted as strings, as Jackson does.
	got := send(t, h, "POST", "/connectors", `{"name":"src","config":{"connector.class":"datagen","tasks.max":1}}`)
	expect(t, got, 201, `{"name":"src","config":{"connector.class":"datagen","name":"src","tasks.max":"1"},"tasks":[{"connector":"src","task":0}],"type":"source"}`)
	expectJSONType(t, got)
	if loc := got.hdr.Get("Location"); loc != "/connectors/src" {
		t.Fatalf("Location = %q", loc)
	}
	if f.lastState != "" {
		t.Fatalf("initial state passed as %q, want empty (RUNNING)", f.lastState)
	}

	// Same config again: idempotent, 201 again.
	expect(t, send(t, h, "POST", "/connectors", `{"name":"src","config":{"connector.class":"datagen","tasks.max":"1","name":"src"}}`), 201,
		`{"name":"src","config":{"connector.class":"datagen","name":"src","tasks.max":"1"},"tasks":[{"connector":"src","task":0}],"type":"source"}`)

	// Another config under the same name: 409.
	expect(t, send(t, h, "POST", "/connectors", `{"name":"src","config":{"connector.class":"other"}}`), 409,
		`{"error_code":409,"message":"Connector src already exists"}`)

	// initial_state, in any case, reaches the herder in upper case.
	expect(t, send(t, h, "POST", "/connectors", `{"name":"p","config":{"connector.class":"sink"},"initial_state":"stopped"}`), 201,
		`{"name":"p","config":{"connector.class":"sink","name":"p"},"tasks":[],"type":"sink"}`)
	if f.lastState != StateStopped {
		t.Fatalf("initial state passed as %q", f.lastState)
	}

	tests := []struct{ name, body, want string }{
		{"name mismatch", `{"name":"a","config":{"name":"b"}}`,
			`{"error_code":400,"message":"Connector name configuration (b) doesn't match connector name in the URL (a)"}`},
		{"missing name", `{"config":{"connector.class":"x"}}`,
			`{"error_code":400,"message":"Connector name must be specified: the request body is {\"name\": ..., \"config\": {...}}"}`},
		{"blank name", `{"name":"  ","config":{}}`,
			`{"error_code":400,"message":"Connector name must be specified: the request body is {\"name\": ..., \"config\": {...}}"}`},
		{"flat config instead of name+config", `{"name":"a","connector.class":"x"}`,
			`{"error_code":400,"message":"Connector config must be specified: the request body is {\"name\": ..., \"config\": {...}}"}`},
		{"bad initial state", `{"name":"a","config":{},"initial_state":"SLEEPING"}`,
			`{"error_code":400,"message":"Invalid initial_state \"SLEEPING\": expected one of RUNNING, PAUSED, STOPPED"}`},
		{"invalid config from herder", `{"name":"a","config":{"bad":"1"}}`,
			`{"error_code":400,"message":"Connector configuration is invalid and contains the following 1 error(s):\nbad: not allowed\nYou can also find the above list of errors at the endpoint ` + "`/connector-plugins/{connectorType}/config/validate`" + `"}`},
		{"null config value", `{"name":"a","config":{"k":null}}`,
			`{"error_code":400,"message":"Invalid connector configuration: the value of \"k\" is null"}`},
		{"object config value", `{"name":"a","config":{"k":{"x":1}}}`,
			`{"error_code":400,"message":"Invalid connector configuration: the value of \"k\" must be a string, not an object or array"}`},
		{"empty body", ``,
			`{"error_code":400,"message":"Request body is empty; a JSON body is required"}`},
		{"malformed JSON", `{"name":"a",}`,
			`{"error_code":400,"message":"Invalid JSON in request body at byte 13: invalid character '}' looking for beginning of object key string"}`},
		{"truncated JSON", `{"name":"a"`,
			`{"error_code":400,"message":"Invalid JSON in request body: unexpected end of input"}`},
		{"wrong type", `{"name":5,"config":{}}`,
			`{"error_code":400,"message":"Invalid JSON in request body: field \"name\" must be a string, not number"}`},
		{"trailing data", `{"name":"a","config":{}} {}`,
			`{"error_code":400,"message":"Invalid JSON in request body: unexpected data after the JSON value"}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := send(t, h, "POST", "/connectors", tc.body)
			expect(t, got, 400, tc.want)
			expectJSONType(t, got)
		})
	}
}

func TestConnectorNameWithSlash(t *testing.T) {
	_, s := newTestServer()
	h := s.Handler()
	got := send(t, h, "POST", "/connectors", `{"name":"a/b","config":{"connector.class":"x"}}`)
	if got.code != 201 || got.hdr.Get("Location") != "/connectors/a%2Fb" {
		t.Fatalf("got %d Location %q: %s", got.code, got.hdr.Get("Location"), got.body)
	}
	expect(t, send(t, h, "GET", "/connectors/a%2Fb/config", ""), 200, `{"connector.class":"x","name":"a/b"}`)
}

func TestUnknownPathsAndMethods(t *testing.T) {
	_, s := newTestServer()
	h := s.Handler()
	got := send(t, h, "GET", "/nope", "")
	expect(t, got, 404, `{"error_code":404,"message":"HTTP 404 Not Found"}`)
	expectJSONType(t, got)
	got = send(t, h, "DELETE", "/connectors", "")
	expect(t, got, 405, `{"error_code":405,"message":"HTTP 405 Method Not Allowed"}`)
	if got.hdr.Get("Allow") == "" {
		t.Fatal("405 without an Allow header")
	}
	// A trailing slash is the same path, as in Jersey.
	expect(t, send(t, h, "GET", "/connectors/", ""), 200, `[]`)
	// Metrics are off without a gatherer.
	expect(t, send(t, h, "GET", "/metrics", ""), 404, `{"error_code":404,"message":"HTTP 404 Not Found"}`)
	// Admin loggers answer 501 without a registry.
	expect(t, send(t, h, "GET", "/admin/loggers", ""), 501, `{"error_code":501,"message":"Log levels cannot be adjusted on this worker"}`)
}

func TestListConnectorsExpand(t *testing.T) {
	f, s := newTestServer()
	h := s.Handler()
	expect(t, send(t, h, "GET", "/connectors?expand=status", ""), 200, `{}`)
	f.add("b", map[string]string{"connector.class": "sink"})
	f.add("a", map[string]string{"connector.class": "x"})

	expect(t, send(t, h, "GET", "/connectors", ""), 200, `["a","b"]`)
	expect(t, send(t, h, "GET", "/connectors?expand=status", ""), 200,
		`{"a":{"status":{"name":"a","connector":{"state":"RUNNING","worker_id":"w1:8083"},"tasks":[{"id":0,"state":"RUNNING","worker_id":"w1:8083"}],"type":"source"}},`+
			`"b":{"status":{"name":"b","connector":{"state":"RUNNING","worker_id":"w1:8083"},"tasks":[{"id":0,"state":"RUNNING","worker_id":"w1:8083"}],"type":"sink"}}}`)
	expect(t, send(t, h, "GET", "/connectors?expand=info&expand=status&expand=bogus", ""), 200,
		`{"a":{"status":{"name":"a","connector":{"state":"RUNNING","worker_id":"w1:8083"},"tasks":[{"id":0,"state":"RUNNING","worker_id":"w1:8083"}],"type":"source"},"info":{"name":"a","config":{"connector.class":"x","name":"a"},"tasks":[{"connector":"a","task":0}],"type":"source"}},`+
			`"b":{"status":{"name":"b","connector":{"state":"RUNNING","worker_id":"w1:8083"},"tasks":[{"id":0,"state":"RUNNING","worker_id":"w1:8083"}],"type":"sink"},"info":{"name":"b","config":{"connector.class":"sink","name":"b"},"tasks":[{"connector":"b","task":0}],"type":"sink"}}}`)
	// Unknown expansions are ignored, as in Kafka Connect.
	expect(t, send(t, h, "GET", "/connectors?expand=bogus", ""), 200, `{"a":{},"b":{}}`)
}

func TestConnectorConfigPutPatch(t *testing.T) {
	f, s := newTestServer()
	h := s.Handler()

	got := send(t, h, "PUT", "/connectors/c/config", `{"connector.class":"x","topic":"t","password":"secret"}`)
	expect(t, got, 201, `{"name":"c","config":{"connector.class":"x","name":"c","password":"secret","topic":"t"},"tasks":[{"connector":"c","task":0}],"type":"source"}`)
	if got.hdr.Get("Location") != "/connectors/c" {
		t.Fatalf("Location = %q", got.hdr.Get("Location"))
	}
	got = send(t, h, "PUT", "/connectors/c/config", `{"connector.class":"x","topic":"t2","name":"c"}`)
	expect(t, got, 200, `{"name":"c","config":{"connector.class":"x","name":"c","topic":"t2"},"tasks":[{"connector":"c","task":0}],"type":"source"}`)
	if got.hdr.Get("Location") != "" {
		t.Fatal("an update has no Location")
	}
	expect(t, send(t, h, "PUT", "/connectors/c/config", `{"name":"other"}`), 400,
		`{"error_code":400,"message":"Connector name configuration (other) doesn't match connector name in the URL (c)"}`)
	expect(t, send(t, h, "PUT", "/connectors/c/config", `["x"]`), 400,
		`{"error_code":400,"message":"Invalid JSON in request body: expected an object, not array"}`)
	expect(t, send(t, h, "GET", "/connectors/c/config", ""), 200, `{"connector.class":"x","name":"c","topic":"t2"}`)

	// PATCH: a value sets, null removes; the herder gets both.
	got = send(t, h, "PATCH", "/connectors/c/config", `{"topic":null,"batch.size":500,"flag":true}`)
	expect(t, got, 200, `{"name":"c","config":{"batch.size":"500","connector.class":"x","flag":"true","name":"c"},"tasks":[{"connector":"c","task":0}],"type":"source"}`)
	if v, ok := f.lastPatch["topic"]; !ok || v != nil {
		t.Fatalf("patch of topic = %v, %v; want a nil value", v, ok)
	}
	if v := f.lastPatch["batch.size"]; v == nil || *v != "500" {
		t.Fatalf("patch of batch.size = %v", v)
	}
	expect(t, send(t, h, "PATCH", "/connectors/c/config", `{"name":"d"}`), 400,
		`{"error_code":400,"message":"Connector name configuration (d) doesn't match connector name in the URL (c)"}`)
	expect(t, send(t, h, "PATCH", "/connectors/nope/config", `{"a":"b"}`), 404,
		`{"error_code":404,"message":"Connector nope not found"}`)
	expect(t, send(t, h, "GET", "/connectors/nope/config", ""), 404,
		`{"error_code":404,"message":"Connector nope not found"}`)
}

func TestConnectorLifecycle(t *testing.T) {
	f, s := newTestServer()
	h := s.Handler()
	f.add("c", map[string]string{"connector.class": "x"})

	expect(t, send(t, h, "GET", "/connectors/c", ""), 200,
		`{"name":"c","config":{"connector.class":"x","name":"c"},"tasks":[{"connector":"c","task":0}],"type":"source"}`)
	expect(t, send(t, h, "GET", "/connectors/c/status", ""), 200,
		`{"name":"c","connector":{"state":"RUNNING","worker_id":"w1:8083"},"tasks":[{"id":0,"state":"RUNNING","worker_id":"w1:8083"}],"type":"source"}`)
	expect(t, send(t, h, "GET", "/connectors/c/tasks", ""), 200,
		`[{"id":{"connector":"c","task":0},"config":{"task.class":"T"}}]`)
	expect(t, send(t, h, "GET", "/connectors/c/tasks/0/status", ""), 200,
		`{"id":0,"state":"FAILED","worker_id":"w1:8083","trace":"boom"}`)
	expect(t, send(t, h, "GET", "/connectors/c/tasks/7/status", ""), 404,
		`{"error_code":404,"message":"Task c-7 not found"}`)
	expect(t, send(t, h, "GET", "/connectors/c/tasks/x/status", ""), 404,
		`{"error_code":404,"message":"Task \"x\" of connector c not found: a task ID is an integer"}`)
	expect(t, send(t, h, "POST", "/connectors/c/tasks/0/restart", ""), 204, ``)

	// Restart: 204 with no body unless includeTasks or onlyFailed.
	expect(t, send(t, h, "POST", "/connectors/c/restart", ""), 204, ``)
	expect(t, send(t, h, "POST", "/connectors/c/restart?includeTasks=false&onlyFailed=false", ""), 204, ``)
	got := send(t, h, "POST", "/connectors/c/restart?includeTasks=true", "")
	expect(t, got, 202,
		`{"name":"c","connector":{"state":"RESTARTING","worker_id":"w1:8083"},"tasks":[{"id":0,"state":"RESTARTING","worker_id":"w1:8083"}],"type":"source"}`)
	if !f.lastIncludeTasks || f.lastOnlyFailed {
		t.Fatalf("flags = %v, %v", f.lastIncludeTasks, f.lastOnlyFailed)
	}
	expect(t, send(t, h, "POST", "/connectors/c/restart?onlyFailed=TRUE", ""), 202,
		`{"name":"c","connector":{"state":"RESTARTING","worker_id":"w1:8083"},"tasks":[{"id":0,"state":"RESTARTING","worker_id":"w1:8083"}],"type":"source"}`)
	if f.lastIncludeTasks || !f.lastOnlyFailed {
		t.Fatalf("flags = %v, %v", f.lastIncludeTasks, f.lastOnlyFailed)
	}

	expect(t, send(t, h, "PUT", "/connectors/c/pause", ""), 202, ``)
	expect(t, send(t, h, "PUT", "/connectors/c/resume", ""), 202, ``)
	expect(t, send(t, h, "PUT", "/connectors/c/stop", ""), 204, ``)
	expect(t, send(t, h, "GET", "/connectors/c/status", ""), 200,
		`{"name":"c","connector":{"state":"STOPPED","worker_id":"w1:8083"},"tasks":[],"type":"source"}`)
	expect(t, send(t, h, "GET", "/connectors/c/tasks", ""), 200, `[]`)
	expect(t, send(t, h, "GET", "/connectors/c/topics", ""), 200, `{"c":{"topics":["c-topic"]}}`)
	expect(t, send(t, h, "PUT", "/connectors/c/topics/reset", ""), 202, ``)
	expect(t, send(t, h, "GET", "/connectors/c/topics", ""), 200, `{"c":{"topics":[]}}`)

	expect(t, send(t, h, "DELETE", "/connectors/c", ""), 204, ``)
	expect(t, send(t, h, "DELETE", "/connectors/c", ""), 404, `{"error_code":404,"message":"Connector c not found"}`)
	expect(t, send(t, h, "PUT", "/connectors/c/pause", ""), 404, `{"error_code":404,"message":"Connector c not found"}`)
}

func TestOffsets(t *testing.T) {
	f, s := newTestServer()
	h := s.Handler()
	f.add("c", map[string]string{"connector.class": "x"})

	// Large integers stay exact.
	expect(t, send(t, h, "GET", "/connectors/c/offsets", ""), 200,
		`{"offsets":[{"partition":{"server":"db1"},"offset":{"lsn":9007199254740993}}]}`)

	expect(t, send(t, h, "PATCH", "/connectors/c/offsets", `{"offsets":[]}`), 400,
		`{"error_code":400,"message":"Partitions / offsets need to be provided for an alter offsets request"}`)
	expect(t, send(t, h, "PATCH", "/connectors/c/offsets", `{}`), 400,
		`{"error_code":400,"message":"Partitions / offsets need to be provided for an alter offsets request"}`)
	expect(t, send(t, h, "PATCH", "/connectors/c/offsets", `{"offsets":[{"offset":{"x":1}}]}`), 400,
		`{"error_code":400,"message":"Partition at index 0 may not be null"}`)

	body := `{"offsets":[{"partition":{"kafka_topic":"t","kafka_partition":2},"offset":{"kafka_offset":9007199254740993}},` +
		`{"partition":{"kafka_topic":"t","kafka_partition":3},"offset":null},{"partition":{"f":1.5},"offset":{"ok":true}}]}`
	got := send(t, h, "PATCH", "/connectors/c/offsets", body)
	if got.code != 400 || !strings.Contains(got.body, "STOPPED") {
		t.Fatalf("alter on a running connector: %d %s", got.code, got.body)
	}
	expect(t, send(t, h, "PUT", "/connectors/c/stop", ""), 204, ``)
	expect(t, send(t, h, "PATCH", "/connectors/c/offsets", body), 200,
		`{"message":"The offsets for this connector have been altered successfully"}`)
	offs := f.lastOffsets.Offsets
	if len(offs) != 3 {
		t.Fatalf("herder got %d offsets", len(offs))
	}
	if p, o := offs[0].Partition["kafka_partition"], offs[0].Offset["kafka_offset"]; p != int64(2) || o != int64(9007199254740993) {
		t.Fatalf("numbers reached the herder as %T %v, %T %v", p, p, o, o)
	}
	if offs[1].Offset != nil {
		t.Fatalf("a null offset (reset) reached the herder as %v", offs[1].Offset)
	}
	if v := offs[2].Partition["f"]; v != 1.5 {
		t.Fatalf("a decimal reached the herder as %T %v", v, v)
	}
	expect(t, send(t, h, "DELETE", "/connectors/c/offsets", ""), 200,
		`{"message":"The offsets for this connector have been reset successfully"}`)
	expect(t, send(t, h, "GET", "/connectors/nope/offsets", ""), 404, `{"error_code":404,"message":"Connector nope not found"}`)
}

func TestPlugins(t *testing.T) {
	f, s := newTestServer()
	h := s.Handler()

	// connectorsOnly defaults to true, as in Kafka Connect.
	expect(t, send(t, h, "GET", "/connector-plugins", ""), 200,
		`[{"class":"io.debezium.connector.postgresql.PostgresConnector","type":"source","version":"1.0.0"}]`)
	if f.lastConnectorsOnly == nil || !*f.lastConnectorsOnly {
		t.Fatal("connectorsOnly did not default to true")
	}
	expect(t, send(t, h, "GET", "/connector-plugins?connectorsOnly=false", ""), 200,
		`[{"class":"io.debezium.connector.postgresql.PostgresConnector","type":"source","version":"1.0.0"},`+
			`{"class":"org.apache.kafka.connect.transforms.InsertField$Value","type":"transformation","version":"1.0.0"}]`)
	expect(t, send(t, h, "GET", "/connector-plugins/PostgresConnector/config", ""), 200,
		`[{"name":"database.hostname","type":"STRING","required":true,"default_value":null,"importance":"HIGH","documentation":"Host","group":null,"order":-1,"width":"NONE","display_name":"Hostname","dependents":[]}]`)
	expect(t, send(t, h, "GET", "/connector-plugins/Nope/config", ""), 404, `{"error_code":404,"message":"Unknown plugin Nope."}`)

	// Validate: errors inside a 200 body.
	got := send(t, h, "PUT", "/connector-plugins/PostgresConnector/config/validate",
		`{"connector.class":"io.debezium.connector.postgresql.PostgresConnector","tasks.max":"1"}`)
	expect(t, got, 200,
		`{"name":"io.debezium.connector.postgresql.PostgresConnector","error_count":1,"groups":[],"configs":[{"definition":{"name":"database.hostname","type":"STRING","required":false,"default_value":null,"importance":"","documentation":"","group":null,"order":-1,"width":"NONE","display_name":"database.hostname","dependents":[]},"value":{"name":"database.hostname","value":null,"recommended_values":[],"errors":["Missing required configuration \"database.hostname\" which has no default value."],"visible":true}}]}`)
	if f.lastValidated["tasks.max"] != "1" {
		t.Fatalf("herder validated %v", f.lastValidated)
	}
	for _, ok := range []struct{ path, class string }{
		{"PostgresConnector", "io.debezium.connector.postgresql.PostgresConnector"},
		{"Postgres", "io.debezium.connector.postgresql.PostgresConnector"},
		{"postgres", "io.debezium.connector.postgresql.PostgresConnector"},
		{"io.debezium.connector.postgresql.PostgresConnector", "postgres"},
	} {
		got := send(t, h, "PUT", "/connector-plugins/"+ok.path+"/config/validate", `{"connector.class":"`+ok.class+`","database.hostname":"h"}`)
		if got.code != 200 {
			t.Fatalf("validate %s with %s: %d %s", ok.path, ok.class, got.code, got.body)
		}
	}
	expect(t, send(t, h, "PUT", "/connector-plugins/MySqlConnector/config/validate",
		`{"connector.class":"io.debezium.connector.postgresql.PostgresConnector"}`), 400,
		`{"error_code":400,"message":"Included connector type io.debezium.connector.postgresql.PostgresConnector does not match request type MySqlConnector"}`)
}

func TestRequestTimeout(t *testing.T) {
	f, s := newTestServer(WithRequestTimeout(50 * time.Millisecond))
	f.block = make(chan struct{}) // the fake ignores its context
	defer close(f.block)
	start := time.Now()
	got := send(t, s.Handler(), "POST", "/connectors", `{"name":"c","config":{}}`)
	expect(t, got, 500, `{"error_code":500,"message":"Request timed out"}`)
	expectJSONType(t, got)
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("timed out after %v", d)
	}
}

func TestRetryAfterOn409(t *testing.T) {
	f, s := newTestServer()
	f.err = &Error{Status: http.StatusConflict, Message: "Cannot complete request momentarily due to stale configuration (typically caused by a concurrent config change)",
		RetryAfter: 1500 * time.Millisecond}
	got := send(t, s.Handler(), "PUT", "/connectors/c/stop", "")
	expect(t, got, 409, `{"error_code":409,"message":"Cannot complete request momentarily due to stale configuration (typically caused by a concurrent config change)"}`)
	if ra := got.hdr.Get("Retry-After"); ra != "2" {
		t.Fatalf("Retry-After = %q, want 2 (seconds, rounded up)", ra)
	}
	f.err = Conflict("Connector c already exists")
	if got := send(t, s.Handler(), "PUT", "/connectors/c/stop", ""); got.hdr.Get("Retry-After") != "" {
		t.Fatal("Retry-After on a 409 that has none")
	}
	f.err = errors.New("disk on fire")
	expect(t, send(t, s.Handler(), "GET", "/connectors", ""), 500, `{"error_code":500,"message":"disk on fire"}`)
}

func TestPanicsAnswer500(t *testing.T) {
	f, s := newTestServer()
	h := s.Handler()
	f.panicWith = "nil map"
	// In a herder call (run on its own goroutine).
	expect(t, send(t, h, "GET", "/connectors", ""), 500, `{"error_code":500,"message":"panic in herder: nil map"}`)
	// In a handler.
	expect(t, send(t, h, "GET", "/connector-plugins", ""), 500, `{"error_code":500,"message":"Internal server error: nil map"}`)
	f.panicWith = nil
	expect(t, send(t, h, "GET", "/connectors", ""), 200, `[]`)
}

// TestForwardingHole pins which requests go through the one place where a
// distributed cluster will forward writes to the leader, and that a
// forwarded request is answered by the forwarder alone.
func TestForwardingHole(t *testing.T) {
	f, s := newTestServer()
	f.add("c", map[string]string{"connector.class": "x"})
	var mu sync.Mutex
	var hooked []string
	s.forward = func(c echo.Context) (bool, error) {
		mu.Lock()
		hooked = append(hooked, c.Request().Method+" "+c.Path())
		mu.Unlock()
		return false, nil
	}
	h := s.Handler()
	reqs := []struct{ method, path, body string }{
		{"GET", "/", ""}, {"GET", "/health", ""}, {"GET", "/connectors", ""},
		{"POST", "/connectors", `{"name":"d","config":{}}`},
		{"GET", "/connectors/c", ""}, {"GET", "/connectors/c/config", ""},
		{"PUT", "/connectors/c/config", `{}`}, {"PATCH", "/connectors/c/config", `{}`},
		{"GET", "/connectors/c/status", ""}, {"GET", "/connectors/c/tasks", ""},
		{"GET", "/connectors/c/tasks/0/status", ""}, {"POST", "/connectors/c/tasks/0/restart", ""},
		{"POST", "/connectors/c/restart", ""}, {"PUT", "/connectors/c/pause", ""}, {"PUT", "/connectors/c/resume", ""},
		{"GET", "/connectors/c/topics", ""}, {"PUT", "/connectors/c/topics/reset", ""},
		{"PUT", "/connectors/c/stop", ""}, {"GET", "/connectors/c/offsets", ""},
		{"PATCH", "/connectors/c/offsets", `{"offsets":[{"partition":{"a":1},"offset":null}]}`},
		{"DELETE", "/connectors/c/offsets", ""}, {"DELETE", "/connectors/c", ""},
		{"GET", "/connector-plugins", ""}, {"PUT", "/connector-plugins/x/config/validate", `{}`},
	}
	for _, r := range reqs {
		send(t, h, r.method, r.path, r.body)
	}
	want := []string{
		"POST /connectors", "PUT /connectors/:c/config", "PATCH /connectors/:c/config",
		"POST /connectors/:c/tasks/:n/restart", "POST /connectors/:c/restart", "PUT /connectors/:c/stop",
		"PATCH /connectors/:c/offsets", "DELETE /connectors/:c/offsets", "DELETE /connectors/:c",
	}
	if !slices.Equal(hooked, want) {
		t.Fatalf("forwarding hook saw\n%q\nwant\n%q", hooked, want)
	}

	// A forwarded request is answered by the forwarder; the herder is not asked.
	f.add("e", map[string]string{"connector.class": "x"})
	s.forward = func(c echo.Context) (bool, error) {
		return true, writeJSON(c, http.StatusOK, map[string]string{"from": "leader"})
	}
	expect(t, send(t, h, "DELETE", "/connectors/e", ""), 200, `{"from":"leader"}`)
	expect(t, send(t, h, "GET", "/connectors/e/config", ""), 200, `{"connector.class":"x","name":"e"}`)
	// The future "no leader" answer: a 409 with Retry-After.
	s.forward = func(echo.Context) (bool, error) {
		return false, &Error{Status: http.StatusConflict, Message: "Cannot complete request because of a conflicting operation (e.g. worker rebalance)", RetryAfter: time.Second}
	}
	got := send(t, h, "DELETE", "/connectors/e", "")
	if got.code != 409 || got.hdr.Get("Retry-After") != "1" {
		t.Fatalf("got %d Retry-After %q", got.code, got.hdr.Get("Retry-After"))
	}
}

func TestMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	c := prometheus.NewCounter(prometheus.CounterOpts{Name: "penstock_test_total", Help: "test"})
	reg.MustRegister(c)
	c.Add(3)
	_, s := newTestServer(WithGatherer(reg))
	got := send(t, s.Handler(), "GET", "/metrics", "")
	if got.code != 200 || !strings.Contains(got.body, "penstock_test_total 3") {
		t.Fatalf("got %d %s", got.code, got.body)
	}
}

func TestRequestLogNeverCarriesBodies(t *testing.T) {
	var buf syncBuffer
	logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	_, s := newTestServer(WithLogger(logger))
	send(t, s.Handler(), "PUT", "/connectors/c/config", `{"connector.class":"x","database.password":"hunter2"}`)
	send(t, s.Handler(), "POST", "/connectors", `{"name":"c","config":{"bad":"hunter2"}}`)
	out := buf.String()
	if strings.Contains(out, "hunter2") {
		t.Fatalf("a request body reached the log:\n%s", out)
	}
	for _, want := range []string{`"method":"PUT"`, `"path":"/connectors/c/config"`, `"status":201`, `"status":400`, `"duration":`} {
		if !strings.Contains(out, want) {
			t.Fatalf("log lacks %s:\n%s", want, out)
		}
	}
}

func TestAdminLoggers(t *testing.T) {
	levels := NewLevels(slog.LevelInfo)
	levels.now = func() time.Time { return time.UnixMilli(1700000000000) }
	var buf syncBuffer
	base := slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: LevelAll})
	herderLog := levels.Logger(base, "penstock.worker.herder")
	levels.Var("penstock.broker")
	_, s := newTestServer(WithLogLevels(levels))
	h := s.Handler()

	expect(t, send(t, h, "GET", "/admin/loggers", ""), 200,
		`{"penstock.broker":{"level":"INFO","last_modified":null},"penstock.worker.herder":{"level":"INFO","last_modified":null},"root":{"level":"INFO","last_modified":null}}`)
	expect(t, send(t, h, "GET", "/admin/loggers/penstock.nope", ""), 404, `{"error_code":404,"message":"Logger penstock.nope not found."}`)

	herderLog.Debug("before")
	expect(t, send(t, h, "PUT", "/admin/loggers/penstock.worker", `{"level":"debug"}`), 200, `["penstock.worker","penstock.worker.herder"]`)
	herderLog.Debug("after")
	if out := buf.String(); strings.Contains(out, "before") || !strings.Contains(out, "msg=after") || !strings.Contains(out, "logger=penstock.worker.herder") {
		t.Fatalf("the level set through the API did not change what is logged:\n%s", out)
	}
	expect(t, send(t, h, "GET", "/admin/loggers/penstock.worker.herder", ""), 200, `{"level":"DEBUG","last_modified":1700000000000}`)
	expect(t, send(t, h, "GET", "/admin/loggers/penstock.broker", ""), 200, `{"level":"INFO","last_modified":null}`)

	expect(t, send(t, h, "PUT", "/admin/loggers/root", `{"level":"LOUD"}`), 404, `{"error_code":404,"message":"invalid log level 'LOUD'."}`)
	expect(t, send(t, h, "PUT", "/admin/loggers/root", `{}`), 400, `{"error_code":400,"message":"Desired 'level' parameter was not specified in request."}`)
	expect(t, send(t, h, "PUT", "/admin/loggers/root", `{"level":null}`), 400, `{"error_code":400,"message":"Desired 'level' parameter was not specified in request."}`)
	expect(t, send(t, h, "PUT", "/admin/loggers/root?scope=cluster", `{"level":"WARN"}`), 204, ``)
	expect(t, send(t, h, "PUT", "/admin/loggers/root", `{"level":"ERROR"}`), 200, `["penstock.broker","penstock.worker","penstock.worker.herder","root"]`)
	expect(t, send(t, h, "GET", "/admin/loggers/ROOT", ""), 200, `{"level":"ERROR","last_modified":1700000000000}`)
}

func TestListenAddr(t *testing.T) {
	for in, want := range map[string]string{
		"http://:8083":          ":8083",
		"http://localhost:8083": "localhost:8083",
		"HTTP://0.0.0.0:8083/":  "0.0.0.0:8083",
		"http://[::1]:8083":     "[::1]:8083",
		"127.0.0.1:0":           "127.0.0.1:0",
		" :8083 ":               ":8083",
		"https://:8443":         ":8443",
	} {
		got, err := ListenAddr(in)
		if err != nil || got != want {
			t.Errorf("ListenAddr(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"ftp://:21", "http://host", "host", "http://:8083/api", ":99999"} {
		if got, err := ListenAddr(bad); err == nil {
			t.Errorf("ListenAddr(%q) = %q, want an error", bad, got)
		}
	}
}

func TestServeAndShutdown(t *testing.T) {
	_, s := newTestServer()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	resp, err := http.Get("http://" + ln.Addr().String() + "/connectors")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "[]" {
		t.Fatalf("got %d %s", resp.StatusCode, body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("Serve after Shutdown: %v", err)
	}
}

// syncBuffer is a bytes.Buffer safe for the concurrent writes of a logger.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
