package broker

import (
	"bytes"
	"context"
	"strings"
	"time"

	"github.com/skiffmq/skiff/broker/metadata"
	"github.com/skiffmq/skiff/commitlog"
	"github.com/skiffmq/skiff/internal/message"
	"github.com/skiffmq/skiff/internal/protocol"
	"github.com/skiffmq/skiff/internal/remoting"
	"github.com/skiffmq/skiff/internal/remoting/server"
)

// Pull sysFlag bits (§2.5).
const (
	pullCommitOffset = protocol.PullFlagCommitOffset
	pullSuspend      = protocol.PullFlagSuspend
	pullSubscription = protocol.PullFlagSubscription
)

// pullHeader is the typed pull header.
type pullHeader = protocol.PullMessageRequestHeader

func (b *Broker) handlePull(_ context.Context, c *server.Conn, req *remoting.Command) *remoting.Command {
	return b.processPull(c, req, true)
}

// observePull records a pull answer (held pulls are recorded when they are finally answered).
func (b *Broker) observePull(topic string, body []byte, start time.Time) {
	n := 0
	for rest := body; len(rest) >= 4; n++ {
		size := int(uint32(rest[0])<<24 | uint32(rest[1])<<16 | uint32(rest[2])<<8 | uint32(rest[3]))
		if size <= 0 || size > len(rest) {
			break
		}
		rest = rest[size:]
	}
	b.recordPull(topic, n, len(body), start)
}

// processPull answers a pull. When nothing is available and the request may be suspended, it
// parks the request in the hold service and returns nil; the hold service re-runs it (with
// allowSuspend false) when a message arrives or the suspend timeout passes.
func (b *Broker) processPull(c *server.Conn, req *remoting.Command, allowSuspend bool) *remoting.Command {
	start := time.Now()
	ph, err := protocol.DecodePullMessageRequestHeader(req.RawExt())
	if err != nil {
		return errResp(req, remoting.SystemError, "%v", err)
	}
	if b.conf().BrokerPermission&metadata.PermRead == 0 {
		return errResp(req, remoting.NoPermission, "the broker[%s] pulling message is forbidden", b.conf().BrokerAddr())
	}
	if b.haSlave != nil && b.haSlave.Diverged() {
		return errResp(req, remoting.SystemError, "the slave[%s] commit log diverged from its master; it serves no reads until repaired", b.conf().BrokerAddr())
	}
	gc, ok, err := b.groups.GetOrCreate(ph.ConsumerGroup, b.conf().AutoCreateSubscriptionGroup)
	if err != nil {
		return errResp(req, remoting.SystemError, "subscription group %s: %v", ph.ConsumerGroup, err)
	}
	if !ok {
		return errResp(req, remoting.SubscriptionGroupNotExist, "subscription group [%s] does not exist", ph.ConsumerGroup)
	}
	if !gc.ConsumeEnable {
		return errResp(req, remoting.NoPermission, "subscription group no permission, %s", ph.ConsumerGroup)
	}
	tc, ok := b.topics.Get(ph.Topic)
	if !ok && !b.conf().IsMaster() && b.store.MaxOffsetInQueue(ph.Topic, ph.QueueID) > 0 {
		// A slave serves what it replicated even before the topic config arrives from the
		// master (it syncs every 10 s, and the master may be down).
		tc, ok = metadata.TopicConfig{TopicName: ph.Topic, ReadQueueNums: ph.QueueID + 1, WriteQueueNums: ph.QueueID + 1, Perm: metadata.PermRead}, true
	}
	if !ok {
		return errResp(req, remoting.TopicNotExist, "topic[%s] not exist, apply first please!", ph.Topic)
	}
	if !tc.Readable() {
		return errResp(req, remoting.NoPermission, "the topic[%s] pulling message is forbidden", ph.Topic)
	}
	if ph.QueueID < 0 || ph.QueueID >= tc.ReadQueueNums {
		return errResp(req, remoting.SystemError, "queueId[%d] is illegal, topic:[%s] topicConfig.readQueueNums:[%d] consumer:[%s]",
			ph.QueueID, ph.Topic, tc.ReadQueueNums, c.RemoteAddr())
	}
	var sub *subscription
	if ph.SysFlag&pullSubscription != 0 {
		sub = newSubscription(SubscriptionData{Topic: ph.Topic, SubString: ph.Subscription,
			ExpressionType: ph.ExpressionType, TagsSet: parseTagExpression(ph.Subscription)})
	} else {
		s, model, found := b.clients.subscriptionOf(ph.ConsumerGroup, ph.Topic)
		if !found {
			return errResp(req, remoting.SubscriptionNotExist, "the consumer's subscription not exist, group: %s topic: %s", ph.ConsumerGroup, ph.Topic)
		}
		if model == "BROADCASTING" && !gc.ConsumeBroadcastEnable {
			return errResp(req, remoting.NoPermission, "the consumer group[%s] can not consume by broadcast way", ph.ConsumerGroup)
		}
		if s.data.SubVersion < ph.SubVersion {
			return errResp(req, remoting.SubscriptionNotLatest, "the consumer's subscription not latest")
		}
		sub = s
	}

	maxNums := int(ph.MaxMsgNums)
	if maxNums <= 0 {
		maxNums = 1
	}
	res := b.store.GetMessage(ph.Topic, ph.QueueID, ph.QueueOffset, maxNums, sub.matchCode)
	code := getCode(res.Status, ph.QueueOffset)
	next := res.NextBeginOffset
	body := []byte(nil)
	if res.Status == commitlog.Found {
		body = b.exactTagFilter(res.Messages, sub)
		if len(body) == 0 {
			code = remoting.PullRetryImmediately
		}
		b.stats.recordGet(len(res.Messages))
	}
	if !b.conf().IsMaster() && code == remoting.PullOffsetMoved {
		// A slave never moves consumers (no offsetCheckInSlave).
		code, next = remoting.PullRetryImmediately, ph.QueueOffset
	}
	suggest := int64(0)
	if b.conf().SlaveReadEnable {
		suggest = gc.BrokerID
		if n := len(res.Messages); n > 0 {
			// How far the end of the pulled data lies behind the commit-log end.
			if behind := res.MaxPhyOffset - res.LastPhyOffset - int64(len(res.Messages[n-1])); behind > b.memoryBehindLimit() {
				suggest = gc.WhichBrokerWhenConsumeSlowly
			}
		}
	} else if !b.conf().IsMaster() {
		suggest = 0
	}

	if code == remoting.PullNotFound && allowSuspend && ph.SysFlag&pullSuspend != 0 {
		timeout := ph.SuspendTimeoutMillis
		if !b.conf().LongPollingEnable {
			timeout = int64(b.conf().ShortPollingTimeMills)
		}
		if b.hold.suspend(c, req, ph.Topic, ph.QueueID, ph.QueueOffset, sub, timeout) {
			b.commitFromPull(ph, allowSuspend)
			return nil
		}
		// Shutting down: answered now with what the store has.
	}
	b.commitFromPull(ph, allowSuspend)

	rh := protocol.PullMessageResponseHeader{NextBeginOffset: next, MinOffset: res.MinOffset, MaxOffset: res.MaxOffset, SuggestWhichBrokerID: suggest}
	if code == remoting.PullOffsetMoved {
		b.log.Info("pull offset moved", "group", ph.ConsumerGroup, "topic", ph.Topic, "queueId", ph.QueueID,
			"requestOffset", ph.QueueOffset, "nextBeginOffset", next, "status", getStatusName(res.Status))
	}
	b.observePull(ph.Topic, body, start)
	resp := remoting.NewResponseList(req, code, getStatusName(res.Status))
	resp.Body = body
	return resp.SetRawExt(rh.Append(make([]protocol.ExtField, 0, 4)))
}

