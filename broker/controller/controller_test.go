package controller

import (
	"bytes"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/skiffmq/skiff/internal/controlapi"
)

func info(master, epoch int64, set ...int64) controlapi.ReplicaInfo {
	return controlapi.ReplicaInfo{MasterBrokerID: master, MasterEpoch: epoch, MasterAddress: "m", SyncStateSet: set, SyncStateSetEpoch: epoch}
}

func TestControllerNodeRolesAndLease(t *testing.T) {
	t0 := time.Unix(5000, 0)
	n := NewNode(2, 0)
	if c := n.Observe(info(1, 1, 1), t0, 3*time.Second); c != BecomeSlave || n.Role != RoleSlave || n.Writable(t0) {
		t.Fatalf("slave: %v %+v", c, n)
	}
	if c := n.Observe(info(1, 1, 1, 2), t0, 3*time.Second); c != Stay || !slices.Equal(n.Info.SyncStateSet, []int64{1, 2}) {
		t.Fatalf("set change: %v %+v", c, n.Info)
	}
	if c := n.Observe(info(2, 2, 2), t0, 3*time.Second); c != BecomeMaster || !n.Writable(t0.Add(2*time.Second)) {
		t.Fatalf("master: %v %+v", c, n)
	}
	// The lease runs out 3 s after the heartbeat was sent, whatever else happens.
	if n.Writable(t0.Add(3 * time.Second)) {
		t.Fatal("writable after the lease")
	}
	// A pushed notice (lease 0) does not renew it; a heartbeat does.
	n.Observe(info(2, 2, 2), t0.Add(time.Second), 0)
	if n.Writable(t0.Add(3 * time.Second)) {
		t.Fatal("a notice renewed the lease")
	}
	n.Observe(info(2, 2, 2), t0.Add(time.Second), 3*time.Second)
	if !n.Writable(t0.Add(3 * time.Second)) {
		t.Fatal("a heartbeat did not renew the lease")
	}
	// An answer from an older epoch (a stale controller) is ignored.
	if c := n.Observe(info(1, 1, 1), t0, 3*time.Second); c != Stay || n.Role != RoleMaster || n.Epoch != 2 {
		t.Fatalf("stale answer: %v %+v", c, n)
	}
	// Deposed: slave of epoch 3, never writable again in epoch 2.
	if c := n.Observe(info(3, 3, 3), t0.Add(2*time.Second), 3*time.Second); c != BecomeSlave || n.Writable(t0.Add(2*time.Second)) {
		t.Fatalf("deposed: %v %+v", c, n)
	}
	if c := n.Observe(info(0, 4, 3), t0, 3*time.Second); c != BecomeNone || n.Role != RoleNone {
		t.Fatalf("no master: %v %+v", c, n)
	}
}

func TestControllerSyncTrackerGrowAndShrink(t *testing.T) {
	t0 := time.Unix(9000, 0)
	tr := NewSyncTracker(1, 3*time.Second, t0, 100)
	// 2 catches up to the previous end: it becomes pending (waited on) with the current end 150.
	if p := tr.Tick(t0.Add(time.Second), 150, map[int64]int64{2: 100, 3: 10}, []int64{1}); p != nil {
		t.Fatalf("proposed %v before 2 had everything", p)
	}
	if w := tr.WaitSet([]int64{1}, nil); !slices.Equal(w, []int64{2}) {
		t.Fatalf("wait set %v, want [2]", w)
	}
	// Once 2 has acknowledged 150 it is proposed.
	if p := tr.Tick(t0.Add(2*time.Second), 200, map[int64]int64{2: 150, 3: 20}, []int64{1}); !slices.Equal(p, []int64{1, 2}) {
		t.Fatalf("proposed %v, want [1 2]", p)
	}
	// Committed; 2 keeps up; nothing more to do.
	if p := tr.Tick(t0.Add(2500*time.Millisecond), 210, map[int64]int64{2: 200}, []int64{1, 2}); p != nil {
		t.Fatalf("proposed %v", p)
	}
	// 2 stops acknowledging: removed after haMaxTimeSlaveNotCatchup (3 s) without catching up.
	if p := tr.Tick(t0.Add(5*time.Second), 300, map[int64]int64{2: 200}, []int64{1, 2}); p != nil {
		t.Fatalf("removed too early: %v", p)
	}
	if p := tr.Tick(t0.Add(6*time.Second), 300, map[int64]int64{}, []int64{1, 2}); !slices.Equal(p, []int64{1}) {
		t.Fatalf("proposed %v, want [1]", p)
	}
	// Until committed the master still waits for 2.
	if w := tr.WaitSet([]int64{1, 2}, []int64{1}); !slices.Equal(w, []int64{2}) {
		t.Fatalf("wait set during the shrink %v", w)
	}
}

func TestControllerEpochFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "epochFile")
	f, err := OpenEpochFile(path, nil)
	if err != nil || len(f.Entries()) != 0 {
		t.Fatal(err)
	}
	for _, e := range [][2]int64{{1, 0}, {3, 100}, {4, 100}} {
		if err := f.StartEpoch(e[0], e[1]); err != nil {
			t.Fatal(err)
		}
	}
	// Epoch 3 had no bytes (4 started at the same offset): dropped.
	if err := f.StartEpoch(4, 200); err == nil {
		t.Fatal("epoch 4 twice")
	}
	g, err := OpenEpochFile(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []controlapi.EpochEntry{{Epoch: 1, StartOffset: 0}, {Epoch: 4, StartOffset: 100}}
	if !slices.Equal(g.Entries(), want) || g.LastEpoch() != 4 {
		t.Fatalf("reopened: %+v", g.Entries())
	}
	if err := g.Replace([]controlapi.EpochEntry{{Epoch: 2, StartOffset: 5}, {Epoch: 1, StartOffset: 9}}); err == nil {
		t.Fatal("entries out of order accepted")
	}
	for _, bad := range []string{"1", "0 5", "2 5\n1 9\n", "3 10\n4 9\n", "x y"} {
		if _, err := DecodeEpochFile([]byte(bad)); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// FuzzControllerEpochFile: any bytes decode to an error or to entries that encode and decode back
// to themselves.
func FuzzControllerEpochFile(f *testing.F) {
	f.Add([]byte("1 0\n3 100\n"))
	f.Add([]byte("\n\n2 5"))
	f.Add([]byte("9223372036854775807 9223372036854775807\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := DecodeEpochFile(b)
		if err != nil {
			return
		}
		back, err := DecodeEpochFile(EncodeEpochFile(e))
		if err != nil || !slices.Equal(back, e) || !bytes.Equal(EncodeEpochFile(back), EncodeEpochFile(e)) {
			t.Fatalf("round trip %+v -> %+v (%v)", e, back, err)
		}
	})
}
