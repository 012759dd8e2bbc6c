package compat

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apache/rocketmq-client-go/v2/primitive"

	"github.com/skiffmq/skiff/internal/remoting"
	"github.com/skiffmq/skiff/internal/testutil"
)

// startControllerSet starts three name servers running the failover controller and three
// controller-mode replicas of broker-c; it returns the name servers and the brokers' processes
// and addresses by replica id.
func startControllerSet(t *testing.T) ([]string, map[int64]*testutil.Proc, map[int64]string) {
	t.Helper()
	var peers, addrs []string
	ports := make([]int, 3)
	for i := range 3 {
		ports[i] = testutil.FreePort(t)
		peers = append(peers, fmt.Sprintf("n%d-127.0.0.1:%d", i, testutil.FreePort(t)))
		addrs = append(addrs, testutil.Addr(ports[i]))
	}
	for i := range 3 {
		dir := t.TempDir()
		conf := filepath.Join(dir, "namesrv.toml")
		text := fmt.Sprintf("listenPort = %d\nbindAddress = \"127.0.0.1\"\nkvConfigPath = %q\nenableControllerInNamesrv = true\n"+
			"controllerPeers = %q\ncontrollerSelfId = \"n%d\"\ncontrollerStorePath = %q\ncontrollerHeartBeatTimeoutMills = 2500\n",
			ports[i], filepath.Join(dir, "kv.json"), strings.Join(peers, ";"), i, filepath.Join(dir, "controller"))
		if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		testutil.Start(t, bins.Namesrv, []string{"-c", conf}, nil)
	}
	ns := strings.Join(addrs, ";")
	procs, baddrs := map[int64]*testutil.Proc{}, map[int64]string{}
	for id := int64(1); id <= 3; id++ {
		dir := t.TempDir()
		port := testutil.FreePort(t)
		conf := filepath.Join(dir, "broker.toml")
		text := fmt.Sprintf(`brokerClusterName = "CtlCompat"
brokerName = "broker-c"
brokerId = %d
enableControllerMode = true
controllerAddr = %q
namesrvAddr = %q
brokerIP1 = "127.0.0.1"
bindAddress = "127.0.0.1"
listenPort = %d
haListenPort = %d
storePathRootDir = %q
httpPort = -1
flushDiskType = "SYNC_FLUSH"
mappedFileSizeCommitLog = %d
maxMessageSize = 1048576
registerNameServerPeriod = 10000
brokerHeartbeatInterval = 300
haMaxTimeSlaveNotCatchup = 3000
allAckInSyncStateSet = true
`, id, ns, ns, port, testutil.FreePort(t), filepath.Join(dir, "store"), 16<<20)
		if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		procs[id] = testutil.Start(t, bins.Broker, []string{"-c", conf}, nil)
		baddrs[id] = testutil.Addr(port)
	}
	return addrs, procs, baddrs
}

type ctlSet struct {
	MasterBrokerID int64   `json:"masterBrokerId"`
	MasterAddress  string  `json:"masterAddress"`
	MasterEpoch    int64   `json:"masterEpoch"`
	SyncStateSet   []int64 `json:"syncStateSet"`
}

func ctlState(ns []string) (ctlSet, bool) {
	for _, addr := range ns {
		r, err := testutil.Call(addr, remoting.NewRequest(1006, nil, []byte(`["broker-c"]`)), 2*time.Second)
		if err != nil || r.Code != remoting.Success {
			continue
		}
		var m map[string]ctlSet
		if json.Unmarshal(r.Body, &m) == nil {
			if s, ok := m["broker-c"]; ok {
				return s, true
			}
		}
	}
	return ctlSet{}, false
}

// TestControllerModeOfficialClientAcrossSwitch: the official producer and push consumer keep
// working when the master of a controller-mode set is killed: sends fail until the client's own
// route refresh (30 s) finds the new master, then succeed; every acknowledged message reaches the
// consumer.
func TestControllerModeOfficialClientAcrossSwitch(t *testing.T) {
	needProcesses(t)
	t.Parallel()
	const topic = "CompatCtl"
	ns, procs, _ := startControllerSet(t)
	var s ctlSet
	testutil.WaitFor(t, 60*time.Second, func() bool {
		var ok bool
		s, ok = ctlState(ns)
		return ok && s.MasterBrokerID != 0 && len(s.SyncStateSet) == 3
	}, "a master and a full SyncStateSet")
	testutil.WaitFor(t, 20*time.Second, func() bool {
		r, err := testutil.Call(s.MasterAddress, remoting.NewRequest(remoting.UpdateAndCreateTopic, map[string]string{"topic": topic,
			"readQueueNums": "4", "writeQueueNums": "4", "perm": "6", "topicFilterType": "SINGLE_TAG"}, nil), 5*time.Second)
		return err == nil && r.Code == remoting.Success
	}, "the topic created on the master and its in-sync replicas")
	for _, a := range ns {
		testutil.WaitFor(t, 20*time.Second, func() bool {
			code, body, err := testutil.RouteBody(a, topic, 2*time.Second)
			return err == nil && code == 0 && strings.Contains(body, s.MasterAddress)
		}, "the route of "+topic+" on "+a)
	}
	p := newProducer(t, ns, "ctl")
	sink := newSink()
	startConsumer(t, ns, consumerOpts{group: "cg-ctl", instance: "c-ctl", topic: topic, sink: sink})
	var acked []string
	send := func(prefix string, n int, deadline time.Duration) {
		end := time.Now().Add(deadline)
		for i := 0; i < n && time.Now().Before(end); {
			body := fmt.Sprintf("%s-%03d", prefix, i)
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			res, err := p.SendSync(ctx, primitive.NewMessage(topic, []byte(body)))
			cancel()
			if err == nil && res.Status == primitive.SendOK {
				acked = append(acked, body)
				i++
				continue
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	send("before", 30, 30*time.Second)
	sink.waitBodies(t, acked, 60*time.Second, "before the switch")
	procs[s.MasterBrokerID].Kill()
	killed := time.Now()
	testutil.WaitFor(t, 20*time.Second, func() bool {
		n, ok := ctlState(ns)
		return ok && n.MasterBrokerID != 0 && n.MasterBrokerID != s.MasterBrokerID
	}, "a new master")
	before := len(acked)
	send("after", 30, 60*time.Second)
	if len(acked)-before < 30 {
		t.Fatalf("the official producer got %d of 30 sends acknowledged in the 60 s after the switch", len(acked)-before)
	}
	sink.waitBodies(t, acked, 60*time.Second, "after the switch")
	t.Logf("official client: %d acknowledged, all consumed; resumed %v after the kill", len(acked), time.Since(killed).Round(time.Second))
}
