package broker_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/penstockhq/penstock/internal/brokertest"
	"github.com/penstockhq/penstock/internal/clientconfig"
	"github.com/penstockhq/penstock/internal/testcerts"
)

const plainJAAS = `org.apache.kafka.common.security.plain.PlainLoginModule required ` +
	`username="admin" password="admin-secret" user_admin="admin-secret" user_alice="alice-secret";`

// secureClient builds a franz-go client from Kafka client keys, as a
// worker does.
func secureClient(t *testing.T, addr string, props map[string]string, opts ...kgo.Opt) *kgo.Client {
	t.Helper()
	sec, err := clientconfig.Opts(clientconfig.Layers(props, ""))
	if err != nil {
		t.Fatal(err)
	}
	cl, err := kgo.NewClient(append(append([]kgo.Opt{kgo.SeedBrokers(addr), kgo.RetryTimeout(5 * time.Second),
		kgo.RequestRetries(2), kgo.AllowAutoTopicCreation()}, sec...), opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(cl.Close)
	return cl
}

func jaasFor(module, user, pass string) string {
	return fmt.Sprintf(`org.apache.kafka.common.security.%s required username="%s" password="%s";`, module, user, pass)
}

// roundTrip produces n records to topic and consumes them back.
func roundTrip(t *testing.T, cl *kgo.Client, topic string, n int) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for i := range n {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: topic, Value: fmt.Appendf(nil, "v%d", i)}).FirstErr(); err != nil {
			return err
		}
	}
	cl.AddConsumeTopics(topic)
	got := 0
	for got < n {
		fs := cl.PollFetches(ctx)
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("consumed %d of %d: %w", got, n, err)
		}
		var ferr error
		fs.EachError(func(_ string, _ int32, err error) { ferr = err })
		if ferr != nil {
			return ferr
		}
		got += fs.NumRecords()
	}
	return nil
}

func tlsBroker(t *testing.T, extra map[string]string) (*brokertest.Broker, *testcerts.CA) {
	t.Helper()
	ca := testcerts.NewCA(t, "penstock-test-ca")
	srv := ca.Server(t, "broker")
	props := map[string]string{
		"ssl.keystore.type":       "PEM",
		"ssl.keystore.location":   srv.File,
		"ssl.truststore.type":     "PEM",
		"ssl.truststore.location": ca.CertFile,
	}
	for k, v := range extra {
		props[k] = v
	}
	return brokertest.Start(t, brokertest.WithProps(props)), ca
}

func TestSSLListener(t *testing.T) {
	b, ca := tlsBroker(t, map[string]string{"listeners": "SSL://127.0.0.1:0"})
	cl := secureClient(t, b.Addr, map[string]string{"security.protocol": "SSL", "ssl.truststore.location": ca.CertFile})
	if err := roundTrip(t, cl, "ssl-topic", 20); err != nil {
		t.Fatal(err)
	}
	// A client that trusts another CA is refused.
	other := testcerts.NewCA(t, "other-ca")
	bad := secureClient(t, b.Addr, map[string]string{"security.protocol": "SSL", "ssl.truststore.location": other.CertFile})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := bad.Ping(ctx); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("untrusted broker certificate: got %v, want a certificate error", err)
	}
}

func TestMutualTLS(t *testing.T) {
	b, ca := tlsBroker(t, map[string]string{"listeners": "SSL://127.0.0.1:0", "ssl.client.auth": "required"})
	cli := ca.Client(t, "alice")
	cl := secureClient(t, b.Addr, map[string]string{"security.protocol": "SSL", "ssl.truststore.location": ca.CertFile,
		"ssl.keystore.type": "PEM", "ssl.keystore.certificate.chain": cli.CertPEM, "ssl.keystore.key": cli.KeyPEM})
	if err := roundTrip(t, cl, "mtls-topic", 5); err != nil {
		t.Fatal(err)
	}
	// Without a client certificate the handshake fails.
	nocert := secureClient(t, b.Addr, map[string]string{"security.protocol": "SSL", "ssl.truststore.location": ca.CertFile})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := nocert.Ping(ctx); err == nil {
		t.Fatal("client without certificate accepted by ssl.client.auth=required")
	}
	// A certificate from another CA is refused too.
	other := testcerts.NewCA(t, "other-ca").Client(t, "mallory")
	wrong := secureClient(t, b.Addr, map[string]string{"security.protocol": "SSL", "ssl.truststore.location": ca.CertFile,
		"ssl.keystore.location": other.File})
	if err := wrong.Ping(ctx); err == nil {
		t.Fatal("client certificate of an untrusted CA accepted")
	}
}

