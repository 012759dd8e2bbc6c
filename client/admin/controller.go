package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/skiffmq/skiff/client/internal/core"
	"github.com/skiffmq/skiff/internal/remoting"
)

// Controller request codes (RocketMQ 5 controller mode; served by name servers with
// enableControllerInNamesrv, which forward to the Raft leader).
const (
	codeControllerElectMaster      int32 = 1002
	codeControllerGetMetadataInfo  int32 = 1005
	codeControllerGetSyncStateData int32 = 1006
	codeGetBrokerEpochCache        int32 = 1007
)

// ReplicaState is one replica of a broker set as the controller sees it.
type ReplicaState struct {
	BrokerID   int64  `json:"brokerId"`
	BrokerAddr string `json:"brokerAddr"`
	Alive      bool   `json:"alive"`
	Epoch      int64  `json:"epoch"`     // the newest epoch in its log, from its last heartbeat
	MaxOffset  int64  `json:"maxOffset"` // its commit-log end, from its last heartbeat
}

// SyncStateInfo is a broker set's master, master epoch and SyncStateSet.
type SyncStateInfo struct {
	ClusterName       string         `json:"clusterName"`
	BrokerName        string         `json:"brokerName"`
	MasterBrokerID    int64          `json:"masterBrokerId"` // 0: no master
	MasterAddress     string         `json:"masterAddress"`
	MasterEpoch       int64          `json:"masterEpoch"`
	SyncStateSet      []int64        `json:"syncStateSet"`
	SyncStateSetEpoch int64          `json:"syncStateSetEpoch"`
	Replicas          []ReplicaState `json:"replicas"`
}

// ControllerPeer is one node of the controller group.
type ControllerPeer struct {
	ID          string `json:"id"`
	RaftAddr    string `json:"raftAddr"`
	NamesrvAddr string `json:"namesrvAddr,omitempty"`
}

// ControllerMetadata describes the controller group as one name server sees it.
type ControllerMetadata struct {
	Group                string           `json:"group"`
	ControllerLeaderID   string           `json:"controllerLeaderId"`
	ControllerLeaderAddr string           `json:"controllerLeaderAddress"`
	IsLeader             bool             `json:"isLeader"`
	SelfID               string           `json:"selfId"`
	Peers                []ControllerPeer `json:"peers"`
	Namesrv              string           `json:"namesrv"` // the name server that answered
}

// EpochEntry is one line of a broker's epoch file.
type EpochEntry struct {
	Epoch       int64 `json:"epoch"`
	StartOffset int64 `json:"startOffset"`
}

// BrokerEpoch is a controller-mode broker's epoch file and view of its set.
type BrokerEpoch struct {
	BrokerName   string       `json:"brokerName"`
	BrokerID     int64        `json:"brokerId"` // the replica id
	BrokerAddr   string       `json:"brokerAddr"`
	Master       bool         `json:"master"`
	MaxOffset    int64        `json:"maxOffset"`
	MasterEpoch  int64        `json:"masterEpoch"` // the newest epoch it accepted
	Entries      []EpochEntry `json:"entries"`
	HaServerAddr string       `json:"haServerAddr"`
}

func (a *Admin) controllerCall(ctx context.Context, code int32, ext map[string]string, body []byte) (*remoting.Command, string, error) {
	resp, addr, err := a.cl.InvokeNamesrv(ctx, func() *remoting.Command { return remoting.NewRequest(code, copyExt(ext), body) })
	if err != nil {
		return nil, "", err
	}
	if err := core.Check(resp, addr, code); err != nil {
		return nil, addr, err
	}
	return resp, addr, nil
}

func copyExt(m map[string]string) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// SyncStateSets returns the controller's view of the named broker sets (all when none is named)
// (CONTROLLER_GET_SYNC_STATE_DATA).
func (a *Admin) SyncStateSets(ctx context.Context, brokerNames ...string) (map[string]SyncStateInfo, error) {
	if brokerNames == nil {
		brokerNames = []string{}
	}
	body, _ := json.Marshal(brokerNames)
	resp, addr, err := a.controllerCall(ctx, codeControllerGetSyncStateData, nil, body)
	if err != nil {
		return nil, err
	}
	var out map[string]SyncStateInfo
	if err := json.Unmarshal(resp.Body, &out); err != nil {
		return nil, fmt.Errorf("admin: sync state data from %s: %w", addr, err)
	}
	return out, nil
}

// ControllerMetadata returns the controller group's leader and peers (CONTROLLER_GET_METADATA_INFO).
func (a *Admin) ControllerMetadata(ctx context.Context) (ControllerMetadata, error) {
	resp, addr, err := a.controllerCall(ctx, codeControllerGetMetadataInfo, nil, nil)
	if err != nil {
		return ControllerMetadata{}, err
	}
	var md ControllerMetadata
	if err := json.Unmarshal(resp.Body, &md); err != nil {
		return md, fmt.Errorf("admin: controller metadata from %s: %w", addr, err)
	}
	md.Namesrv = addr
	return md, nil
}

// ElectMaster makes replica brokerID the master of brokerName now (a planned handover,
// CONTROLLER_ELECT_MASTER); brokerID 0 lets the controller choose. The replica must be alive and
// in the SyncStateSet (unless the controller allows unclean elections).
func (a *Admin) ElectMaster(ctx context.Context, brokerName string, brokerID int64) (SyncStateInfo, error) {
	ext := map[string]string{"brokerName": brokerName, "brokerId": strconv.FormatInt(brokerID, 10)}
	if _, _, err := a.controllerCall(ctx, codeControllerElectMaster, ext, nil); err != nil {
		return SyncStateInfo{}, err
	}
	m, err := a.SyncStateSets(ctx, brokerName)
	if err != nil {
		return SyncStateInfo{}, err
	}
	return m[brokerName], nil
}

// BrokerEpoch asks a controller-mode broker for its epoch file (GET_BROKER_EPOCH_CACHE).
func (a *Admin) BrokerEpoch(ctx context.Context, brokerAddr string) (BrokerEpoch, error) {
	resp, err := a.cl.Invoke(ctx, brokerAddr, remoting.NewRequest(codeGetBrokerEpochCache, nil, nil))
	if err != nil {
		return BrokerEpoch{}, err
	}
	if err := core.Check(resp, brokerAddr, codeGetBrokerEpochCache); err != nil {
		return BrokerEpoch{}, err
	}
	var e BrokerEpoch
	if err := json.Unmarshal(resp.Body, &e); err != nil {
		return e, fmt.Errorf("admin: epoch cache from %s: %w", brokerAddr, err)
	}
	e.BrokerAddr = brokerAddr
	return e, nil
}
