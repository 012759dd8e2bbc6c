package broker

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/skiffmq/skiff/internal/controlapi"
	"github.com/skiffmq/skiff/internal/remoting"
	"github.com/skiffmq/skiff/internal/testutil"
)

// fakeController answers BROKER_HEARTBEAT like the controller would for a set whose master is
// replica 1 (this broker), while answering is on.
func fakeController(t *testing.T, answering *atomic.Bool) *testutil.FakeServer {
	fc := testutil.NewFakeServer(t)
	fc.HandleFunc(controlapi.BrokerHeartbeat, func(req *remoting.Command) *remoting.Command {
		if !answering.Load() {
			return remoting.NewResponse(req, controlapi.NotLeader, "no leader")
		}
		r := remoting.NewResponse(req, remoting.Success, "")
		controlapi.ReplicaInfo{MasterBrokerID: 1, MasterAddress: req.ExtFields["brokerAddr"], MasterEpoch: 1,
			SyncStateSet: []int64{1}, SyncStateSetEpoch: 1}.PutExt(r.ExtFields)
		r.ExtFields["heartbeatTimeoutMills"] = "600"
		return r
	})
	return fc
}

// TestFailoverBrokerLeaseFencesSends: a controller-mode broker named master accepts sends, records
// its epoch, and answers SERVICE_NOT_AVAILABLE once its heartbeats stop being answered for longer
// than the controller's heartbeat timeout (it could be deposed without hearing of it).
func TestFailoverBrokerLeaseFencesSends(t *testing.T) {
	var answering atomic.Bool
	answering.Store(true)
	fc := fakeController(t, &answering)
	tb := startBroker(t, func(c *Config) {
		c.EnableControllerMode, c.BrokerID, c.ControllerAddr, c.BrokerHeartbeatInterval = true, 1, fc.Addr(), 50
	})
	testutil.WaitFor(t, 10*time.Second, func() bool { return tb.b.conf().IsMaster() }, "the broker to become master")
	if r := tb.send(t, "FenceT", 0, "", "", "m1"); r.Code != remoting.Success {
		t.Fatalf("send as master: %d %s", r.Code, r.Remark)
	}
	if e := tb.b.fo.epochs.Entries(); len(e) != 1 || e[0].Epoch != 1 || e[0].StartOffset != 0 {
		t.Fatalf("epoch file %+v", e)
	}
	answering.Store(false)
	testutil.WaitFor(t, 10*time.Second, func() bool {
		return tb.send(t, "FenceT", 0, "", "", "m2").Code == remoting.ServiceNotAvailable
	}, "sends refused after the lease ran out")
	answering.Store(true)
	testutil.WaitFor(t, 10*time.Second, func() bool {
		return tb.send(t, "FenceT", 0, "", "", "m3").Code == remoting.Success
	}, "sends accepted again once the controller answers")
}

// TestFailoverClampOffsetsPastQueueEnd: a consumer offset past the end of its queue (committed
// on a deposed master for messages this log does not hold) moves back to the end.
func TestFailoverClampOffsetsPastQueueEnd(t *testing.T) {
	tb := startBroker(t, nil)
	for range 3 {
		tb.send(t, "ClampT", 0, "", "", "x")
	}
	b := tb.b
	b.offsets.Commit("g", "ClampT", 0, 10)
	b.offsets.Commit("g", "ClampT", 1, 0)
	fo := &failover{b: b, log: b.log}
	fo.clampOffsets()
	if got := b.offsets.Query("g", "ClampT", 0); got != 3 {
		t.Fatalf("offset past the end: %d, want 3", got)
	}
	if got := b.offsets.Query("g", "ClampT", 1); got != 0 {
		t.Fatalf("offset inside the queue moved: %d", got)
	}
}

func TestFailoverConfigValidation(t *testing.T) {
	c := DefaultConfig()
	c.EnableControllerMode, c.BrokerID, c.BrokerRole = true, 0, RoleSyncMaster
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "brokerId") {
		t.Fatalf("controller mode with brokerId 0: %v", err)
	}
	c = DefaultConfig()
	c.EnableControllerMode, c.BrokerID, c.BrokerRole = true, 2, RoleSyncMaster
	if err := c.Validate(); err != nil || c.ReplicaID != 2 || c.BrokerRole != RoleSlave || c.BrokerID != 2 {
		t.Fatalf("controller mode: %v %+v", err, c)
	}
	// A running master's configuration (brokerId 0) validates again (UPDATE_BROKER_CONFIG).
	c.BrokerRole, c.BrokerID = RoleSyncMaster, 0
	if err := c.Validate(); err != nil || c.ReplicaID != 2 {
		t.Fatalf("revalidated master: %v", err)
	}
	c.MinInSyncReplicas = 0
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), "minInSyncReplicas") {
		t.Fatalf("minInSyncReplicas 0: %v", err)
	}
}

// TestFailoverPullsOnlyConfirmedMessages: a controller-mode master hands consumers only messages
// every SyncStateSet member has. Here replica 2 joins the set but never connects: a message sent
// then is stored (its send times out waiting for replica 2) and is not given to a pull; a pull
// that could only get it is held, and answered at its timeout with nothing.
func TestFailoverPullsOnlyConfirmedMessages(t *testing.T) {
	var set atomic.Value
	var setEpoch atomic.Int64
	set.Store([]int64{1})
	setEpoch.Store(1)
	fc := testutil.NewFakeServer(t)
	fc.HandleFunc(controlapi.BrokerHeartbeat, func(req *remoting.Command) *remoting.Command {
		r := remoting.NewResponse(req, remoting.Success, "")
		controlapi.ReplicaInfo{MasterBrokerID: 1, MasterAddress: req.ExtFields["brokerAddr"], MasterEpoch: 1,
			SyncStateSet: set.Load().([]int64), SyncStateSetEpoch: setEpoch.Load()}.PutExt(r.ExtFields)
		r.ExtFields["heartbeatTimeoutMills"] = "5000"
		return r
	})
	tb := startBroker(t, func(c *Config) {
		c.EnableControllerMode, c.BrokerID, c.ControllerAddr, c.BrokerHeartbeatInterval = true, 1, fc.Addr(), 50
		c.AllAckInSyncStateSet, c.SlaveTimeout = true, 300
	})
	testutil.WaitFor(t, 10*time.Second, func() bool { return tb.b.conf().IsMaster() }, "the broker to become master")
	if r := tb.send(t, "ConfT", 0, "", "", "confirmed"); r.Code != remoting.Success {
		t.Fatalf("send with the master alone in the set: %d %s", r.Code, r.Remark)
	}
	tb.heartbeat(t, "cg", "127.0.0.1@1", map[string]string{"ConfT": "*"}) // creates the group while no replica must have it
	set.Store([]int64{1, 2})
	setEpoch.Store(2)
	testutil.WaitFor(t, 10*time.Second, func() bool { return len(tb.b.fo.snapshot().Info.SyncStateSet) == 2 }, "replica 2 in the SyncStateSet")
	if r := tb.send(t, "ConfT", 0, "", "", "unconfirmed"); r.Code == remoting.Success && r.Remark == "" {
		t.Fatalf("a send was acknowledged without replica 2: %d %q", r.Code, r.Remark)
	}
	if end := tb.b.store.MaxOffsetInQueue("ConfT", 0); end != 2 {
		t.Fatalf("queue end %d, want 2 (both messages stored)", end)
	}
	r := tb.call(t, remoting.PullMessage, pullExt("cg", "ConfT", 0, 0, 0, 0, ""), nil, 5*time.Second)
	if r.Code != remoting.Success || r.ExtFields["nextBeginOffset"] != "1" {
		t.Fatalf("pull from 0: code %d next %s", r.Code, r.ExtFields["nextBeginOffset"])
	}
	if msgs := decodeBody(t, r.Body); len(msgs) != 1 || string(msgs[0].Body) != "confirmed" {
		t.Fatalf("pull from 0 gave %d messages", len(msgs))
	}
	start := time.Now()
	r = tb.call(t, remoting.PullMessage, pullExt("cg", "ConfT", 0, 1, 0x2, 400, ""), nil, 5*time.Second)
	if r.Code != remoting.PullNotFound || len(r.Body) != 0 {
		t.Fatalf("pull of the unconfirmed message: code %d, %d body bytes", r.Code, len(r.Body))
	}
	if time.Since(start) < 300*time.Millisecond {
		t.Fatalf("the pull was not held (answered after %v)", time.Since(start))
	}
	// Replica 2 leaves the set: the master alone confirms everything it has.
	set.Store([]int64{1})
	setEpoch.Store(3)
	testutil.WaitFor(t, 10*time.Second, func() bool {
		r := tb.call(t, remoting.PullMessage, pullExt("cg", "ConfT", 0, 1, 0, 0, ""), nil, 5*time.Second)
		return r.Code == remoting.Success && len(decodeBody(t, r.Body)) == 1
	}, "the message readable once the set is the master alone")
}
