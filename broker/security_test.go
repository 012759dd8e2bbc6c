package broker

import (
	"context"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/skiffmq/skiff/internal/auth"
	"github.com/skiffmq/skiff/internal/controlapi"
	"github.com/skiffmq/skiff/internal/remoting"
	"github.com/skiffmq/skiff/internal/testutil"
)

const testClusterSecret = "broker-test-cluster-secret"

// TestBrokerSecurityOffByDefault: without aclEnable and clusterSecret no hook is installed at all,
// and unsigned requests behave as before.
func TestBrokerSecurityOffByDefault(t *testing.T) {
	tb := startBroker(t, nil)
	if tb.b.authorizer() != nil || tb.b.sec.signer != nil {
		t.Fatal("a default broker installs an authorizer or a signer")
	}
	if r := tb.call(t, remoting.GetAllConsumerOffset, nil, nil, 3*time.Second); r.Code != remoting.Success {
		t.Fatalf("GET_ALL_CONSUMER_OFFSET without security = %d %q", r.Code, r.Remark)
	}
}

// TestBrokerSecurityMetadataSyncNeedsTheSecret: a slave with the cluster secret syncs offsets from
// its master; an unsigned request for them and a slave with another secret are refused.
func TestBrokerSecurityMetadataSyncNeedsTheSecret(t *testing.T) {
	master := startBroker(t, func(c *Config) { c.ClusterSecret = testClusterSecret })
	if r := master.call(t, remoting.UpdateConsumerOffset, map[string]string{"consumerGroup": "g", "topic": "Sync", "queueId": "0", "commitOffset": "7"}, nil, 3*time.Second); r.Code != remoting.Success {
		t.Fatalf("commit offset: %d %q", r.Code, r.Remark)
	}
	if r := master.call(t, remoting.GetAllConsumerOffset, nil, nil, 3*time.Second); r.Code != remoting.NoPermission || !strings.Contains(r.Remark, "cluster nodes only") {
		t.Fatalf("unsigned GET_ALL_CONSUMER_OFFSET = %d %q, want NO_PERMISSION", r.Code, r.Remark)
	}
	slave := startBroker(t, func(c *Config) { c.BrokerRole, c.BrokerID, c.ClusterSecret = RoleSlave, 1, testClusterSecret })
	slave.b.syncFromMaster(context.Background(), master.addr)
	if got := slave.b.offsets.Query("g", "Sync", 0); got != 7 {
		t.Fatalf("synced offset = %d, want 7", got)
	}
	other := startBroker(t, func(c *Config) {
		c.BrokerRole, c.BrokerID, c.ClusterSecret = RoleSlave, 2, "another-secret-of-16-bytes"
	})
	other.b.syncFromMaster(context.Background(), master.addr)
	if got := other.b.offsets.Query("g", "Sync", 0); got == 7 {
		t.Fatal("a slave with another secret synced the master's offsets")
	}
	// A signed request replayed verbatim is refused.
	req := remoting.NewRequest(remoting.GetAllConsumerOffset, map[string]string{}, nil)
	auth.SignNode([]byte(testClusterSecret), req.Code, req.ExtFields, nil, time.Now())
	first := master.call(t, req.Code, maps.Clone(req.ExtFields), nil, 3*time.Second)
	again := master.call(t, req.Code, maps.Clone(req.ExtFields), nil, 3*time.Second)
	if first.Code != remoting.Success || again.Code != remoting.NoPermission {
		t.Fatalf("signed request %d, its replay %d (want 0, 16)", first.Code, again.Code)
	}
}

// TestBrokerSecurityConfigRedactsSecrets: GET_BROKER_CONFIG never shows a secret.
func TestBrokerSecurityConfigRedactsSecrets(t *testing.T) {
	tb := startBroker(t, func(c *Config) {
		c.ClusterSecret = testClusterSecret
		c.InnerAccessKey, c.InnerSecretKey = "innerKey", "innerSecretValue"
	})
	r := tb.call(t, remoting.GetBrokerConfig, nil, nil, 3*time.Second)
	if r.Code != remoting.Success || strings.Contains(string(r.Body), testClusterSecret) || strings.Contains(string(r.Body), "innerSecretValue") ||
		!strings.Contains(string(r.Body), "clusterSecret=******") {
		t.Fatalf("GET_BROKER_CONFIG leaks a secret or lacks the redaction:\n%s", r.Body)
	}
}

