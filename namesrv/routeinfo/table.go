package routeinfo

import (
	"maps"
	"slices"
	"sort"
	"sync"
	"time"
)

// Registration is one REGISTER_BROKER request, already decoded.
type Registration struct {
	ClusterName  string
	BrokerName   string
	BrokerAddr   string // "ip:port" the broker serves clients on
	BrokerID     int64  // 0 master, >= 1 slave
	HaServerAddr string // "ip:port" of the broker's HA listener
	DataVersion  DataVersion
	// Topics is the broker's full topic table. nil means the request carried none, so queue data
	// is left alone; an empty non-nil map is a table with no topics.
	Topics map[string]TopicConfig
	// ConnKey identifies the connection the request came on; when that connection closes,
	// ConnClosed removes the broker. Empty means "unknown" (never matched).
	ConnKey string
	// Timeout overrides the table's expiry for this broker (5.x heartbeatTimeoutMillis); 0 keeps
	// the default passed to ScanNotActive.
	Timeout time.Duration
}

// RegisterResult is what a registration tells the broker and the caller.
type RegisterResult struct {
	First        bool   // no live entry existed for BrokerAddr, or its brokerId had no address
	TopicsUpdate bool   // queue data was rewritten from Topics (master with a new DataVersion)
	MasterAddr   string // slaves only: the live master's broker address
	HaServerAddr string // slaves only: the live master's HA address
}

// RemovedBroker describes a broker address dropped from the table by expiry or connection close.
type RemovedBroker struct {
	ClusterName string
	BrokerName  string
	BrokerAddr  string
	BrokerID    int64
	ConnKey     string
	LastUpdate  time.Time
}

type liveBroker struct {
	lastUpdate   time.Time
	dataVersion  DataVersion
	haServerAddr string
	connKey      string
	timeout      time.Duration
	cluster      string
	brokerName   string
	brokerID     int64
}

// Table is the name server's route table (RocketMQ RouteInfoManager). It has no I/O and reads
// time only through the injected clock.
//
// Concurrency: model (b) — every map is guarded by mu; methods ending in Locked need mu held for
// writing. There is no other lock, so there is no lock order.
type Table struct {
	now func() time.Time

	mu           sync.RWMutex
	topicQueue   map[string]map[string]QueueData // topic -> brokerName -> queue data
	brokerAddrs  map[string]*BrokerData          // brokerName -> broker set
	clusterAddrs map[string]map[string]struct{}  // clusterName -> broker names
	live         map[string]*liveBroker          // brokerAddr -> liveness
}

// New returns an empty table reading time from now (time.Now when nil).
func New(now func() time.Time) *Table {
	if now == nil {
		now = time.Now
	}
	return &Table{
		now:          now,
		topicQueue:   make(map[string]map[string]QueueData),
		brokerAddrs:  make(map[string]*BrokerData),
		clusterAddrs: make(map[string]map[string]struct{}),
		live:         make(map[string]*liveBroker),
	}
}

// RegisterBroker records a broker registration (REGISTER_BROKER). It adds the broker name to its
// cluster, puts brokerId -> brokerAddr (removing the same address under another id: a role
// switch), and, for a master whose DataVersion changed or which registers for the first time,
// rewrites the broker's queue data from r.Topics and removes its queue data from topics absent in
// r.Topics (RocketMQ 5.x behaviour). Slaves' topic tables are ignored; a slave learns its live
// master's addresses in the result.
func (t *Table) RegisterBroker(r Registration) RegisterResult {
	t.mu.Lock()
	defer t.mu.Unlock()
	var res RegisterResult

	set := t.clusterAddrs[r.ClusterName]
	if set == nil {
		set = make(map[string]struct{})
		t.clusterAddrs[r.ClusterName] = set
	}
	set[r.BrokerName] = struct{}{}

	bd := t.brokerAddrs[r.BrokerName]
	if bd == nil {
		bd = &BrokerData{Cluster: r.ClusterName, BrokerName: r.BrokerName, BrokerAddrs: make(map[int64]string)}
		t.brokerAddrs[r.BrokerName] = bd
	}
	for id, a := range bd.BrokerAddrs {
		if a == r.BrokerAddr && id != r.BrokerID {
			delete(bd.BrokerAddrs, id)
		}
	}
	_, idKnown := bd.BrokerAddrs[r.BrokerID]
	bd.BrokerAddrs[r.BrokerID] = r.BrokerAddr

	prev := t.live[r.BrokerAddr]
	res.First = prev == nil || !idKnown
	if r.BrokerID == MasterID && r.Topics != nil && (res.First || prev.dataVersion != r.DataVersion) {
		res.TopicsUpdate = true
		t.replaceTopicsLocked(r.BrokerName, r.Topics)
	}

	t.live[r.BrokerAddr] = &liveBroker{
		lastUpdate:   t.now(),
		dataVersion:  r.DataVersion,
		haServerAddr: r.HaServerAddr,
		connKey:      r.ConnKey,
		timeout:      r.Timeout,
		cluster:      r.ClusterName,
		brokerName:   r.BrokerName,
		brokerID:     r.BrokerID,
	}

	if r.BrokerID != MasterID {
		if masterAddr, ok := bd.BrokerAddrs[MasterID]; ok {
			if ml := t.live[masterAddr]; ml != nil {
				res.MasterAddr = masterAddr
				res.HaServerAddr = ml.haServerAddr
			}
		}
	}
	return res
}

