// Package controlapi is the wire API of the failover controller (RocketMQ 5 "controller mode"),
// shared by the name server that runs the controller, the brokers that talk to it and mqadmin:
// request and response codes, the extField names and the JSON bodies. It is pure (standard library
// only) and every decoder is fuzz-tested.
//
// # Requests (served on the name server's listen port when enableControllerInNamesrv = true)
//
//	code  name                               extFields in                         answer
//	 904  BROKER_HEARTBEAT                   clusterName brokerName brokerId       SUCCESS + ReplicaInfo (ext)
//	                                         brokerAddr epoch maxOffset            + heartbeatTimeoutMills
//	                                         electionPriority
//	1001  CONTROLLER_ALTER_SYNC_STATE_SET    brokerName masterBrokerId             SUCCESS + ext newSyncStateSetEpoch
//	                                         masterEpoch; body SyncStateSet        | 2000 | 2001 | 2002 | 2003
//	1002  CONTROLLER_ELECT_MASTER            clusterName brokerName [brokerId]     SUCCESS + ReplicaInfo | 2012
//	1003  CONTROLLER_REGISTER_BROKER         clusterName brokerName brokerId       SUCCESS + ReplicaInfo
//	                                         brokerAddr
//	1004  CONTROLLER_GET_REPLICA_INFO        brokerName                            SUCCESS + ReplicaInfo | 2008
//	1005  CONTROLLER_GET_METADATA_INFO       -                                     SUCCESS + ext + body Metadata
//	1006  CONTROLLER_GET_SYNC_STATE_DATA     body ["brokerName",...] ([] = all)    SUCCESS + body {name: SetInfo}
//
// ReplicaInfo travels as extFields masterBrokerId, masterAddress, masterEpoch, syncStateSetEpoch
// and syncStateSet (ids joined by ","), so a broker reads it without a JSON body. A name server
// that is not the Raft leader forwards the request to the leader (extField controllerForwarded =
// true marks a forwarded request, which is never forwarded again) or answers CONTROLLER_NOT_LEADER.
//
// Requests the controller sends to brokers, and brokers to each other:
//
//	1007  GET_BROKER_EPOCH_CACHE             -                                     SUCCESS + body EpochCache
//	1008  NOTIFY_BROKER_ROLE_CHANGED         ReplicaInfo (ext)                     SUCCESS (oneway-like)
package controlapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Request codes (RocketMQ RequestCode names).
const (
	BrokerHeartbeat          int32 = 904
	AlterSyncStateSet        int32 = 1001
	ElectMaster              int32 = 1002
	RegisterBroker           int32 = 1003
	GetReplicaInfo           int32 = 1004
	GetMetadataInfo          int32 = 1005
	GetSyncStateData         int32 = 1006
	GetBrokerEpochCache      int32 = 1007
	NotifyBrokerRoleChanged  int32 = 1008
	ControllerForwardedField       = "controllerForwarded"
)

// Response codes (RocketMQ ResponseCode names).
const (
	Success                 int32 = 0
	SystemError             int32 = 1
	FencedMasterEpoch       int32 = 2000
	FencedSyncStateSetEpoch int32 = 2001
	InvalidMaster           int32 = 2002
	InvalidReplicas         int32 = 2003
	MasterNotAvailable      int32 = 2004
	InvalidRequest          int32 = 2005
	BrokerNotAlive          int32 = 2006
	NotLeader               int32 = 2007
	BrokerMetadataNotExist  int32 = 2008
	ElectMasterFailed       int32 = 2012
	AlterSyncStateSetFailed int32 = 2013
	BrokerIDInvalid         int32 = 2014
)

// ErrBadBody is returned by the decoders for bytes that are not a valid body.
var ErrBadBody = errors.New("controlapi: bad body")

// ReplicaInfo is what the controller tells a broker about its set: who is master in which epoch,
// and the SyncStateSet with its epoch.
type ReplicaInfo struct {
	MasterBrokerID    int64   `json:"masterBrokerId"` // 0: no master
	MasterAddress     string  `json:"masterAddress"`
	MasterEpoch       int64   `json:"masterEpoch"`
	SyncStateSet      []int64 `json:"syncStateSet"`
	SyncStateSetEpoch int64   `json:"syncStateSetEpoch"`
}