func TestBrokerSecurityConfigErrors(t *testing.T) {
	dir := t.TempDir()
	short := filepath.Join(dir, "short.secret")
	if err := os.WriteFile(short, []byte("tooshort\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		mutate func(*Config)
		want   string
	}{
		{func(c *Config) { c.ClusterSecret = "short" }, "at least 16"},
		{func(c *Config) { c.ClusterSecretFile = short }, "at least 16"},
		{func(c *Config) { c.ClusterSecret, c.ClusterSecretFile = testClusterSecret, short }, "both set"},
		{func(c *Config) { c.TLSServerMode = "strict" }, "tlsServerMode"},
		{func(c *Config) { c.TLSServerMode = TLSEnforcing }, "tlsServerCertPath"},
		{func(c *Config) { c.InnerAccessKey = "k" }, "innerSecretKey"},
		{func(c *Config) { c.HaBindAddress = "1.2.3.4:5" }, "haBindAddress"},
	} {
		cfg := DefaultConfig()
		cfg.BrokerIP1 = "127.0.0.1"
		c.mutate(&cfg)
		err := cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Validate = %v, want an error naming %q", err, c.want)
		}
		if err != nil && (strings.Contains(err.Error(), testClusterSecret) || strings.Contains(err.Error(), "tooshort")) {
			t.Errorf("error leaks a secret: %v", err)
		}
	}
	cfg := DefaultConfig()
	cfg.BrokerIP1, cfg.AclEnable, cfg.AclFile = "127.0.0.1", true, filepath.Join(dir, "missing.yml")
	cfg.StorePathRootDir, cfg.HTTPPort = dir, -1
	if _, err := New(cfg, nil); err == nil || !strings.Contains(err.Error(), "missing.yml") {
		t.Fatalf("New with a missing ACL file = %v", err)
	}
}

// TestBrokerSecurityReplicatedMarkerNeedsANodeSignature: with a cluster secret, the marker a
// controller-mode master sets on the topic changes it forwards to its replicas is honoured only on
// a request signed with the secret. A client that sets it is refused with NO_PERMISSION before the
// handler runs (nothing is created on the slave); without the marker the slave refuses the change
// itself, as before; the master's signed forward is applied.
func TestBrokerSecurityReplicatedMarkerNeedsANodeSignature(t *testing.T) {
	fc := testutil.NewFakeServer(t)
	fc.HandleFunc(controlapi.BrokerHeartbeat, func(req *remoting.Command) *remoting.Command {
		return remoting.NewResponse(req, controlapi.NotLeader, "no leader")
	})
	slave := startBroker(t, func(c *Config) {
		c.EnableControllerMode, c.BrokerID, c.ControllerAddr, c.ClusterSecret = true, 2, fc.Addr(), testClusterSecret
	})
	if slave.b.fo == nil || slave.b.conf().IsMaster() {
		t.Fatal("the broker is not a controller-mode slave")
	}
	ext := func(topic string, marked bool) map[string]string {
		m := map[string]string{"topic": topic, "readQueueNums": "4", "writeQueueNums": "4", "perm": "6"}
		if marked {
			m[replicatedField] = "true"
		}
		return m
	}
	created := func(topic string) bool { _, ok := slave.b.topics.Get(topic); return ok }

	r := slave.call(t, remoting.UpdateAndCreateTopic, ext("Forged", true), nil, 3*time.Second)
	if r.Code != remoting.NoPermission || !strings.Contains(r.Remark, replicatedField) {
		t.Fatalf("client request with %s = %d %q, want NO_PERMISSION naming the field", replicatedField, r.Code, r.Remark)
	}
	if created("Forged") {
		t.Fatal("the slave created a topic for a client that forged the master's marker")
	}
	if r := slave.call(t, remoting.UpdateAndCreateTopic, ext("Plain", false), nil, 3*time.Second); r.Code != remoting.SystemError || created("Plain") {
		t.Fatalf("client topic change on a slave = %d %q, want the slave's refusal", r.Code, r.Remark)
	}
	fwd := ext("Forwarded", true)
	auth.SignNode([]byte(testClusterSecret), remoting.UpdateAndCreateTopic, fwd, nil, time.Now())
	if r := slave.call(t, remoting.UpdateAndCreateTopic, fwd, nil, 3*time.Second); r.Code != remoting.Success || !created("Forwarded") {
		t.Fatalf("the master's signed forward = %d %q, created %v", r.Code, r.Remark, created("Forwarded"))
	}
}
