package itest

import (
	"bytes"
	"context"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/skiffmq/skiff/client"
	"github.com/skiffmq/skiff/client/consumer"
	"github.com/skiffmq/skiff/client/producer"
	"github.com/skiffmq/skiff/internal/auth"
	"github.com/skiffmq/skiff/internal/remoting"
	"github.com/skiffmq/skiff/internal/remoting/rpc"
	"github.com/skiffmq/skiff/internal/testutil"
)

const secSecret = "security-itest-cluster-secret"

func quoted(s string) string { return strconv.Quote(s) }

// readUntilClosed reads what the peer sends until it closes the connection.
func readUntilClosed(t *testing.T, c net.Conn) []byte {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	got, err := io.ReadAll(c)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("the HA port kept an unauthenticated connection open (read %d bytes)", len(got))
	}
	return got
}

func report(off int64) []byte {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(off))
	return b[:]
}

// TestSecurityHAPortNeedsTheClusterSecret: the attack of issue 13 (eight zero bytes on the HA
// port of a real broker) and its variants — a wrong secret and a replayed handshake — receive no
// byte of the log; the broker logs each refusal.
func TestSecurityHAPortNeedsTheClusterSecret(t *testing.T) {
	needProcesses(t)
	t.Parallel()
	haPort := testutil.FreePort(t)
	c := testutil.StartCluster(t, testutil.ClusterOptions{Bins: bins,
		Namesrv: testutil.NamesrvOptions{Extra: map[string]string{"clusterSecret": quoted(secSecret)}},
		Broker: testutil.BrokerOptions{HaPort: haPort, Extra: map[string]string{"clusterSecret": quoted(secSecret),
			"haHousekeepingInterval": "2000"}}})
	cli := rpc.New(rpc.Config{})
	defer cli.Close()
	marker := "secret-payload"
	sendN(t, cli, c.Broker.Addr, "HASecret", 20, 256, marker)
	haAddr := testutil.Addr(haPort)
	dial := func() net.Conn {
		conn, err := net.Dial("tcp", haAddr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close() })
		return conn
	}

	// 1. No secret: an offset report of zero, as in the issue.
	conn := dial()
	_, _ = conn.Write(report(0))
	if got := readUntilClosed(t, conn); len(got) != auth.HAHelloSize || bytes.Contains(got, []byte(marker)) {
		t.Fatalf("a peer without the secret read %d bytes, want only the %d-byte hello", len(got), auth.HAHelloSize)
	}
	// 2. A wrong secret.
	conn = dial()
	hello := make([]byte, auth.HAHelloSize)
	if _, err := io.ReadFull(conn, hello); err != nil {
		t.Fatal(err)
	}
	bad, _, err := auth.HARespond([]byte("a-wrong-cluster-secret-0123"), hello)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = conn.Write(append(bad[:], report(0)...))
	if got := readUntilClosed(t, conn); len(got) != 0 {
		t.Fatalf("a peer with a wrong secret read %d bytes after the hello", len(got))
	}
	// 3. Record a good handshake (it is served), then replay it.
	conn = dial()
	if _, err := io.ReadFull(conn, hello); err != nil {
		t.Fatal(err)
	}
	good, want, err := auth.HARespond([]byte(secSecret), hello)
	if err != nil {
		t.Fatal(err)
	}
	recorded := append(good[:], report(0)...)
	_, _ = conn.Write(recorded)
	proof := make([]byte, auth.HAProofSize)
	if _, err := io.ReadFull(conn, proof); err != nil || auth.HACheckProof(want, proof) != nil {
		t.Fatalf("the legitimate handshake failed: %v", err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	first := make([]byte, 12+len(marker)+20)
	if _, err := io.ReadFull(conn, first); err != nil {
		t.Fatalf("the authenticated peer got no log: %v", err)
	}
	conn.Close()
	replay := dial()
	_, _ = replay.Write(recorded)
	if got := readUntilClosed(t, replay); len(got) != auth.HAHelloSize || bytes.Contains(got, []byte(marker)) {
		t.Fatalf("a replayed handshake read %d bytes, want only the hello", len(got))
	}
	testutil.WaitFor(t, 10*time.Second, func() bool {
		return strings.Count(c.Broker.Log(), "HA peer refused") >= 3
	}, "three HA refusals in the broker log")
	if strings.Contains(c.Broker.Log(), secSecret) {
		t.Fatal("the cluster secret appears in the broker log")
	}
}

// TestSecurityBrokerWithWrongSecretCannotRegister: a name server with a cluster secret refuses
// brokers without it or with another one, and lists the broker that has it.
func TestSecurityBrokerWithWrongSecretCannotRegister(t *testing.T) {
	needProcesses(t)
	t.Parallel()
	ns := testutil.StartNamesrv(t, bins.Namesrv, testutil.NamesrvOptions{Extra: map[string]string{"clusterSecret": quoted(secSecret)}})
	wrong := testutil.StartBroker(t, bins.Broker, testutil.BrokerOptions{NamesrvAddr: ns.Addr, BrokerName: "wrong",
		NoWaitRegistration: true, Extra: map[string]string{"clusterSecret": quoted("another-cluster-secret-987")}})
	none := testutil.StartBroker(t, bins.Broker, testutil.BrokerOptions{NamesrvAddr: ns.Addr, BrokerName: "none", NoWaitRegistration: true})
	testutil.WaitFor(t, 20*time.Second, func() bool {
		log := ns.Log()
		return strings.Count(log, "code=103 reason=node_auth") >= 2 && strings.Contains(wrong.Log(), "register broker refused") &&
			strings.Contains(none.Log(), "register broker refused")
	}, "the name server to refuse both registrations")
	right := testutil.StartBroker(t, bins.Broker, testutil.BrokerOptions{NamesrvAddr: ns.Addr, BrokerName: "right",
		Extra: map[string]string{"clusterSecret": quoted(secSecret)}}) // waits until it is listed
	if testutil.ListsBroker(ns.Addr, wrong.Addr) || testutil.ListsBroker(ns.Addr, none.Addr) {
		t.Fatal("a broker without the cluster secret is listed")
	}
	if !testutil.ListsBroker(ns.Addr, right.Addr) {
		t.Fatal("the broker with the secret is not listed")
	}
}

// TestSecuritySDKAndMqadminWithACL: Skiff's own SDK and mqadmin carry credentials.
func TestSecuritySDKAndMqadminWithACL(t *testing.T) {
	needProcesses(t)
	t.Parallel()
	dir := t.TempDir()
	aclPath := filepath.Join(dir, "plain_acl.yml")
	if err := os.WriteFile(aclPath, []byte(`accounts:
  - accessKey: sdkAppKey
    secretKey: sdkAppSecret
    defaultTopicPerm: DENY
    defaultGroupPerm: DENY
    topicPerms: [SdkAcl=PUB|SUB]
    groupPerms: [sdk-acl-group=SUB]
  - accessKey: sdkAdminKey
    secretKey: sdkAdminSecret
    admin: true
`), 0o600); err != nil {
		t.Fatal(err)
	}
	c := sdkCluster(t, map[string]string{"aclEnable": "true", "aclFile": quoted(aclPath), "autoCreateTopicEnable": "false"})
	ns := c.NameServers[0].Addr
	if code, _, errOut := runAdmin(t, nil, "updateTopic", "-n", ns, "-b", c.Broker.Addr, "-t", "SdkAcl", "-r", "2", "-w", "2"); code == 0 ||
		!strings.Contains(errOut, "no permission") {
		t.Fatalf("mqadmin without credentials: exit %d, %s", code, errOut)
	}
	if code, _, errOut := runAdmin(t, nil, "updateTopic", "-n", ns, "-b", c.Broker.Addr, "-t", "SdkAcl", "-r", "2", "-w", "2",
		"--accessKey", "sdkAppKey", "--secretKey", "sdkAppSecret"); code == 0 || !strings.Contains(errOut, "admin") {
		t.Fatalf("mqadmin with a non-admin account: exit %d, %s", code, errOut)
	}
	mustAdmin(t, "updateTopic", "-n", ns, "-b", c.Broker.Addr, "-t", "SdkAcl", "-r", "2", "-w", "2",
		"--accessKey", "sdkAdminKey", "--secretKey", "sdkAdminSecret")
	toolsConf := filepath.Join(dir, "tools.toml")
	if err := os.WriteFile(toolsConf, []byte("accessKey = \"sdkAdminKey\"\nsecretKey = \"sdkAdminSecret\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "topic SdkAcl routed", func() bool {
		code, out, _ := runAdmin(t, nil, "topicRoute", "-n", ns, "-t", "SdkAcl", "--toolsConfig", toolsConf)
		return code == 0 && strings.Contains(out, c.Broker.Addr)
	})

	creds := client.Credentials{AccessKey: "sdkAppKey", SecretKey: "sdkAppSecret"}
	p := startProducer(t, c, producer.WithCredentials(creds))
	ctx := context.Background()
	for i := range 5 {
		if _, err := p.Send(ctx, &client.Message{Topic: "SdkAcl", Body: body("sdk-acl", i)}); err != nil {
			t.Fatalf("send with credentials: %v", err)
		}
	}
	unsigned := startProducer(t, c, producer.WithRetries(0))
	if _, err := unsigned.Send(ctx, &client.Message{Topic: "SdkAcl", Body: []byte("x")}); err == nil {
		t.Fatal("an unsigned send was stored")
	}
	got := newCollector()
	startPush(t, "sdk-acl-group", "SdkAcl", "*", got.handler("c1"), append(fastConsumer(c), consumer.WithCredentials(creds))...)
	waitFor(t, 30*time.Second, "the SDK consumer with credentials to receive every message", func() bool { return got.distinct() == 5 })
}

// TestSecurityTLS: a broker in enforcing mode serves the SDK over TLS and refuses plain
// connections; its registration with a permissive name server travels over TLS; a permissive
// broker serves both.
func TestSecurityTLS(t *testing.T) {
	needProcesses(t)
	t.Parallel()
	dir := t.TempDir()
	certPath, keyPath, clientTLS := testutil.SelfSignedCert(t, dir)
	tlsKeys := func(mode string) map[string]string {
		return map[string]string{"tlsServerMode": quoted(mode), "tlsServerCertPath": quoted(certPath), "tlsServerKeyPath": quoted(keyPath)}
	}
	ns := testutil.StartNamesrv(t, bins.Namesrv, testutil.NamesrvOptions{Extra: tlsKeys("permissive")})
	bx := tlsKeys("enforcing")
	bx["tlsEnable"], bx["tlsTrustCertPath"] = "true", quoted(certPath)
	enforcing := testutil.StartBroker(t, bins.Broker, testutil.BrokerOptions{NamesrvAddr: ns.Addr, BrokerName: "tls-enforcing", Extra: bx})
	if !strings.Contains(ns.Log(), "broker registered") {
		t.Fatal("the enforcing broker did not register over TLS")
	}

	// Plain connections are refused in enforcing mode.
	if resp, err := testutil.Call(enforcing.Addr, remoting.NewRequest(remoting.GetBrokerRuntimeInfo, nil, nil), 5*time.Second); err == nil {
		t.Fatalf("a plain request to an enforcing broker was answered: %v", resp)
	}
	// The SDK over TLS sends and consumes.
	c := &testutil.Cluster{NameServers: []*testutil.Namesrv{ns}, Broker: enforcing, NamesrvAddr: ns.Addr}
	p := startProducer(t, c, producer.WithTLS(clientTLS))
	ctx := context.Background()
	for i := range 3 {
		if _, err := p.Send(ctx, &client.Message{Topic: "TlsTopic", Body: body("tls", i)}); err != nil {
			t.Fatalf("send over TLS: %v", err)
		}
	}
	got := newCollector()
	startPush(t, "tls-group", "TlsTopic", "*", got.handler("c1"), append(fastConsumer(c), consumer.WithTLS(clientTLS))...)
	waitFor(t, 30*time.Second, "the TLS consumer to receive every message", func() bool { return got.distinct() == 3 })

	// Permissive: plain requests and TLS requests on the same port.
	permissive := testutil.StartBroker(t, bins.Broker, testutil.BrokerOptions{NamesrvAddr: ns.Addr, BrokerName: "tls-permissive", Extra: tlsKeys("permissive")})
	if resp, err := testutil.Call(permissive.Addr, remoting.NewRequest(remoting.GetBrokerRuntimeInfo, nil, nil), 5*time.Second); err != nil || resp.Code != remoting.Success {
		t.Fatalf("a plain request to a permissive broker: %v %v", resp, err)
	}
	tc := rpc.New(rpc.Config{TLS: clientTLS})
	defer tc.Close()
	tctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if resp, err := tc.Invoke(tctx, permissive.Addr, remoting.NewRequest(remoting.GetBrokerRuntimeInfo, nil, nil)); err != nil || resp.Code != remoting.Success {
		t.Fatalf("a TLS request to a permissive broker: %v %v", resp, err)
	}
}

// TestSecurityDashboardActionsNeedAnAdminAccount: with aclEnable the broker dashboard's pages and
// actions need an admin account of plain_acl.yml as HTTP Basic credentials; the pages read with
// the broker's inner credentials, actions run as the admin account.
func TestSecurityDashboardActionsNeedAnAdminAccount(t *testing.T) {
	needProcesses(t)
	t.Parallel()
	dir := t.TempDir()
	aclPath := filepath.Join(dir, "plain_acl.yml")
	if err := os.WriteFile(aclPath, []byte("accounts:\n  - {accessKey: dashApp, secretKey: dashAppSecret, defaultTopicPerm: PUB}\n"+
		"  - {accessKey: dashAdmin, secretKey: dashAdminSecret, admin: true}\n  - {accessKey: brokerInner, secretKey: brokerInnerSecret, admin: true}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	httpPort := testutil.FreePort(t)
	c := testutil.StartCluster(t, testutil.ClusterOptions{Bins: bins, Broker: testutil.BrokerOptions{AutoCreateTopicDisabled: true,
		Extra: map[string]string{"aclEnable": "true", "aclFile": quoted(aclPath), "httpPort": strconv.Itoa(httpPort),
			"innerAccessKey": quoted("brokerInner"), "innerSecretKey": quoted("brokerInnerSecret")}}})
	const tok = "0123456789abcdef0123456789abcdef"
	post := func(user, pass string) int {
		req, err := http.NewRequest("POST", "http://127.0.0.1:"+strconv.Itoa(httpPort)+"/dashboard/action/topic-update",
			strings.NewReader(url.Values{"topic": {"DashAcl"}, "csrf": {tok}}.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Accept", "application/json")
		req.AddCookie(&http.Cookie{Name: "skiff_csrf", Value: tok})
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode
	}
	get := func(path, user, pass string) int {
		req, err := http.NewRequest("GET", "http://127.0.0.1:"+strconv.Itoa(httpPort)+path, nil)
		if err != nil {
			t.Fatal(err)
		}
		if user != "" {
			req.SetBasicAuth(user, pass)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, resp.Body)
		return resp.StatusCode
	}
	waitFor(t, 20*time.Second, "the dashboard to answer the admin account", func() bool {
		return get("/dashboard/", "dashAdmin", "dashAdminSecret") == 200
	})
	// Viewing needs the admin account too: message bodies and offsets are not for every client.
	for _, path := range []string{"/dashboard/topics", "/api/dashboard/topics", "/dashboard/messages"} {
		for _, c := range []struct{ user, pass string }{{"", ""}, {"dashApp", "dashAppSecret"}, {"dashAdmin", "wrong"}} {
			if code := get(path, c.user, c.pass); code != http.StatusUnauthorized {
				t.Fatalf("GET %s as %q = %d, want 401", path, c.user, code)
			}
		}
		if code := get(path, "dashAdmin", "dashAdminSecret"); code != 200 {
			t.Fatalf("GET %s as the admin account = %d", path, code)
		}
	}
	if code := get("/dashboard/static/style.css", "", ""); code != 200 {
		t.Fatalf("the stylesheet needs a login: %d", code)
	}
	for _, c := range []struct{ user, pass string }{{"", ""}, {"dashApp", "dashAppSecret"}, {"dashAdmin", "wrong"}} {
		if code := post(c.user, c.pass); code != http.StatusUnauthorized {
			t.Fatalf("dashboard action as %q = %d, want 401", c.user, code)
		}
	}
	if code := post("dashAdmin", "dashAdminSecret"); code != http.StatusOK {
		t.Fatalf("dashboard action as the admin account = %d, want 200", code)
	}
	waitFor(t, 20*time.Second, "the topic created by the dashboard to be routed", func() bool {
		code, _, err := testutil.RouteBody(c.NameServers[0].Addr, "DashAcl", 2*time.Second)
		return err == nil && code == remoting.Success
	})
	if strings.Contains(c.Broker.Log(), "dashAdminSecret") {
		t.Fatal("a secret appears in the broker log")
	}
}
