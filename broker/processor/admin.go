package processor

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strconv"

	"github.com/skiffmq/skiff/broker/metadata"
	"github.com/skiffmq/skiff/commitlog"
	"github.com/skiffmq/skiff/internal/message"
	"github.com/skiffmq/skiff/internal/protocol"
	"github.com/skiffmq/skiff/internal/remoting"
	"github.com/skiffmq/skiff/internal/remoting/server"
)

// AdminStore is what the admin processor reads and changes of the commit log.
type AdminStore interface {
	GetMessage(topic string, queueID int32, offset int64, maxMsgNums int, match func(tagsCode int64) bool) commitlog.GetResult
	MaxOffsetInQueue(topic string, queueID int32) int64
	MinOffsetInQueue(topic string, queueID int32) int64
	OffsetByTime(topic string, queueID int32, ts int64) int64
	QueryMessage(topic, key string, maxNum int, begin, end int64) commitlog.QueryResult
	LookupMessage(offset int64) ([]byte, error)
	DeleteTopic(topic string)
}

// AdminTopics is the topic table as the admin requests change it (*metadata.Topics).
type AdminTopics interface {
	Get(name string) (metadata.TopicConfig, bool)
	Put(tc metadata.TopicConfig) error
	Delete(name string) (bool, error)
	Snapshot() metadata.TopicTable
}

// AdminGroups is the subscription-group table (*metadata.Groups).
type AdminGroups interface {
	Put(gc metadata.SubscriptionGroupConfig) error
	Delete(name string) (bool, error)
	Snapshot() metadata.GroupTable
}

// AdminOffsets is the consumer-offset table (*metadata.Offsets).
type AdminOffsets interface {
	OffsetTable
	QueueOffsets(group, topic string) map[int32]int64
	TopicsOfGroup(group string) []string
	RemoveGroup(group string)
	RemoveTopic(topic string)
	Snapshot() metadata.OffsetTable
}

// DelayOffsetSnapshot is the delay-offset table as GET_ALL_DELAY_OFFSET reads it.
type DelayOffsetSnapshot interface {
	Snapshot() metadata.DelayOffsetTable
}

// Admin is the admin processor (the metadata and query part of RocketMQ's AdminBrokerProcessor
// and QueryMessageProcessor): topics and subscription groups (create/update, delete, list), the
// metadata tables a slave copies, topic and consume statistics, offset reset, and message queries
// by key and by commit-log offset. The broker's own status requests (runtime info, configuration)
// stay in package broker.
type Admin struct {
	Store        AdminStore
	Topics       AdminTopics
	Groups       AdminGroups
	Offsets      AdminOffsets
	DelayOffsets DelayOffsetSnapshot
	Config       func() Config
	Log          *slog.Logger
	// FromMaster reports whether req is a topic or group change forwarded by this set's master
	// (controller mode), which a slave applies; nil: never.
	FromMaster func(req *remoting.Command) bool
	// Register asks for a registration with the name servers (the topic set changed).
	Register func()
	// ConsumerConns returns the live connections of a consumer group (offset-reset notices).
	ConsumerConns func(group string) []*server.Conn
}

// slaveModifyRemark is RocketMQ's answer to a topic or group change sent to a slave.
const slaveModifyRemark = "Can't modify topic or subscription group from slave broker, please execute it from master broker."

func (p *Admin) fromMaster(req *remoting.Command) bool {
	return p.FromMaster != nil && p.FromMaster(req)
}

func success(req *remoting.Command, body []byte) *remoting.Command {
	resp := remoting.NewResponseList(req, remoting.Success, "")
	resp.Body = body
	return resp
}

