package client

import (
	"bytes"
	"compress/zlib"
	"fmt"
	"io"
	"maps"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/skiffmq/skiff/internal/message"
	"github.com/skiffmq/skiff/internal/protocol"
)

// Property names with a meaning to brokers and clients (RocketMQ's names).
const (
	PropertyKeys              = message.PropertyKeys
	PropertyTags              = message.PropertyTags
	PropertyDelayLevel        = message.PropertyDelayLevel
	PropertyUniqKey           = message.PropertyUniqKey
	PropertyShardingKey       = message.PropertyShardingKey
	PropertyRetryTopic        = message.PropertyRetryTopic
	PropertyRealTopic         = message.PropertyRealTopic
	PropertyTransactionPrep   = message.PropertyTransactionPrepared
	PropertyProducerGroup     = message.PropertyProducerGroup
	PropertyMaxReconsumeTimes = message.PropertyMaxReconsumeTimes
	PropertyConsumeStartTime  = "CONSUME_START_TIME"
)

// Message is a message to send. Tags, Keys and DelayLevel are carried as the TAGS, KEYS and DELAY
// properties; Properties holds the user's own properties (and may hold any system property).
type Message struct {
	Topic      string
	Body       []byte
	Tags       string   // one tag; consumers filter on it
	Keys       []string // indexed by the broker: query by key finds the message
	DelayLevel int      // 0: deliver at once; 1..18: the broker's messageDelayLevel (1 s ... 2 h)
	Flag       int32
	Properties map[string]string
}

// NewMessage returns a message for topic with body.
func NewMessage(topic string, body []byte) *Message { return &Message{Topic: topic, Body: body} }

// WithTags sets the tag and returns m.
func (m *Message) WithTags(tags string) *Message { m.Tags = tags; return m }

// WithKeys sets the keys and returns m.
func (m *Message) WithKeys(keys ...string) *Message { m.Keys = keys; return m }

// WithProperty sets a user property and returns m.
func (m *Message) WithProperty(k, v string) *Message {
	if m.Properties == nil {
		m.Properties = map[string]string{}
	}
	m.Properties[k] = v
	return m
}

// WithDelayLevel sets the delay level and returns m.
func (m *Message) WithDelayLevel(level int) *Message { m.DelayLevel = level; return m }

// WithShardingKey sets the SHARDING_KEY property (used by ordered producers) and returns m.
func (m *Message) WithShardingKey(key string) *Message {
	return m.WithProperty(PropertyShardingKey, key)
}

// Property returns a property ("" when absent).
func (m *Message) Property(k string) string { return m.Properties[k] }

// ShardingKey returns the SHARDING_KEY property.
func (m *Message) ShardingKey() string { return m.Properties[PropertyShardingKey] }

// WireProperties returns every property as sent: the user's properties plus TAGS, KEYS and
// DELAY from the fields.
func (m *Message) WireProperties() map[string]string {
	p := make(map[string]string, len(m.Properties)+3)
	maps.Copy(p, m.Properties)
	if m.Tags != "" {
		p[PropertyTags] = m.Tags
	}
	if len(m.Keys) > 0 {
		p[PropertyKeys] = strings.Join(m.Keys, " ")
	}
	if m.DelayLevel > 0 {
		p[PropertyDelayLevel] = strconv.Itoa(m.DelayLevel)
	}
	return p
}

// Validate checks what a broker would refuse, naming the offending value.
func (m *Message) Validate(maxBody int) error {
	if m == nil {
		return fmt.Errorf("%w: nil message", ErrInvalidArgument)
	}
	if err := ValidateTopic(m.Topic); err != nil {
		return err
	}
	if len(m.Body) == 0 {
		return fmt.Errorf("%w: message to topic %q has an empty body", ErrInvalidArgument, m.Topic)
	}
	if maxBody > 0 && len(m.Body) > maxBody {
		return fmt.Errorf("%w: message body of %d bytes exceeds the limit of %d bytes", ErrInvalidArgument, len(m.Body), maxBody)
	}
	if m.DelayLevel < 0 {
		return fmt.Errorf("%w: delay level %d is negative", ErrInvalidArgument, m.DelayLevel)
	}
	if strings.ContainsAny(m.Tags, "\x01\x02") {
		return fmt.Errorf("%w: tags %q contain a separator byte (0x01 or 0x02)", ErrInvalidArgument, m.Tags)
	}
	for _, k := range m.Keys {
		if strings.ContainsAny(k, "\x01\x02") {
			return fmt.Errorf("%w: key %q contains a separator byte (0x01 or 0x02)", ErrInvalidArgument, k)
		}
	}
	for k, v := range m.Properties {
		if strings.ContainsAny(k, "\x01\x02") || strings.ContainsAny(v, "\x01\x02") {
			return fmt.Errorf("%w: property %q contains a separator byte (0x01 or 0x02)", ErrInvalidArgument, k)
		}
	}
	return nil
}

