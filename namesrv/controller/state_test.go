package controller

import (
	"log/slog"
	"slices"
	"testing"
	"time"

	"github.com/skiffmq/skiff/internal/controlapi"
)

func mustApply(t *testing.T, st *State, c Command, want int32) Result {
	t.Helper()
	r := st.Apply(c)
	if r.Code != want {
		t.Fatalf("apply %+v: code %d (%s), want %d", c, r.Code, r.Remark, want)
	}
	return r
}

func threeReplicas(t *testing.T) *State {
	st := NewState()
	for id := int64(1); id <= 3; id++ {
		mustApply(t, st, Command{Op: OpRegister, ClusterName: "c", BrokerName: "b", BrokerID: id, BrokerAddr: "a" + string(rune('0'+id))}, 0)
	}
	return st
}

func TestControllerStateFirstReplicaIsMaster(t *testing.T) {
	st := threeReplicas(t)
	b, _ := st.Set("b")
	if b.MasterID != 1 || b.MasterEpoch != 1 || !slices.Equal(b.SyncStateSet, []int64{1}) || b.SyncStateSetEpoch != 1 || len(b.Replicas) != 3 {
		t.Fatalf("set = %+v", b)
	}
}

func TestControllerStateAlterSyncStateSet(t *testing.T) {
	cases := []struct {
		name string
		cmd  Command
		want int32
	}{
		{"ok", Command{ExpectMasterID: 1, ExpectMasterEpoch: 1, ExpectSyncStateSetEpoch: 1, SyncStateSet: []int64{1, 2}}, 0},
		{"stale master epoch", Command{ExpectMasterID: 1, ExpectMasterEpoch: 0, ExpectSyncStateSetEpoch: 1, SyncStateSet: []int64{1, 2}}, controlapi.FencedMasterEpoch},
		{"stale set epoch", Command{ExpectMasterID: 1, ExpectMasterEpoch: 1, ExpectSyncStateSetEpoch: 0, SyncStateSet: []int64{1, 2}}, controlapi.FencedSyncStateSetEpoch},
		{"not master", Command{ExpectMasterID: 2, ExpectMasterEpoch: 1, ExpectSyncStateSetEpoch: 1, SyncStateSet: []int64{1, 2}}, controlapi.InvalidMaster},
		{"set without master", Command{ExpectMasterID: 1, ExpectMasterEpoch: 1, ExpectSyncStateSetEpoch: 1, SyncStateSet: []int64{2, 3}}, controlapi.InvalidReplicas},
		{"unknown member", Command{ExpectMasterID: 1, ExpectMasterEpoch: 1, ExpectSyncStateSetEpoch: 1, SyncStateSet: []int64{1, 9}}, controlapi.InvalidReplicas},
		{"unknown set", Command{BrokerName: "x", ExpectMasterID: 1, ExpectMasterEpoch: 1, ExpectSyncStateSetEpoch: 1, SyncStateSet: []int64{1}}, controlapi.BrokerMetadataNotExist},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			st := threeReplicas(t)
			tc.cmd.Op = OpAlterSyncStateSet
			if tc.cmd.BrokerName == "" {
				tc.cmd.BrokerName = "b"
			}
			before, _ := st.Set("b")
			r := mustApply(t, st, tc.cmd, tc.want)
			after, _ := st.Set("b")
			if tc.want == 0 {
				if !slices.Equal(after.SyncStateSet, []int64{1, 2}) || after.SyncStateSetEpoch != 2 || r.Info.SyncStateSetEpoch != 2 {
					t.Fatalf("after = %+v", after)
				}
			} else if !slices.Equal(before.SyncStateSet, after.SyncStateSet) || before.SyncStateSetEpoch != after.SyncStateSetEpoch {
				t.Fatalf("a refused change changed the set: %+v -> %+v", before, after)
			}
		})
	}
}

func TestControllerStateElect(t *testing.T) {
	st := threeReplicas(t)
	mustApply(t, st, Command{Op: OpAlterSyncStateSet, BrokerName: "b", ExpectMasterID: 1, ExpectMasterEpoch: 1, ExpectSyncStateSetEpoch: 1, SyncStateSet: []int64{1, 2}}, 0)
	// 3 is outside the SyncStateSet: refused unless unclean.
	mustApply(t, st, Command{Op: OpElectMaster, BrokerName: "b", ExpectMasterEpoch: 1, NewMasterID: 3}, controlapi.ElectMasterFailed)
	// A stale epoch is fenced.
	mustApply(t, st, Command{Op: OpElectMaster, BrokerName: "b", ExpectMasterEpoch: 0, NewMasterID: 2}, controlapi.FencedMasterEpoch)
	r := mustApply(t, st, Command{Op: OpElectMaster, BrokerName: "b", ExpectMasterEpoch: 1, NewMasterID: 2}, 0)
	if !r.Changed || r.Info.MasterBrokerID != 2 || r.Info.MasterEpoch != 2 || !slices.Equal(r.Info.SyncStateSet, []int64{2}) || r.Info.MasterAddress != "a2" {
		t.Fatalf("elect: %+v", r)
	}
	// The old master's alter in epoch 1 is fenced now.
	mustApply(t, st, Command{Op: OpAlterSyncStateSet, BrokerName: "b", ExpectMasterID: 1, ExpectMasterEpoch: 1, ExpectSyncStateSetEpoch: 3, SyncStateSet: []int64{1}}, controlapi.FencedMasterEpoch)
	// No candidate: the set loses its master, the epoch moves on, the SyncStateSet stays.
	r = mustApply(t, st, Command{Op: OpElectMaster, BrokerName: "b", ExpectMasterEpoch: 2}, 0)
	if r.Info.MasterBrokerID != 0 || r.Info.MasterEpoch != 3 || !slices.Equal(r.Info.SyncStateSet, []int64{2}) {
		t.Fatalf("no master: %+v", r)
	}
	mustApply(t, st, Command{Op: OpElectMaster, BrokerName: "b", ExpectMasterEpoch: 3}, controlapi.ElectMasterFailed)
	// Unclean election of 3.
	r = mustApply(t, st, Command{Op: OpElectMaster, BrokerName: "b", ExpectMasterEpoch: 3, NewMasterID: 3, Unclean: true}, 0)
	if r.Info.MasterBrokerID != 3 || r.Info.MasterEpoch != 4 {
		t.Fatalf("unclean: %+v", r)
	}
}

