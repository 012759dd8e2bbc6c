package broker

import (
	"context"
	"math/rand/v2"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/skiffmq/skiff/broker/metadata"
	"github.com/skiffmq/skiff/internal/message"
	"github.com/skiffmq/skiff/internal/protocol"
	"github.com/skiffmq/skiff/internal/remoting"
	"github.com/skiffmq/skiff/internal/remoting/server"
)

// sendHeader is the typed send header (long or one-letter names, §2.4).
type sendHeader = protocol.SendMessageRequestHeader

// handleSend serves SEND_MESSAGE, SEND_MESSAGE_V2 and SEND_BATCH_MESSAGE. It is registered with
// HandleRaw: the header is read from the raw extFields list, no map is built.
func (b *Broker) handleSend(_ context.Context, c *server.Conn, req *remoting.Command) *remoting.Command {
	start := time.Now()
	sh, err := protocol.DecodeSendMessageRequestHeader(req.Code, req.RawExt())
	if err != nil {
		return errResp(req, remoting.SystemError, "%v", err)
	}
	resp, stored := b.send(c, req, &sh)
	if stored > 0 {
		b.recordSend(sh.Topic, stored, len(req.Body), start)
	}
	return resp
}

// send answers a send; stored is the number of messages the store took (0 when none).
func (b *Broker) send(c *server.Conn, req *remoting.Command, sh *sendHeader) (resp *remoting.Command, stored int) {
	if !b.conf().IsMaster() {
		return errResp(req, remoting.ServiceNotAvailable, "the broker[%s] is a slave and does not accept messages", b.conf().BrokerAddr()), 0
	}
	if b.fo != nil {
		if resp := b.fo.checkSend(req); resp != nil {
			return resp, 0
		}
	}
	if b.conf().BrokerPermission&metadata.PermWrite == 0 {
		return errResp(req, remoting.NoPermission, "the broker[%s] sending message is forbidden", b.conf().BrokerAddr()), 0
	}
	if err := metadata.ValidateTopic(sh.Topic); err != nil {
		if len(sh.Topic) > 127 {
			return errResp(req, remoting.MessageIllegal, "%v", err), 0
		}
		return errResp(req, remoting.SystemError, "%v", err), 0
	}
	if metadata.IsSystemTopic(sh.Topic) {
		return errResp(req, remoting.NoPermission, "the topic[%s] is a system topic, sending is forbidden", sh.Topic), 0
	}
	tc, resp := b.topicForSend(req, sh)
	if resp != nil {
		return resp, 0
	}
	if !tc.Writeable() {
		return errResp(req, remoting.NoPermission, "the topic[%s] sending message is forbidden", sh.Topic), 0
	}
	queueID := sh.QueueID
	if queueID < 0 {
		queueID = rand.Int32N(max(tc.WriteQueueNums, 1))
	}
	if queueID >= tc.QueueNums() {
		return errResp(req, remoting.SystemError, "request queueId[%d] is illegal, topic %s has %d queues, producer %s",
			queueID, sh.Topic, tc.QueueNums(), c.RemoteAddr()), 0
	}
	born := bornHost(c)
	if sh.Batch {
		return b.sendBatch(req, sh, tc, queueID, born)
	}
	props := message.ParseProperties(sh.Properties)
	m := &message.Message{
		Topic: sh.Topic, QueueID: queueID, Flag: sh.Flag, SysFlag: sh.SysFlag,
		BornTimestamp: sh.BornTimestamp, BornHost: born, StoreHost: b.storeHost,
		ReconsumeTimes: sh.ReconsumeTimes, Body: req.Body, Properties: props,
	}
	if strings.HasPrefix(sh.Topic, metadata.RetryGroupPrefix) {
		if r := b.redirectRetryToDLQ(req, sh, m); r != nil {
			return r, 0
		}
	}
	if tc.TopicFilterType == "MULTI_TAG" {
		m.SysFlag |= message.FlagMultiTags
	}
	if props[message.PropertyTransactionPrepared] == "true" {
		if b.conf().RejectTransactionMessage {
			return errResp(req, remoting.NoPermission, "the broker[%s] sending transaction message is forbidden", b.conf().BrokerAddr()), 0
		}
	}
	w := b.write(writeSend, m)
	return b.sendResponse(req, w, queueID, m), w.stored()
}

// topicForSend finds the topic, creating it from the default topic (TBW102) when the producer is
// allowed to (§2.4 step 3).
func (b *Broker) topicForSend(req *remoting.Command, sh *sendHeader) (metadata.TopicConfig, *remoting.Command) {
	if tc, ok := b.topics.Get(sh.Topic); ok {
		return tc, nil
	}
	var created metadata.TopicConfig
	if def, ok := b.topics.Get(sh.DefaultTopic); ok && def.Perm&metadata.PermInherit != 0 {
		n := min(max(sh.DefaultTopicQueueNums, 1), def.WriteQueueNums)
		created = metadata.TopicConfig{TopicName: sh.Topic, ReadQueueNums: n, WriteQueueNums: n,
			Perm: def.Perm &^ metadata.PermInherit, TopicFilterType: def.TopicFilterType}
	} else if strings.HasPrefix(sh.Topic, metadata.RetryGroupPrefix) {
		created = metadata.TopicConfig{TopicName: sh.Topic, ReadQueueNums: 1, WriteQueueNums: 1, Perm: 6}
	} else {
		return metadata.TopicConfig{}, errResp(req, remoting.TopicNotExist, "topic[%s] not exist, apply first please!", sh.Topic)
	}
	// The topic name aliases the request frame; the topic table keeps its own copy.
	created.TopicName = strings.Clone(created.TopicName)
	tc, isNew, err := b.topics.PutIfAbsent(created)
	if err != nil {
		b.log.Error("create topic failed", "topic", sh.Topic, "err", err)
		return tc, errResp(req, remoting.SystemError, "create topic %s: %v", sh.Topic, err)
	}
	if isNew {
		b.log.Info("topic auto-created", "topic", sh.Topic, "queues", tc.WriteQueueNums, "producerGroup", sh.ProducerGroup)
		b.triggerRegister()
	}
	return tc, nil
}