// replaceTopicsLocked makes topics the complete set of topics brokerName hosts.
func (t *Table) replaceTopicsLocked(brokerName string, topics map[string]TopicConfig) {
	for topic, tc := range topics {
		qds := t.topicQueue[topic]
		if qds == nil {
			qds = make(map[string]QueueData)
			t.topicQueue[topic] = qds
		}
		qds[brokerName] = QueueData{
			BrokerName:     brokerName,
			ReadQueueNums:  tc.ReadQueueNums,
			WriteQueueNums: tc.WriteQueueNums,
			Perm:           tc.Perm,
			TopicSysFlag:   tc.TopicSysFlag,
		}
	}
	for topic, qds := range t.topicQueue {
		if _, ok := topics[topic]; ok {
			continue
		}
		if _, ok := qds[brokerName]; ok {
			delete(qds, brokerName)
			if len(qds) == 0 {
				delete(t.topicQueue, topic)
			}
		}
	}
}

// UnregisterBroker removes a broker address (UNREGISTER_BROKER): its live entry and its id in the
// broker set; a broker set left empty disappears from its cluster and from every topic. It reports
// whether anything was removed.
func (t *Table) UnregisterBroker(clusterName, brokerName, brokerAddr string, brokerID int64) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	_, wasLive := t.live[brokerAddr]
	delete(t.live, brokerAddr)
	bd := t.brokerAddrs[brokerName]
	removed := false
	if bd != nil {
		if a, ok := bd.BrokerAddrs[brokerID]; ok && a == brokerAddr {
			delete(bd.BrokerAddrs, brokerID)
			removed = true
		}
		if len(bd.BrokerAddrs) == 0 {
			t.removeBrokerNameLocked(brokerName, clusterName)
		}
	}
	return removed || wasLive
}

// removeBrokerNameLocked drops a broker set: from brokerAddrs, from its cluster (and
// clusterHint's) set, dropping empty clusters, and from every topic, dropping empty topics.
func (t *Table) removeBrokerNameLocked(brokerName, clusterHint string) {
	if bd := t.brokerAddrs[brokerName]; bd != nil {
		delete(t.brokerAddrs, brokerName)
		t.removeFromClusterLocked(bd.Cluster, brokerName)
	}
	if clusterHint != "" {
		t.removeFromClusterLocked(clusterHint, brokerName)
	}
	for topic, qds := range t.topicQueue {
		if _, ok := qds[brokerName]; ok {
			delete(qds, brokerName)
			if len(qds) == 0 {
				delete(t.topicQueue, topic)
			}
		}
	}
}

func (t *Table) removeFromClusterLocked(cluster, brokerName string) {
	if set := t.clusterAddrs[cluster]; set != nil {
		delete(set, brokerName)
		if len(set) == 0 {
			delete(t.clusterAddrs, cluster)
		}
	}
}

