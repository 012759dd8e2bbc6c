package controlapi

import "testing"

func TestConsistentOffset(t *testing.T) {
	e := func(pairs ...int64) []EpochEntry {
		var out []EpochEntry
		for i := 0; i < len(pairs); i += 2 {
			out = append(out, EpochEntry{Epoch: pairs[i], StartOffset: pairs[i+1]})
		}
		return out
	}
	cases := []struct {
		name      string
		local     []EpochEntry
		localMax  int64
		master    []EpochEntry
		masterMax int64
		want      int64
		ok        bool
	}{
		{"same log", e(1, 0), 100, e(1, 0), 100, 100, true},
		{"slave behind", e(1, 0), 50, e(1, 0, 2, 80), 200, 50, true},
		{"old master wrote past the switch point", e(1, 0), 120, e(1, 0, 2, 100), 300, 100, true},
		{"diverged in a later epoch", e(1, 0, 2, 100, 3, 150), 180, e(1, 0, 2, 100, 4, 160), 400, 150, true},
		{"epoch reused at another offset is not common", e(1, 0, 3, 50), 90, e(1, 0, 3, 70), 100, 50, true},
		{"nothing in common", e(5, 0), 10, e(1, 0), 100, 0, false},
		{"empty replica", nil, 0, e(1, 0), 100, 0, false},
		{"entry beyond the replica's end", e(1, 0, 2, 100), 60, e(1, 0, 2, 100), 300, 60, true},
	}
	for _, tc := range cases {
		got, ok := ConsistentOffset(tc.local, tc.localMax, tc.master, tc.masterMax)
		if got != tc.want || ok != tc.ok {
			t.Errorf("%s: got %d %v, want %d %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}

func TestReplicaInfoExtRoundTrip(t *testing.T) {
	in := ReplicaInfo{MasterBrokerID: 2, MasterAddress: "a:1", MasterEpoch: 7, SyncStateSet: []int64{3, 1, 2}, SyncStateSetEpoch: 9}
	ext := map[string]string{}
	in.PutExt(ext)
	out, err := ReplicaInfoFromExt(ext)
	if err != nil || out.MasterBrokerID != 2 || out.MasterEpoch != 7 || JoinIDs(out.SyncStateSet) != "1,2,3" || out.SyncStateSetEpoch != 9 || out.MasterAddress != "a:1" {
		t.Fatalf("%+v %v", out, err)
	}
	if _, err := SplitIDs("1,0"); err == nil {
		t.Fatal("id 0 accepted")
	}
	if _, err := DecodeEpochCache([]byte(`{"entries":[{"epoch":2,"startOffset":10},{"epoch":2,"startOffset":20}]}`)); err == nil {
		t.Fatal("a repeated epoch accepted")
	}
}
