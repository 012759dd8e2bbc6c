package dashboard

import (
	"context"
	"fmt"
	"net/netip"
	"sort"
	"strings"
	"sync"

	"github.com/skiffmq/skiff/client/admin"
	"github.com/skiffmq/skiff/internal/message"
)

// fakeSource is an in-memory cluster: one broker set (broker-a, master and slave), topics and
// groups by name, and messages by offset message id. Calls that change something are recorded.
type fakeSource struct {
	mu       sync.Mutex
	topics   []string
	groups   map[string]admin.SubscriptionGroupConfig
	progress map[string][]admin.QueueProgress
	runtime  map[string]map[string]string
	msgs     map[string]*message.Message
	sent     []string // "topic queue body"
	created  []admin.TopicConfig
	resets   []string
	failRT   bool
	blockRT  chan struct{} // when set, runtime-info calls wait for it to close
	routes   int           // TopicRoute calls
	pulls    int           // PullMessages calls
}

const (
	fakeMaster = "10.0.0.1:10911"
	fakeSlave  = "10.0.0.2:10911"
)

func newFake(nTopics, nGroups int) *fakeSource {
	f := &fakeSource{groups: map[string]admin.SubscriptionGroupConfig{}, progress: map[string][]admin.QueueProgress{},
		msgs: map[string]*message.Message{}}
	for i := 0; i < nTopics; i++ {
		f.topics = append(f.topics, fmt.Sprintf("topic-%05d", i))
	}
	f.topics = append(f.topics, "%RETRY%g-00000", "%DLQ%g-00000", "TBW102")
	for i := 0; i < nGroups; i++ {
		g := fmt.Sprintf("g-%05d", i)
		f.groups[g] = admin.DefaultGroupConfig(g)
	}
	mq := admin.MessageQueue{Topic: "topic-00000", BrokerName: "broker-a", QueueID: 0}
	f.progress["g-00000"] = []admin.QueueProgress{{MessageQueue: mq, BrokerOffset: 100, ConsumerOffset: 40}}
	f.runtime = map[string]map[string]string{
		fakeMaster: {"brokerRole": "ASYNC_MASTER", "brokerVersionDesc": "Skiff test", "putTps": "12.5 12.5 12.5", "getTransferedTps": "3.0 3.0 3.0",
			"commitLogDiskRatio": "0.25", "commitLogMaxOffset": "5000", "haSlaves": "10.0.0.2:40000:4000", "storeWriteable": "true"},
		fakeSlave: {"brokerRole": "SLAVE", "brokerVersionDesc": "Skiff test", "putTps": "0 0 0", "getTransferedTps": "0 0 0",
			"commitLogDiskRatio": "0.25", "commitLogMaxOffset": "4000", "haReplicationLagBytes": "1000", "haConnected": "true"},
	}
	host := netip.MustParseAddrPort("10.0.0.1:10911")
	m := &message.Message{Topic: "%DLQ%g-00000", QueueID: 0, QueueOffset: 0, CommitLogOffset: 0, StoreHost: host, BornHost: host,
		StoreTimestamp: 1_700_000_000_000, BornTimestamp: 1_700_000_000_000, ReconsumeTimes: 16, Body: []byte("dead <b>letter</b>"),
		Properties: map[string]string{"RETRY_TOPIC": "topic-00000", "UNIQ_KEY": "U1", "TAGS": "t", "KEYS": "k1"}}
	f.msgs[message.OffsetMsgID(host, 0)] = m
	return f
}

func (f *fakeSource) NameServers() []string { return []string{"10.0.0.9:9876"} }
func (f *fakeSource) NameServerBrokers(context.Context, string) (int, error) {
	return 2, nil
}

func (f *fakeSource) ClusterInfo(context.Context) (*admin.ClusterInfo, error) {
	return &admin.ClusterInfo{
		BrokerAddrTable:  map[string]admin.BrokerData{"broker-a": {Cluster: "c1", BrokerName: "broker-a", BrokerAddrs: map[int64]string{0: fakeMaster, 1: fakeSlave}}},
		ClusterAddrTable: map[string][]string{"c1": {"broker-a"}},
	}, nil
}

func (f *fakeSource) TopicList(context.Context) ([]string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := append([]string(nil), f.topics...)
	sort.Strings(out)
	return out, nil
}

func (f *fakeSource) route() *admin.TopicRoute {
	return &admin.TopicRoute{
		BrokerDatas: []admin.BrokerData{{Cluster: "c1", BrokerName: "broker-a", BrokerAddrs: map[int64]string{0: fakeMaster, 1: fakeSlave}}},
		QueueDatas:  []admin.QueueData{{BrokerName: "broker-a", ReadQueueNums: 2, WriteQueueNums: 2, Perm: 6}},
	}
}

