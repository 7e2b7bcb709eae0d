package rest

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"testing"

	"github.com/penstockhq/penstock/internal/httpauth"
	"github.com/penstockhq/penstock/internal/testcerts"
	"github.com/penstockhq/penstock/internal/tlsconfig"
	"github.com/penstockhq/penstock/worker/console"
)

// progressFake is the fake herder with one task's progress to report, as a
// worker running a CDC task does.
type progressFake struct{ *fakeHerder }

func (progressFake) LocalProgress(string) []TaskProgress {
	return []TaskProgress{{ID: 0, State: StateRunning, Snapshot: []TableProgress{{Table: "public.t", RowsRead: 5, Estimated: 10}}}}
}
func (progressFake) ConsumerLag(context.Context, string) ([]console.PartitionLag, error) {
	return nil, nil
}

// TestConsoleEndpointsAuthAndGathering: the console's endpoints need
// credentials like the rest of the API and a read-only user may call them;
// asked of a worker that does not run the task, the progress endpoint gets
// it from the worker that does, over HTTPS with the caller's credentials.
func TestConsoleEndpointsAuthAndGathering(t *testing.T) {
	ca := testcerts.NewCA(t, "rest-ca")
	pair := ca.Server(t, "worker")
	serverTLS, err := tlsconfig.Server(tlsconfig.Prefixed(map[string]string{"listeners.https.ssl.keystore.location": pair.File},
		"listeners.https.", true))
	if err != nil {
		t.Fatal(err)
	}
	creds, err := httpauth.Load(writeCreds(t, "admin: admin-secret\nviewer: view-secret,read-only\n"), "")
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM([]byte(ca.CertPEM))
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	serve := func(h Herder, fc *fakeCluster) string {
		s := New(h, WithCluster(fc), WithCredentials(creds), WithTLS(serverTLS), WithHTTPClient(client))
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go s.Serve(ln)
		t.Cleanup(func() { s.Shutdown(t.Context()) })
		return "https://" + ln.Addr().String()
	}
	cfg := map[string]string{"connector.class": "io.debezium.connector.postgresql.PostgresConnector"}
	owner := progressFake{newFakeHerder()}
	owner.add("pg", cfg)
	ownerURL := serve(owner, &fakeCluster{self: true, ownerSelf: true})
	other := newFakeHerder() // runs nothing itself
	other.add("pg", cfg)
	otherURL := serve(other, &fakeCluster{leader: ownerURL + "/", owner: ownerURL + "/"})

	get := func(path, user, pass string) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequest("GET", otherURL+path, nil)
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	for _, p := range []string{"/penstock/connectors/pg/progress", TopicsPath, GroupsPath, "/penstock/topics/x/records"} {
		if code, body := get(p, "", ""); code != http.StatusUnauthorized {
			t.Errorf("GET %s without credentials: %d %s", p, code, body)
		}
	}
	// The fakes reach no Kafka cluster: the topic endpoints say so, after
	// authenticating the read-only user.
	if code, body := get(TopicsPath, "viewer", "view-secret"); code != http.StatusNotFound {
		t.Errorf("GET topics as viewer: %d %s", code, body)
	}
	code, body := get("/penstock/connectors/pg/progress", "viewer", "view-secret")
	if code != http.StatusOK {
		t.Fatalf("progress as viewer: %d %s", code, body)
	}
	var p ConnectorProgress
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatal(err)
	}
	if len(p.Errors) > 0 || len(p.Tasks) != 1 || len(p.Tasks[0].Snapshot) != 1 || p.Tasks[0].Snapshot[0].Table != "public.t" {
		t.Fatalf("progress gathered from the task's worker: %s", body)
	}
	// A bad password reaches neither worker's data.
	if code, _ := get("/penstock/connectors/pg/progress", "viewer", "nope"); code != http.StatusUnauthorized {
		t.Errorf("bad password: %d", code)
	}
}
