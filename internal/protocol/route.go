package protocol

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
)

// ErrBadBody is returned (wrapped) by the body decoders for bytes that are not the expected body.
var ErrBadBody = errors.New("protocol: bad body")

// ErrClusterNotExist is returned (wrapped) by ClusterInfo.MasterAddrs for a cluster it does not list.
var ErrClusterNotExist = errors.New("cluster does not exist")

// MasterID is the brokerId of a master; slaves have ids >= 1.
const MasterID int64 = 0

// DataVersion identifies one state of a broker's topic or group table. Brokers bump it on every
// change; the name server refreshes a broker's queue data only when it differs from the stored one.
type DataVersion struct {
	Counter   int64 `json:"counter"`
	Timestamp int64 `json:"timestamp"` // ms since the epoch
}

// MessageQueue is RocketMQ's MessageQueue: one queue of a topic on one broker set, as it appears
// in JSON bodies (lock requests and answers, offset tables) and in the SDK.
type MessageQueue struct {
	Topic      string `json:"topic"`
	BrokerName string `json:"brokerName"`
	QueueID    int32  `json:"queueId"`
}

func (q MessageQueue) String() string {
	return q.Topic + "@" + q.BrokerName + "/" + strconv.Itoa(int(q.QueueID))
}

// QueueData is one broker set's queues of a topic.
type QueueData struct {
	BrokerName     string `json:"brokerName"`
	ReadQueueNums  int32  `json:"readQueueNums"`
	WriteQueueNums int32  `json:"writeQueueNums"`
	Perm           int32  `json:"perm"`
	TopicSysFlag   int32  `json:"topicSysFlag"`
}

// BrokerData is a broker set: its cluster, name and the addresses of its live members by brokerId.
type BrokerData struct {
	Cluster     string           `json:"cluster"`
	BrokerName  string           `json:"brokerName"`
	BrokerAddrs map[int64]string `json:"brokerAddrs"` // brokerId -> "ip:port"; 0 is the master
}

// MasterAddr returns the address of broker id 0, "" when the master is not registered.
func (b BrokerData) MasterAddr() string { return b.BrokerAddrs[MasterID] }

// Clone returns a copy that shares no map with b.
func (b BrokerData) Clone() BrokerData {
	c := b
	c.BrokerAddrs = maps.Clone(b.BrokerAddrs)
	if c.BrokerAddrs == nil {
		c.BrokerAddrs = map[int64]string{}
	}
	return c
}

// TopicRouteData is the answer to GET_ROUTEINFO_BY_TOPIC. A name server sends QueueDatas and
// BrokerDatas sorted by broker name; decoders keep the order they read.
type TopicRouteData struct {
	OrderTopicConf    string              `json:"orderTopicConf,omitempty"` // "brokerA:4;brokerB:4" or empty
	QueueDatas        []QueueData         `json:"queueDatas"`
	BrokerDatas       []BrokerData        `json:"brokerDatas"`
	FilterServerTable map[string][]string `json:"filterServerTable"` // as read; Skiff's name server sends {}
}

// Equal reports whether two routes list the same brokers, addresses and queues (in any order).
func (r *TopicRouteData) Equal(o *TopicRouteData) bool {
	if r == nil || o == nil {
		return r == o
	}
	a, b := r.sorted(), o.sorted()
	if len(a.QueueDatas) != len(b.QueueDatas) || len(a.BrokerDatas) != len(b.BrokerDatas) {
		return false
	}
	for i := range a.QueueDatas {
		if a.QueueDatas[i] != b.QueueDatas[i] {
			return false
		}
	}
	for i := range a.BrokerDatas {
		x, y := a.BrokerDatas[i], b.BrokerDatas[i]
		if x.BrokerName != y.BrokerName || x.Cluster != y.Cluster || !maps.Equal(x.BrokerAddrs, y.BrokerAddrs) {
			return false
		}
	}
	return true
}

// sorted returns a copy with QueueDatas and BrokerDatas sorted by broker name (r is not changed).
func (r *TopicRouteData) sorted() *TopicRouteData {
	c := &TopicRouteData{QueueDatas: slices.Clone(r.QueueDatas), BrokerDatas: slices.Clone(r.BrokerDatas)}
	sort.Slice(c.QueueDatas, func(i, j int) bool { return c.QueueDatas[i].BrokerName < c.QueueDatas[j].BrokerName })
	sort.Slice(c.BrokerDatas, func(i, j int) bool { return c.BrokerDatas[i].BrokerName < c.BrokerDatas[j].BrokerName })
	return c
}

// PublishQueues returns the queues a producer may write: the write queues of every broker name
// with write permission and a registered master, ordered by broker name then queue id.
func (r *TopicRouteData) PublishQueues(topic string) []MessageQueue {
	masters := map[string]bool{}
	for _, b := range r.BrokerDatas {
		if b.MasterAddr() != "" {
			masters[b.BrokerName] = true
		}
	}
	var out []MessageQueue
	for _, q := range r.sorted().QueueDatas {
		if q.Perm&PermWrite == 0 || !masters[q.BrokerName] {
			continue
		}
		for i := int32(0); i < q.WriteQueueNums; i++ {
			out = append(out, MessageQueue{Topic: topic, BrokerName: q.BrokerName, QueueID: i})
		}
	}
	return out
}

// SubscribeQueues returns the queues a consumer may read: the read queues of every broker name
// with read permission, ordered by broker name then queue id.
func (r *TopicRouteData) SubscribeQueues(topic string) []MessageQueue {
	var out []MessageQueue
	for _, q := range r.sorted().QueueDatas {
		if q.Perm&PermRead == 0 {
			continue
		}
		for i := int32(0); i < q.ReadQueueNums; i++ {
			out = append(out, MessageQueue{Topic: topic, BrokerName: q.BrokerName, QueueID: i})
		}
	}
	return out
}

// ClusterInfo is the answer to GET_BROKER_CLUSTER_INFO.
type ClusterInfo struct {
	BrokerAddrTable  map[string]BrokerData `json:"brokerAddrTable"`  // brokerName -> broker set
	ClusterAddrTable map[string][]string   `json:"clusterAddrTable"` // clusterName -> broker names
}

// ClusterNames returns the cluster names, sorted.
func (ci *ClusterInfo) ClusterNames() []string {
	return slices.Sorted(maps.Keys(ci.ClusterAddrTable))
}

// MasterAddrs returns the master address of every broker name of cluster, sorted by broker name;
// an error wrapping ErrClusterNotExist when the cluster is unknown.
func (ci *ClusterInfo) MasterAddrs(cluster string) ([]string, error) {
	names, ok := ci.ClusterAddrTable[cluster]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrClusterNotExist, cluster)
	}
	names = slices.Clone(names)
	sort.Strings(names)
	var out []string
	for _, n := range names {
		if addr := ci.BrokerAddrTable[n].MasterAddr(); addr != "" {
			out = append(out, addr)
		}
	}
	return out, nil
}
