package controller

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sort"

	"github.com/skiffmq/skiff/internal/controlapi"
)

// BrokerSet is the replicated state of one broker set (one brokerName).
type BrokerSet struct {
	ClusterName       string           `json:"clusterName"`
	BrokerName        string           `json:"brokerName"`
	MasterID          int64            `json:"masterBrokerId"` // 0: no master
	MasterEpoch       int64            `json:"masterEpoch"`
	SyncStateSet      []int64          `json:"syncStateSet"` // sorted; holds the master when there is one
	SyncStateSetEpoch int64            `json:"syncStateSetEpoch"`
	Replicas          map[int64]string `json:"replicas"` // brokerId -> broker address
}

// Info is the set as the wire API shows it.
func (b *BrokerSet) Info() controlapi.ReplicaInfo {
	return controlapi.ReplicaInfo{
		MasterBrokerID: b.MasterID, MasterAddress: b.Replicas[b.MasterID], MasterEpoch: b.MasterEpoch,
		SyncStateSet: slices.Clone(b.SyncStateSet), SyncStateSetEpoch: b.SyncStateSetEpoch,
	}
}

func (b *BrokerSet) clone() *BrokerSet {
	c := *b
	c.SyncStateSet = slices.Clone(b.SyncStateSet)
	c.Replicas = make(map[int64]string, len(b.Replicas))
	for k, v := range b.Replicas {
		c.Replicas[k] = v
	}
	return &c
}

func (b *BrokerSet) inSyncStateSet(id int64) bool { return slices.Contains(b.SyncStateSet, id) }

// Op names a state change.
type Op string

// The state changes. Every one is decided on the Raft leader and applied, identically, by every
// node's state machine.
const (
	// OpRegister records a replica's address; the first replica of a new set becomes its master
	// in epoch 1 with SyncStateSet {itself}.
	OpRegister Op = "register"
	// OpAlterSyncStateSet replaces the SyncStateSet, if master, masterEpoch and syncStateSetEpoch
	// are the expected ones.
	OpAlterSyncStateSet Op = "alterSyncStateSet"
	// OpElectMaster makes NewMasterID master in epoch MasterEpoch+1 with SyncStateSet {it}, or
	// records that the set has no master (NewMasterID 0, the epoch still moves on so the old master
	// is fenced), if masterEpoch is the expected one. The new master must be in the SyncStateSet
	// unless Unclean.
	OpElectMaster Op = "electMaster"
	// OpNodeAddr records the name-server address of a controller node (so that followers can
	// forward requests to the leader).
	OpNodeAddr Op = "nodeAddr"
)

// Command is one entry of the Raft log (JSON).
type Command struct {
	Op                      Op      `json:"op"`
	ClusterName             string  `json:"clusterName,omitempty"`
	BrokerName              string  `json:"brokerName,omitempty"`
	BrokerID                int64   `json:"brokerId,omitempty"`
	BrokerAddr              string  `json:"brokerAddr,omitempty"`
	ExpectMasterID          int64   `json:"expectMasterId,omitempty"`
	ExpectMasterEpoch       int64   `json:"expectMasterEpoch,omitempty"`
	ExpectSyncStateSetEpoch int64   `json:"expectSyncStateSetEpoch,omitempty"`
	SyncStateSet            []int64 `json:"syncStateSet,omitempty"`
	NewMasterID             int64   `json:"newMasterId,omitempty"`
	Unclean                 bool    `json:"unclean,omitempty"`
	NodeID                  string  `json:"nodeId,omitempty"`
	NodeAddr                string  `json:"nodeAddr,omitempty"`
}

// Result is the outcome of applying a Command.
type Result struct {
	Code   int32                  // controlapi response code; Success when applied
	Remark string                 // why it was refused
	Info   controlapi.ReplicaInfo // the set after the command
	// Changed reports a master change (for logs, metrics and notifications).
	Changed bool
}

func refuse(code int32, format string, args ...any) Result {
	return Result{Code: code, Remark: fmt.Sprintf(format, args...)}
}

// ErrBadCommand is returned by DecodeCommand for bytes that are not a command.
var ErrBadCommand = errors.New("controller: bad command")

// DecodeCommand decodes a Raft log entry.
func DecodeCommand(b []byte) (Command, error) {
	var c Command
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("%w: %v", ErrBadCommand, err)
	}
	return c, nil
}

// State is the replicated controller state: every broker set, and the name-server address of each
// controller node. It is deterministic: Apply depends only on the state and the command.
//
// Concurrency: State has no lock; the FSM serializes Apply, Snapshot and Restore and guards reads.
type State struct {
	Sets  map[string]*BrokerSet `json:"sets"`
	Nodes map[string]string     `json:"nodes"` // controller node id -> name-server address
}

// NewState returns an empty state.
func NewState() *State {
	return &State{Sets: map[string]*BrokerSet{}, Nodes: map[string]string{}}
}

// Set returns a copy of the named set.
func (s *State) Set(name string) (*BrokerSet, bool) {
	b, ok := s.Sets[name]
	if !ok {
		return nil, false
	}
	return b.clone(), true
}

