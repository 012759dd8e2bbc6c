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
//
// A received message (the Message of a MessageExt) keeps the properties as the broker delivered
// them, encoded, and decodes none into a map: its Properties field is nil until something is set
// with WithProperty. Read them with Property (or MessageExt.Properties for all of them); sending
// the Message again sends the received properties with those set on top.
type Message struct {
	Topic      string
	Body       []byte
	Tags       string   // one tag; consumers filter on it
	Keys       []string // indexed by the broker: query by key finds the message
	DelayLevel int      // 0: deliver at once; 1..18: the broker's messageDelayLevel (1 s ... 2 h)
	Flag       int32
	Properties map[string]string

	// received is the encoded properties ("k\x01v\x02k\x01v") of a received message, TAGS,
	// KEYS and DELAY included (the fields above hold them); "" for a message built to send.
	received string
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

// Property returns a property ("" when absent): one set in Properties, else one received. On a
// received message TAGS, KEYS and DELAY are not properties (the fields hold them).
func (m *Message) Property(k string) string {
	if v, ok := m.Properties[k]; ok || m.received == "" || isFieldProperty(k) {
		return v
	}
	v, _ := message.TextProperty(m.received, k)
	return v
}

// HasProperties reports whether m carries any property besides its fields: set in Properties or
// received.
func (m *Message) HasProperties() bool { return len(m.Properties) > 0 || m.received != "" }

// ShardingKey returns the SHARDING_KEY property.
func (m *Message) ShardingKey() string { return m.Property(PropertyShardingKey) }

// isFieldProperty reports whether k is carried by a field of Message (Tags, Keys, DelayLevel).
func isFieldProperty(k string) bool {
	return k == PropertyTags || k == PropertyKeys || k == PropertyDelayLevel
}

// userProperties returns the received properties but TAGS, KEYS and DELAY with those of
// Properties on top, in a new map with room for extra more.
func (m *Message) userProperties(extra int) map[string]string {
	p := make(map[string]string, len(m.Properties)+extra)
	for k, v := range message.PropertyPairs(m.received) {
		if !isFieldProperty(k) {
			p[k] = v
		}
	}
	maps.Copy(p, m.Properties)
	return p
}

// WireProperties returns every property as sent: the received ones (for a received message),
// the user's properties, and TAGS, KEYS and DELAY from the fields.
func (m *Message) WireProperties() map[string]string {
	p := m.userProperties(3)
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
//
// Its properties stay encoded as received (no map per message): Property(k) reads one,
// Properties() builds a map of all of them. The embedded Message's Properties field is shadowed
// by the Properties method, so code written for a map (m.Properties[k]) does not compile instead
// of silently reading nothing; m.Message.Properties holds only what was set after receipt.
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
	// ConsumeStartTime is when the push consumer handed the message to its handler (RocketMQ's
	// CONSUME_START_TIME property, which Property and Properties report from it); zero elsewhere.
	ConsumeStartTime time.Time
}

// Property returns a property ("" when absent) without building a map: CONSUME_START_TIME from
// ConsumeStartTime when set, else one set with WithProperty, else one received. TAGS, KEYS and
// DELAY are in the Tags, Keys and DelayLevel fields, not properties.
func (m *MessageExt) Property(k string) string {
	if k == PropertyConsumeStartTime && !m.ConsumeStartTime.IsZero() {
		return strconv.FormatInt(m.ConsumeStartTime.UnixMilli(), 10)
	}
	return m.Message.Property(k)
}

// Properties returns every property of the message in a new map (changing it changes nothing):
// the received ones but TAGS, KEYS and DELAY (in the fields), those set with WithProperty on
// top, and CONSUME_START_TIME when ConsumeStartTime is set. Property reads one without a map.
func (m *MessageExt) Properties() map[string]string {
	p := m.userProperties(1)
	if !m.ConsumeStartTime.IsZero() {
		p[PropertyConsumeStartTime] = strconv.FormatInt(m.ConsumeStartTime.UnixMilli(), 10)
	}
	return p
}

// ShardingKey returns the SHARDING_KEY property.
func (m *MessageExt) ShardingKey() string { return m.Property(PropertyShardingKey) }

// Queue returns the queue the message was read from.
func (m *MessageExt) Queue() MessageQueue {
	return MessageQueue{Topic: m.Topic, BrokerName: m.BrokerName, QueueID: m.QueueID}
}

// String describes the message briefly.
func (m *MessageExt) String() string {
	return fmt.Sprintf("MessageExt{topic=%s queue=%s/%d offset=%d msgId=%s tags=%q keys=%v reconsume=%d body=%dB}",
		m.Topic, m.BrokerName, m.QueueID, m.QueueOffset, m.MsgID, m.Tags, m.Keys, m.ReconsumeTimes, len(m.Body))
}

// FromStored converts a decoded record into a MessageExt: TAGS, KEYS and DELAY go to the
// fields, the other properties are kept encoded (from s.EncodedProperties), a compressed body is
// inflated. brokerName is the set it was read from. s is not modified. The pull path uses
// DecodeMessages instead, which never builds s's property map.
func FromStored(s *message.Message, brokerName string) (*MessageExt, error) {
	m := &MessageExt{}
	var d decoder
	if err := d.fill(m, s, s.EncodedProperties(), brokerName); err != nil {
		return nil, err
	}
	return m, nil
}

// DecodeMessages decodes a pull (or query) body, the records concatenated, into messages read
// from broker set brokerName, without a property map per message: each keeps its properties
// encoded (see MessageExt.Property). The messages of one body share their allocations (one
// array of MessageExt, one string holding every property text and offset id), so one retained
// message keeps the body's memory alive, as its Body (which aliases body) already does. On a bad
// record it returns the messages before it and the error.
func DecodeMessages(body []byte, brokerName string) ([]*MessageExt, error) {
	// First pass: how many records (their sizes only; the second pass checks the rest).
	n := 0
	for b := body; len(b) > 0; n++ {
		size, err := message.RecordSize(b)
		if err != nil || size > len(b) {
			n++ // the second pass stops at it with the error
			break
		}
		b = b[size:]
	}
	slab := make([]MessageExt, n)
	out := make([]*MessageExt, 0, n)
	d := decoder{}
	d.text.Grow(n * textPerMessage)
	var s message.Message
	for b := body; len(b) > 0; {
		props, err := message.DecodeFields(b, &s)
		if err != nil {
			return out, fmt.Errorf("%w: record %d: %v", ErrBadResponse, len(out), err)
		}
		b = b[s.StoreSize:]
		start := d.text.Len()
		d.text.Write(props)
		m := &slab[len(out)]
		if err := d.fill(m, &s, d.text.String()[start:], brokerName); err != nil {
			return out, err
		}
		out = append(out, m)
	}
	return out, nil
}

// textPerMessage is the text a message usually needs: a producer's properties (UNIQ_KEY, often
// TAGS, KEYS, WAIT) and a 32-character offset id. More only costs the builder a reallocation.
const textPerMessage = 128

// decoder is the state shared by the messages of one body: the text they slice, the last host
// texts (a pull's records share their store host and often their born host), and the keys.
type decoder struct {
	text              strings.Builder // only appended to: strings taken from it stay valid
	born, store       netip.AddrPort
	bornStr, storeStr string
	keys              []string // Keys of the messages, each a full slice of a part
}

func (d *decoder) host(ap netip.AddrPort, last *netip.AddrPort, str *string) string {
	if !ap.IsValid() {
		return ""
	}
	if ap != *last || *str == "" {
		*last, *str = ap, ap.String()
	}
	return *str
}

// fill sets m from the record s, whose encoded properties are props (a string m may keep).
func (d *decoder) fill(m *MessageExt, s *message.Message, props, brokerName string) error {
	*m = MessageExt{
		Message:    Message{Topic: s.Topic, Body: s.Body, Flag: s.Flag, received: props},
		BrokerName: brokerName, QueueID: s.QueueID, QueueOffset: s.QueueOffset,
		CommitLogOffset: s.CommitLogOffset, SysFlag: s.SysFlag,
		BornTimestamp: time.UnixMilli(s.BornTimestamp), BornHost: d.host(s.BornHost, &d.born, &d.bornStr),
		StoreTimestamp: time.UnixMilli(s.StoreTimestamp), StoreHost: d.host(s.StoreHost, &d.store, &d.storeStr),
		ReconsumeTimes: s.ReconsumeTimes, BodyCRC: s.BodyCRC, StoreSize: s.StoreSize,
		PreparedTransactionOffset: s.PreparedTransactionOffset,
	}
	var keys string
	for k, v := range message.PropertyPairs(props) { // the last of a repeated key wins, as in a map
		switch k {
		case PropertyTags:
			m.Tags = v
		case PropertyKeys:
			keys = v
		case PropertyDelayLevel:
			m.DelayLevel, _ = strconv.Atoi(v)
		case PropertyUniqKey:
			m.MsgID = v
		}
	}
	if keys != "" {
		start := len(d.keys)
		for f := range strings.FieldsSeq(keys) {
			d.keys = append(d.keys, f)
		}
		if len(d.keys) > start {
			m.Keys = d.keys[start:len(d.keys):len(d.keys)]
		}
	}
	if s.StoreHost.IsValid() {
		var id [56]byte
		start := d.text.Len()
		d.text.Write(message.AppendOffsetMsgID(id[:0], s.StoreHost, s.CommitLogOffset))
		m.OffsetMsgID = d.text.String()[start:]
	}
	if m.MsgID == "" {
		m.MsgID = m.OffsetMsgID
	}
	if s.SysFlag&message.FlagCompressed != 0 {
		body, err := Inflate(s.Body)
		if err != nil {
			return fmt.Errorf("%w: message %s at offset %d of %s/%d: compressed body: %v", ErrBadResponse, m.MsgID, s.QueueOffset, s.Topic, s.QueueID, err)
		}
		m.Body = body
	}
	return nil
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