// ValidateTopic checks a topic name as RocketMQ does: 1..127 characters of [A-Za-z0-9_|%-].
func ValidateTopic(topic string) error {
	if topic == "" {
		return fmt.Errorf("%w: empty topic", ErrInvalidArgument)
	}
	if len(topic) > message.MaxTopicLength {
		return fmt.Errorf("%w: topic %q is longer than %d characters", ErrInvalidArgument, topic, message.MaxTopicLength)
	}
	for _, c := range topic {
		ok := c == '_' || c == '-' || c == '%' || c == '|' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
		if !ok {
			return fmt.Errorf("%w: topic %q has the character %q (allowed: letters, digits, %%, |, -, _)", ErrInvalidArgument, topic, c)
		}
	}
	return nil
}

// MessageExt is a message as stored by a broker and delivered to consumers.
type MessageExt struct {
	Message
	MsgID                     string // the producer's unique key (UNIQ_KEY), or the offset id when it has none
	OffsetMsgID               string // store host and commit-log offset
	BrokerName                string
	QueueID                   int32
	QueueOffset               int64
	CommitLogOffset           int64
	SysFlag                   int32
	BornTimestamp             time.Time
	BornHost                  string
	StoreTimestamp            time.Time
	StoreHost                 string
	ReconsumeTimes            int32
	BodyCRC                   int32
	StoreSize                 int32
	PreparedTransactionOffset int64
}

// Queue returns the queue the message was read from.
func (m *MessageExt) Queue() MessageQueue {
	return MessageQueue{Topic: m.Topic, BrokerName: m.BrokerName, QueueID: m.QueueID}
}

// String describes the message briefly.
func (m *MessageExt) String() string {
	return fmt.Sprintf("MessageExt{topic=%s queue=%s/%d offset=%d msgId=%s tags=%q keys=%v reconsume=%d body=%dB}",
		m.Topic, m.BrokerName, m.QueueID, m.QueueOffset, m.MsgID, m.Tags, m.Keys, m.ReconsumeTimes, len(m.Body))
}

// FromStored converts a decoded record into a MessageExt: it splits TAGS, KEYS and DELAY out of
// the properties and inflates a compressed body. brokerName is the set it was read from.
func FromStored(s *message.Message, brokerName string) (*MessageExt, error) {
	return fromStored(s, brokerName, maps.Clone(s.Properties), nil)
}

// HostStrings remembers the text of the last hosts seen, so that the messages of one pull
// (which share their store host, and often their born host) do not format it again each.
type HostStrings struct {
	born, store       netip.AddrPort
	bornStr, storeStr string
}

func (h *HostStrings) bornString(ap netip.AddrPort) string {
	if h == nil {
		return hostString(ap)
	}
	if ap != h.born || h.bornStr == "" {
		h.born, h.bornStr = ap, hostString(ap)
	}
	return h.bornStr
}

func (h *HostStrings) storeString(ap netip.AddrPort) string {
	if h == nil {
		return hostString(ap)
	}
	if ap != h.store || h.storeStr == "" {
		h.store, h.storeStr = ap, hostString(ap)
	}
	return h.storeStr
}

// FromStoredOwned is FromStored for a record the caller hands over (the pull path): the
// message keeps s's properties map instead of a copy (s must not be used afterwards), and host
// texts come from hosts (nil: formatted each time).
func FromStoredOwned(s *message.Message, brokerName string, hosts *HostStrings) (*MessageExt, error) {
	return fromStored(s, brokerName, s.Properties, hosts)
}