func TestControllerStateSnapshotRoundTrip(t *testing.T) {
	st := threeReplicas(t)
	mustApply(t, st, Command{Op: OpNodeAddr, NodeID: "n0", NodeAddr: "127.0.0.1:9876"}, 0)
	b, err := st.Encode()
	if err != nil {
		t.Fatal(err)
	}
	back, err := DecodeState(b)
	if err != nil {
		t.Fatal(err)
	}
	b2, _ := back.Encode()
	if string(b) != string(b2) {
		t.Fatalf("round trip:\n%s\n%s", b, b2)
	}
	if _, err := DecodeState([]byte(`{"sets":{"x":{"brokerName":"y"}}}`)); err == nil {
		t.Fatal("a set filed under another name was accepted")
	}
}

func TestControllerLivenessChoose(t *testing.T) {
	t0 := time.Unix(1000, 0)
	set := &BrokerSet{BrokerName: "b", MasterID: 1, MasterEpoch: 3, SyncStateSet: []int64{1, 2, 3, 4},
		Replicas: map[int64]string{1: "a1", 2: "a2", 3: "a3", 4: "a4", 5: "a5"}}
	l := NewLiveness(10*time.Second, t0)
	// Grace: nobody heard from is alive for one timeout after Reset, but is never a candidate.
	if !l.Alive("b", 1, t0.Add(9*time.Second)) || l.Alive("b", 1, t0.Add(10*time.Second)) {
		t.Fatal("grace period")
	}
	if id, _ := l.Choose(set, t0, false, 0, 1); id != 0 {
		t.Fatalf("chose %d without heartbeats", id)
	}
	now := t0.Add(time.Second)
	l.Beat(Heartbeat{BrokerName: "b", BrokerID: 2, Epoch: 3, MaxOffset: 100, Priority: 5}, now)
	l.Beat(Heartbeat{BrokerName: "b", BrokerID: 3, Epoch: 3, MaxOffset: 200, Priority: 9}, now)
	l.Beat(Heartbeat{BrokerName: "b", BrokerID: 4, Epoch: 2, MaxOffset: 900, Priority: 1}, now)
	l.Beat(Heartbeat{BrokerName: "b", BrokerID: 5, Epoch: 4, MaxOffset: 999, Priority: 0}, now)
	cases := []struct {
		name      string
		unclean   bool
		preferred int64
		at        time.Time
		want      int64
	}{
		{"epoch then offset", false, 0, now, 3},
		{"outside the set only when unclean", true, 0, now, 5},
		{"preferred", false, 2, now, 2},
		{"preferred outside the set", false, 5, now, 0},
		{"all expired", false, 0, now.Add(10 * time.Second), 0},
	}
	for _, tc := range cases {
		if got, _ := l.Choose(set, tc.at, tc.unclean, tc.preferred, 1); got != tc.want {
			t.Errorf("%s: chose %d, want %d", tc.name, got, tc.want)
		}
	}
	// Priority breaks a tie of epoch and offset.
	l.Beat(Heartbeat{BrokerName: "b", BrokerID: 2, Epoch: 3, MaxOffset: 200, Priority: 5}, now)
	if got, _ := l.Choose(set, now, false, 0, 1); got != 2 {
		t.Errorf("priority tie-break chose %d, want 2", got)
	}
	// The master being replaced is never chosen.
	if got, _ := l.Choose(set, now, false, 2, 2); got != 0 {
		t.Errorf("excluded master chosen")
	}
	st := NewState()
	st.Sets["b"] = set
	if p := l.NeedElection(st, now); len(p) != 0 {
		t.Errorf("master 1 is in its grace period, yet: %+v", p)
	}
	if p := l.NeedElection(st, t0.Add(10*time.Second)); len(p) != 1 || p[0].DeadMaster != 1 || p[0].MasterEpoch != 3 {
		t.Errorf("master 1 never heard after the grace period: %+v", p)
	}
}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }
