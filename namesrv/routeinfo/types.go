package routeinfo

import "github.com/skiffmq/skiff/internal/protocol"

// Permission bits of QueueData.Perm and TopicConfig.Perm (RocketMQ PermName).
const (
	PermPriority = protocol.PermPriority // PERM_PRIORITY
	PermRead     = protocol.PermRead     // PERM_READ
	PermWrite    = protocol.PermWrite    // PERM_WRITE
	PermInherit  = protocol.PermInherit  // PERM_INHERIT (templates such as TBW102)
)

// MasterID is the brokerId of a master; slaves have ids >= 1.
const MasterID int64 = 0

// DataVersion identifies one state of a broker's topic table. Brokers bump it on every change;
// the name server refreshes a broker's queue data only when it differs from the stored one.
type DataVersion struct {
	Counter   int64 `json:"counter"`
	Timestamp int64 `json:"timestamp"` // ms since the epoch
}

// TopicConfig is one topic of a broker's topic table as it travels in REGISTER_BROKER (the one
// type of package protocol).
type TopicConfig = protocol.TopicConfig

// QueueData is one broker set's queues of a topic.
type QueueData struct {
	BrokerName     string
	ReadQueueNums  int32
	WriteQueueNums int32
	Perm           int32
	TopicSysFlag   int32
}

// BrokerData is a broker set: its cluster, name and the addresses of its live members by brokerId.
type BrokerData struct {
	Cluster     string
	BrokerName  string
	BrokerAddrs map[int64]string // brokerId -> "ip:port"; 0 is the master
}

func (b BrokerData) clone() BrokerData {
	c := b
	c.BrokerAddrs = make(map[int64]string, len(b.BrokerAddrs))
	for id, a := range b.BrokerAddrs {
		c.BrokerAddrs[id] = a
	}
	return c
}

// TopicRouteData is the answer to GET_ROUTEINFO_BY_TOPIC. QueueDatas and BrokerDatas are sorted by
// broker name.
type TopicRouteData struct {
	OrderTopicConf string // "brokerA:4;brokerB:4" or empty (omitted from JSON)
	QueueDatas     []QueueData
	BrokerDatas    []BrokerData
}

// ClusterInfo is the answer to GET_BROKER_CLUSTER_INFO.
type ClusterInfo struct {
	BrokerAddrTable  map[string]BrokerData // brokerName -> broker set
	ClusterAddrTable map[string][]string   // clusterName -> sorted broker names
}