func jsonBody(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// CreateTopic serves UPDATE_AND_CREATE_TOPIC.
func (p *Admin) CreateTopic(_ context.Context, _ *server.Conn, req *remoting.Command) *remoting.Command {
	if !p.Config().IsMaster && !p.fromMaster(req) {
		return errResp(req, remoting.SystemError, slaveModifyRemark)
	}
	f := protocol.ReadFields(req.RawExt())
	tc := metadata.TopicConfig{
		TopicName:       f.Str("topic", true),
		ReadQueueNums:   f.I32("readQueueNums", true),
		WriteQueueNums:  f.I32("writeQueueNums", true),
		Perm:            f.I32("perm", true),
		TopicFilterType: f.Str("topicFilterType", false),
		TopicSysFlag:    f.I32("topicSysFlag", false),
		Order:           f.Bool("order"),
	}
	if err := f.Err(); err != nil {
		return errResp(req, remoting.SystemError, "%v", err)
	}
	if err := metadata.ValidateTopic(tc.TopicName); err != nil {
		return errResp(req, remoting.SystemError, "%v", err)
	}
	if metadata.IsSystemTopic(tc.TopicName) || tc.TopicName == metadata.TopicDefault {
		return errResp(req, remoting.SystemError, "The topic[%s] is conflict with system topic.", tc.TopicName)
	}
	if tc.ReadQueueNums <= 0 || tc.WriteQueueNums <= 0 || tc.ReadQueueNums > 1024 || tc.WriteQueueNums > 1024 {
		return errResp(req, remoting.SystemError, "queue numbers of topic %s must be 1..1024 (read %d, write %d)",
			tc.TopicName, tc.ReadQueueNums, tc.WriteQueueNums)
	}
	if tc.Perm&^(metadata.PermRead|metadata.PermWrite|metadata.PermInherit|metadata.PermPriority) != 0 {
		return errResp(req, remoting.SystemError, "perm %d of topic %s is not a valid permission", tc.Perm, tc.TopicName)
	}
	if tc.TopicFilterType == "" {
		tc.TopicFilterType = "SINGLE_TAG"
	}
	if err := p.Topics.Put(tc); err != nil {
		return errResp(req, remoting.SystemError, "persist topic %s: %v", tc.TopicName, err)
	}
	p.Log.Info("topic created or updated", "topic", tc.TopicName, "read", tc.ReadQueueNums, "write", tc.WriteQueueNums, "perm", tc.Perm)
	p.Register()
	return success(req, nil)
}

// DeleteTopic serves DELETE_TOPIC_IN_BROKER: the topic, its consumer offsets and its queues go.
func (p *Admin) DeleteTopic(_ context.Context, _ *server.Conn, req *remoting.Command) *remoting.Command {
	if !p.Config().IsMaster && !p.fromMaster(req) {
		return errResp(req, remoting.SystemError, slaveModifyRemark)
	}
	f := protocol.ReadFields(req.RawExt())
	topic := f.Str("topic", true)
	if err := f.Err(); err != nil {
		return errResp(req, remoting.SystemError, "%v", err)
	}
	if err := metadata.ValidateTopic(topic); err != nil {
		return errResp(req, remoting.SystemError, "%v", err)
	}
	if metadata.IsSystemTopic(topic) {
		return errResp(req, remoting.SystemError, "The topic[%s] is conflict with system topic.", topic)
	}
	if _, err := p.Topics.Delete(topic); err != nil {
		return errResp(req, remoting.SystemError, "delete topic %s: %v", topic, err)
	}
	p.Offsets.RemoveTopic(topic)
	p.Store.DeleteTopic(topic)
	p.Log.Info("topic deleted", "topic", topic)
	p.Register()
	return success(req, nil)
}

// GetAllTopicConfig serves GET_ALL_TOPIC_CONFIG (also what a slave copies).
func (p *Admin) GetAllTopicConfig(_ context.Context, _ *server.Conn, req *remoting.Command) *remoting.Command {
	return success(req, jsonBody(p.Topics.Snapshot()))
}

// GetAllConsumerOffset serves GET_ALL_CONSUMER_OFFSET.
func (p *Admin) GetAllConsumerOffset(_ context.Context, _ *server.Conn, req *remoting.Command) *remoting.Command {
	return success(req, jsonBody(p.Offsets.Snapshot()))
}

// GetAllDelayOffset serves GET_ALL_DELAY_OFFSET.
func (p *Admin) GetAllDelayOffset(_ context.Context, _ *server.Conn, req *remoting.Command) *remoting.Command {
	return success(req, jsonBody(p.DelayOffsets.Snapshot()))
}

// CreateGroup serves UPDATE_AND_CREATE_SUBSCRIPTIONGROUP; fields absent from the body keep
// RocketMQ's defaults.
func (p *Admin) CreateGroup(_ context.Context, _ *server.Conn, req *remoting.Command) *remoting.Command {
	if !p.Config().IsMaster && !p.fromMaster(req) {
		return errResp(req, remoting.SystemError, slaveModifyRemark)
	}
	gc := metadata.DefaultGroupConfig("")
	if err := json.Unmarshal(req.Body, &gc); err != nil {
		return errResp(req, remoting.SystemError, "bad subscription group body: %v", err)
	}
	if gc.GroupName == "" {
		return errResp(req, remoting.SystemError, "subscription group body has no groupName")
	}
	if err := p.Groups.Put(gc); err != nil {
		return errResp(req, remoting.SystemError, "persist group %s: %v", gc.GroupName, err)
	}
	p.Log.Info("subscription group created or updated", "group", gc.GroupName)
	return success(req, nil)
}

// GetAllGroups serves GET_ALL_SUBSCRIPTIONGROUP_CONFIG.
func (p *Admin) GetAllGroups(_ context.Context, _ *server.Conn, req *remoting.Command) *remoting.Command {
	return success(req, jsonBody(p.Groups.Snapshot()))
}

// DeleteGroup serves DELETE_SUBSCRIPTIONGROUP (with its offsets when removeOffset is set).
func (p *Admin) DeleteGroup(_ context.Context, _ *server.Conn, req *remoting.Command) *remoting.Command {
	if !p.Config().IsMaster && !p.fromMaster(req) {
		return errResp(req, remoting.SystemError, slaveModifyRemark)
	}
	f := protocol.ReadFields(req.RawExt())
	group := f.Str("groupName", true)
	if err := f.Err(); err != nil {
		return errResp(req, remoting.SystemError, "%v", err)
	}
	if _, err := p.Groups.Delete(group); err != nil {
		return errResp(req, remoting.SystemError, "delete group %s: %v", group, err)
	}
	if f.Bool("removeOffset") {
		p.Offsets.RemoveGroup(group)
	}
	p.Log.Info("subscription group deleted", "group", group)
	return success(req, nil)
}

// writeMQKey writes a MessageQueue as a fastjson object key (§1.9), the form Java tools parse.
func writeMQKey(buf *bytes.Buffer, topic, brokerName string, qid int32) {
	buf.WriteString(`{"brokerName":`)
	buf.Write(protocol.AppendJSONString(nil, brokerName))
	buf.WriteString(`,"queueId":`)
	buf.WriteString(strconv.FormatInt(int64(qid), 10))
	buf.WriteString(`,"topic":`)
	buf.Write(protocol.AppendJSONString(nil, topic))
	buf.WriteByte('}')
}

// storeTimeAt is the store timestamp of the message at a queue offset (0 when absent).
func (p *Admin) storeTimeAt(topic string, qid int32, offset int64) int64 {
	res := p.Store.GetMessage(topic, qid, offset, 1, nil)
	if len(res.Messages) == 0 {
		return 0
	}
	m, err := message.Decode(res.Messages[0], false)
	if err != nil {
		return 0
	}
	return m.StoreTimestamp
}

// TopicStats serves GET_TOPIC_STATS_INFO: min/max offset and last store time per write queue.
func (p *Admin) TopicStats(_ context.Context, _ *server.Conn, req *remoting.Command) *remoting.Command {
	f := protocol.ReadFields(req.RawExt())
	topic := f.Str("topic", true)
	if err := f.Err(); err != nil {
		return errResp(req, remoting.SystemError, "%v", err)
	}
	tc, ok := p.Topics.Get(topic)
	if !ok {
		return errResp(req, remoting.TopicNotExist, "topic[%s] not exist", topic)
	}
	brokerName := p.Config().BrokerName
	var buf bytes.Buffer
	buf.WriteString(`{"offsetTable":{`)
	for q := int32(0); q < tc.WriteQueueNums; q++ {
		if q > 0 {
			buf.WriteByte(',')
		}
		writeMQKey(&buf, topic, brokerName, q)
		maxOff := p.Store.MaxOffsetInQueue(topic, q)
		last := int64(0)
		if maxOff > 0 {
			last = p.storeTimeAt(topic, q, maxOff-1)
		}
		fmt.Fprintf(&buf, `:{"lastUpdateTimestamp":%d,"maxOffset":%d,"minOffset":%d}`, last, maxOff, p.Store.MinOffsetInQueue(topic, q))
	}
	buf.WriteString(`}}`)
	return success(req, buf.Bytes())
}

// ConsumeStats serves GET_CONSUME_STATS: broker and consumer offsets of every read queue of each
// topic the group has offsets for (or of the given topic).
func (p *Admin) ConsumeStats(_ context.Context, _ *server.Conn, req *remoting.Command) *remoting.Command {
	f := protocol.ReadFields(req.RawExt())
	group := f.Str("consumerGroup", true)
	only := f.Str("topic", false)
	if err := f.Err(); err != nil {
		return errResp(req, remoting.SystemError, "%v", err)
	}
	topics := p.Offsets.TopicsOfGroup(group)
	if only != "" {
		topics = []string{only}
	}
	brokerName := p.Config().BrokerName
	var buf bytes.Buffer
	buf.WriteString(`{"consumeTps":0,"offsetTable":{`)
	first := true
	for _, topic := range topics {
		tc, ok := p.Topics.Get(topic)
		if !ok {
			continue
		}
		offs := p.Offsets.QueueOffsets(group, topic)
		for q := int32(0); q < tc.ReadQueueNums; q++ {
			if !first {
				buf.WriteByte(',')
			}
			first = false
			writeMQKey(&buf, topic, brokerName, q)
			cons := offs[q] // 0 when the group has no offset for the queue
			last := int64(0)
			if cons > 0 {
				last = p.storeTimeAt(topic, q, cons-1)
			}
			fmt.Fprintf(&buf, `:{"brokerOffset":%d,"consumerOffset":%d,"lastTimestamp":%d}`, p.Store.MaxOffsetInQueue(topic, q), cons, last)
		}
	}
	buf.WriteString(`}}`)
	return success(req, buf.Bytes())
}

// ResetOffset serves INVOKE_BROKER_TO_RESET_OFFSET (222): for each queue of the topic the target is
// the offset of the message stored at timestamp (-1: the queue's end); it replaces the group's
// offset when isForce is set or when it is smaller. Online consumers of the group are told with
// RESET_CONSUMER_CLIENT_OFFSET (220). The body is ResetOffsetBody in fastjson form.
func (p *Admin) ResetOffset(_ context.Context, _ *server.Conn, req *remoting.Command) *remoting.Command {
	f := protocol.ReadFields(req.RawExt())
	topic, group := f.Str("topic", true), f.Str("group", true)
	ts := f.I64("timestamp", true)
	force := f.Bool("isForce")
	if err := f.Err(); err != nil {
		return errResp(req, remoting.SystemError, "%v", err)
	}
	cfg := p.Config()
	if !cfg.IsMaster {
		return errResp(req, remoting.SystemError, "the broker[%s] is a slave; reset offsets on the master", cfg.BrokerAddr)
	}
	tc, ok := p.Topics.Get(topic)
	if !ok {
		return errResp(req, remoting.TopicNotExist, "topic[%s] not exist", topic)
	}
	var buf bytes.Buffer
	buf.WriteString(`{"offsetTable":{`)
	for q := int32(0); q < tc.ReadQueueNums; q++ {
		target := p.Store.MaxOffsetInQueue(topic, q)
		if ts >= 0 {
			target = p.Store.OffsetByTime(topic, q, ts)
		}
		cur := p.Offsets.Query(group, topic, q)
		if force || cur < 0 || target < cur {
			p.Offsets.Commit(group, topic, q, target)
		} else {
			target = cur
		}
		if q > 0 {
			buf.WriteByte(',')
		}
		writeMQKey(&buf, topic, cfg.BrokerName, q)
		fmt.Fprintf(&buf, ":%d", target)
	}
	buf.WriteString(`}}`)
	body := buf.Bytes()
	if p.ConsumerConns != nil {
		for _, c := range p.ConsumerConns(group) {
			n := remoting.NewRequestList(remoting.ResetConsumerClientOffset, body).SetRawExt([]protocol.ExtField{
				{Key: "topic", Value: topic}, {Key: "group", Value: group},
				{Key: "timestamp", Value: strconv.FormatInt(ts, 10)}, {Key: "isForce", Value: strconv.FormatBool(force)}})
			if err := c.InvokeOneway(n); err != nil {
				p.Log.Debug("reset offset notification failed", "addr", c.RemoteAddr(), "err", err)
			}
		}
	}
	p.Log.Info("consumer offsets reset", "group", group, "topic", topic, "timestamp", ts, "force", force)
	return success(req, body)
}

// QueryMessage serves QUERY_MESSAGE: messages of a topic by key (or unique key) stored in
// [beginTimestamp, endTimestamp], at most maxNum (defaultQueryMaxNum for a unique-key query).
func (p *Admin) QueryMessage(_ context.Context, _ *server.Conn, req *remoting.Command) *remoting.Command {
	f := protocol.ReadFields(req.RawExt())
	topic, key := f.Str("topic", true), f.Str("key", true)
	maxNum := int(f.I32("maxNum", true))
	begin, end := f.I64("beginTimestamp", true), f.I64("endTimestamp", true)
	if err := f.Err(); err != nil {
		return errResp(req, remoting.SystemError, "%v", err)
	}
	if f.Bool("_UNIQUE_KEY_QUERY") {
		maxNum = p.Config().DefaultQueryMaxNum
	}
	res := p.Store.QueryMessage(topic, key, maxNum, begin, end)
	ext := []protocol.ExtField{
		{Key: "indexLastUpdateTimestamp", Value: strconv.FormatInt(res.IndexLastUpdateTimestamp, 10)},
		{Key: "indexLastUpdatePhyoffset", Value: strconv.FormatInt(res.IndexLastUpdatePhyoffset, 10)},
	}
	if len(res.Messages) == 0 {
		return remoting.NewResponseList(req, remoting.QueryNotFound, "can not find message, maybe time range not correct").SetRawExt(ext)
	}
	return success(req, bytes.Join(res.Messages, nil)).SetRawExt(ext)
}

// ViewMessage serves VIEW_MESSAGE_BY_ID: the record at a commit-log offset.
func (p *Admin) ViewMessage(_ context.Context, _ *server.Conn, req *remoting.Command) *remoting.Command {
	f := protocol.ReadFields(req.RawExt())
	offset := f.I64("offset", true)
	if err := f.Err(); err != nil {
		return errResp(req, remoting.SystemError, "%v", err)
	}
	raw, err := p.Store.LookupMessage(offset)
	if err != nil {
		return errResp(req, remoting.SystemError, "can not find message by the offset, %d", offset)
	}
	return success(req, raw)
}