// commitFromPull stores the consumer's committed offset carried by the pull (COMMIT_OFFSET bit),
// on a master and only on the first run of a request.
func (b *Broker) commitFromPull(ph pullHeader, firstRun bool) {
	if firstRun && ph.SysFlag&pullCommitOffset != 0 && b.conf().IsMaster() && ph.CommitOffset >= 0 {
		b.offsets.Commit(ph.ConsumerGroup, ph.Topic, ph.QueueID, ph.CommitOffset)
	}
}

// exactTagFilter drops messages whose tag hash matched but whose TAGS differ (hash collisions),
// and concatenates the rest into the response body.
func (b *Broker) exactTagFilter(msgs [][]byte, sub *subscription) []byte {
	n := 0
	for _, m := range msgs {
		n += len(m)
	}
	var buf bytes.Buffer
	buf.Grow(n)
	for _, raw := range msgs {
		if sub != nil && !sub.all {
			m, err := message.Decode(raw, false)
			if err != nil || !sub.matchTags(m.Properties[message.PropertyTags]) {
				continue
			}
		}
		buf.Write(raw)
	}
	return buf.Bytes()
}

// memoryBehindLimit is how far behind the commit-log end data may lie before a consumer counts as
// reading from disk (accessMessageInMemoryMaxRatio, 40 % of RAM by default).
func (b *Broker) memoryBehindLimit() int64 {
	return totalMemory() * int64(b.conf().AccessMessageInMemoryMaxRatio) / 100
}

func isRetryTopic(topic string) bool { return strings.HasPrefix(topic, metadata.RetryGroupPrefix) }
