package admin

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/skiffmq/skiff/client/internal/core"
	"github.com/skiffmq/skiff/internal/message"
	"github.com/skiffmq/skiff/internal/remoting"
)

// BrokerTopicConfig is one entry of a broker's topic table (GET_ALL_TOPIC_CONFIG).
type BrokerTopicConfig struct {
	TopicName       string `json:"topicName"`
	ReadQueueNums   int32  `json:"readQueueNums"`
	WriteQueueNums  int32  `json:"writeQueueNums"`
	Perm            int32  `json:"perm"`
	TopicFilterType string `json:"topicFilterType"`
	TopicSysFlag    int32  `json:"topicSysFlag"`
	Order           bool   `json:"order"`
}

// TopicConfigs returns the topic table of the broker at brokerAddr (21).
func (a *Admin) TopicConfigs(ctx context.Context, brokerAddr string) (map[string]BrokerTopicConfig, error) {
	req := remoting.NewRequest(remoting.GetAllTopicConfig, nil, nil)
	resp, err := a.cl.Invoke(ctx, brokerAddr, req)
	if err != nil {
		return nil, err
	}
	if err := core.Check(resp, brokerAddr, req.Code); err != nil {
		return nil, err
	}
	var body struct {
		TopicConfigTable map[string]BrokerTopicConfig `json:"topicConfigTable"`
	}
	if err := Unmarshal(resp.Body, &body); err != nil {
		return nil, fmt.Errorf("%w: topic table from %s: %w", ErrBadResponse, brokerAddr, err)
	}
	if body.TopicConfigTable == nil {
		body.TopicConfigTable = map[string]BrokerTopicConfig{}
	}
	return body.TopicConfigTable, nil
}

// ProducerInfo is one producer connection (GET_ALL_PRODUCER_INFO, RocketMQ 5's ProducerInfo).
// Topics and MoreTopics are Skiff's: the topics the connection stored messages in as this group
// since it connected (sorted; a RocketMQ broker sends none), and whether the broker stopped
// recording new ones (it keeps at most 256 (group, topic) pairs per connection).
type ProducerInfo struct {
	ClientID            string   `json:"clientId"`
	RemoteIP            string   `json:"remoteIP"`
	Language            string   `json:"language"`
	Version             int32    `json:"version"`
	LastUpdateTimestamp int64    `json:"lastUpdateTimestamp"`
	Topics              []string `json:"topics,omitempty"`
	MoreTopics          bool     `json:"moreTopics,omitempty"`
}

// AllProducers returns every producer group with live connections on the broker at brokerAddr
// and its connections (328).
func (a *Admin) AllProducers(ctx context.Context, brokerAddr string) (map[string][]ProducerInfo, error) {
	req := remoting.NewRequest(remoting.GetAllProducerInfo, nil, nil)
	resp, err := a.cl.Invoke(ctx, brokerAddr, req)
	if err != nil {
		return nil, err
	}
	if err := core.Check(resp, brokerAddr, req.Code); err != nil {
		return nil, err
	}
	var body struct {
		Data map[string][]ProducerInfo `json:"data"`
	}
	if err := Unmarshal(resp.Body, &body); err != nil {
		return nil, fmt.Errorf("%w: producers from %s: %w", ErrBadResponse, brokerAddr, err)
	}
	if body.Data == nil {
		body.Data = map[string][]ProducerInfo{}
	}
	return body.Data, nil
}

// queueCall sends a request with topic and queueId to brokerAddr and returns the ext field key
// of the answer as an integer.
func (a *Admin) queueCall(ctx context.Context, brokerAddr string, code int32, topic string, queueID int32, ext map[string]string, key string) (int64, error) {
	if ext == nil {
		ext = map[string]string{}
	}
	ext["topic"], ext["queueId"] = topic, strconv.Itoa(int(queueID))
	req := remoting.NewRequest(code, ext, nil)
	resp, err := a.cl.Invoke(ctx, brokerAddr, req)
	if err != nil {
		return 0, err
	}
	if err := core.Check(resp, brokerAddr, req.Code); err != nil {
		return 0, err
	}
	v, err := strconv.ParseInt(resp.ExtFields[key], 10, 64)
	if err != nil {
		return 0, fmt.Errorf("%w: %s of %s queue %d from %s: %q", ErrBadResponse, key, topic, queueID, brokerAddr, resp.ExtFields[key])
	}
	return v, nil
}

