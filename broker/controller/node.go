package controller

import (
	"slices"
	"time"

	"github.com/skiffmq/skiff/internal/controlapi"
)

// Role is what a replica currently is.
type Role int

// Roles.
const (
	RoleNone   Role = iota // no master known, or the set has none: neither writes nor follows
	RoleMaster             // named master of Node.Epoch
	RoleSlave              // follows the master of Node.Epoch
)

func (r Role) String() string {
	switch r {
	case RoleMaster:
		return "master"
	case RoleSlave:
		return "slave"
	}
	return "none"
}

// Change says what the broker must do after Observe.
type Change int

// Changes.
const (
	Stay         Change = iota // nothing to switch (the SyncStateSet may have changed)
	BecomeMaster               // start writing as master of Node.Epoch
	BecomeSlave                // follow Node.Info.MasterAddress
	BecomeNone                 // stop writing and following
)

// Node is one replica's view of its set. Not safe for concurrent use: the broker's controller
// loop owns it and publishes copies.
type Node struct {
	ID         int64                  // this replica's brokerId
	Epoch      int64                  // the newest master epoch accepted
	Role       Role                   //
	Info       controlapi.ReplicaInfo // the controller's latest answer for Epoch
	LeaseUntil time.Time              // a master acknowledges writes only before this
}

// NewNode starts a replica that already accepted epoch (from its epoch file).
func NewNode(id, epoch int64) *Node { return &Node{ID: id, Epoch: epoch} }

// Observe applies an answer of the controller. sentAt is when the request that got it was sent
// and lease the controller's heartbeat timeout; lease 0 (a pushed notice) renews nothing. An
// answer from an older epoch than the accepted one is ignored.
func (n *Node) Observe(info controlapi.ReplicaInfo, sentAt time.Time, lease time.Duration) Change {
	if info.MasterEpoch < n.Epoch {
		return Stay
	}
	newer := info.MasterEpoch > n.Epoch
	n.Epoch = info.MasterEpoch
	if newer || info.SyncStateSetEpoch >= n.Info.SyncStateSetEpoch {
		n.Info = info
		n.Info.SyncStateSet = slices.Clone(info.SyncStateSet)
	}
	want := RoleSlave
	switch info.MasterBrokerID {
	case n.ID:
		want = RoleMaster
	case 0:
		want = RoleNone
	}
	if want == RoleMaster && lease > 0 {
		n.LeaseUntil = sentAt.Add(lease)
	}
	if want == n.Role && !newer {
		return Stay
	}
	n.Role = want
	if want != RoleMaster {
		n.LeaseUntil = time.Time{}
	}
	switch want {
	case RoleMaster:
		return BecomeMaster
	case RoleSlave:
		return BecomeSlave
	}
	return BecomeNone
}

// Writable reports whether the replica may acknowledge writes at now.
func (n *Node) Writable(now time.Time) bool { return n.Role == RoleMaster && now.Before(n.LeaseUntil) }

// SyncTracker is the master's bookkeeping of its SyncStateSet (see the package doc). Not safe for
// concurrent use.
type SyncTracker struct {
	maxLag   time.Duration
	self     int64
	since    time.Time
	caughtUp map[int64]time.Time
	pending  map[int64]int64 // joining replica -> the end it must acknowledge before it joins
	prevEnd  int64
}

// NewSyncTracker starts the bookkeeping of a new master (self) at now with end offset end.
func NewSyncTracker(self int64, maxLag time.Duration, now time.Time, end int64) *SyncTracker {
	return &SyncTracker{maxLag: maxLag, self: self, since: now, caughtUp: map[int64]time.Time{}, pending: map[int64]int64{}, prevEnd: end}
}

// Tick updates the bookkeeping from the acknowledged offsets at now (end is the master's end) and
// returns the SyncStateSet to propose, or nil to keep set.
func (t *SyncTracker) Tick(now time.Time, end int64, acks map[int64]int64, set []int64) []int64 {
	for id, ack := range acks {
		if ack >= t.prevEnd {
			t.caughtUp[id] = now
		}
	}
	lagging := func(id int64) bool {
		at, ok := t.caughtUp[id]
		if !ok {
			at = t.since
		}
		return now.Sub(at) > t.maxLag
	}
	next := []int64{t.self}
	for _, id := range set {
		if id != t.self && !lagging(id) {
			next = append(next, id)
		}
	}
	for id := range t.pending {
		if slices.Contains(set, id) || lagging(id) {
			delete(t.pending, id) // joined, or gave up
		}
	}
	for id, ack := range acks {
		if id == t.self || slices.Contains(set, id) {
			continue
		}
		if need, ok := t.pending[id]; ok {
			if ack >= need {
				next = append(next, id)
			}
		} else if ack >= t.prevEnd {
			t.pending[id] = end // from now on every send waits for it too
		}
	}
	t.prevEnd = end
	slices.Sort(next)
	if slices.Equal(next, sorted(set)) {
		return nil
	}
	return next
}

// WaitSet is who a send must be acknowledged by besides the master: the SyncStateSet members and
// the replicas being added, plus those of a proposal in flight.
func (t *SyncTracker) WaitSet(set, inflight []int64) []int64 {
	var out []int64
	add := func(id int64) {
		if id != t.self && !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	for _, id := range set {
		add(id)
	}
	for _, id := range inflight {
		add(id)
	}
	for id := range t.pending {
		add(id)
	}
	slices.Sort(out)
	return out
}

func sorted(ids []int64) []int64 {
	s := slices.Clone(ids)
	slices.Sort(s)
	return s
}
