package controller

import (
	"slices"
	"sort"
	"time"

	"github.com/skiffmq/skiff/internal/controlapi"
)

// Heartbeat is what a broker reports every brokerHeartbeatInterval.
type Heartbeat struct {
	ClusterName string
	BrokerName  string
	BrokerID    int64
	BrokerAddr  string
	Epoch       int64 // the last master epoch the broker accepted
	MaxOffset   int64 // its commit-log end
	Priority    int64 // brokerElectionPriority: smaller is preferred
}

type replicaKey struct {
	name string
	id   int64
}

type seen struct {
	hb Heartbeat
	at time.Time
}

// Liveness is the leader's view of which replicas are alive: the last heartbeat of each. It is
// not replicated (a new leader starts empty and gives every replica one timeout of grace, from
// Reset), and it reads time only from the caller.
//
// Concurrency: none of its own; the Controller guards it with its mutex.
type Liveness struct {
	timeout time.Duration
	since   time.Time // leadership start: replicas not heard from are alive until since+timeout
	beats   map[replicaKey]seen
}

// NewLiveness returns an empty table with the given heartbeat timeout.
func NewLiveness(timeout time.Duration, now time.Time) *Liveness {
	return &Liveness{timeout: timeout, since: now, beats: map[replicaKey]seen{}}
}

// Reset forgets every heartbeat (this node just became leader at now).
func (l *Liveness) Reset(now time.Time) {
	l.since = now
	l.beats = map[replicaKey]seen{}
}

// Beat records a heartbeat received at now.
func (l *Liveness) Beat(hb Heartbeat, now time.Time) {
	l.beats[replicaKey{hb.BrokerName, hb.BrokerID}] = seen{hb: hb, at: now}
}

// Last returns the last heartbeat of a replica.
func (l *Liveness) Last(name string, id int64) (Heartbeat, time.Time, bool) {
	s, ok := l.beats[replicaKey{name, id}]
	return s.hb, s.at, ok
}

// Alive reports whether a replica's last heartbeat is younger than the timeout, or, if it has
// not been heard from since this node became leader, whether the grace period is still running.
func (l *Liveness) Alive(name string, id int64, now time.Time) bool {
	s, ok := l.beats[replicaKey{name, id}]
	if !ok {
		return now.Sub(l.since) < l.timeout
	}
	return now.Sub(s.at) < l.timeout
}

// Forget drops a replica (its set was removed).
func (l *Liveness) Forget(name string, id int64) { delete(l.beats, replicaKey{name, id}) }

// Choose picks the next master of set b at now: a replica that is alive and heard from, in the
// SyncStateSet unless unclean, preferring the highest epoch, then the largest max offset, then the
// smallest brokerElectionPriority, then the smallest id. exclude (the master being replaced) is
// never chosen. preferred > 0 asks for that replica only (planned electMaster). It returns 0 and
// a reason when nobody qualifies.
func (l *Liveness) Choose(b *BrokerSet, now time.Time, unclean bool, preferred, exclude int64) (int64, string) {
	type cand struct {
		id int64
		hb Heartbeat
	}
	var cands []cand
	ids := make([]int64, 0, len(b.Replicas))
	for id := range b.Replicas {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		if id == exclude || (preferred > 0 && id != preferred) {
			continue
		}
		if !unclean && !b.inSyncStateSet(id) {
			continue
		}
		s, ok := l.beats[replicaKey{b.BrokerName, id}]
		if !ok || now.Sub(s.at) >= l.timeout {
			continue
		}
		cands = append(cands, cand{id, s.hb})
	}
	if len(cands) == 0 {
		if preferred > 0 {
			return 0, "the designated replica is not alive, not registered" + map[bool]string{false: " or not in the SyncStateSet", true: ""}[unclean]
		}
		return 0, "no alive replica" + map[bool]string{false: " in the SyncStateSet", true: ""}[unclean]
	}
	sort.SliceStable(cands, func(i, j int) bool {
		a, c := cands[i].hb, cands[j].hb
		if a.Epoch != c.Epoch {
			return a.Epoch > c.Epoch
		}
		if a.MaxOffset != c.MaxOffset {
			return a.MaxOffset > c.MaxOffset
		}
		if a.Priority != c.Priority {
			return a.Priority < c.Priority
		}
		return cands[i].id < cands[j].id
	})
	return cands[0].id, ""
}

// NeedElection lists the sets whose master is missing or dead at now (sorted by name), with the
// dead master's id (0 when there is none).
func (l *Liveness) NeedElection(st *State, now time.Time) []Pending {
	var out []Pending
	for _, name := range st.Names() {
		b := st.Sets[name]
		if b.MasterID == 0 || !l.Alive(name, b.MasterID, now) {
			out = append(out, Pending{BrokerName: name, DeadMaster: b.MasterID, MasterEpoch: b.MasterEpoch})
		}
	}
	return out
}

// Pending is a set that needs a new master.
type Pending struct {
	BrokerName  string
	DeadMaster  int64
	MasterEpoch int64
}

// States lists every replica of b with its liveness and last report.
func (l *Liveness) States(b *BrokerSet, now time.Time) []controlapi.ReplicaState {
	ids := make([]int64, 0, len(b.Replicas))
	for id := range b.Replicas {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	out := make([]controlapi.ReplicaState, 0, len(ids))
	for _, id := range ids {
		rs := controlapi.ReplicaState{BrokerID: id, BrokerAddr: b.Replicas[id], Alive: l.Alive(b.BrokerName, id, now)}
		if s, ok := l.beats[replicaKey{b.BrokerName, id}]; ok {
			rs.Epoch, rs.MaxOffset = s.hb.Epoch, s.hb.MaxOffset
		}
		out = append(out, rs)
	}
	return out
}