func TestSASLPlainAndScram(t *testing.T) {
	b, ca := tlsBroker(t, map[string]string{
		"listeners":               "SASL_SSL://127.0.0.1:0",
		"sasl.enabled.mechanisms": "PLAIN,SCRAM-SHA-256,SCRAM-SHA-512",
		"listener.name.sasl_ssl.plain.sasl.jaas.config": plainJAAS,
	})
	base := map[string]string{"security.protocol": "SASL_SSL", "ssl.truststore.location": ca.CertFile}
	with := func(kv ...string) map[string]string {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
		}
		return m
	}
	admin := secureClient(t, b.Addr, with("sasl.mechanism", "PLAIN", "sasl.jaas.config", jaasFor("plain.PlainLoginModule", "admin", "admin-secret")))
	if err := roundTrip(t, admin, "sasl-plain", 10); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	wantAuthFailed := func(cl *kgo.Client, what string) {
		t.Helper()
		err := cl.Ping(ctx)
		if !errors.Is(err, kerr.SaslAuthenticationFailed) {
			t.Fatalf("%s: got %v, want SASL_AUTHENTICATION_FAILED", what, err)
		}
	}
	wantAuthFailed(secureClient(t, b.Addr, with("sasl.mechanism", "PLAIN", "sasl.jaas.config", jaasFor("plain.PlainLoginModule", "alice", "wrong"))), "PLAIN wrong password")

	// SCRAM users come from AlterUserScramCredentials, through kadm.
	adm := kadm.NewClient(admin)
	res, err := adm.AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{
		{User: "bob", Mechanism: kadm.ScramSha512, Iterations: 4096, Password: "bob-secret"},
		{User: "bob", Mechanism: kadm.ScramSha256, Iterations: 8192, Password: "bob-secret-256"},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res {
		if r.Err != nil {
			t.Fatalf("alter scram %s: %v", r.User, r.Err)
		}
	}
	desc, err := adm.DescribeUserSCRAMs(ctx, "bob")
	if err != nil {
		t.Fatal(err)
	}
	if d := desc["bob"]; d.Err != nil || len(d.CredInfos) != 2 {
		t.Fatalf("describe bob: %+v", d)
	}
	scram := secureClient(t, b.Addr, with("sasl.mechanism", "SCRAM-SHA-512", "sasl.jaas.config", jaasFor("scram.ScramLoginModule", "bob", "bob-secret")))
	if err := roundTrip(t, scram, "sasl-scram", 10); err != nil {
		t.Fatal(err)
	}
	scram256 := secureClient(t, b.Addr, with("sasl.mechanism", "SCRAM-SHA-256", "sasl.jaas.config", jaasFor("scram.ScramLoginModule", "bob", "bob-secret-256")))
	if err := scram256.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	wantAuthFailed(secureClient(t, b.Addr, with("sasl.mechanism", "SCRAM-SHA-512", "sasl.jaas.config", jaasFor("scram.ScramLoginModule", "bob", "nope"))), "SCRAM wrong password")

	// Credentials survive a restart.
	b.Stop()
	b2 := brokertest.Start(t, brokertest.WithDir(b.Dir), brokertest.WithProps(map[string]string{
		"listeners": "SASL_PLAINTEXT://127.0.0.1:0", "sasl.enabled.mechanisms": "SCRAM-SHA-512"}))
	again := secureClient(t, b2.Addr, map[string]string{"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "SCRAM-SHA-512",
		"sasl.jaas.config": jaasFor("scram.ScramLoginModule", "bob", "bob-secret")})
	if err := again.Ping(ctx); err != nil {
		t.Fatalf("SCRAM after restart: %v", err)
	}
}