func (f *fakeSource) has(topic string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, t := range f.topics {
		if t == topic {
			return true
		}
	}
	return false
}

func (f *fakeSource) TopicRoute(_ context.Context, topic string) (*admin.TopicRoute, error) {
	f.mu.Lock()
	f.routes++
	f.mu.Unlock()
	if !f.has(topic) {
		return nil, fmt.Errorf("admin: topic %q: %w", topic, admin.ErrTopicNotExist)
	}
	return f.route(), nil
}

func (f *fakeSource) TopicConfigs(context.Context, string) (map[string]admin.BrokerTopicConfig, error) {
	out := map[string]admin.BrokerTopicConfig{}
	for _, t := range f.topics {
		out[t] = admin.BrokerTopicConfig{TopicName: t, ReadQueueNums: 2, WriteQueueNums: 2, Perm: 6}
	}
	return out, nil
}

func (f *fakeSource) TopicStatus(_ context.Context, topic string) ([]admin.QueueOffsets, error) {
	if !f.has(topic) {
		return nil, admin.ErrTopicNotExist
	}
	return []admin.QueueOffsets{
		{MessageQueue: admin.MessageQueue{Topic: topic, BrokerName: "broker-a", QueueID: 0}, MinOffset: 10, MaxOffset: 110, LastUpdateTimestamp: 1_700_003_600_000},
		{MessageQueue: admin.MessageQueue{Topic: topic, BrokerName: "broker-a", QueueID: 1}},
	}, nil
}

func (f *fakeSource) EarliestStoreTime(context.Context, string, string, int32) (int64, error) {
	return 1_700_000_000_000, nil
}

// queueMsgs returns the messages of one queue of topic by offset.
func (f *fakeSource) queueMsgs(topic string, queueID int32) []*message.Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*message.Message
	for _, m := range f.msgs {
		if m.Topic == topic && m.QueueID == queueID {
			out = append(out, m)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].QueueOffset < out[j].QueueOffset })
	return out
}

// SearchOffset answers as a broker's binary search may: among messages stored at ts, the last
// one (not the first); without one, the nearer neighbour (the older on a tie); 0 when empty.
func (f *fakeSource) SearchOffset(_ context.Context, _, topic string, queueID int32, ts int64) (int64, error) {
	ms := f.queueMsgs(topic, queueID)
	if len(ms) == 0 {
		return 0, nil
	}
	best := ms[0]
	for _, m := range ms {
		switch d, bd := abs(m.StoreTimestamp-ts), abs(best.StoreTimestamp-ts); {
		case m.StoreTimestamp == ts:
			best = m // the last of equal ones wins
		case d < bd:
			best = m
		}
	}
	return best.QueueOffset, nil
}

func abs(v int64) int64 {
	if v < 0 {
		return -v
	}
	return v
}

// addMessages stores n messages in topic on broker-a, alternating its two queues; message i is
// stored at base + i/3 ms (so three messages, on both queues, share each millisecond).
func (f *fakeSource) addMessages(topic string, n int, base int64) {
	host := netip.MustParseAddrPort(fakeMaster)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.topics = append(f.topics, topic)
	next := map[int32]int64{}
	for i := 0; i < n; i++ {
		q := int32(i % 2)
		m := &message.Message{Topic: topic, QueueID: q, QueueOffset: next[q], CommitLogOffset: int64(1000 + i*100), StoreHost: host, BornHost: host,
			StoreTimestamp: base + int64(i/3), BornTimestamp: base + int64(i/3) - 1, Body: []byte(fmt.Sprintf("m%03d", i)),
			Properties: map[string]string{"UNIQ_KEY": fmt.Sprintf("U%03d", i)}}
		next[q]++
		f.msgs[message.OffsetMsgID(host, m.CommitLogOffset)] = m
	}
}

func (f *fakeSource) CreateTopic(_ context.Context, _ string, tc admin.TopicConfig) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.created = append(f.created, tc)
	f.topics = append(f.topics, tc.TopicName)
	return nil
}

func (f *fakeSource) DeleteTopic(_ context.Context, _, topic string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, t := range f.topics {
		if t == topic {
			f.topics = append(f.topics[:i], f.topics[i+1:]...)
			return nil
		}
	}
	return admin.ErrTopicNotExist
}

func (f *fakeSource) SendMessage(_ context.Context, topic string, body []byte, _, _, _ string, _ int32) (*admin.SendResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sent = append(f.sent, fmt.Sprintf("%s 0 %s", topic, body))
	return &admin.SendResult{MsgID: "U2", OffsetMsgID: "0A00000100002A9F0000000000000100", BrokerName: "broker-a"}, nil
}

