package broker

import (
	"context"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/skiffmq/skiff/broker/metadata"
	"github.com/skiffmq/skiff/commitlog"
	"github.com/skiffmq/skiff/internal/message"
	"github.com/skiffmq/skiff/internal/remoting"
	"github.com/skiffmq/skiff/internal/remoting/server"
)

// sendHeader is SendMessageRequestHeader; SEND_MESSAGE_V2 and SEND_BATCH_MESSAGE carry the same
// fields under one-letter names (§2.4).
type sendHeader struct {
	producerGroup         string
	topic                 string
	defaultTopic          string
	defaultTopicQueueNums int32
	queueID               int32
	sysFlag               int32
	bornTimestamp         int64
	flag                  int32
	properties            string
	reconsumeTimes        int32
	batch                 bool
	maxReconsumeTimes     int32
	hasMaxReconsume       bool
}

var shortNames = map[string]string{
	"producerGroup": "a", "topic": "b", "defaultTopic": "c", "defaultTopicQueueNums": "d", "queueId": "e",
	"sysFlag": "f", "bornTimestamp": "g", "flag": "h", "properties": "i", "reconsumeTimes": "j",
	"unitMode": "k", "maxReconsumeTimes": "l", "batch": "m",
}

func parseSendHeader(req *remoting.Command) (sendHeader, error) {
	h := newHeader(req)
	name := func(long string) string { return long }
	if req.Code == remoting.SendMessageV2 || req.Code == remoting.SendBatchMessage {
		// Java's V2 names; tolerate senders that use the long names on 320.
		if _, ok := req.ExtFields["b"]; ok {
			name = func(long string) string { return shortNames[long] }
		}
	}
	s := sendHeader{
		producerGroup:         h.str(name("producerGroup"), true),
		topic:                 h.str(name("topic"), true),
		defaultTopic:          h.str(name("defaultTopic"), true),
		defaultTopicQueueNums: h.i32(name("defaultTopicQueueNums"), true),
		queueID:               h.i32(name("queueId"), true),
		sysFlag:               h.i32(name("sysFlag"), true),
		bornTimestamp:         h.i64(name("bornTimestamp"), true),
		flag:                  h.i32(name("flag"), true),
		properties:            h.str(name("properties"), false),
		reconsumeTimes:        h.i32(name("reconsumeTimes"), false),
		batch:                 h.boolean(name("batch")) || req.Code == remoting.SendBatchMessage,
	}
	if h.has(name("maxReconsumeTimes")) {
		s.maxReconsumeTimes = h.i32(name("maxReconsumeTimes"), false)
		s.hasMaxReconsume = true
	}
	return s, h.err
}

func (b *Broker) handleSend(_ context.Context, c *server.Conn, req *remoting.Command) *remoting.Command {
	start := time.Now()
	resp := b.send(c, req)
	if resp != nil && (resp.Code == remoting.Success || resp.Code == remoting.FlushDiskTimeout ||
		resp.Code == remoting.FlushSlaveTimeout || resp.Code == remoting.SlaveNotAvailable) {
		n := 1
		if req.Code == remoting.SendBatchMessage {
			n = strings.Count(resp.ExtFields["msgId"], ",") + 1
		}
		b.recordSend(topicOf(req), n, len(req.Body), start)
	}
	return resp
}

// topicOf reads the topic of a send header (long or one-letter names).
func topicOf(req *remoting.Command) string {
	if t, ok := req.ExtFields["topic"]; ok {
		return t
	}
	return req.ExtFields["b"]
}