// removeAddrLocked drops one broker address everywhere and describes what was removed.
func (t *Table) removeAddrLocked(addr string) RemovedBroker {
	rb := RemovedBroker{BrokerAddr: addr, BrokerID: -1}
	if lb := t.live[addr]; lb != nil {
		rb.ClusterName, rb.BrokerName, rb.BrokerID = lb.cluster, lb.brokerName, lb.brokerID
		rb.ConnKey, rb.LastUpdate = lb.connKey, lb.lastUpdate
		delete(t.live, addr)
	}
	for name, bd := range t.brokerAddrs {
		for id, a := range bd.BrokerAddrs {
			if a != addr {
				continue
			}
			delete(bd.BrokerAddrs, id)
			rb.BrokerName, rb.BrokerID, rb.ClusterName = name, id, bd.Cluster
		}
		if len(bd.BrokerAddrs) == 0 {
			t.removeBrokerNameLocked(name, "")
		}
	}
	return rb
}

// ScanNotActive removes every broker whose last registration is older than its timeout
// (defaultTimeout unless the registration set one) and returns them, so the caller can close
// their connections and log.
func (t *Table) ScanNotActive(defaultTimeout time.Duration) []RemovedBroker {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	var expired []string
	for addr, lb := range t.live {
		to := lb.timeout
		if to <= 0 {
			to = defaultTimeout
		}
		if now.Sub(lb.lastUpdate) > to {
			expired = append(expired, addr)
		}
	}
	sort.Strings(expired)
	out := make([]RemovedBroker, 0, len(expired))
	for _, addr := range expired {
		out = append(out, t.removeAddrLocked(addr))
	}
	return out
}

// ConnClosed removes every broker whose latest registration came over the connection connKey
// (the broker's channel closed). Registrations refreshed over a newer connection are kept.
func (t *Table) ConnClosed(connKey string) []RemovedBroker {
	if connKey == "" {
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	var addrs []string
	for addr, lb := range t.live {
		if lb.connKey == connKey {
			addrs = append(addrs, addr)
		}
	}
	sort.Strings(addrs)
	out := make([]RemovedBroker, 0, len(addrs))
	for _, addr := range addrs {
		out = append(out, t.removeAddrLocked(addr))
	}
	return out
}

// QueryDataVersion answers QUERY_DATA_VERSION: whether dv differs from the stored DataVersion of
// brokerAddr (true when unknown), and the stored one (nil when unknown). A known broker's
// liveness is refreshed.
func (t *Table) QueryDataVersion(brokerAddr string, dv DataVersion) (changed bool, stored *DataVersion) {
	t.mu.Lock()
	defer t.mu.Unlock()
	lb := t.live[brokerAddr]
	if lb == nil {
		return true, nil
	}
	lb.lastUpdate = t.now()
	v := lb.dataVersion
	return v != dv, &v
}

// TopicRoute assembles the route of topic: its queue data and a copy of every broker set hosting
// it. ok is false when either part is empty (TOPIC_NOT_EXIST).
func (t *Table) TopicRoute(topic string) (route TopicRouteData, ok bool) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	qds := t.topicQueue[topic]
	if len(qds) == 0 {
		return TopicRouteData{}, false
	}
	names := make([]string, 0, len(qds))
	for name := range qds {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		route.QueueDatas = append(route.QueueDatas, qds[name])
		if bd := t.brokerAddrs[name]; bd != nil {
			route.BrokerDatas = append(route.BrokerDatas, bd.Clone())
		}
	}
	if len(route.BrokerDatas) == 0 {
		return TopicRouteData{}, false
	}
	return route, true
}

// ClusterInfo returns a copy of the broker sets and cluster membership.
func (t *Table) ClusterInfo() ClusterInfo {
	t.mu.RLock()
	defer t.mu.RUnlock()
	ci := ClusterInfo{
		BrokerAddrTable:  make(map[string]BrokerData, len(t.brokerAddrs)),
		ClusterAddrTable: make(map[string][]string, len(t.clusterAddrs)),
	}
	for name, bd := range t.brokerAddrs {
		ci.BrokerAddrTable[name] = bd.Clone()
	}
	for c, set := range t.clusterAddrs {
		ci.ClusterAddrTable[c] = sortedKeys(set)
	}
	return ci
}

// AllTopics returns every topic with queue data, sorted.
func (t *Table) AllTopics() []string {
	t.mu.RLock()
	defer t.mu.RUnlock()
	out := make([]string, 0, len(t.topicQueue))
	for topic := range t.topicQueue {
		out = append(out, topic)
	}
	sort.Strings(out)
	return out
}