// TestSASLRequiredBeforeRequests: a client skipping authentication on a
// SASL listener is disconnected.
func TestSASLRequiredBeforeRequests(t *testing.T) {
	b := brokertest.Start(t, brokertest.WithProps(map[string]string{"listeners": "SASL_PLAINTEXT://127.0.0.1:0",
		"sasl.jaas.config": plainJAAS}))
	cl := secureClient(t, b.Addr, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := kadm.NewClient(cl).ListTopics(ctx); err == nil {
		t.Fatal("unauthenticated Metadata answered on a SASL listener")
	}
}

// TestReauthentication: with connections.max.reauth.ms the broker tells
// clients the session lifetime and franz-go re-authenticates in time.
func TestReauthentication(t *testing.T) {
	b := brokertest.Start(t, brokertest.WithProps(map[string]string{"listeners": "SASL_PLAINTEXT://127.0.0.1:0",
		"sasl.jaas.config": plainJAAS, "connections.max.reauth.ms": "1500"}))
	cl := secureClient(t, b.Addr, map[string]string{"security.protocol": "SASL_PLAINTEXT", "sasl.mechanism": "PLAIN",
		"sasl.jaas.config": jaasFor("plain.PlainLoginModule", "alice", "alice-secret")})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for i := range 4 {
		if err := cl.ProduceSync(ctx, &kgo.Record{Topic: "reauth", Value: []byte("x")}).FirstErr(); err != nil {
			t.Fatalf("produce %d: %v", i, err)
		}
		time.Sleep(time.Second)
	}
}

// TestCertificateReload: a renewed keystore file is served without a
// restart.
func TestCertificateReload(t *testing.T) {
	b, ca := tlsBroker(t, map[string]string{"listeners": "SSL://127.0.0.1:0"})
	// Replace the keystore with one from a new CA; clients trusting only
	// the new CA connect after the reload.
	ca2 := testcerts.NewCA(t, "renewed-ca")
	renewed := ca2.Server(t, "broker")
	data, err := os.ReadFile(renewed.File)
	if err != nil {
		t.Fatal(err)
	}
	ks := b.Server.Config().Props["ssl.keystore.location"]
	if err := os.WriteFile(ks+".new", data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(ks+".new", ks); err != nil {
		t.Fatal(err)
	}
	_ = ca
	deadline := time.Now().Add(10 * time.Second)
	for {
		cl := secureClient(t, b.Addr, map[string]string{"security.protocol": "SSL", "ssl.truststore.location": ca2.CertFile})
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		err := cl.Ping(ctx)
		cancel()
		cl.Close()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("renewed certificate not served: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// TestKcatSecure: librdkafka produces and consumes over SSL with a client
// certificate, SASL_SSL PLAIN and SASL_SSL SCRAM-SHA-512, and is refused
// with a wrong password.
func TestKcatSecure(t *testing.T) {
	kcat := kcatPath(t)
	b, ca := tlsBroker(t, map[string]string{
		"listeners":               "SASL_SSL://127.0.0.1:0,SSL://127.0.0.1:0",
		"sasl.enabled.mechanisms": "PLAIN,SCRAM-SHA-512",
		"listener.name.sasl_ssl.plain.sasl.jaas.config": plainJAAS,
		"listener.name.ssl.ssl.client.auth":             "required",
	})
	sslLn := startExtraListener(t, b, "SSL")
	adm := kadm.NewClient(secureClient(t, b.Addr, map[string]string{"security.protocol": "SASL_SSL", "ssl.truststore.location": ca.CertFile,
		"sasl.mechanism": "PLAIN", "sasl.jaas.config": jaasFor("plain.PlainLoginModule", "admin", "admin-secret")}))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := adm.AlterUserSCRAMs(ctx, nil, []kadm.UpsertSCRAM{{User: "carol", Mechanism: kadm.ScramSha512, Password: "carol-secret"}}); err != nil {
		t.Fatal(err)
	}
	cli := ca.Client(t, "kcat")
	cases := []struct {
		name string
		addr string
		x    []string
	}{
		{"mtls", sslLn, []string{"security.protocol=SSL", "ssl.certificate.location=" + cli.CertFile, "ssl.key.location=" + cli.KeyFile}},
		{"plain", b.Addr, []string{"security.protocol=SASL_SSL", "sasl.mechanisms=PLAIN", "sasl.username=alice", "sasl.password=alice-secret"}},
		{"scram", b.Addr, []string{"security.protocol=SASL_SSL", "sasl.mechanisms=SCRAM-SHA-512", "sasl.username=carol", "sasl.password=carol-secret"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := []string{"-b", c.addr, "-X", "ssl.ca.location=" + ca.CertFile}
			for _, x := range c.x {
				args = append(args, "-X", x)
			}
			topic := "kcat-sec-" + c.name
			runKcat(t, kcat, "a\nb\nc\n", append(append([]string{"-P", "-t", topic}, args...), "-X", "acks=all")...)
			out := runKcat(t, kcat, "", append([]string{"-C", "-t", topic, "-e", "-o", "beginning"}, args...)...)
			if out != "a\nb\nc\n" {
				t.Fatalf("consumed %q", out)
			}
		})
	}
	t.Run("wrong-password", func(t *testing.T) {
		cctx, ccancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer ccancel()
		cmd := exec.CommandContext(cctx, kcat, "-L", "-b", b.Addr, "-X", "ssl.ca.location="+ca.CertFile, "-X", "security.protocol=SASL_SSL",
			"-X", "sasl.mechanisms=SCRAM-SHA-512", "-X", "sasl.username=carol", "-X", "sasl.password=wrong", "-m", "5")
		out, err := cmd.CombinedOutput()
		if err == nil || !strings.Contains(string(out), "SASL authentication error") {
			t.Fatalf("wrong password: err=%v output:\n%s", err, out)
		}
	})
}

// startExtraListener serves the broker's named listener on a new loopback
// port and returns its address.
func startExtraListener(t *testing.T, b *brokertest.Broker, name string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go b.Server.ServeListener(name, ln)
	return ln.Addr().String()
}

// TestListenersAdvertised: metadata answers with the listener the client
// connected to.
func TestListenersAdvertised(t *testing.T) {
	b, ca := tlsBroker(t, map[string]string{
		"listeners":                      "INTERNAL://127.0.0.1:0,EXTERNAL://127.0.0.1:0",
		"listener.security.protocol.map": "INTERNAL:PLAINTEXT,EXTERNAL:SSL",
		"advertised.listeners":           "INTERNAL://127.0.0.1:0,EXTERNAL://localhost:0",
	})
	ext := startExtraListener(t, b, "EXTERNAL")
	_ = ca
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, c := range []struct {
		addr, wantHost string
		props          map[string]string
	}{
		{b.Addr, "127.0.0.1", nil},
		{ext, "localhost", map[string]string{"security.protocol": "SSL", "ssl.truststore.location": ca.CertFile}},
	} {
		cl := secureClient(t, c.addr, c.props)
		m, err := kadm.NewClient(cl).BrokerMetadata(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(m.Brokers) != 1 || m.Brokers[0].Host != c.wantHost {
			t.Fatalf("metadata via %s: brokers %+v, want host %s", c.addr, m.Brokers, c.wantHost)
		}
	}
}

// TestSessionExpiry: a client that does not re-authenticate within
// connections.max.reauth.ms is disconnected at its next request; the
// lifetime is announced in SaslAuthenticate.
func TestSessionExpiry(t *testing.T) {
	b := brokertest.Start(t, brokertest.WithProps(map[string]string{"listeners": "SASL_PLAINTEXT://127.0.0.1:0",
		"sasl.jaas.config": plainJAAS, "connections.max.reauth.ms": "300"}))
	nc, err := net.Dial("tcp", b.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	roundTrip := func(req kmsg.Request, resp kmsg.Response) error {
		t.Helper()
		body := req.AppendTo(nil)
		hdr := binary.BigEndian.AppendUint16(nil, uint16(req.Key()))
		hdr = binary.BigEndian.AppendUint16(hdr, uint16(req.GetVersion()))
		hdr = binary.BigEndian.AppendUint32(hdr, 1)
		hdr = binary.BigEndian.AppendUint16(hdr, 0xffff) // null client id
		if req.IsFlexible() {
			hdr = append(hdr, 0)
		}
		frame := binary.BigEndian.AppendUint32(nil, uint32(len(hdr)+len(body)))
		if _, err := nc.Write(append(append(frame, hdr...), body...)); err != nil {
			return err
		}
		var size [4]byte
		if _, err := io.ReadFull(nc, size[:]); err != nil {
			return err
		}
		buf := make([]byte, binary.BigEndian.Uint32(size[:]))
		if _, err := io.ReadFull(nc, buf); err != nil {
			return err
		}
		resp.SetVersion(req.GetVersion())
		skip := 4
		if resp.IsFlexible() {
			skip = 5
		}
		return resp.ReadFrom(buf[skip:])
	}
	hs := kmsg.NewPtrSASLHandshakeRequest()
	hs.Version, hs.Mechanism = 1, "PLAIN"
	if err := roundTrip(hs, kmsg.NewPtrSASLHandshakeResponse()); err != nil {
		t.Fatal(err)
	}
	auth := kmsg.NewPtrSASLAuthenticateRequest()
	auth.Version, auth.SASLAuthBytes = 1, []byte("\x00alice\x00alice-secret")
	aresp := kmsg.NewPtrSASLAuthenticateResponse()
	if err := roundTrip(auth, aresp); err != nil || aresp.ErrorCode != 0 || aresp.SessionLifetimeMillis != 300 {
		t.Fatalf("authenticate: %v code %d lifetime %d", err, aresp.ErrorCode, aresp.SessionLifetimeMillis)
	}
	md := kmsg.NewPtrMetadataRequest()
	md.Version = 1
	if err := roundTrip(md, kmsg.NewPtrMetadataResponse()); err != nil {
		t.Fatalf("metadata within the session: %v", err)
	}
	time.Sleep(400 * time.Millisecond)
	if err := roundTrip(md, kmsg.NewPtrMetadataResponse()); err == nil {
		t.Fatal("metadata after the session expired was answered")
	}
}

// TestSSLLargeFetches reads back over TLS records written in many batches,
// in fetches of several MiB (larger than the staging buffer and the corked
// writes of a TLS fetch response, so both are flushed mid-response), and
// compares every value with what was written.
func TestSSLLargeFetches(t *testing.T) {
	b, ca := tlsBroker(t, map[string]string{"listeners": "SSL://127.0.0.1:0"})
	props := map[string]string{"security.protocol": "SSL", "ssl.truststore.location": ca.CertFile}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	p := secureClient(t, b.Addr, props, kgo.DefaultProduceTopic("ssl-large"), kgo.AllowAutoTopicCreation(),
		kgo.ProducerBatchMaxBytes(64<<10))
	const n = 3000
	value := func(i int) []byte {
		v := make([]byte, 1000+i%700)
		for j := range v {
			v[j] = byte(i*31 + j)
		}
		return v
	}
	for i := range n {
		p.Produce(ctx, &kgo.Record{Value: value(i)}, func(_ *kgo.Record, err error) {
			if err != nil {
				t.Error(err)
			}
		})
	}
	if err := p.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	c := secureClient(t, b.Addr, props, kgo.ConsumeTopics("ssl-large"), kgo.ConsumeResetOffset(kgo.NewOffset().AtStart()),
		kgo.FetchMaxPartitionBytes(4<<20))
	for got := 0; got < n; {
		fs := c.PollFetches(ctx)
		if err := fs.Err0(); err != nil {
			t.Fatalf("after %d records: %v", got, err)
		}
		for _, r := range fs.Records() {
			if !bytes.Equal(r.Value, value(int(r.Offset))) {
				t.Fatalf("record %d differs", r.Offset)
			}
			got++
		}
	}
}
