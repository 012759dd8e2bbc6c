package controller

import (
	"encoding/json"
	"errors"
	"strconv"

	"github.com/skiffmq/skiff/internal/controlapi"
)

// Reply is the answer to one controller request.
type Reply struct {
	Code   int32
	Remark string
	Ext    map[string]string
	Body   []byte
}

// Codes lists the request codes Handle serves.
var Codes = []int32{controlapi.BrokerHeartbeat, controlapi.AlterSyncStateSet, controlapi.ElectMaster,
	controlapi.RegisterBroker, controlapi.GetReplicaInfo, controlapi.GetMetadataInfo, controlapi.GetSyncStateData}

// NeedsLeader reports whether a request must be served by the leader (all but GET_METADATA_INFO).
func NeedsLeader(code int32) bool { return code != controlapi.GetMetadataInfo }

// Handle serves one controller request on this node. A request that needs the leader on a node
// that is not gets CONTROLLER_NOT_LEADER; the name server forwards before calling Handle.
func (c *Controller) Handle(code int32, ext map[string]string, body []byte) Reply {
	if ext == nil {
		ext = map[string]string{}
	}
	switch code {
	case controlapi.GetMetadataInfo:
		md := c.Metadata()
		b, _ := json.Marshal(md)
		return Reply{Ext: map[string]string{"controllerLeaderId": md.ControllerLeaderID, "controllerLeaderAddress": md.ControllerLeaderAddr,
			"isLeader": strconv.FormatBool(md.IsLeader), "group": md.Group}, Body: b}
	case controlapi.RegisterBroker, controlapi.BrokerHeartbeat:
		name, cluster, addr := ext["brokerName"], ext["clusterName"], ext["brokerAddr"]
		id, err := controlapi.IntField(ext, "brokerId")
		if err != nil || name == "" || addr == "" {
			return bad("brokerName, brokerAddr and brokerId are required")
		}
		if id < 1 {
			return Reply{Code: controlapi.BrokerIDInvalid, Remark: "brokerId " + strconv.FormatInt(id, 10) + ": a replica id must be ≥ 1"}
		}
		var res Result
		if code == controlapi.RegisterBroker {
			res, err = c.Register(cluster, name, id, addr)
		} else {
			hb := Heartbeat{ClusterName: cluster, BrokerName: name, BrokerID: id, BrokerAddr: addr}
			hb.Epoch, _ = controlapi.IntField(ext, "epoch")
			hb.MaxOffset, _ = controlapi.IntField(ext, "maxOffset")
			if hb.Priority, err = controlapi.IntField(ext, "electionPriority"); err != nil {
				hb.Priority = 1 << 31
			}
			res, err = c.Heartbeat(hb)
		}
		r := c.reply(res, err)
		if r.Code == controlapi.Success {
			r.Ext["heartbeatTimeoutMills"] = strconv.FormatInt(c.cfg.HeartbeatTimeout.Milliseconds(), 10)
		}
		return r
	case controlapi.GetReplicaInfo:
		if ext["brokerName"] == "" {
			return bad("brokerName is required")
		}
		return c.reply(c.ReplicaInfo(ext["brokerName"]))
	case controlapi.AlterSyncStateSet:
		name := ext["brokerName"]
		masterID, err1 := controlapi.IntField(ext, "masterBrokerId")
		epoch, err2 := controlapi.IntField(ext, "masterEpoch")
		if name == "" || err1 != nil || err2 != nil {
			return bad("brokerName, masterBrokerId and masterEpoch are required")
		}
		sb, err := controlapi.DecodeSyncStateSetBody(body)
		if err != nil {
			return bad(err.Error())
		}
		return c.reply(c.AlterSyncStateSet(name, masterID, epoch, sb))
	case controlapi.ElectMaster:
		name := ext["brokerName"]
		if name == "" {
			return bad("brokerName is required")
		}
		id, err := controlapi.IntField(ext, "brokerId")
		if err != nil {
			id = 0
		}
		return c.reply(c.ElectMaster(name, id))
	case controlapi.GetSyncStateData:
		names, err := controlapi.DecodeBrokerNames(body)
		if err != nil {
			return bad(err.Error())
		}
		m, err := c.SyncStateData(names)
		if err != nil {
			return c.reply(Result{}, err)
		}
		b, _ := json.Marshal(m)
		return Reply{Ext: map[string]string{}, Body: b}
	}
	return Reply{Code: 3, Remark: "request code " + strconv.Itoa(int(code)) + " not supported by the controller"}
}

func bad(remark string) Reply {
	return Reply{Code: controlapi.InvalidRequest, Remark: remark, Ext: map[string]string{}}
}

func (c *Controller) reply(res Result, err error) Reply {
	if errors.Is(err, ErrNotLeader) {
		id, addr := c.Leader()
		return Reply{Code: controlapi.NotLeader, Remark: "not the controller leader (leader " + id + " at " + addr + ")",
			Ext: map[string]string{"controllerLeaderId": id, "controllerLeaderAddress": addr}}
	}
	if err != nil {
		return Reply{Code: controlapi.SystemError, Remark: err.Error(), Ext: map[string]string{}}
	}
	r := Reply{Code: res.Code, Remark: res.Remark, Ext: map[string]string{}}
	if res.Code == controlapi.Success {
		res.Info.PutExt(r.Ext)
		b, _ := json.Marshal(res.Info)
		r.Body = b
	}
	return r
}