// TopicsByCluster returns the topics hosted by at least one broker set of cluster, sorted.
func (t *Table) TopicsByCluster(cluster string) []string {
	t.mu.RLock()
	defer t.mu.RUnlock()
	set := t.clusterAddrs[cluster]
	out := []string{}
	for topic, qds := range t.topicQueue {
		for name := range qds {
			if _, ok := set[name]; ok {
				out = append(out, topic)
				break
			}
		}
	}
	sort.Strings(out)
	return out
}

// SystemTopics answers GET_SYSTEM_TOPIC_LIST_FROM_NS: every cluster name and every broker name,
// sorted, and the address of one broker (the master of the first broker set that has one, else
// any member) for the caller to ask for the broker-side system topics.
func (t *Table) SystemTopics() (names []string, brokerAddr string) {
	t.mu.RLock()
	defer t.mu.RUnlock()
	seen := make(map[string]struct{})
	for c := range t.clusterAddrs {
		seen[c] = struct{}{}
	}
	brokerNames := make([]string, 0, len(t.brokerAddrs))
	for name := range t.brokerAddrs {
		seen[name] = struct{}{}
		brokerNames = append(brokerNames, name)
	}
	sort.Strings(brokerNames)
	for _, name := range brokerNames {
		bd := t.brokerAddrs[name]
		if a, ok := bd.BrokerAddrs[MasterID]; ok {
			brokerAddr = a
			break
		}
		if brokerAddr == "" {
			ids := slices.Sorted(maps.Keys(bd.BrokerAddrs))
			if len(ids) > 0 {
				brokerAddr = bd.BrokerAddrs[ids[0]]
			}
		}
	}
	return sortedKeys(seen), brokerAddr
}

// DeleteTopic removes topic (DELETE_TOPIC_IN_NAMESRV). With a cluster name only the queue data of
// that cluster's broker sets goes (the topic goes when none is left); without, the whole topic.
// It reports whether anything was removed.
func (t *Table) DeleteTopic(topic, clusterName string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	qds, ok := t.topicQueue[topic]
	if !ok {
		return false
	}
	if clusterName == "" {
		delete(t.topicQueue, topic)
		return true
	}
	removed := false
	for name := range t.clusterAddrs[clusterName] {
		if _, ok := qds[name]; ok {
			delete(qds, name)
			removed = true
		}
	}
	if len(qds) == 0 {
		delete(t.topicQueue, topic)
	}
	return removed
}

// WipeWritePerm clears PermWrite in every topic's queue data of brokerName
// (WIPE_WRITE_PERM_OF_BROKER) and returns the number of topics touched.
func (t *Table) WipeWritePerm(brokerName string) int {
	return t.operateWritePerm(brokerName, func(p int32) int32 { return p &^ PermWrite })
}

// AddWritePerm sets the perm of every topic's queue data of brokerName to read+write
// (ADD_WRITE_PERM_OF_BROKER) and returns the number of topics touched.
func (t *Table) AddWritePerm(brokerName string) int {
	return t.operateWritePerm(brokerName, func(int32) int32 { return PermRead | PermWrite })
}

func (t *Table) operateWritePerm(brokerName string, f func(int32) int32) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, qds := range t.topicQueue {
		if qd, ok := qds[brokerName]; ok {
			qd.Perm = f(qd.Perm)
			qds[brokerName] = qd
			n++
		}
	}
	return n
}

// LiveBroker is a snapshot of one registered broker address.
type LiveBroker struct {
	ClusterName  string
	BrokerName   string
	BrokerAddr   string
	BrokerID     int64
	HaServerAddr string
	DataVersion  DataVersion
	LastUpdate   time.Time
	ConnKey      string
}

// LiveBrokers returns every registered broker address, sorted by address.
func (t *Table) LiveBrokers() []LiveBroker {
	t.mu.RLock()
	defer t.mu.RUnlock()
	out := make([]LiveBroker, 0, len(t.live))
	for addr, lb := range t.live {
		out = append(out, LiveBroker{
			ClusterName: lb.cluster, BrokerName: lb.brokerName, BrokerAddr: addr, BrokerID: lb.brokerID,
			HaServerAddr: lb.haServerAddr, DataVersion: lb.dataVersion, LastUpdate: lb.lastUpdate, ConnKey: lb.connKey,
		})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].BrokerAddr < out[j].BrokerAddr })
	return out
}

func sortedKeys(m map[string]struct{}) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
