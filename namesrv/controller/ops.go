package controller

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/skiffmq/skiff/internal/controlapi"
)

func encodeCommand(c Command) ([]byte, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("controller: encode command: %w", err)
	}
	return b, nil
}

// leaderOnly returns ErrNotLeader unless this node is a caught-up leader.
func (c *Controller) leaderOnly() error {
	if !c.IsLeader() {
		return ErrNotLeader
	}
	return nil
}

// Register records a replica (CONTROLLER_REGISTER_BROKER).
func (c *Controller) Register(cluster, name string, id int64, addr string) (Result, error) {
	if err := c.leaderOnly(); err != nil {
		return Result{}, err
	}
	res, err := c.propose(Command{Op: OpRegister, ClusterName: cluster, BrokerName: name, BrokerID: id, BrokerAddr: addr})
	if err == nil && res.Changed {
		c.log.Info("master of a new broker set", "broker", name, "master", id, "addr", addr, "masterEpoch", res.Info.MasterEpoch)
		c.changed(name)
	}
	return res, err
}

// Heartbeat records a broker's heartbeat and returns what the controller knows about its set; a
// replica that is not registered yet (or whose address changed) is registered first.
func (c *Controller) Heartbeat(hb Heartbeat) (Result, error) {
	if err := c.leaderOnly(); err != nil {
		return Result{}, err
	}
	var set *BrokerSet
	c.fsm.view(func(st *State) { set, _ = st.Set(hb.BrokerName) })
	if set == nil || set.Replicas[hb.BrokerID] != hb.BrokerAddr {
		if res, err := c.Register(hb.ClusterName, hb.BrokerName, hb.BrokerID, hb.BrokerAddr); err != nil || res.Code != controlapi.Success {
			return res, err
		}
	}
	now := c.cfg.Now()
	c.mu.Lock()
	c.live.Beat(hb, now)
	c.mu.Unlock()
	return c.ReplicaInfo(hb.BrokerName)
}

// ReplicaInfo returns the set's master and SyncStateSet (CONTROLLER_GET_REPLICA_INFO).
func (c *Controller) ReplicaInfo(name string) (Result, error) {
	if err := c.leaderOnly(); err != nil {
		return Result{}, err
	}
	var res Result
	c.fsm.view(func(st *State) {
		b, ok := st.Sets[name]
		if !ok {
			res = refuse(controlapi.BrokerMetadataNotExist, "broker set %q is unknown", name)
			return
		}
		res.Info = b.Info()
	})
	return res, nil
}

// AlterSyncStateSet replaces a set's SyncStateSet if the caller is its master in the epochs it
// names (CONTROLLER_ALTER_SYNC_STATE_SET). Every new member must be alive.
func (c *Controller) AlterSyncStateSet(name string, masterID, masterEpoch int64, body controlapi.SyncStateSetBody) (Result, error) {
	if err := c.leaderOnly(); err != nil {
		return Result{}, err
	}
	now := c.cfg.Now()
	var bad int64
	c.fsm.view(func(st *State) {
		b, ok := st.Sets[name]
		if !ok {
			return
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, id := range body.SyncStateSet {
			if !b.inSyncStateSet(id) && !c.live.Alive(name, id, now) {
				bad = id
			}
		}
	})
	if bad != 0 {
		return refuse(controlapi.BrokerNotAlive, "broker %d of %q is not alive and cannot join the SyncStateSet", bad, name), nil
	}
	res, err := c.propose(Command{Op: OpAlterSyncStateSet, BrokerName: name, ExpectMasterID: masterID, ExpectMasterEpoch: masterEpoch,
		ExpectSyncStateSetEpoch: body.SyncStateSetEpoch, SyncStateSet: body.SyncStateSet})
	if err == nil && res.Code == controlapi.Success {
		c.log.Info("syncStateSet changed", "broker", name, "syncStateSet", res.Info.SyncStateSet, "syncStateSetEpoch", res.Info.SyncStateSetEpoch,
			"masterEpoch", res.Info.MasterEpoch)
	}
	return res, err
}

// ElectMaster elects a new master now (CONTROLLER_ELECT_MASTER): preferred > 0 names the replica
// (planned handover), otherwise the best candidate other than the current master is taken.
func (c *Controller) ElectMaster(name string, preferred int64) (Result, error) {
	if err := c.leaderOnly(); err != nil {
		return Result{}, err
	}
	now := c.cfg.Now()
	var cmd Command
	var res Result
	c.fsm.view(func(st *State) {
		b, ok := st.Sets[name]
		if !ok {
			res = refuse(controlapi.BrokerMetadataNotExist, "broker set %q is unknown", name)
			return
		}
		if preferred > 0 && preferred == b.MasterID {
			res = refuse(controlapi.ElectMasterFailed, "broker %d is already the master of %q", preferred, name)
			return
		}
		c.mu.Lock()
		id, reason := c.live.Choose(b, now, c.cfg.Unclean, preferred, b.MasterID)
		c.mu.Unlock()
		if id == 0 {
			res = refuse(controlapi.ElectMasterFailed, "cannot elect a master for %q: %s", name, reason)
			return
		}
		cmd = Command{Op: OpElectMaster, BrokerName: name, ExpectMasterEpoch: b.MasterEpoch, NewMasterID: id, Unclean: c.cfg.Unclean}
	})
	if cmd.Op == "" {
		return res, nil
	}
	res, err := c.propose(cmd)
	if err == nil && res.Code == controlapi.Success {
		c.log.Info("master elected on request", "broker", name, "newMaster", res.Info.MasterBrokerID, "masterEpoch", res.Info.MasterEpoch)
		c.changed(name)
	}
	return res, err
}

// SyncStateData describes the named sets (all when names is empty).
func (c *Controller) SyncStateData(names []string) (map[string]controlapi.SetInfo, error) {
	if err := c.leaderOnly(); err != nil {
		return nil, err
	}
	now := c.cfg.Now()
	out := map[string]controlapi.SetInfo{}
	c.fsm.view(func(st *State) {
		if len(names) == 0 {
			names = st.Names()
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		for _, n := range names {
			b, ok := st.Sets[n]
			if !ok {
				continue
			}
			out[n] = controlapi.SetInfo{ClusterName: b.ClusterName, BrokerName: n, ReplicaInfo: b.Info(), Replicas: c.live.States(b, now)}
		}
	})
	return out, nil
}

// HeartbeatTimeout is controllerHeartBeatTimeoutMills.
func (c *Controller) HeartbeatTimeout() time.Duration { return c.cfg.HeartbeatTimeout }
