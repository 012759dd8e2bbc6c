package processor

import (
	"context"
	"math/rand/v2"
	"strconv"

	"github.com/skiffmq/skiff/broker/metadata"
	"github.com/skiffmq/skiff/internal/message"
	"github.com/skiffmq/skiff/internal/protocol"
	"github.com/skiffmq/skiff/internal/remoting"
	"github.com/skiffmq/skiff/internal/remoting/server"
)

// Lookup reads a whole record by commit-log offset (*commitlog.Store implements it).
type Lookup interface {
	LookupMessage(offset int64) ([]byte, error)
}

// SendBack serves CONSUMER_SEND_MSG_BACK (§2.8, RocketMQ's SendMessageProcessor
// consumerSendMsgBack): the message at the given commit-log offset goes to %RETRY%<group> with a
// delay level, or to %DLQ%<group> once it was reconsumed too often. It shares the send
// processor's topics, groups, writer and configuration.
type SendBack struct {
	Send  *Send
	Store Lookup
	// Writable reports whether this broker may write now (controller mode: it is the master of
	// its set); nil means always.
	Writable func() bool
}

// Handle serves one send-back. The Go client treats any answer as success, so a failure to
// store is answered with nothing (the client re-sends after its timeout) rather than with an
// error code.
func (p *SendBack) Handle(_ context.Context, _ *server.Conn, req *remoting.Command) *remoting.Command {
	s := p.Send
	f := protocol.ReadFields(req.RawExt())
	offset := f.I64("offset", true)
	group := f.Str("group", true)
	delayLevel := f.I32("delayLevel", true)
	maxTimes := int32(-1)
	if f.Has("maxReconsumeTimes") {
		maxTimes = f.I32("maxReconsumeTimes", false)
	}
	if err := f.Err(); err != nil {
		return errResp(req, remoting.SystemError, "%v", err)
	}
	cfg := s.Config()
	gc, ok, err := s.Groups.GetOrCreate(group, cfg.AutoCreateSubscriptionGroup)
	if err != nil || !ok {
		return errResp(req, remoting.SubscriptionGroupNotExist, "subscription group not exist, %s", group)
	}
	if !cfg.IsMaster || cfg.BrokerPermission&metadata.PermWrite == 0 {
		return errResp(req, remoting.NoPermission, "the broker[%s] sending message is forbidden", cfg.BrokerAddr)
	}
	if p.Writable != nil && !p.Writable() {
		return errResp(req, remoting.ServiceNotAvailable, "the broker[%s] is not the master of its set (controller mode)", cfg.BrokerAddr)
	}
	if gc.RetryQueueNums <= 0 {
		return remoting.NewResponseList(req, remoting.Success, "")
	}
	raw, err := p.Store.LookupMessage(offset)
	if err != nil {
		s.Log.Warn("send back: look up message failed", "offset", offset, "group", group, "err", err)
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
		StoreHost: s.StoreHost, ReconsumeTimes: orig.ReconsumeTimes + 1, Body: orig.Body, Properties: props,
	}
	if orig.ReconsumeTimes >= maxTimes || delayLevel < 0 {
		dlq, err := s.ensureDLQTopic(group)
		if err != nil {
			return errResp(req, remoting.SystemError, "create DLQ topic for %s: %v", group, err)
		}
		m.Topic, m.QueueID = dlq, 0
		delete(props, message.PropertyDelayLevel)
		s.Log.Info("message moved to DLQ", "group", group, "topic", orig.Topic, "reconsumeTimes", orig.ReconsumeTimes)
	} else {
		retry := metadata.RetryGroupPrefix + group
		_, isNew, err := s.Topics.PutIfAbsent(metadata.TopicConfig{TopicName: retry, ReadQueueNums: gc.RetryQueueNums, WriteQueueNums: gc.RetryQueueNums, Perm: metadata.PermRead | metadata.PermWrite})
		if err != nil {
			return errResp(req, remoting.SystemError, "create retry topic %s: %v", retry, err)
		}
		if isNew {
			s.Register()
		}
		if delayLevel == 0 {
			delayLevel = 3 + orig.ReconsumeTimes
		}
		m.Topic, m.QueueID = retry, rand.Int32N(gc.RetryQueueNums)
		props[message.PropertyDelayLevel] = strconv.Itoa(int(delayLevel))
	}
	res := s.Writer.Write(WriteSendBack, m)
	if !res.OK() {
		s.Log.Error("send back: store failed; not answering so the client retries", "group", group,
			"status", PutStatusName(res.Status), "err", res.Err)
		return nil
	}
	if res.Replica != ReplicaOK {
		return errResp(req, remoting.SystemError, "send back stored on the master but not on every in-sync replica in time")
	}
	return remoting.NewResponseList(req, remoting.Success, "")
}
