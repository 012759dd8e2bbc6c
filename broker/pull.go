package broker

import (
	"bytes"
	"context"
	"strings"
	"time"

	"github.com/skiffmq/skiff/broker/metadata"
	"github.com/skiffmq/skiff/commitlog"
	"github.com/skiffmq/skiff/internal/message"
	"github.com/skiffmq/skiff/internal/remoting"
	"github.com/skiffmq/skiff/internal/remoting/server"
)

// Pull sysFlag bits (§2.5).
const (
	pullCommitOffset = 0x1
	pullSuspend      = 0x2
	pullSubscription = 0x4
)

type pullHeader struct {
	group          string
	topic          string
	queueID        int32
	queueOffset    int64
	maxMsgNums     int32
	sysFlag        int32
	commitOffset   int64
	suspendTimeout int64
	subscription   string
	subVersion     int64
	expressionType string
}

func parsePullHeader(req *remoting.Command) (pullHeader, error) {
	h := newHeader(req)
	p := pullHeader{
		group:          h.str("consumerGroup", true),
		topic:          h.str("topic", true),
		queueID:        h.i32("queueId", true),
		queueOffset:    h.i64("queueOffset", true),
		maxMsgNums:     h.i32("maxMsgNums", true),
		sysFlag:        h.i32("sysFlag", true),
		commitOffset:   h.i64("commitOffset", true),
		suspendTimeout: h.i64("suspendTimeoutMillis", true),
		subscription:   h.str("subscription", false),
		subVersion:     h.i64("subVersion", true),
		expressionType: h.str("expressionType", false),
	}
	return p, h.err
}

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
	ph, err := parsePullHeader(req)
	if err != nil {
		return errResp(req, remoting.SystemError, "%v", err)
	}
	if b.conf().BrokerPermission&metadata.PermRead == 0 {
		return errResp(req, remoting.NoPermission, "the broker[%s] pulling message is forbidden", b.conf().BrokerAddr())
	}
	if b.haSlave != nil && b.haSlave.Diverged() {
		return errResp(req, remoting.SystemError, "the slave[%s] commit log diverged from its master; it serves no reads until repaired", b.conf().BrokerAddr())
	}
	gc, ok, err := b.groups.GetOrCreate(ph.group, b.conf().AutoCreateSubscriptionGroup)
	if err != nil {
		return errResp(req, remoting.SystemError, "subscription group %s: %v", ph.group, err)
	}
	if !ok {
		return errResp(req, remoting.SubscriptionGroupNotExist, "subscription group [%s] does not exist", ph.group)
	}
	if !gc.ConsumeEnable {
		return errResp(req, remoting.NoPermission, "subscription group no permission, %s", ph.group)
	}
	tc, ok := b.topics.Get(ph.topic)
	if !ok && !b.conf().IsMaster() && b.store.MaxOffsetInQueue(ph.topic, ph.queueID) > 0 {
		// A slave serves what it replicated even before the topic config arrives from the
		// master (it syncs every 10 s, and the master may be down).
		tc, ok = metadata.TopicConfig{TopicName: ph.topic, ReadQueueNums: ph.queueID + 1, WriteQueueNums: ph.queueID + 1, Perm: metadata.PermRead}, true
	}
	if !ok {
		return errResp(req, remoting.TopicNotExist, "topic[%s] not exist, apply first please!", ph.topic)
	}
	if !tc.Readable() {
		return errResp(req, remoting.NoPermission, "the topic[%s] pulling message is forbidden", ph.topic)
	}
	if ph.queueID < 0 || ph.queueID >= tc.ReadQueueNums {
		return errResp(req, remoting.SystemError, "queueId[%d] is illegal, topic:[%s] topicConfig.readQueueNums:[%d] consumer:[%s]",
			ph.queueID, ph.topic, tc.ReadQueueNums, c.RemoteAddr())
	}
	var sub *subscription
	if ph.sysFlag&pullSubscription != 0 {
		sub = newSubscription(SubscriptionData{Topic: ph.topic, SubString: ph.subscription,
			ExpressionType: ph.expressionType, TagsSet: parseTagExpression(ph.subscription)})
	} else {
		s, model, found := b.clients.subscriptionOf(ph.group, ph.topic)
		if !found {
			return errResp(req, remoting.SubscriptionNotExist, "the consumer's subscription not exist, group: %s topic: %s", ph.group, ph.topic)
		}
		if model == "BROADCASTING" && !gc.ConsumeBroadcastEnable {
			return errResp(req, remoting.NoPermission, "the consumer group[%s] can not consume by broadcast way", ph.group)
		}
		if s.data.SubVersion < ph.subVersion {
			return errResp(req, remoting.SubscriptionNotLatest, "the consumer's subscription not latest")
		}
		sub = s
	}

	maxNums := int(ph.maxMsgNums)
	if maxNums <= 0 {
		maxNums = 1
	}
	res := b.store.GetMessage(ph.topic, ph.queueID, ph.queueOffset, maxNums, sub.matchCode)
	code := getCode(res.Status, ph.queueOffset)
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
		code, next = remoting.PullRetryImmediately, ph.queueOffset
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

	if code == remoting.PullNotFound && allowSuspend && ph.sysFlag&pullSuspend != 0 {
		timeout := ph.suspendTimeout
		if !b.conf().LongPollingEnable {
			timeout = int64(b.conf().ShortPollingTimeMills)
		}
		if b.hold.suspend(c, req, ph.topic, ph.queueID, ph.queueOffset, sub, timeout) {
			b.commitFromPull(ph, allowSuspend)
			return nil
		}
		// Shutting down: answered now with what the store has.
	}
	b.commitFromPull(ph, allowSuspend)

	ext := map[string]string{
		"nextBeginOffset":      i64s(next),
		"minOffset":            i64s(res.MinOffset),
		"maxOffset":            i64s(res.MaxOffset),
		"suggestWhichBrokerId": i64s(suggest),
	}
	if code == remoting.PullOffsetMoved {
		b.log.Info("pull offset moved", "group", ph.group, "topic", ph.topic, "queueId", ph.queueID,
			"requestOffset", ph.queueOffset, "nextBeginOffset", next, "status", getStatusName(res.Status))
	}
	b.observePull(ph.topic, body, start)
	return respond(req, code, getStatusName(res.Status), ext, body)
}

// commitFromPull stores the consumer's committed offset carried by the pull (COMMIT_OFFSET bit),
// on a master and only on the first run of a request.
func (b *Broker) commitFromPull(ph pullHeader, firstRun bool) {
	if firstRun && ph.sysFlag&pullCommitOffset != 0 && b.conf().IsMaster() && ph.commitOffset >= 0 {
		b.offsets.Commit(ph.group, ph.topic, ph.queueID, ph.commitOffset)
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
