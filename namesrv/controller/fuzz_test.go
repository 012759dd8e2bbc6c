package controller

import (
	"testing"

	"github.com/hashicorp/raft"

	"github.com/skiffmq/skiff/internal/controlapi"
)

// FuzzControllerCommand feeds arbitrary Raft entries to the state machine: it never panics, and
// whatever it accepts keeps the invariants (the master is in the SyncStateSet, epochs only grow).
func FuzzControllerCommand(f *testing.F) {
	f.Add([]byte(`{"op":"register","brokerName":"b","brokerId":1,"brokerAddr":"x"}`), []byte(`{"op":"electMaster","brokerName":"b","expectMasterEpoch":1,"newMasterId":1}`))
	f.Add([]byte(`{"op":"register","brokerName":"b","brokerId":2,"brokerAddr":"y"}`), []byte(`{"op":"alterSyncStateSet","brokerName":"b","expectMasterId":1,"expectMasterEpoch":1,"expectSyncStateSetEpoch":1,"syncStateSet":[1,2]}`))
	f.Add([]byte(`{"op":"nodeAddr","nodeId":"n0","nodeAddr":"a"}`), []byte(`{"sets":{"b":{"brokerName":"b"}}}`))
	f.Fuzz(func(t *testing.T, a, b []byte) {
		fs := newFSM(discard())
		reg, _ := encodeCommand(Command{Op: OpRegister, BrokerName: "b", BrokerID: 1, BrokerAddr: "x"})
		fs.Apply(&raft.Log{Type: raft.LogCommand, Data: reg})
		var prev BrokerSet
		for _, data := range [][]byte{a, b, a} {
			fs.Apply(&raft.Log{Type: raft.LogCommand, Data: data})
			fs.view(func(st *State) {
				for _, s := range st.Sets {
					if s.MasterID != 0 && !s.inSyncStateSet(s.MasterID) {
						t.Fatalf("master %d outside the SyncStateSet %v", s.MasterID, s.SyncStateSet)
					}
				}
				if s, ok := st.Sets["b"]; ok {
					if s.MasterEpoch < prev.MasterEpoch || s.SyncStateSetEpoch < prev.SyncStateSetEpoch {
						t.Fatalf("epochs went back: %+v -> %+v", prev, *s)
					}
					prev = *s
				}
			})
		}
		// Arbitrary snapshot bytes: an error or a usable state, never a panic.
		if st, err := DecodeState(a); err == nil {
			st.Apply(Command{Op: OpElectMaster, BrokerName: "b", ExpectMasterEpoch: 1})
			_, _ = st.Encode()
		}
	})
}

// FuzzControllerRequestBodies feeds arbitrary bodies and extFields to the request decoders.
func FuzzControllerRequestBodies(f *testing.F) {
	f.Add([]byte(`{"syncStateSet":[1,2],"syncStateSetEpoch":3}`), "1,2,3")
	f.Add([]byte(`["a","b"]`), "")
	f.Add([]byte(`{"entries":[{"epoch":1,"startOffset":0},{"epoch":3,"startOffset":90}],"maxOffset":100}`), "x")
	f.Fuzz(func(t *testing.T, body []byte, ids string) {
		if v, err := controlapi.DecodeSyncStateSetBody(body); err == nil {
			if len(v.SyncStateSet) == 0 {
				t.Fatal("an empty SyncStateSet was accepted")
			}
			for _, id := range v.SyncStateSet {
				if id < 1 {
					t.Fatalf("id %d accepted", id)
				}
			}
		}
		_, _ = controlapi.DecodeBrokerNames(body)
		_, _ = controlapi.DecodeSyncStateData(body)
		if c, err := controlapi.DecodeEpochCache(body); err == nil {
			off, ok := controlapi.ConsistentOffset(c.Entries, c.MaxOffset, c.Entries, c.MaxOffset)
			if len(c.Entries) > 0 && c.Entries[len(c.Entries)-1].StartOffset <= c.MaxOffset && (!ok || off != c.MaxOffset) {
				t.Fatalf("a log is not consistent with itself: %d %v (%+v)", off, ok, c)
			}
		}
		if got, err := controlapi.SplitIDs(ids); err == nil {
			back, err := controlapi.SplitIDs(controlapi.JoinIDs(got))
			if err != nil || len(back) != len(got) {
				t.Fatalf("ids round trip: %v -> %v (%v)", got, back, err)
			}
		}
		ext := map[string]string{"masterBrokerId": ids, "masterEpoch": ids, "syncStateSetEpoch": "1", "syncStateSet": ids}
		_, _ = controlapi.ReplicaInfoFromExt(ext)
	})
}
