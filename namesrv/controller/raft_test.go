package controller

import (
	"bytes"
	"io"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/raft"

	"github.com/skiffmq/skiff/internal/controlapi"
	"github.com/skiffmq/skiff/internal/testutil"
)

// fakeClock is the liveness clock of a test group; Raft itself runs on real time.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type group struct {
	nodes  []*Controller
	trans  []*raft.InmemTransport
	clock  *fakeClock
	mu     sync.Mutex
	events []BrokerSet
}

// startGroup starts n controllers on Raft's in-memory transport.
func startGroup(t *testing.T, n int) *group {
	t.Helper()
	g := &group{clock: &fakeClock{t: time.Unix(1_000_000, 0)}}
	var peers []Peer
	for i := range n {
		addr, tr := raft.NewInmemTransport("")
		g.trans = append(g.trans, tr)
		peers = append(peers, Peer{ID: string(rune('a' + i)), Addr: string(addr)})
	}
	for i := range g.trans {
		for j := range g.trans {
			if i != j {
				g.trans[i].Connect(raft.ServerAddress(peers[j].Addr), g.trans[j])
			}
		}
	}
	for i := range n {
		c, err := New(Config{SelfID: peers[i].ID, Peers: peers, HeartbeatTimeout: 3 * time.Second, Now: g.clock.Now,
			NamesrvAddr: "ns-" + peers[i].ID, Logger: testutil.Logger(t),
			OnChange:  func(b BrokerSet) { g.mu.Lock(); g.events = append(g.events, b); g.mu.Unlock() },
			Transport: g.trans[i], LogStore: raft.NewInmemStore(), StableStore: raft.NewInmemStore(), Snapshots: raft.NewInmemSnapshotStore()})
		if err != nil {
			t.Fatal(err)
		}
		c.Start()
		g.nodes = append(g.nodes, c)
	}
	t.Cleanup(func() {
		for _, c := range g.nodes {
			c.Shutdown()
		}
	})
	return g
}

func (g *group) leader(t *testing.T, skip ...*Controller) *Controller {
	t.Helper()
	var l *Controller
	testutil.WaitFor(t, 20*time.Second, func() bool {
		for _, c := range g.nodes {
			if !slices.Contains(skip, c) && c.IsLeader() {
				l = c
				return true
			}
		}
		return false
	}, "a ready controller leader")
	return l
}

func heartbeat(t *testing.T, c *Controller, id, epoch, offset int64) controlapi.ReplicaInfo {
	t.Helper()
	r := c.Handle(controlapi.BrokerHeartbeat, map[string]string{"clusterName": "c", "brokerName": "b",
		"brokerId": itoa(id), "brokerAddr": "addr-" + itoa(id), "epoch": itoa(epoch), "maxOffset": itoa(offset)}, nil)
	if r.Code != 0 {
		t.Fatalf("heartbeat of %d: %d %s", id, r.Code, r.Remark)
	}
	info, err := controlapi.ReplicaInfoFromExt(r.Ext)
	if err != nil {
		t.Fatal(err)
	}
	return info
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func TestControllerRaftGroupElectsAndFailsOver(t *testing.T) {
	g := startGroup(t, 3)
	l := g.leader(t)
	info := heartbeat(t, l, 1, 0, 0)
	if info.MasterBrokerID != 1 || info.MasterEpoch != 1 {
		t.Fatalf("first replica: %+v", info)
	}
	heartbeat(t, l, 2, 1, 0)
	heartbeat(t, l, 3, 1, 0)
	// The master adds both slaves; a second alter with the old set epoch is fenced.
	body := []byte(`{"syncStateSet":[1,2,3],"syncStateSetEpoch":1}`)
	alter := map[string]string{"brokerName": "b", "masterBrokerId": "1", "masterEpoch": "1"}
	if r := l.Handle(controlapi.AlterSyncStateSet, alter, body); r.Code != 0 {
		t.Fatalf("alter: %d %s", r.Code, r.Remark)
	}
	if r := l.Handle(controlapi.AlterSyncStateSet, alter, body); r.Code != controlapi.FencedSyncStateSetEpoch {
		t.Fatalf("stale alter: %d %s", r.Code, r.Remark)
	}
	// Replica 1 stops; 2 and 3 keep beating, 3 with more data. After the timeout 3 is master.
	for range 8 {
		g.clock.Advance(500 * time.Millisecond)
		heartbeat(t, l, 2, 1, 100)
		heartbeat(t, l, 3, 1, 200)
	}
	testutil.WaitFor(t, 10*time.Second, func() bool {
		return heartbeat(t, l, 2, 1, 100).MasterBrokerID == 3
	}, "replica 3 elected")
	info = heartbeat(t, l, 3, 2, 200)
	if info.MasterEpoch != 2 || !slices.Equal(info.SyncStateSet, []int64{3}) || info.MasterAddress != "addr-3" {
		t.Fatalf("after the election: %+v", info)
	}
	// Every node's state machine has the same set.
	testutil.WaitFor(t, 10*time.Second, func() bool {
		for _, c := range g.nodes {
			var b *BrokerSet
			c.fsm.view(func(st *State) { b, _ = st.Set("b") })
			if b == nil || b.MasterID != 3 || b.MasterEpoch != 2 {
				return false
			}
		}
		return true
	}, "every node applied the election")
	g.mu.Lock()
	if len(g.events) < 2 || g.events[len(g.events)-1].MasterID != 3 {
		t.Errorf("change events: %+v", g.events)
	}
	g.mu.Unlock()

	// A follower refuses and names the leader.
	for _, c := range g.nodes {
		if c != l {
			r := c.Handle(controlapi.GetReplicaInfo, map[string]string{"brokerName": "b"}, nil)
			if r.Code != controlapi.NotLeader || r.Ext["controllerLeaderAddress"] != l.cfg.NamesrvAddr {
				t.Fatalf("follower answered %d %q %v", r.Code, r.Remark, r.Ext)
			}
			break
		}
	}

	// The Raft leader dies: another node leads with the same state.
	l.Shutdown()
	l2 := g.leader(t, l)
	r := l2.Handle(controlapi.GetReplicaInfo, map[string]string{"brokerName": "b"}, nil)
	if info, _ := controlapi.ReplicaInfoFromExt(r.Ext); r.Code != 0 || info.MasterBrokerID != 3 || info.MasterEpoch != 2 {
		t.Fatalf("new leader: %d %s %+v", r.Code, r.Remark, info)
	}
	// Planned handover to 2: refused while 2 is outside the SyncStateSet.
	heartbeat(t, l2, 3, 2, 300)
	heartbeat(t, l2, 2, 2, 300)
	if r := l2.Handle(controlapi.ElectMaster, map[string]string{"brokerName": "b", "brokerId": "2"}, nil); r.Code != controlapi.ElectMasterFailed {
		t.Fatalf("elect outside the set: %d %s", r.Code, r.Remark)
	}
	if r := l2.Handle(controlapi.AlterSyncStateSet, map[string]string{"brokerName": "b", "masterBrokerId": "3", "masterEpoch": "2"},
		[]byte(`{"syncStateSet":[2,3],"syncStateSetEpoch":3}`)); r.Code != 0 {
		t.Fatalf("alter: %d %s", r.Code, r.Remark)
	}
	r = l2.Handle(controlapi.ElectMaster, map[string]string{"brokerName": "b", "brokerId": "2"}, nil)
	if info, _ := controlapi.ReplicaInfoFromExt(r.Ext); r.Code != 0 || info.MasterBrokerID != 2 || info.MasterEpoch != 3 {
		t.Fatalf("planned elect: %d %s %+v", r.Code, r.Remark, info)
	}
	r = l2.Handle(controlapi.GetSyncStateData, nil, []byte(`["b"]`))
	m, err := controlapi.DecodeSyncStateData(r.Body)
	if err != nil || m["b"].MasterBrokerID != 2 || len(m["b"].Replicas) != 3 {
		t.Fatalf("sync state data: %v %+v", err, m)
	}
}

func TestControllerNoElectionOutsideSyncStateSet(t *testing.T) {
	g := startGroup(t, 1)
	l := g.leader(t)
	heartbeat(t, l, 1, 0, 0)
	heartbeat(t, l, 2, 1, 0)
	// 2 is never added to the SyncStateSet; 1 dies; 2 has more data but must not be elected.
	for range 10 {
		g.clock.Advance(500 * time.Millisecond)
		heartbeat(t, l, 2, 1, 1000)
	}
	testutil.WaitFor(t, 10*time.Second, func() bool {
		return heartbeat(t, l, 2, 1, 1000).MasterEpoch == 2
	}, "the dead master fenced")
	if info := heartbeat(t, l, 2, 1, 1000); info.MasterBrokerID != 0 {
		t.Fatalf("a replica outside the SyncStateSet was elected: %+v", info)
	}
	// 1 comes back: it is in the SyncStateSet and becomes master again in epoch 3.
	heartbeat(t, l, 1, 1, 500)
	testutil.WaitFor(t, 10*time.Second, func() bool {
		info := heartbeat(t, l, 1, 1, 500)
		return info.MasterBrokerID == 1 && info.MasterEpoch == 3
	}, "replica 1 re-elected")
}

func TestControllerFSMSnapshotRestore(t *testing.T) {
	f := newFSM(testutil.Logger(t))
	for i, c := range []Command{
		{Op: OpRegister, BrokerName: "b", BrokerID: 1, BrokerAddr: "x"},
		{Op: OpRegister, BrokerName: "b", BrokerID: 2, BrokerAddr: "y"},
		{Op: OpAlterSyncStateSet, BrokerName: "b", ExpectMasterID: 1, ExpectMasterEpoch: 1, ExpectSyncStateSetEpoch: 1, SyncStateSet: []int64{1, 2}},
	} {
		b, _ := encodeCommand(c)
		if r := f.Apply(&raft.Log{Index: uint64(i + 1), Type: raft.LogCommand, Data: b}).(Result); r.Code != 0 {
			t.Fatal(r.Remark)
		}
	}
	if r := f.Apply(&raft.Log{Type: raft.LogCommand, Data: []byte("{bad")}).(Result); r.Code == 0 {
		t.Fatal("a bad entry applied")
	}
	snap, err := f.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	sink := &memSink{}
	if err := snap.Persist(sink); err != nil {
		t.Fatal(err)
	}
	g := newFSM(testutil.Logger(t))
	if err := g.Restore(io.NopCloser(bytes.NewReader(sink.Bytes()))); err != nil {
		t.Fatal(err)
	}
	var b *BrokerSet
	g.view(func(st *State) { b, _ = st.Set("b") })
	if b == nil || !slices.Equal(b.SyncStateSet, []int64{1, 2}) || b.SyncStateSetEpoch != 2 || b.Replicas[2] != "y" {
		t.Fatalf("restored: %+v", b)
	}
}

type memSink struct{ bytes.Buffer }

func (m *memSink) ID() string    { return "mem" }
func (m *memSink) Cancel() error { return nil }
func (m *memSink) Close() error  { return nil }
