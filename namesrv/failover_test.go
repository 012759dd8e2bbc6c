package namesrv

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/skiffmq/skiff/internal/controlapi"
	"github.com/skiffmq/skiff/internal/protocol"
	"github.com/skiffmq/skiff/internal/testutil"
)

func TestNamesrvControllerConfigValidation(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{"bad peers", func(c *Config) {
			c.EnableControllerInNamesrv, c.ControllerPeers, c.ControllerSelfID = true, "n0:1", "n0"
		}, "controllerPeers"},
		{"self not a peer", func(c *Config) {
			c.EnableControllerInNamesrv, c.ControllerPeers, c.ControllerSelfID = true, "n0-127.0.0.1:1;n1-127.0.0.1:2", "n9"
		}, "controllerSelfId"},
		{"timeout", func(c *Config) { c.ControllerHeartBeatTimeoutMills = 5 }, "controllerHeartBeatTimeoutMills"},
	}
	for _, tc := range cases {
		c := DefaultConfig()
		tc.mutate(&c)
		if err := c.Validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error naming %s", tc.name, err, tc.want)
		}
	}
	c := DefaultConfig()
	c.KvConfigPath = "/x/kvConfig.json"
	if c.ControllerDir() != "/x/controller" || !c.NotifyBrokerRoleChanged || c.ControllerHeartBeatTimeoutMills != 10000 {
		t.Errorf("defaults: %q %v %d", c.ControllerDir(), c.NotifyBrokerRoleChanged, c.ControllerHeartBeatTimeoutMills)
	}
}

func TestNamesrvControllerForwardsToLeader(t *testing.T) {
	servers := startControllerGroup(t)
	c := newClient(t)
	hb := func(addr string) *response {
		return invoke(t, c, addr, req(controlapi.BrokerHeartbeat, map[string]string{"clusterName": "c", "brokerName": "b",
			"brokerId": "1", "brokerAddr": "127.0.0.1:10911", "epoch": "0", "maxOffset": "0"}, nil))
	}
	// Every node answers, whichever is the leader: followers forward.
	for _, s := range servers {
		var r *response
		testutil.WaitFor(t, 20*time.Second, func() bool { r = hb(s.Addr()); return r.Code == 0 }, "a heartbeat answered via "+s.Addr())
		if r.ExtFields["masterBrokerId"] != "1" || r.ExtFields["masterEpoch"] != "1" || r.ExtFields["heartbeatTimeoutMills"] != "3000" {
			t.Fatalf("heartbeat answer via %s: %v", s.Addr(), r.ExtFields)
		}
	}
	r := invoke(t, c, servers[0].Addr(), req(controlapi.GetMetadataInfo, nil, nil))
	if r.Code != 0 || r.ExtFields["controllerLeaderId"] == "" {
		t.Fatalf("metadata: %d %s %v", r.Code, r.Remark, r.ExtFields)
	}
}

func TestNamesrvIgnoresRegistrationFromOlderEpoch(t *testing.T) {
	s, _ := newTestServer(t, nil)
	reg := func(addr, epoch string) *response {
		return s.process("k"+addr, req(protocol.RegisterBroker, map[string]string{"brokerName": "b", "brokerAddr": addr,
			"clusterName": "c", "haServerAddr": addr, "brokerId": "0", "masterEpoch": epoch}, registerBody(1, "T")))
	}
	if r := reg("10.0.0.1:1", "3"); r.Code != 0 {
		t.Fatal(r.Remark)
	}
	if r := reg("10.0.0.2:1", "4"); r.Code != 0 {
		t.Fatal(r.Remark)
	}
	if r := reg("10.0.0.1:1", "3"); r.Code == 0 || !strings.Contains(r.Remark, "stale master epoch") {
		t.Fatalf("a registration from epoch 3 after epoch 4: %d %s", r.Code, r.Remark)
	}
	route, ok := s.table.TopicRoute("T")
	if !ok || len(route.BrokerDatas) != 1 || route.BrokerDatas[0].BrokerAddrs[0] != "10.0.0.2:1" {
		t.Fatalf("route: %+v", route)
	}
}

// startControllerGroup starts three name servers forming one controller group. The Raft ports are
// picked free before any node starts, so a node's own remoting listener (port 0), or another
// package's test running at the same time, can take one before its node binds it: such a start
// fails with "address already in use" and the whole group is started again on fresh ports.
func startControllerGroup(t *testing.T) []*Server {
	t.Helper()
	for attempt := 1; ; attempt++ {
		var peers []string
		for i := range 3 {
			peers = append(peers, fmt.Sprintf("n%d-127.0.0.1:%d", i, testutil.FreePort(t)))
		}
		var servers []*Server
		var err error
		for i := range 3 {
			s, _ := newTestServer(t, func(c *Config) {
				c.EnableControllerInNamesrv = true
				c.ControllerPeers = strings.Join(peers, ";")
				c.ControllerSelfID = fmt.Sprintf("n%d", i)
				c.ControllerStorePath = filepath.Join(t.TempDir(), "ctl")
				c.ControllerHeartBeatTimeoutMills = 3000
			})
			if err = s.Start(); err != nil {
				break
			}
			servers = append(servers, s)
		}
		stopAll := func() {
			for _, s := range servers {
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				if err := s.Shutdown(ctx); err != nil {
					t.Errorf("shutdown: %v", err)
				}
				cancel()
			}
		}
		if err == nil {
			t.Cleanup(stopAll)
			return servers
		}
		stopAll()
		if attempt == 5 || !strings.Contains(err.Error(), "address already in use") {
			t.Fatalf("start of the controller group (attempt %d): %v", attempt, err)
		}
		t.Logf("attempt %d: %v; starting the group again on fresh ports", attempt, err)
	}
}