// redirectRetryToDLQ moves a retried message to %DLQ%<group> once it was reconsumed too often.
func (b *Broker) redirectRetryToDLQ(req *remoting.Command, sh *sendHeader, m *message.Message) *remoting.Command {
	group := strings.TrimPrefix(sh.Topic, metadata.RetryGroupPrefix)
	gc, ok, err := b.groups.GetOrCreate(strings.Clone(group), b.conf().AutoCreateSubscriptionGroup)
	if err != nil || !ok {
		return errResp(req, remoting.SubscriptionGroupNotExist, "subscription group not exist, %s", group)
	}
	maxTimes := gc.RetryMaxTimes
	if sh.HasMaxReconsumeTimes {
		maxTimes = sh.MaxReconsumeTimes
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
	dl, ok := m.Properties[message.PropertyDelayLevel]
	if !ok {
		return
	}
	level, err := strconv.Atoi(dl)
	if err != nil || level <= 0 {
		return
	}
	level = min(level, len(b.delayLevels))
	m.Properties[message.PropertyDelayLevel] = strconv.Itoa(level)
	m.Properties[message.PropertyRealTopic] = m.Topic
	m.Properties[message.PropertyRealQueueID] = strconv.Itoa(int(m.QueueID))
	m.Topic, m.QueueID = metadata.TopicSchedule, int32(level-1)
}

func (b *Broker) sendBatch(req *remoting.Command, sh *sendHeader, tc metadata.TopicConfig, queueID int32, born netip.AddrPort) (*remoting.Command, int) {
	if sh.SysFlag&message.TransactionMask != 0 {
		return errResp(req, remoting.MessageIllegal, "batch request does not support transaction messages"), 0
	}
	wrapper := message.ParseProperties(sh.Properties)
	if wrapper[message.PropertyDelayLevel] != "" && wrapper[message.PropertyDelayLevel] != "0" {
		return errResp(req, remoting.MessageIllegal, "batch request does not support delay messages"), 0
	}
	if len(req.Body) > b.conf().MaxMessageSize {
		return errResp(req, remoting.MessageIllegal, "batch body of %d bytes exceeds maxMessageSize %d", len(req.Body), b.conf().MaxMessageSize), 0
	}
	entries, err := message.DecodeBatch(req.Body)
	if err != nil {
		return errResp(req, remoting.MessageIllegal, "bad batch body: %v", err), 0
	}
	if len(entries) == 0 {
		return errResp(req, remoting.MessageIllegal, "empty batch"), 0
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
			Topic: sh.Topic, QueueID: queueID, Flag: e.Flag, SysFlag: sh.SysFlag,
			BornTimestamp: sh.BornTimestamp, BornHost: born, StoreHost: b.storeHost,
			ReconsumeTimes: sh.ReconsumeTimes, Body: e.Body, Properties: props,
		}
		if tc.TopicFilterType == "MULTI_TAG" {
			m.SysFlag |= message.FlagMultiTags
		}
		msgs[i] = m
	}
	w := b.write(writeBatch, msgs...)
	return b.sendResponse(req, w, queueID, msgs...), w.stored()
}

// sendResponse maps a store write to the SEND_MESSAGE response (§2.4).
func (b *Broker) sendResponse(req *remoting.Command, w writeResult, queueID int32, msgs ...*message.Message) *remoting.Command {
	if w.replica == replicaNotEnough {
		return errResp(req, remoting.SystemError, "in-sync replicas not enough")
	}
	code := w.code()
	if !w.ok() {
		if w.Err != nil {
			b.log.Warn("put message failed", "status", putStatusName(w.Status), "err", w.Err)
			return errResp(req, code, "%s: %v", putStatusName(w.Status), w.Err)
		}
		return errResp(req, code, "%s", putStatusName(w.Status))
	}
	if w.replica != replicaOK {
		b.log.Debug("send not replicated in time", "code", code, "endOffset", w.EndOffset)
	}
	rh := protocol.SendMessageResponseHeader{QueueID: queueID, QueueOffset: w.QueueOffset,
		MsgRegion: b.conf().RegionID, TraceOn: strconv.FormatBool(b.conf().TraceOn)}
	if len(msgs) == 1 {
		rh.MsgID = message.OffsetMsgID(b.storeHost, msgs[0].CommitLogOffset)
		if tid := msgs[0].Properties[message.PropertyUniqKey]; tid != "" && msgs[0].Topic == metadata.TopicTransHalf {
			rh.TransactionID = tid
		}
	} else {
		ids := make([]string, len(msgs))
		for i, m := range msgs {
			ids[i] = message.OffsetMsgID(b.storeHost, m.CommitLogOffset)
		}
		rh.MsgID = strings.Join(ids, ",")
	}
	resp := remoting.NewResponseList(req, code, "")
	return resp.SetRawExt(rh.Append(make([]protocol.ExtField, 0, 6)))
}

// bornHost is the client's address as seen by the broker.
func bornHost(c *server.Conn) netip.AddrPort {
	ap, err := netip.ParseAddrPort(c.RemoteAddr())
	if err != nil {
		return netip.AddrPortFrom(netip.IPv4Unspecified(), 0)
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}