func (b *Broker) send(c *server.Conn, req *remoting.Command) *remoting.Command {
	sh, err := parseSendHeader(req)
	if err != nil {
		return errResp(req, remoting.SystemError, "%v", err)
	}
	if !b.conf().IsMaster() {
		return errResp(req, remoting.ServiceNotAvailable, "the broker[%s] is a slave and does not accept messages", b.conf().BrokerAddr())
	}
	if b.fo != nil {
		if resp := b.fo.checkSend(req); resp != nil {
			return resp
		}
	}
	if b.conf().BrokerPermission&metadata.PermWrite == 0 {
		return errResp(req, remoting.NoPermission, "the broker[%s] sending message is forbidden", b.conf().BrokerAddr())
	}
	if err := metadata.ValidateTopic(sh.topic); err != nil {
		if len(sh.topic) > 127 {
			return errResp(req, remoting.MessageIllegal, "%v", err)
		}
		return errResp(req, remoting.SystemError, "%v", err)
	}
	if metadata.IsSystemTopic(sh.topic) {
		return errResp(req, remoting.NoPermission, "the topic[%s] is a system topic, sending is forbidden", sh.topic)
	}
	tc, resp := b.topicForSend(req, sh)
	if resp != nil {
		return resp
	}
	if !tc.Writeable() {
		return errResp(req, remoting.NoPermission, "the topic[%s] sending message is forbidden", sh.topic)
	}
	queueID := sh.queueID
	if queueID < 0 {
		queueID = rand.Int32N(max(tc.WriteQueueNums, 1))
	}
	if queueID >= tc.QueueNums() {
		return errResp(req, remoting.SystemError, "request queueId[%d] is illegal, topic %s has %d queues, producer %s",
			queueID, sh.topic, tc.QueueNums(), c.RemoteAddr())
	}
	born := bornHost(c)
	if sh.batch {
		return b.sendBatch(req, sh, tc, queueID, born)
	}
	props := message.ParseProperties(sh.properties)
	m := &message.Message{
		Topic: sh.topic, QueueID: queueID, Flag: sh.flag, SysFlag: sh.sysFlag,
		BornTimestamp: sh.bornTimestamp, BornHost: born, StoreHost: b.storeHost,
		ReconsumeTimes: sh.reconsumeTimes, Body: req.Body, Properties: props,
	}
	if strings.HasPrefix(sh.topic, metadata.RetryGroupPrefix) {
		if r := b.redirectRetryToDLQ(req, sh, m); r != nil {
			return r
		}
	}
	if tc.TopicFilterType == "MULTI_TAG" {
		m.SysFlag |= message.FlagMultiTags
	}
	if props[message.PropertyTransactionPrepared] == "true" {
		if b.conf().RejectTransactionMessage {
			return errResp(req, remoting.NoPermission, "the broker[%s] sending transaction message is forbidden", b.conf().BrokerAddr())
		}
	}
	res := b.putMessage(m)
	return b.sendResponse(req, res, queueID, []*message.Message{m})
}

// topicForSend finds the topic, creating it from the default topic (TBW102) when the producer is
// allowed to (§2.4 step 3).
func (b *Broker) topicForSend(req *remoting.Command, sh sendHeader) (metadata.TopicConfig, *remoting.Command) {
	if tc, ok := b.topics.Get(sh.topic); ok {
		return tc, nil
	}
	var created metadata.TopicConfig
	if def, ok := b.topics.Get(sh.defaultTopic); ok && def.Perm&metadata.PermInherit != 0 {
		n := min(max(sh.defaultTopicQueueNums, 1), def.WriteQueueNums)
		created = metadata.TopicConfig{TopicName: sh.topic, ReadQueueNums: n, WriteQueueNums: n,
			Perm: def.Perm &^ metadata.PermInherit, TopicFilterType: def.TopicFilterType}
	} else if strings.HasPrefix(sh.topic, metadata.RetryGroupPrefix) {
		created = metadata.TopicConfig{TopicName: sh.topic, ReadQueueNums: 1, WriteQueueNums: 1, Perm: 6}
	} else {
		return metadata.TopicConfig{}, errResp(req, remoting.TopicNotExist, "topic[%s] not exist, apply first please!", sh.topic)
	}
	tc, isNew, err := b.topics.PutIfAbsent(created)
	if err != nil {
		b.log.Error("create topic failed", "topic", sh.topic, "err", err)
		return tc, errResp(req, remoting.SystemError, "create topic %s: %v", sh.topic, err)
	}
	if isNew {
		b.log.Info("topic auto-created", "topic", sh.topic, "queues", tc.WriteQueueNums, "producerGroup", sh.producerGroup)
		b.triggerRegister()
	}
	return tc, nil
}