// Names returns the broker names, sorted.
func (s *State) Names() []string {
	out := make([]string, 0, len(s.Sets))
	for n := range s.Sets {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// Apply applies one command and reports the outcome. A refused command changes nothing.
func (s *State) Apply(c Command) Result {
	switch c.Op {
	case OpNodeAddr:
		if c.NodeID == "" {
			return refuse(controlapi.InvalidRequest, "nodeAddr without a node id")
		}
		s.Nodes[c.NodeID] = c.NodeAddr
		return Result{}
	case OpRegister:
		return s.register(c)
	case OpAlterSyncStateSet:
		return s.alter(c)
	case OpElectMaster:
		return s.elect(c)
	}
	return refuse(controlapi.InvalidRequest, "unknown operation %q", c.Op)
}

func (s *State) register(c Command) Result {
	if c.BrokerName == "" || c.BrokerID < 1 || c.BrokerAddr == "" {
		return refuse(controlapi.InvalidRequest, "register: brokerName %q, brokerId %d, brokerAddr %q: want a name, an id ≥ 1 and an address",
			c.BrokerName, c.BrokerID, c.BrokerAddr)
	}
	b, ok := s.Sets[c.BrokerName]
	if !ok {
		b = &BrokerSet{ClusterName: c.ClusterName, BrokerName: c.BrokerName, Replicas: map[int64]string{}}
		s.Sets[c.BrokerName] = b
	}
	b.Replicas[c.BrokerID] = c.BrokerAddr
	if c.ClusterName != "" {
		b.ClusterName = c.ClusterName
	}
	changed := false
	if b.MasterEpoch == 0 && b.MasterID == 0 {
		// A new set: its first replica is the master, alone in the SyncStateSet.
		b.MasterID, b.MasterEpoch = c.BrokerID, 1
		b.SyncStateSet, b.SyncStateSetEpoch = []int64{c.BrokerID}, 1
		changed = true
	}
	return Result{Info: b.Info(), Changed: changed}
}

func (s *State) alter(c Command) Result {
	b, ok := s.Sets[c.BrokerName]
	if !ok {
		return refuse(controlapi.BrokerMetadataNotExist, "broker set %q is unknown", c.BrokerName)
	}
	if c.ExpectMasterEpoch != b.MasterEpoch {
		return refuse(controlapi.FencedMasterEpoch, "master epoch %d is fenced: the set is in epoch %d", c.ExpectMasterEpoch, b.MasterEpoch)
	}
	if c.ExpectSyncStateSetEpoch != b.SyncStateSetEpoch {
		return refuse(controlapi.FencedSyncStateSetEpoch, "syncStateSet epoch %d is fenced: the set is at %d", c.ExpectSyncStateSetEpoch, b.SyncStateSetEpoch)
	}
	if b.MasterID == 0 || c.ExpectMasterID != b.MasterID {
		return refuse(controlapi.InvalidMaster, "broker %d is not the master of %q (master %d)", c.ExpectMasterID, c.BrokerName, b.MasterID)
	}
	set, err := controlapi.SplitIDs(controlapi.JoinIDs(c.SyncStateSet))
	if err != nil || !slices.Contains(set, b.MasterID) {
		return refuse(controlapi.InvalidReplicas, "syncStateSet %v must hold the master %d", c.SyncStateSet, b.MasterID)
	}
	for _, id := range set {
		if _, known := b.Replicas[id]; !known {
			return refuse(controlapi.InvalidReplicas, "syncStateSet member %d is not a registered replica of %q", id, c.BrokerName)
		}
	}
	b.SyncStateSet = set
	b.SyncStateSetEpoch++
	return Result{Info: b.Info()}
}

func (s *State) elect(c Command) Result {
	b, ok := s.Sets[c.BrokerName]
	if !ok {
		return refuse(controlapi.BrokerMetadataNotExist, "broker set %q is unknown", c.BrokerName)
	}
	if c.ExpectMasterEpoch != b.MasterEpoch {
		return refuse(controlapi.FencedMasterEpoch, "master epoch %d is fenced: the set is in epoch %d", c.ExpectMasterEpoch, b.MasterEpoch)
	}
	if c.NewMasterID != 0 {
		if _, known := b.Replicas[c.NewMasterID]; !known {
			return refuse(controlapi.ElectMasterFailed, "broker %d is not a registered replica of %q", c.NewMasterID, c.BrokerName)
		}
		if !c.Unclean && !b.inSyncStateSet(c.NewMasterID) {
			return refuse(controlapi.ElectMasterFailed, "broker %d is not in the SyncStateSet %v of %q", c.NewMasterID, b.SyncStateSet, c.BrokerName)
		}
	} else if b.MasterID == 0 {
		return refuse(controlapi.ElectMasterFailed, "%q has no master already", c.BrokerName)
	}
	b.MasterID = c.NewMasterID
	b.MasterEpoch++
	if c.NewMasterID != 0 {
		b.SyncStateSet = []int64{c.NewMasterID}
		b.SyncStateSetEpoch++
	}
	// Without a master the SyncStateSet stays as it was: it still says who may be elected.
	return Result{Info: b.Info(), Changed: true}
}

// Encode returns the snapshot form of the state (JSON).
func (s *State) Encode() ([]byte, error) { return json.Marshal(s) }

// DecodeState reads what Encode wrote, checking what the state machine relies on.
func DecodeState(b []byte) (*State, error) {
	st := NewState()
	if err := json.Unmarshal(b, st); err != nil {
		return nil, fmt.Errorf("controller: bad snapshot: %w", err)
	}
	if st.Sets == nil {
		st.Sets = map[string]*BrokerSet{}
	}
	if st.Nodes == nil {
		st.Nodes = map[string]string{}
	}
	for name, b := range st.Sets {
		if b == nil || b.BrokerName != name {
			return nil, fmt.Errorf("controller: bad snapshot: set %q", name)
		}
		if b.Replicas == nil {
			b.Replicas = map[int64]string{}
		}
		if b.SyncStateSet == nil {
			b.SyncStateSet = []int64{}
		}
	}
	return st, nil
}
