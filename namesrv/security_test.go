package namesrv

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/skiffmq/skiff/internal/protocol"
	"github.com/skiffmq/skiff/internal/remoting"
	"github.com/skiffmq/skiff/internal/remoting/rpc"
	"github.com/skiffmq/skiff/internal/security"
)

// TestNamesrvSecurityACLAndClusterSecret: with aclEnable a route query needs a signature and a
// topic deletion needs an admin account; with a cluster secret only a broker that signs with it
// registers, and a replayed registration is refused.
func TestNamesrvSecurityACLAndClusterSecret(t *testing.T) {
	aclPath := filepath.Join(t.TempDir(), "plain_acl.yml")
	if err := os.WriteFile(aclPath, []byte("accounts:\n  - {accessKey: appKey, secretKey: appSecret}\n  - {accessKey: adminKey, secretKey: adminSecret, admin: true}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	const secret = "namesrv-test-cluster-secret"
	s, clk := startTestServer(t, func(c *Config) { c.AclEnable, c.AclFile, c.ClusterSecret = true, aclPath, secret })
	call := func(cli *rpc.Client, r *remoting.Command) *remoting.Command {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		resp, err := cli.Invoke(ctx, s.Addr(), r)
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	plain := newClient(t)
	app := rpc.New(rpc.Config{Sign: (&security.Signer{AccessKey: "appKey", SecretKey: "appSecret"}).Sign})
	admin := rpc.New(rpc.Config{Sign: (&security.Signer{AccessKey: "adminKey", SecretKey: "adminSecret"}).Sign})
	defer app.Close()
	defer admin.Close()

	body := registerBody(1, "TopicSec")
	regReq := func() *remoting.Command { return cmd(registerReq("broker-s", "127.0.0.1:10911", 0, body)) }
	if r := call(admin, regReq()); r.Code != remoting.NoPermission {
		t.Fatalf("registration without the cluster secret (admin ACL account) = %d, want NO_PERMISSION", r.Code)
	}
	signed := regReq()
	(&security.Signer{Secret: []byte(secret), Now: clk.Now}).Sign(signed)
	if r := call(plain, signed); r.Code != remoting.Success {
		t.Fatalf("registration with the cluster secret = %d %q", r.Code, r.Remark)
	}
	replay := regReq()
	replay.ExtFields = signed.ExtFields
	if r := call(plain, replay); r.Code != remoting.NoPermission || !strings.Contains(r.Remark, "already used") {
		t.Fatalf("replayed registration = %d %q", r.Code, r.Remark)
	}

	route := func() *remoting.Command {
		return remoting.NewRequest(protocol.GetRouteInfoByTopic, map[string]string{"topic": "TopicSec"}, nil)
	}
	if r := call(plain, route()); r.Code != remoting.NoPermission {
		t.Fatalf("unsigned route query with ACL on = %d", r.Code)
	}
	if r := call(app, route()); r.Code != remoting.Success {
		t.Fatalf("signed route query = %d %q", r.Code, r.Remark)
	}
	del := func() *remoting.Command {
		return remoting.NewRequest(protocol.DeleteTopicInNamesrv, map[string]string{"topic": "TopicSec"}, nil)
	}
	if r := call(app, del()); r.Code != remoting.NoPermission || !strings.Contains(r.Remark, "accessKey=appKey") {
		t.Fatalf("non-admin topic deletion = %d %q", r.Code, r.Remark)
	}
	if r := call(app, route()); r.Code != remoting.Success {
		t.Fatal("the refused deletion removed the topic")
	}
	if r := call(admin, del()); r.Code != remoting.Success {
		t.Fatalf("admin topic deletion = %d %q", r.Code, r.Remark)
	}
	// A registration signed longer ago than the window is refused too.
	stale := regReq()
	(&security.Signer{Secret: []byte(secret), Now: func() time.Time { return clk.Now().Add(-3 * time.Minute) }}).Sign(stale)
	if r := call(plain, stale); r.Code != remoting.NoPermission || !strings.Contains(r.Remark, "window") {
		t.Fatalf("stale registration = %d %q", r.Code, r.Remark)
	}
}

// TestNamesrvSecurityWhiteAddressOfTheConnection: the name server's hook decides by the peer's
// address as its connection parsed it (Guard.Hook, AuthorizeFrom): from a global white address an
// unsigned route query passes; with a white list that does not hold 127.0.0.1 the same query is
// refused, naming no access key.
func TestNamesrvSecurityWhiteAddressOfTheConnection(t *testing.T) {
	for _, tc := range []struct {
		white string
		want  int32
	}{{"127.0.0.1", remoting.Success}, {"127.0.0.2", remoting.NoPermission}, {"127.0.*.*", remoting.Success}, {"10.0.0.0/8", remoting.NoPermission}} {
		aclPath := filepath.Join(t.TempDir(), "plain_acl.yml")
		if err := os.WriteFile(aclPath, []byte("globalWhiteRemoteAddresses: ['"+tc.white+"']\naccounts:\n  - {accessKey: appKey, secretKey: appSecret}\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		s, _ := startTestServer(t, func(c *Config) { c.AclEnable, c.AclFile = true, aclPath })
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		r, err := newClient(t).Invoke(ctx, s.Addr(), remoting.NewRequest(protocol.GetRouteInfoByTopic, map[string]string{"topic": "NoSuchTopic"}, nil))
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		// A white peer reaches the handler (which answers TOPIC_NOT_EXIST for an unknown topic).
		got := r.Code
		if got == protocol.TopicNotExist {
			got = remoting.Success
		}
		if got != tc.want || (tc.want == remoting.NoPermission && !strings.Contains(r.Remark, "accessKey=<none>")) {
			t.Fatalf("white list %s: unsigned route query from 127.0.0.1 = %d %q, want %d", tc.white, r.Code, r.Remark, tc.want)
		}
	}
}