// redirectRetryToDLQ moves a retried message to %DLQ%<group> once it was reconsumed too often.
func (b *Broker) redirectRetryToDLQ(req *remoting.Command, sh sendHeader, m *message.Message) *remoting.Command {
	group := strings.TrimPrefix(sh.topic, metadata.RetryGroupPrefix)
	gc, ok, err := b.groups.GetOrCreate(group, b.conf().AutoCreateSubscriptionGroup)
	if err != nil || !ok {
		return errResp(req, remoting.SubscriptionGroupNotExist, "subscription group not exist, %s", group)
	}
	maxTimes := gc.RetryMaxTimes
	if sh.hasMaxReconsume {
		maxTimes = sh.maxReconsumeTimes
	}
	if m.ReconsumeTimes >= maxTimes {
		dlq, err := b.ensureDLQTopic(group)
		if err != nil {
			return errResp(req, remoting.SystemError, "create DLQ topic for %s: %v", group, err)
		}
		m.Topic, m.QueueID = dlq, 0
	}
	return nil
}

func (b *Broker) ensureDLQTopic(group string) (string, error) {
	topic := metadata.DLQGroupPrefix + group
	_, isNew, err := b.topics.PutIfAbsent(metadata.TopicConfig{TopicName: topic, ReadQueueNums: 1, WriteQueueNums: 1, Perm: 6})
	if isNew {
		b.triggerRegister()
	}
	return topic, err
}

// putMessage applies the store-level rewrites (transaction half messages, delay levels) and
// appends the message.
func (b *Broker) putMessage(m *message.Message) commitlog.PutResult {
	b.rewriteForStore(m)
	res := b.store.PutMessage(m)
	b.stats.recordPut(res)
	if b.haMaster != nil {
		b.haMaster.Wake()
	}
	return res
}

// rewriteForStore parks half messages in RMQ_SYS_TRANS_HALF_TOPIC and delayed messages in
// SCHEDULE_TOPIC_XXXX, remembering the real destination in REAL_TOPIC / REAL_QID (§2.10, §4.10).
func (b *Broker) rewriteForStore(m *message.Message) {
	if m.Properties == nil {
		m.Properties = map[string]string{}
	}
	m.Properties[message.PropertyCluster] = b.conf().BrokerClusterName
	tranType := m.SysFlag & message.TransactionMask
	if m.Properties[message.PropertyTransactionPrepared] == "true" && tranType != message.TransactionCommit && tranType != message.TransactionRollback {
		m.Properties[message.PropertyRealTopic] = m.Topic
		m.Properties[message.PropertyRealQueueID] = strconv.Itoa(int(m.QueueID))
		m.SysFlag &^= message.TransactionMask
		m.Topic, m.QueueID = metadata.TopicTransHalf, 0
		return
	}
	if tranType == message.TransactionPrepared || tranType == message.TransactionRollback {
		return
	}
	level, err := strconv.Atoi(m.Properties[message.PropertyDelayLevel])
	if err != nil || level <= 0 {
		return
	}
	level = min(level, len(b.delayLevels))
	m.Properties[message.PropertyDelayLevel] = strconv.Itoa(level)
	m.Properties[message.PropertyRealTopic] = m.Topic
	m.Properties[message.PropertyRealQueueID] = strconv.Itoa(int(m.QueueID))
	m.Topic, m.QueueID = metadata.TopicSchedule, int32(level-1)
}

