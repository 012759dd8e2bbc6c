package broker

import (
	"context"
	"math/rand/v2"
	"strconv"

	"github.com/skiffmq/skiff/broker/metadata"
	"github.com/skiffmq/skiff/internal/message"
	"github.com/skiffmq/skiff/internal/remoting"
	"github.com/skiffmq/skiff/internal/remoting/server"
)

// handleSendBack answers CONSUMER_SEND_MSG_BACK (§2.8): the message at the given commit-log offset
// goes to %RETRY%<group> with a delay level, or to %DLQ%<group> once it was reconsumed too often.
// The Go client treats any answer as success, so a failure to store is answered with nothing (the
// client re-sends after its timeout) rather than with an error code.
func (b *Broker) handleSendBack(_ context.Context, c *server.Conn, req *remoting.Command) *remoting.Command {
	h := newHeader(req)
	offset := h.i64("offset", true)
	group := h.str("group", true)
	delayLevel := h.i32("delayLevel", true)
	maxTimes := int32(-1)
	if h.has("maxReconsumeTimes") {
		maxTimes = h.i32("maxReconsumeTimes", false)
	}
	if h.err != nil {
		return errResp(req, remoting.SystemError, "%v", h.err)
	}
	gc, ok, err := b.groups.GetOrCreate(group, b.conf().AutoCreateSubscriptionGroup)
	if err != nil || !ok {
		return errResp(req, remoting.SubscriptionGroupNotExist, "subscription group not exist, %s", group)
	}
	if !b.conf().IsMaster() || b.conf().BrokerPermission&metadata.PermWrite == 0 {
		return errResp(req, remoting.NoPermission, "the broker[%s] sending message is forbidden", b.conf().BrokerAddr())
	}
	if b.fo != nil && !b.fo.writable() {
		return errResp(req, remoting.ServiceNotAvailable, "the broker[%s] is not the master of its set (controller mode)", b.conf().BrokerAddr())
	}
	if gc.RetryQueueNums <= 0 {
		return respond(req, remoting.Success, "", nil, nil)
	}
	raw, err := b.store.LookupMessage(offset)
	if err != nil {
		b.log.Warn("send back: look up message failed", "offset", offset, "group", group, "err", err)
		return errResp(req, remoting.SystemError, "look message by offset failed, %d", offset)
	}
	orig, err := message.Decode(raw, false)
	if err != nil {
		return errResp(req, remoting.SystemError, "decode message at offset %d: %v", offset, err)
	}
	if maxTimes < 0 {
		maxTimes = gc.RetryMaxTimes
	}
	props := orig.Properties
	if props == nil {
		props = map[string]string{}
	}
	if props[message.PropertyRetryTopic] == "" {
		props[message.PropertyRetryTopic] = orig.Topic
	}
	if props[message.PropertyOriginMessageID] == "" {
		props[message.PropertyOriginMessageID] = message.OffsetMsgID(orig.StoreHost, orig.CommitLogOffset)
	}
	props[message.PropertyWait] = "false"
	delete(props, message.PropertyRealTopic)
	delete(props, message.PropertyRealQueueID)

	m := &message.Message{
		Flag: orig.Flag, SysFlag: orig.SysFlag, BornTimestamp: orig.BornTimestamp, BornHost: orig.BornHost,
		StoreHost: b.storeHost, ReconsumeTimes: orig.ReconsumeTimes + 1, Body: orig.Body, Properties: props,
	}
	if orig.ReconsumeTimes >= maxTimes || delayLevel < 0 {
		dlq, err := b.ensureDLQTopic(group)
		if err != nil {
			return errResp(req, remoting.SystemError, "create DLQ topic for %s: %v", group, err)
		}
		m.Topic, m.QueueID = dlq, 0
		delete(props, message.PropertyDelayLevel)
		b.log.Info("message moved to DLQ", "group", group, "topic", orig.Topic, "reconsumeTimes", orig.ReconsumeTimes)
	} else {
		retry := metadata.RetryGroupPrefix + group
		_, isNew, err := b.topics.PutIfAbsent(metadata.TopicConfig{TopicName: retry, ReadQueueNums: gc.RetryQueueNums, WriteQueueNums: gc.RetryQueueNums, Perm: 6})
		if err != nil {
			return errResp(req, remoting.SystemError, "create retry topic %s: %v", retry, err)
		}
		if isNew {
			b.triggerRegister()
		}
		if delayLevel == 0 {
			delayLevel = 3 + orig.ReconsumeTimes
		}
		m.Topic, m.QueueID = retry, rand.Int32N(gc.RetryQueueNums)
		props[message.PropertyDelayLevel] = strconv.Itoa(int(delayLevel))
	}
	res := b.write(writeSendBack, m)
	if !res.OK() {
		b.log.Error("send back: store failed; not answering so the client retries", "group", group,
			"status", putStatusName(res.Status), "err", res.Err)
		return nil
	}
	if b.fo != nil && res.Replica != replicaOK {
		return errResp(req, remoting.SystemError, "send back stored on the master but not on every in-sync replica in time")
	}
	return respond(req, remoting.Success, "", nil, nil)
}