// EarliestStoreTime returns the store time (ms) of the oldest message kept in a queue (32); 0 when
// the queue holds none.
func (a *Admin) EarliestStoreTime(ctx context.Context, brokerAddr, topic string, queueID int32) (int64, error) {
	return a.queueCall(ctx, brokerAddr, remoting.GetEarliestMsgStoretime, topic, queueID, nil, "timestamp")
}

// SearchOffset returns the offset of the first message of a queue stored at or after ts (ms) (29).
func (a *Admin) SearchOffset(ctx context.Context, brokerAddr, topic string, queueID int32, ts int64) (int64, error) {
	return a.queueCall(ctx, brokerAddr, remoting.SearchOffsetByTimestamp, topic, queueID,
		map[string]string{"timestamp": strconv.FormatInt(ts, 10)}, "offset")
}

// SendStored sends a copy of a message — body, flag, properties and reconsume times as given — to
// one queue of topic on the broker at brokerAddr (10). The dashboard resends messages this way
// (to a group's %RETRY% topic, with RETRY_TOPIC naming the original topic). A fresh UNIQ_KEY is
// set when props has none.
func (a *Admin) SendStored(ctx context.Context, brokerAddr, topic string, queueID int32, m *message.Message) (*SendResult, error) {
	if m == nil {
		return nil, fmt.Errorf("%w: nil message", ErrInvalidArgument)
	}
	props := make(map[string]string, len(m.Properties)+1)
	for k, v := range m.Properties {
		props[k] = v
	}
	if props[message.PropertyUniqKey] == "" {
		props[message.PropertyUniqKey] = message.NewUniqKey()
	}
	born := m.BornTimestamp
	if born == 0 {
		born = time.Now().UnixMilli()
	}
	req := remoting.NewRequest(remoting.SendMessage, map[string]string{
		"producerGroup": "SKIFF_ADMIN_PRODUCER", "topic": topic, "defaultTopic": "TBW102", "defaultTopicQueueNums": "4",
		"queueId": strconv.Itoa(int(queueID)), "sysFlag": "0", "bornTimestamp": strconv.FormatInt(born, 10),
		"flag": strconv.Itoa(int(m.Flag)), "properties": message.FormatProperties(props),
		"reconsumeTimes": strconv.Itoa(int(m.ReconsumeTimes)), "unitMode": "false", "batch": "false",
	}, m.Body)
	resp, err := a.cl.Invoke(ctx, brokerAddr, req)
	if err != nil {
		return nil, err
	}
	switch resp.Code {
	case remoting.Success, remoting.FlushDiskTimeout, remoting.FlushSlaveTimeout, remoting.SlaveNotAvailable:
	default:
		return nil, fmt.Errorf("admin: send to topic %s on %s: %w", topic, brokerAddr, core.Check(resp, brokerAddr, req.Code))
	}
	q, _ := strconv.ParseInt(resp.ExtFields["queueId"], 10, 32)
	off, _ := strconv.ParseInt(resp.ExtFields["queueOffset"], 10, 64)
	return &SendResult{Code: resp.Code, MsgID: props[message.PropertyUniqKey], OffsetMsgID: resp.ExtFields["msgId"],
		BrokerAddr: brokerAddr, QueueID: int32(q), QueueOffset: off}, nil
}

// NameServerBrokers asks the name server at addr (not the configured list) for its cluster info
// (106) and returns how many broker addresses it lists; the dashboard uses it to tell which name
// servers answer.
func (a *Admin) NameServerBrokers(ctx context.Context, addr string) (int, error) {
	req := remoting.NewRequest(remoting.GetBrokerClusterInfo, nil, nil)
	resp, err := a.cl.Invoke(ctx, addr, req)
	if err != nil {
		return 0, err
	}
	if err := core.Check(resp, addr, req.Code); err != nil {
		return 0, err
	}
	ci := &ClusterInfo{}
	if err := Unmarshal(resp.Body, ci); err != nil {
		return 0, fmt.Errorf("%w: cluster info from %s: %w", ErrBadResponse, addr, err)
	}
	n := 0
	for _, bd := range ci.BrokerAddrTable {
		n += len(bd.BrokerAddrs)
	}
	return n, nil
}