func (b *Broker) sendBatch(req *remoting.Command, sh sendHeader, tc metadata.TopicConfig, queueID int32, born netip.AddrPort) *remoting.Command {
	if sh.sysFlag&message.TransactionMask != 0 {
		return errResp(req, remoting.MessageIllegal, "batch request does not support transaction messages")
	}
	wrapper := message.ParseProperties(sh.properties)
	if wrapper[message.PropertyDelayLevel] != "" && wrapper[message.PropertyDelayLevel] != "0" {
		return errResp(req, remoting.MessageIllegal, "batch request does not support delay messages")
	}
	if len(req.Body) > b.conf().MaxMessageSize {
		return errResp(req, remoting.MessageIllegal, "batch body of %d bytes exceeds maxMessageSize %d", len(req.Body), b.conf().MaxMessageSize)
	}
	entries, err := message.DecodeBatch(req.Body)
	if err != nil {
		return errResp(req, remoting.MessageIllegal, "bad batch body: %v", err)
	}
	if len(entries) == 0 {
		return errResp(req, remoting.MessageIllegal, "empty batch")
	}
	msgs := make([]*message.Message, len(entries))
	for i, e := range entries {
		props := e.Properties
		if props == nil {
			props = map[string]string{}
		}
		for k, v := range wrapper {
			props[k] = v
		}
		props[message.PropertyCluster] = b.conf().BrokerClusterName
		delete(props, message.PropertyWait)
		m := &message.Message{
			Topic: sh.topic, QueueID: queueID, Flag: e.Flag, SysFlag: sh.sysFlag,
			BornTimestamp: sh.bornTimestamp, BornHost: born, StoreHost: b.storeHost,
			ReconsumeTimes: sh.reconsumeTimes, Body: e.Body, Properties: props,
		}
		if tc.TopicFilterType == "MULTI_TAG" {
			m.SysFlag |= message.FlagMultiTags
		}
		msgs[i] = m
	}
	res := b.store.PutMessages(msgs)
	b.stats.recordPut(res)
	return b.sendResponse(req, res, queueID, msgs)
}

// sendResponse maps a put result to the SEND_MESSAGE response (§2.4).
func (b *Broker) sendResponse(req *remoting.Command, res commitlog.PutResult, queueID int32, msgs []*message.Message) *remoting.Command {
	code := putCode(res.Status)
	if rs := b.replicate(res, waitRequested(msgs)); rs != replicaOK {
		if rs == replicaNotEnough {
			return errResp(req, remoting.SystemError, "in-sync replicas not enough")
		}
		code = withReplica(code, rs)
		b.log.Debug("send not replicated in time", "code", code, "endOffset", res.EndOffset)
	}
	if code != remoting.Success && code != remoting.FlushDiskTimeout && code != remoting.SlaveNotAvailable && code != remoting.FlushSlaveTimeout {
		if res.Err != nil {
			b.log.Warn("put message failed", "status", putStatusName(res.Status), "err", res.Err)
			return errResp(req, code, "%s: %v", putStatusName(res.Status), res.Err)
		}
		return errResp(req, code, "%s", putStatusName(res.Status))
	}
	ids := make([]string, len(msgs))
	for i, m := range msgs {
		ids[i] = message.OffsetMsgID(b.storeHost, m.CommitLogOffset)
	}
	ext := map[string]string{
		"msgId":       strings.Join(ids, ","),
		"queueId":     i32s(queueID),
		"queueOffset": i64s(res.QueueOffset),
		"MSG_REGION":  b.conf().RegionID,
		"TRACE_ON":    strconv.FormatBool(b.conf().TraceOn),
	}
	if len(msgs) == 1 {
		if tid := msgs[0].Properties[message.PropertyUniqKey]; tid != "" && msgs[0].Topic == metadata.TopicTransHalf {
			ext["transactionId"] = tid
		}
	}
	return respond(req, code, "", ext, nil)
}

// bornHost is the client's address as seen by the broker.
func bornHost(c *server.Conn) netip.AddrPort {
	ap, err := netip.ParseAddrPort(c.RemoteAddr())
	if err != nil {
		return netip.AddrPortFrom(netip.IPv4Unspecified(), 0)
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}
