package broker

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/skiffmq/skiff/broker/metadata"
	"github.com/skiffmq/skiff/commitlog"
	"github.com/skiffmq/skiff/internal/message"
	"github.com/skiffmq/skiff/internal/remoting"
	"github.com/skiffmq/skiff/internal/remoting/server"
)

const slaveModifyRemark = "Can't modify topic or subscription group from slave broker, please execute it from master broker."

func jsonBody(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

func (b *Broker) handleCreateTopic(_ context.Context, _ *server.Conn, req *remoting.Command) *remoting.Command {
	if !b.conf().IsMaster() && !b.fromMaster(req) {
		return errResp(req, remoting.SystemError, slaveModifyRemark)
	}
	h := newHeader(req)
	tc := metadata.TopicConfig{
		TopicName:       h.str("topic", true),
		ReadQueueNums:   h.i32("readQueueNums", true),
		WriteQueueNums:  h.i32("writeQueueNums", true),
		Perm:            h.i32("perm", true),
		TopicFilterType: h.str("topicFilterType", false),
		TopicSysFlag:    h.i32("topicSysFlag", false),
		Order:           h.boolean("order"),
	}
	if h.err != nil {
		return errResp(req, remoting.SystemError, "%v", h.err)
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
	if err := b.topics.Put(tc); err != nil {
		return errResp(req, remoting.SystemError, "persist topic %s: %v", tc.TopicName, err)
	}
	b.log.Info("topic created or updated", "topic", tc.TopicName, "read", tc.ReadQueueNums, "write", tc.WriteQueueNums, "perm", tc.Perm)
	b.triggerRegister()
	return respond(req, remoting.Success, "", nil, nil)
}

func (b *Broker) handleDeleteTopic(_ context.Context, _ *server.Conn, req *remoting.Command) *remoting.Command {
	if !b.conf().IsMaster() {
		return errResp(req, remoting.SystemError, slaveModifyRemark)
	}
	h := newHeader(req)
	topic := h.str("topic", true)
	if h.err != nil {
		return errResp(req, remoting.SystemError, "%v", h.err)
	}
	if err := metadata.ValidateTopic(topic); err != nil {
		return errResp(req, remoting.SystemError, "%v", err)
	}
	if metadata.IsSystemTopic(topic) {
		return errResp(req, remoting.SystemError, "The topic[%s] is conflict with system topic.", topic)
	}
	if _, err := b.topics.Delete(topic); err != nil {
		return errResp(req, remoting.SystemError, "delete topic %s: %v", topic, err)
	}
	b.offsets.RemoveTopic(topic)
	b.store.DeleteTopic(topic)
	b.log.Info("topic deleted", "topic", topic)
	b.triggerRegister()
	return respond(req, remoting.Success, "", nil, nil)
}

func (b *Broker) handleGetAllTopicConfig(_ context.Context, _ *server.Conn, req *remoting.Command) *remoting.Command {
	return respond(req, remoting.Success, "", nil, jsonBody(b.topics.Snapshot()))
}

func (b *Broker) handleGetAllConsumerOffset(_ context.Context, _ *server.Conn, req *remoting.Command) *remoting.Command {
	return respond(req, remoting.Success, "", nil, jsonBody(b.offsets.Snapshot()))
}

func (b *Broker) handleGetAllDelayOffset(_ context.Context, _ *server.Conn, req *remoting.Command) *remoting.Command {
	return respond(req, remoting.Success, "", nil, jsonBody(b.delayOffsets.Snapshot()))
}

func (b *Broker) handleCreateGroup(_ context.Context, _ *server.Conn, req *remoting.Command) *remoting.Command {
	if !b.conf().IsMaster() && !b.fromMaster(req) {
		return errResp(req, remoting.SystemError, slaveModifyRemark)
	}
	gc := metadata.DefaultGroupConfig("")
	if err := json.Unmarshal(req.Body, &gc); err != nil {
		return errResp(req, remoting.SystemError, "bad subscription group body: %v", err)
	}
	if gc.GroupName == "" {
		return errResp(req, remoting.SystemError, "subscription group body has no groupName")
	}
	if err := b.groups.Put(gc); err != nil {
		return errResp(req, remoting.SystemError, "persist group %s: %v", gc.GroupName, err)
	}
	b.log.Info("subscription group created or updated", "group", gc.GroupName)
	return respond(req, remoting.Success, "", nil, nil)
}

func (b *Broker) handleGetAllGroups(_ context.Context, _ *server.Conn, req *remoting.Command) *remoting.Command {
	return respond(req, remoting.Success, "", nil, jsonBody(b.groups.Snapshot()))
}

func (b *Broker) handleDeleteGroup(_ context.Context, _ *server.Conn, req *remoting.Command) *remoting.Command {
	if !b.conf().IsMaster() {
		return errResp(req, remoting.SystemError, slaveModifyRemark)
	}
	h := newHeader(req)
	group := h.str("groupName", true)
	if h.err != nil {
		return errResp(req, remoting.SystemError, "%v", h.err)
	}
	if _, err := b.groups.Delete(group); err != nil {
		return errResp(req, remoting.SystemError, "delete group %s: %v", group, err)
	}
	if h.boolean("removeOffset") {
		b.offsets.RemoveGroup(group)
	}
	b.log.Info("subscription group deleted", "group", group)
	return respond(req, remoting.Success, "", nil, nil)
}

// writeMQKey writes a MessageQueue as a fastjson object key (§1.9), the form Java tools parse.
func writeMQKey(buf *bytes.Buffer, topic, brokerName string, qid int32) {
	fmt.Fprintf(buf, `{"brokerName":%s,"queueId":%d,"topic":%s}`, jsonString(brokerName), qid, jsonString(topic))
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func (b *Broker) handleTopicStats(_ context.Context, _ *server.Conn, req *remoting.Command) *remoting.Command {
	h := newHeader(req)
	topic := h.str("topic", true)
	if h.err != nil {
		return errResp(req, remoting.SystemError, "%v", h.err)
	}
	tc, ok := b.topics.Get(topic)
	if !ok {
		return errResp(req, remoting.TopicNotExist, "topic[%s] not exist", topic)
	}
	var buf bytes.Buffer
	buf.WriteString(`{"offsetTable":{`)
	for q := int32(0); q < tc.WriteQueueNums; q++ {
		if q > 0 {
			buf.WriteByte(',')
		}
		writeMQKey(&buf, topic, b.conf().BrokerName, q)
		maxOff := b.store.MaxOffsetInQueue(topic, q)
		last := int64(0)
		if maxOff > 0 {
			last = b.storeTimeAt(topic, q, maxOff-1)
		}
		fmt.Fprintf(&buf, `:{"lastUpdateTimestamp":%d,"maxOffset":%d,"minOffset":%d}`, last, maxOff, b.store.MinOffsetInQueue(topic, q))
	}
	buf.WriteString(`}}`)
	return respond(req, remoting.Success, "", nil, buf.Bytes())
}

// storeTimeAt is the store timestamp of the message at a queue offset (0 when absent).
func (b *Broker) storeTimeAt(topic string, qid int32, offset int64) int64 {
	res := b.store.GetMessage(topic, qid, offset, 1, nil)
	if len(res.Messages) == 0 {
		return 0
	}
	m, err := message.Decode(res.Messages[0], false)
	if err != nil {
		return 0
	}
	return m.StoreTimestamp
}

type connectionJSON struct {
	ClientAddr string `json:"clientAddr"`
	ClientID   string `json:"clientId"`
	Language   string `json:"language"`
	Version    int32  `json:"version"`
}

func toConnections(chs []clientChannel) []connectionJSON {
	out := make([]connectionJSON, 0, len(chs))
	for _, ch := range chs {
		out = append(out, connectionJSON{ClientAddr: ch.conn.RemoteAddr(), ClientID: ch.clientID, Language: ch.language, Version: ch.version})
	}
	return out
}

func (b *Broker) handleConsumerConnections(_ context.Context, _ *server.Conn, req *remoting.Command) *remoting.Command {
	h := newHeader(req)
	group := h.str("consumerGroup", true)
	if h.err != nil {
		return errResp(req, remoting.SystemError, "%v", h.err)
	}
	gi, ok := b.clients.consumerGroupInfo(group)
	if !ok || len(gi.channels) == 0 {
		return errResp(req, remoting.ConsumerNotOnline, "the consumer group[%s] not online", group)
	}
	subs := map[string]SubscriptionData{}
	for _, s := range gi.subs {
		subs[s.Topic] = s
	}
	body := map[string]any{
		"connectionSet": toConnections(gi.channels), "consumeType": gi.consumeType,
		"messageModel": gi.messageModel, "consumeFromWhere": gi.consumeFromWhere, "subscriptionTable": subs,
	}
	return respond(req, remoting.Success, "", nil, jsonBody(body))
}

func (b *Broker) handleProducerConnections(_ context.Context, _ *server.Conn, req *remoting.Command) *remoting.Command {
	h := newHeader(req)
	group := h.str("producerGroup", true)
	if h.err != nil {
		return errResp(req, remoting.SystemError, "%v", h.err)
	}
	chs := b.clients.producerChannels(group)
	if len(chs) == 0 {
		return errResp(req, remoting.SystemError, "the producer group[%s] not exist", group)
	}
	return respond(req, remoting.Success, "", nil, jsonBody(map[string]any{"connectionSet": toConnections(chs)}))
}

// handleConsumeStats answers GET_CONSUME_STATS: broker and consumer offsets of every read queue of
// each topic the group has offsets for (or of the given topic).
func (b *Broker) handleConsumeStats(_ context.Context, _ *server.Conn, req *remoting.Command) *remoting.Command {
	h := newHeader(req)
	group := h.str("consumerGroup", true)
	only := h.str("topic", false)
	if h.err != nil {
		return errResp(req, remoting.SystemError, "%v", h.err)
	}
	topics := b.offsets.TopicsOfGroup(group)
	if only != "" {
		topics = []string{only}
	}
	var buf bytes.Buffer
	buf.WriteString(`{"consumeTps":0,"offsetTable":{`)
	first := true
	for _, topic := range topics {
		tc, ok := b.topics.Get(topic)
		if !ok {
			continue
		}
		offs := b.offsets.QueueOffsets(group, topic)
		for q := int32(0); q < tc.ReadQueueNums; q++ {
			if !first {
				buf.WriteByte(',')
			}
			first = false
			writeMQKey(&buf, topic, b.conf().BrokerName, q)
			cons, ok := offs[q]
			if !ok {
				cons = 0
			}
			last := int64(0)
			if cons > 0 {
				last = b.storeTimeAt(topic, q, cons-1)
			}
			fmt.Fprintf(&buf, `:{"brokerOffset":%d,"consumerOffset":%d,"lastTimestamp":%d}`, b.store.MaxOffsetInQueue(topic, q), cons, last)
		}
	}
	buf.WriteString(`}}`)
	return respond(req, remoting.Success, "", nil, buf.Bytes())
}

// handleRuntimeInfo answers GET_BROKER_RUNTIME_INFO with the KVTable mqadmin clusterList and
// brokerStatus read (§2.12).
func (b *Broker) handleRuntimeInfo(_ context.Context, _ *server.Conn, req *remoting.Command) *remoting.Command {
	return respond(req, remoting.Success, "", nil, jsonBody(map[string]any{"table": b.runtimeTable()}))
}

// runtimeTable is the runtime KV table (also served as /api/runtime).
func (b *Broker) runtimeTable() map[string]string {
	put, get := b.stats.rates()
	st := b.store.Stats()
	table := map[string]string{
		"brokerVersionDesc":               "Skiff " + Version,
		"brokerVersion":                   strconv.Itoa(int(remoting.CurrentVersion)),
		"brokerRole":                      b.conf().BrokerRole,
		"msgPutTotalTodayNow":             i64s(b.stats.putTotal.Load()),
		"msgGetTotalTodayNow":             i64s(b.stats.getTotal.Load()),
		"msgPutTotalTodayMorning":         "0",
		"msgGetTotalTodayMorning":         "0",
		"msgPutTotalYesterdayMorning":     "0",
		"msgGetTotalYesterdayMorning":     "0",
		"putTps":                          fmt.Sprintf("%.2f %.2f %.2f", put, put, put),
		"getFoundTps":                     fmt.Sprintf("%.2f %.2f %.2f", get, get, get),
		"getTransferedTps":                fmt.Sprintf("%.2f %.2f %.2f", get, get, get),
		"commitLogMaxOffset":              i64s(b.store.MaxPhyOffset()),
		"commitLogMinOffset":              i64s(b.store.MinPhyOffset()),
		"commitLogDiskRatio":              fmt.Sprintf("%.4f", st.DiskRatio),
		"consumeQueueDiskRatio":           fmt.Sprintf("%.4f", st.DiskRatio),
		"pageCacheLockTimeMills":          "0",
		"earliestMessageTimeStamp":        i64s(st.EarliestMessageTime),
		"startAcceptSendRequestTimeStamp": "0",
		"dispatchBehindBytes":             i64s(st.DispatchBehindBytes),
		"putMessageFailedTimes":           i64s(b.stats.putFailures.Load()),
		"storeWriteable":                  strconv.FormatBool(b.store.Writeable()),
	}
	if b.haMaster != nil {
		var slaves []string
		for _, sl := range b.haMaster.Slaves() {
			slaves = append(slaves, fmt.Sprintf("%s:%d", sl.Addr, sl.AckOffset))
		}
		table["haSlaves"] = strings.Join(slaves, ";")
		table["haPushMaxOffset"] = i64s(b.haMaster.PushMax())
	}
	if b.haSlave != nil {
		table["haMasterAddr"] = b.haSlave.MasterAddr()
		table["haConnected"] = strconv.FormatBool(b.haSlave.Connected())
		table["haMasterMaxOffset"] = i64s(b.haSlave.MasterMaxOffset())
		if lag := b.haSlave.MasterMaxOffset() - b.store.MaxPhyOffset(); lag > 0 {
			table["haReplicationLagBytes"] = i64s(lag)
		} else {
			table["haReplicationLagBytes"] = "0"
		}
	}
	return table
}

// handleGetBrokerConfig answers with every config key as properties text (key=value lines).
func (b *Broker) handleGetBrokerConfig(_ context.Context, _ *server.Conn, req *remoting.Command) *remoting.Command {
	return respond(req, remoting.Success, "", nil, []byte(b.conf().Properties()))
}

// Properties renders the configuration as sorted key=value lines with RocketMQ key names.
func (c Config) Properties() string {
	v := reflect.ValueOf(c)
	t := v.Type()
	var lines []string
	for i := 0; i < t.NumField(); i++ {
		key := strings.Split(t.Field(i).Tag.Get("toml"), ",")[0]
		if key == "" || key == "-" {
			continue
		}
		val := v.Field(i).Interface()
		if secretKeys[key] && val != "" {
			val = "******"
		}
		lines = append(lines, fmt.Sprintf("%s=%v", key, val))
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n") + "\n"
}

func (b *Broker) handleQueryMessage(_ context.Context, _ *server.Conn, req *remoting.Command) *remoting.Command {
	h := newHeader(req)
	topic, key := h.str("topic", true), h.str("key", true)
	maxNum := int(h.i32("maxNum", true))
	begin, end := h.i64("beginTimestamp", true), h.i64("endTimestamp", true)
	if h.err != nil {
		return errResp(req, remoting.SystemError, "%v", h.err)
	}
	if h.boolean("_UNIQUE_KEY_QUERY") {
		maxNum = b.conf().DefaultQueryMaxNum
	}
	res := b.store.QueryMessage(topic, key, maxNum, begin, end)
	ext := map[string]string{
		"indexLastUpdateTimestamp": i64s(res.IndexLastUpdateTimestamp),
		"indexLastUpdatePhyoffset": i64s(res.IndexLastUpdatePhyoffset),
	}
	if len(res.Messages) == 0 {
		return respond(req, remoting.QueryNotFound, "can not find message, maybe time range not correct", ext, nil)
	}
	return respond(req, remoting.Success, "", ext, bytes.Join(res.Messages, nil))
}

func (b *Broker) handleViewMessage(_ context.Context, _ *server.Conn, req *remoting.Command) *remoting.Command {
	h := newHeader(req)
	offset := h.i64("offset", true)
	if h.err != nil {
		return errResp(req, remoting.SystemError, "%v", h.err)
	}
	raw, err := b.store.LookupMessage(offset)
	if err != nil {
		return errResp(req, remoting.SystemError, "can not find message by the offset, %d", offset)
	}
	return respond(req, remoting.Success, "", nil, raw)
}

var _ = commitlog.PutOK