// PutExt writes r into extFields.
func (r ReplicaInfo) PutExt(ext map[string]string) {
	ext["masterBrokerId"] = strconv.FormatInt(r.MasterBrokerID, 10)
	ext["masterAddress"] = r.MasterAddress
	ext["masterEpoch"] = strconv.FormatInt(r.MasterEpoch, 10)
	ext["syncStateSetEpoch"] = strconv.FormatInt(r.SyncStateSetEpoch, 10)
	ext["syncStateSet"] = JoinIDs(r.SyncStateSet)
}

// ReplicaInfoFromExt reads what PutExt wrote.
func ReplicaInfoFromExt(ext map[string]string) (ReplicaInfo, error) {
	var r ReplicaInfo
	var err error
	if r.MasterBrokerID, err = IntField(ext, "masterBrokerId"); err != nil {
		return r, err
	}
	if r.MasterEpoch, err = IntField(ext, "masterEpoch"); err != nil {
		return r, err
	}
	if r.SyncStateSetEpoch, err = IntField(ext, "syncStateSetEpoch"); err != nil {
		return r, err
	}
	if r.SyncStateSet, err = SplitIDs(ext["syncStateSet"]); err != nil {
		return r, err
	}
	r.MasterAddress = ext["masterAddress"]
	return r, nil
}

// InSyncStateSet reports whether id is in the SyncStateSet.
func (r ReplicaInfo) InSyncStateSet(id int64) bool {
	for _, m := range r.SyncStateSet {
		if m == id {
			return true
		}
	}
	return false
}

// IntField parses extField k as a decimal int64; a missing field is an error naming it.
func IntField(ext map[string]string, k string) (int64, error) {
	v, ok := ext[k]
	if !ok {
		return 0, fmt.Errorf("controlapi: the custom field <%s> is null", k)
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("controlapi: field %s = %q: not an integer", k, v)
	}
	return n, nil
}

// JoinIDs formats ids as "1,2,3" (sorted).
func JoinIDs(ids []int64) string {
	s := append([]int64(nil), ids...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	parts := make([]string, len(s))
	for i, id := range s {
		parts[i] = strconv.FormatInt(id, 10)
	}
	return strings.Join(parts, ",")
}

// SplitIDs parses "1,2,3" (empty = none). Ids must be ≥ 1 and are returned sorted without
// duplicates.
func SplitIDs(s string) ([]int64, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return []int64{}, nil
	}
	seen := map[int64]bool{}
	out := []int64{}
	for _, p := range strings.Split(s, ",") {
		id, err := strconv.ParseInt(strings.TrimSpace(p), 10, 64)
		if err != nil || id < 1 {
			return nil, fmt.Errorf("%w: broker id %q in %q", ErrBadBody, p, s)
		}
		if !seen[id] {
			seen[id] = true
			out = append(out, id)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out, nil
}

// SyncStateSetBody is the body of CONTROLLER_ALTER_SYNC_STATE_SET: the new set and the epoch of
// the set it replaces (compare-and-set).
type SyncStateSetBody struct {
	SyncStateSet      []int64 `json:"syncStateSet"`
	SyncStateSetEpoch int64   `json:"syncStateSetEpoch"`
}

// DecodeSyncStateSetBody decodes and checks an ALTER_SYNC_STATE_SET body.
func DecodeSyncStateSetBody(b []byte) (SyncStateSetBody, error) {
	var v SyncStateSetBody
	if err := json.Unmarshal(b, &v); err != nil {
		return v, fmt.Errorf("%w: %v", ErrBadBody, err)
	}
	if len(v.SyncStateSet) == 0 || len(v.SyncStateSet) > 64 {
		return v, fmt.Errorf("%w: syncStateSet has %d members, want 1..64", ErrBadBody, len(v.SyncStateSet))
	}
	ids, err := SplitIDs(JoinIDs(v.SyncStateSet))
	if err != nil {
		return v, err
	}
	v.SyncStateSet = ids
	return v, nil
}

// DecodeBrokerNames decodes the body of CONTROLLER_GET_SYNC_STATE_DATA: a JSON array of broker
// names; an empty body means every set.
func DecodeBrokerNames(b []byte) ([]string, error) {
	if len(strings.TrimSpace(string(b))) == 0 {
		return nil, nil
	}
	var names []string
	if err := json.Unmarshal(b, &names); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadBody, err)
	}
	return names, nil
}

// ReplicaState is one replica in a SetInfo.
type ReplicaState struct {
	BrokerID   int64  `json:"brokerId"`
	BrokerAddr string `json:"brokerAddr"`
	Alive      bool   `json:"alive"`
	Epoch      int64  `json:"epoch"`     // from its last heartbeat
	MaxOffset  int64  `json:"maxOffset"` // from its last heartbeat
}