func (f *fakeSource) SendStored(_ context.Context, _ string, topic string, q int32, m *message.Message) (*admin.SendResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sent = append(f.sent, fmt.Sprintf("%s %d %s RETRY_TOPIC=%s", topic, q, m.Body, m.Properties["RETRY_TOPIC"]))
	return &admin.SendResult{QueueOffset: 7}, nil
}

func (f *fakeSource) BrokerRuntimeInfo(_ context.Context, addr string) (map[string]string, error) {
	f.mu.Lock()
	block := f.blockRT
	f.mu.Unlock()
	if block != nil {
		<-block
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failRT {
		return nil, fmt.Errorf("admin: request 28 to %s: %w", addr, admin.ErrTimeout)
	}
	return f.runtime[addr], nil
}

func (f *fakeSource) BrokerConfig(_ context.Context, addr string) (string, error) {
	return "brokerName=broker-a\nnamesrvAddr=10.0.0.9:9876;10.0.0.8:9876\nlistenPort=10911\n", nil
}

func (f *fakeSource) SubGroups(context.Context, string) (map[string]admin.SubscriptionGroupConfig, error) {
	return f.groups, nil
}

func (f *fakeSource) ConsumerProgress(_ context.Context, _ []string, group, _ string) ([]admin.QueueProgress, error) {
	return f.progress[group], nil
}

func (f *fakeSource) ConsumerConnection(_ context.Context, addr, group string) (*admin.ConsumerConnection, error) {
	if group != "g-00000" {
		return nil, &admin.BrokerError{Addr: addr, Code: 206, Remark: "not online"}
	}
	return &admin.ConsumerConnection{ConnectionSet: []admin.Connection{{ClientAddr: "10.0.0.5:5000", ClientID: "c1@1", Language: "GO", Version: 317}},
		MessageModel: "CLUSTERING", ConsumeType: "CONSUME_PASSIVELY"}, nil
}

func (f *fakeSource) ResetOffsetByTime(_ context.Context, group, topic string, ts int64, _ bool) (map[admin.MessageQueue]int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.resets = append(f.resets, fmt.Sprintf("%s %s %d", group, topic, ts))
	return map[admin.MessageQueue]int64{{Topic: topic, BrokerName: "broker-a", QueueID: 0}: 0}, nil
}

func (f *fakeSource) AllProducers(context.Context, string) (map[string][]admin.ProducerInfo, error) {
	return map[string][]admin.ProducerInfo{
		"pg-1": {{ClientID: "p1@1", RemoteIP: "10.0.0.6:6000", Language: "GO", Version: 317, Topics: []string{"topic-00000", "topic-00001"}},
			{ClientID: "p1@2", RemoteIP: "10.0.0.7:6000", Language: "JAVA", Version: 413}},
		"pg-2": {{ClientID: "p2@1", RemoteIP: "10.0.0.8:6000", Language: "GO", Version: 317, Topics: []string{"topic-00002"}, MoreTopics: true}},
	}, nil
}

func (f *fakeSource) ViewMessage(_ context.Context, id string) (*message.Message, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if m, ok := f.msgs[id]; ok {
		return m, nil
	}
	if _, _, err := message.ParseOffsetMsgID(id); err != nil {
		return nil, fmt.Errorf("admin: %w: %v", admin.ErrInvalidArgument, err)
	}
	return nil, fmt.Errorf("admin: no message %s", id)
}

func (f *fakeSource) QueryByKey(_ context.Context, topic, key string, _ bool, _ int, _, _ int64) ([]*message.Message, error) {
	var out []*message.Message
	for _, m := range f.msgs {
		if strings.Contains(m.Properties["KEYS"], key) {
			out = append(out, m)
		}
	}
	return out, nil
}

// PullMessages reads like admin's: the queues of broker-a (one, or every one when queueID is
// -1) from offset (each queue's first message when offset is negative), at most count in all.
func (f *fakeSource) PullMessages(_ context.Context, topic, broker string, queueID int32, offset int64, count int) ([]admin.MessageView, error) {
	if !f.has(topic) {
		return nil, fmt.Errorf("admin: topic %q: %w", topic, admin.ErrTopicNotExist)
	}
	f.mu.Lock()
	f.pulls++
	f.mu.Unlock()
	var out []admin.MessageView
	if broker != "" && broker != "broker-a" {
		return nil, nil
	}
	for q := int32(0); q < 2 && len(out) < count; q++ {
		if queueID >= 0 && q != queueID {
			continue
		}
		for _, m := range f.queueMsgs(topic, q) {
			if m.QueueOffset >= offset && len(out) < count {
				out = append(out, admin.MessageView{BrokerName: "broker-a", QueueID: q, Message: m})
			}
		}
	}
	return out, nil
}
