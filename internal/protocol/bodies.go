package protocol

import "bytes"

// Permission bits of a topic or broker (§2.3 QueueData.perm).
const (
	PermPriority int32 = 0x8
	PermRead     int32 = 0x4
	PermWrite    int32 = 0x2
	PermInherit  int32 = 0x1
)

// TopicConfig is RocketMQ's TopicConfig: one topic of a broker's topic table. It travels in
// REGISTER_BROKER and GET_ALL_TOPIC_CONFIG bodies, is stored in the broker's topics.json and is
// what UPDATE_AND_CREATE_TOPIC carries; the broker, the name server and client/admin all use this
// one type.
type TopicConfig struct {
	TopicName       string `json:"topicName"`
	ReadQueueNums   int32  `json:"readQueueNums"`
	WriteQueueNums  int32  `json:"writeQueueNums"`
	Perm            int32  `json:"perm"`
	TopicFilterType string `json:"topicFilterType"` // "SINGLE_TAG" or "MULTI_TAG"
	TopicSysFlag    int32  `json:"topicSysFlag"`
	Order           bool   `json:"order"`
}

// Readable reports whether consumers may read the topic.
func (t TopicConfig) Readable() bool { return t.Perm&PermRead != 0 }

// Writeable reports whether producers may write the topic.
func (t TopicConfig) Writeable() bool { return t.Perm&PermWrite != 0 }

// QueueNums is the larger of the read and write queue counts: the number of queues that exist.
func (t TopicConfig) QueueNums() int32 { return max(t.ReadQueueNums, t.WriteQueueNums) }

// SubscriptionGroupConfig is RocketMQ's SubscriptionGroupConfig: a consumer group's settings, as
// stored in subscriptionGroup.json, synced to slaves and sent by UPDATE_AND_CREATE_SUBSCRIPTIONGROUP.
type SubscriptionGroupConfig struct {
	GroupName                      string `json:"groupName"`
	ConsumeEnable                  bool   `json:"consumeEnable"`
	ConsumeFromMinEnable           bool   `json:"consumeFromMinEnable"`
	ConsumeBroadcastEnable         bool   `json:"consumeBroadcastEnable"`
	RetryQueueNums                 int32  `json:"retryQueueNums"`
	RetryMaxTimes                  int32  `json:"retryMaxTimes"`
	BrokerID                       int64  `json:"brokerId"`
	WhichBrokerWhenConsumeSlowly   int64  `json:"whichBrokerWhenConsumeSlowly"`
	NotifyConsumerIdsChangedEnable bool   `json:"notifyConsumerIdsChangedEnable"`
}

// DefaultSubscriptionGroupConfig is RocketMQ's default group configuration (what an auto-created
// group gets): consume enabled, 1 retry queue, 16 retries, slow consumers to broker 1.
func DefaultSubscriptionGroupConfig(group string) SubscriptionGroupConfig {
	return SubscriptionGroupConfig{GroupName: group, ConsumeEnable: true, ConsumeFromMinEnable: true,
		ConsumeBroadcastEnable: true, RetryQueueNums: 1, RetryMaxTimes: 16, WhichBrokerWhenConsumeSlowly: 1,
		NotifyConsumerIdsChangedEnable: true}
}

// HeartbeatData is the body of HEART_BEAT (34, §2.7), as the SDK sends it and the broker reads it.
type HeartbeatData struct {
	ClientID        string         `json:"clientID"`
	ProducerDataSet []ProducerData `json:"producerDataSet"`
	ConsumerDataSet []ConsumerData `json:"consumerDataSet"`
}

// ProducerData names a producer group.
type ProducerData struct {
	GroupName string `json:"groupName"`
}

// ConsumerData describes a consumer group member.
type ConsumerData struct {
	GroupName           string             `json:"groupName"`
	ConsumeType         string             `json:"consumeType"`  // CONSUME_PASSIVELY (push) / CONSUME_ACTIVELY (pull)
	MessageModel        string             `json:"messageModel"` // CLUSTERING / BROADCASTING
	ConsumeFromWhere    string             `json:"consumeFromWhere"`
	SubscriptionDataSet []SubscriptionData `json:"subscriptionDataSet"`
	UnitMode            bool               `json:"unitMode"`
}

// SubscriptionData is one topic subscription of a consumer group.
type SubscriptionData struct {
	ClassFilterMode bool     `json:"classFilterMode"`
	Topic           string   `json:"topic"`
	SubString       string   `json:"subString"`
	TagsSet         []string `json:"tagsSet"`
	CodeSet         CodeSet  `json:"codeSet,omitempty"`
	SubVersion      int64    `json:"subVersion"`
	ExpressionType  string   `json:"expressionType"`
}

// CodeSet is a subscription's tag hash codes. The Go client sends them as JSON strings, Java as
// numbers: both decode, and anything else (null, not an array, elements that are not integers)
// is dropped rather than refused, since the broker recomputes the codes from TagsSet with its own
// hash. It encodes as numbers; an empty set decodes as nil.
type CodeSet []int64

// UnmarshalJSON implements json.Unmarshaler.
func (c *CodeSet) UnmarshalJSON(b []byte) error {
	*c = nil
	if bytes.IndexByte(b, '\\') >= 0 {
		b = bytes.Clone(b) // the scanner unescapes in place; the caller's bytes stay as they were
	}
	s := jscan{b: b}
	s.ws()
	if s.peek() != '[' {
		return nil
	}
	s.i++
	for {
		s.ws()
		switch ch := s.peek(); {
		case ch == ']' || ch == 0:
			return nil
		case ch == ',':
			s.i++
			continue
		case ch == '"':
			v, err := s.str()
			if err != nil {
				return nil
			}
			if n, ok := atoi64(v); ok {
				*c = append(*c, n)
			}
		case ch == '-' || (ch >= '0' && ch <= '9'):
			num, err := s.number()
			if err != nil {
				return nil
			}
			if n, ok := atoi64(aliasString(num)); ok {
				*c = append(*c, n)
			}
		default:
			if err := s.skip(); err != nil {
				return nil
			}
		}
	}
}

// LockBatchRequestBody is the body of LOCK_BATCH_MQ and UNLOCK_BATCH_MQ (§2.11).
type LockBatchRequestBody struct {
	ConsumerGroup  string         `json:"consumerGroup"`
	ClientID       string         `json:"clientId"`
	OnlyThisBroker bool           `json:"onlyThisBroker"`
	MqSet          []MessageQueue `json:"mqSet"`
}

// LockBatchResponseBody is LOCK_BATCH_MQ's answer: the queues now locked by the client.
type LockBatchResponseBody struct {
	LockOKMQSet []MessageQueue `json:"lockOKMQSet"`
}