// SetInfo is one broker set in the GET_SYNC_STATE_DATA answer.
type SetInfo struct {
	ClusterName string `json:"clusterName"`
	BrokerName  string `json:"brokerName"`
	ReplicaInfo
	Replicas []ReplicaState `json:"replicas"`
}

// DecodeSyncStateData decodes a GET_SYNC_STATE_DATA answer.
func DecodeSyncStateData(b []byte) (map[string]SetInfo, error) {
	var m map[string]SetInfo
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadBody, err)
	}
	return m, nil
}

// Peer is one controller node.
type Peer struct {
	ID          string `json:"id"`
	RaftAddr    string `json:"raftAddr"`
	NamesrvAddr string `json:"namesrvAddr,omitempty"` // known once the node has been leader
}

// Metadata is the GET_METADATA_INFO answer body.
type Metadata struct {
	Group                string `json:"group"`
	ControllerLeaderID   string `json:"controllerLeaderId"`
	ControllerLeaderAddr string `json:"controllerLeaderAddress"`
	IsLeader             bool   `json:"isLeader"`
	SelfID               string `json:"selfId"`
	Peers                []Peer `json:"peers"`
}

// EpochEntry is one line of a broker's epoch file: from StartOffset on, the log was written by the
// master of Epoch.
type EpochEntry struct {
	Epoch       int64 `json:"epoch"`
	StartOffset int64 `json:"startOffset"`
}

// EpochCache is the GET_BROKER_EPOCH_CACHE answer: the broker's epoch entries, its max offset, and
// what it believes about its set.
type EpochCache struct {
	BrokerName string       `json:"brokerName"`
	BrokerID   int64        `json:"brokerId"`
	Master     bool         `json:"master"`
	MaxOffset  int64        `json:"maxOffset"`
	Entries    []EpochEntry `json:"entries"`
	// HaServerAddr is where a slave of this master connects.
	HaServerAddr string `json:"haServerAddr"`
	ReplicaInfo
}

// DecodeEpochCache decodes and checks a GET_BROKER_EPOCH_CACHE body: entries must have strictly
// increasing epochs and non-decreasing start offsets.
func DecodeEpochCache(b []byte) (EpochCache, error) {
	var c EpochCache
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("%w: %v", ErrBadBody, err)
	}
	for i, e := range c.Entries {
		if e.Epoch < 1 || e.StartOffset < 0 {
			return c, fmt.Errorf("%w: epoch entry %d: epoch %d start %d", ErrBadBody, i, e.Epoch, e.StartOffset)
		}
		if i > 0 && (e.Epoch <= c.Entries[i-1].Epoch || e.StartOffset < c.Entries[i-1].StartOffset) {
			return c, fmt.Errorf("%w: epoch entry %d (%d@%d) does not follow (%d@%d)", ErrBadBody, i,
				e.Epoch, e.StartOffset, c.Entries[i-1].Epoch, c.Entries[i-1].StartOffset)
		}
	}
	if c.MaxOffset < 0 {
		return c, fmt.Errorf("%w: maxOffset %d", ErrBadBody, c.MaxOffset)
	}
	return c, nil
}

// endOf is where epoch entry i ends: the next entry's start, or max, never past max.
func endOf(entries []EpochEntry, i int, max int64) int64 {
	if i+1 < len(entries) && entries[i+1].StartOffset < max {
		return entries[i+1].StartOffset
	}
	return max
}

// ConsistentOffset compares a replica's epoch entries (ending at localMax) with the master's
// (ending at masterMax) and returns the end of their common prefix: for the newest epoch both
// have with the same start offset, the smaller of the two ends of that epoch. ok is false when
// they share no epoch (the caller decides; truncating everything is rarely right).
func ConsistentOffset(local []EpochEntry, localMax int64, master []EpochEntry, masterMax int64) (off int64, ok bool) {
	for i := len(local) - 1; i >= 0; i-- {
		if local[i].StartOffset > localMax {
			continue
		}
		for j := len(master) - 1; j >= 0; j-- {
			if master[j].Epoch != local[i].Epoch {
				continue
			}
			if master[j].StartOffset != local[i].StartOffset {
				break
			}
			return min(endOf(local, i, localMax), endOf(master, j, masterMax)), true
		}
	}
	return 0, false
}