func fromStored(s *message.Message, brokerName string, props map[string]string, hosts *HostStrings) (*MessageExt, error) {
	if props == nil {
		props = map[string]string{}
	}
	m := &MessageExt{
		Message: Message{
			Topic: s.Topic, Body: s.Body, Flag: s.Flag,
			Tags: props[PropertyTags], Keys: strings.Fields(props[PropertyKeys]),
		},
		BrokerName: brokerName, QueueID: s.QueueID, QueueOffset: s.QueueOffset,
		CommitLogOffset: s.CommitLogOffset, SysFlag: s.SysFlag,
		BornTimestamp: time.UnixMilli(s.BornTimestamp), BornHost: hosts.bornString(s.BornHost),
		StoreTimestamp: time.UnixMilli(s.StoreTimestamp), StoreHost: hosts.storeString(s.StoreHost),
		ReconsumeTimes: s.ReconsumeTimes, BodyCRC: s.BodyCRC, StoreSize: s.StoreSize,
		PreparedTransactionOffset: s.PreparedTransactionOffset,
	}
	if lvl := props[PropertyDelayLevel]; lvl != "" {
		m.DelayLevel, _ = strconv.Atoi(lvl)
	}
	delete(props, PropertyTags)
	delete(props, PropertyKeys)
	delete(props, PropertyDelayLevel)
	m.Properties = props
	if s.StoreHost.IsValid() {
		m.OffsetMsgID = message.OffsetMsgID(s.StoreHost, s.CommitLogOffset)
	}
	m.MsgID = props[PropertyUniqKey]
	if m.MsgID == "" {
		m.MsgID = m.OffsetMsgID
	}
	if s.SysFlag&message.FlagCompressed != 0 {
		body, err := Inflate(s.Body)
		if err != nil {
			return nil, fmt.Errorf("%w: message %s at offset %d of %s/%d: compressed body: %v", ErrBadResponse, m.MsgID, s.QueueOffset, s.Topic, s.QueueID, err)
		}
		m.Body = body
	}
	return m, nil
}

// MaxInflatedBody bounds an inflated body (a corrupt or hostile body cannot exhaust memory).
const MaxInflatedBody = 64 << 20

// Inflate undoes zlib compression of a body; a body that inflates to more than MaxInflatedBody
// bytes is refused.
func Inflate(b []byte) ([]byte, error) { return inflate(b, MaxInflatedBody) }

// inflate is Inflate with the bound as a parameter (tests use a small one).
func inflate(b []byte, limit int) ([]byte, error) {
	r, err := zlib.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	defer r.Close()
	out, err := io.ReadAll(io.LimitReader(r, int64(limit)+1))
	if err != nil {
		return nil, err
	}
	if len(out) > limit {
		return nil, fmt.Errorf("inflated body exceeds %d bytes", limit)
	}
	return out, nil
}

// Deflate zlib-compresses a body at the given level (1..9).
func Deflate(b []byte, level int) ([]byte, error) {
	var buf bytes.Buffer
	w, err := zlib.NewWriterLevel(&buf, level)
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(b); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func hostString(ap netip.AddrPort) string {
	if !ap.IsValid() {
		return ""
	}
	return ap.String()
}

// MessageQueue identifies one queue of a topic on one broker set (the protocol's type; its
// String form is "topic@brokerName/queueId").
type MessageQueue = protocol.MessageQueue

// SendStatus is the outcome of a send that reached a broker.
type SendStatus int

// Send statuses. Anything but SendOK comes with an error wrapping the matching sentinel.
const (
	SendOK SendStatus = iota
	SendFlushDiskTimeout
	SendFlushSlaveTimeout
	SendSlaveNotAvailable
)

func (s SendStatus) String() string {
	switch s {
	case SendOK:
		return "SEND_OK"
	case SendFlushDiskTimeout:
		return "FLUSH_DISK_TIMEOUT"
	case SendFlushSlaveTimeout:
		return "FLUSH_SLAVE_TIMEOUT"
	case SendSlaveNotAvailable:
		return "SLAVE_NOT_AVAILABLE"
	}
	return "SendStatus(" + strconv.Itoa(int(s)) + ")"
}

// SendResult describes a stored message (or batch).
type SendResult struct {
	Status        SendStatus
	MsgID         string // the unique key (comma-joined for a batch)
	OffsetMsgID   string // the store's offset id (comma-joined for a batch)
	Queue         MessageQueue
	QueueOffset   int64 // the first message's queue offset
	TransactionID string
	RegionID      string
}

func (r *SendResult) String() string {
	return fmt.Sprintf("SendResult{status=%s msgId=%s offsetMsgId=%s queue=%s queueOffset=%d}",
		r.Status, r.MsgID, r.OffsetMsgID, r.Queue, r.QueueOffset)
}

// PullStatus is the outcome of a pull.
type PullStatus int

// Pull statuses.
const (
	PullFound PullStatus = iota
	PullNoNewMsg
	PullNoMatchedMsg
	PullOffsetIllegal
)

func (s PullStatus) String() string {
	switch s {
	case PullFound:
		return "FOUND"
	case PullNoNewMsg:
		return "NO_NEW_MSG"
	case PullNoMatchedMsg:
		return "NO_MATCHED_MSG"
	case PullOffsetIllegal:
		return "OFFSET_ILLEGAL"
	}
	return "PullStatus(" + strconv.Itoa(int(s)) + ")"
}

// PullResult is the answer to one pull.
type PullResult struct {
	Status               PullStatus
	NextBeginOffset      int64
	MinOffset            int64
	MaxOffset            int64
	SuggestWhichBrokerID int64
	Messages             []*MessageExt
}
