package processor

import (
	"context"
	"log/slog"
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

// Pull is the pull processor: PULL_MESSAGE with long polling (§2.5).
type Pull struct {
	Config        func() Config
	Store         Store
	Topics        Topics
	Groups        Groups
	Offsets       Offsets
	Subscriptions Subscriptions
	Holder        Holder
	Log           *slog.Logger
	// SlaveDiverged reports a slave whose commit log diverged from its master (it serves no
	// reads); nil on a master.
	SlaveDiverged func() bool
	// OnGet counts messages read from the store; may be nil.
	OnGet func(n int)
	// Observe records an answered pull of n messages and bytes body bytes; may be nil.
	Observe func(topic string, n, bytes int, start time.Time)
}

// Handle serves one pull. Register it with server.HandleRaw.
func (p *Pull) Handle(_ context.Context, c *server.Conn, req *remoting.Command) *remoting.Command {
	return p.Process(c, req, true)
}

// observe records a pull answer (held pulls are recorded when they are finally answered).
func (p *Pull) observe(topic string, body []byte, start time.Time) {
	if p.Observe == nil {
		return
	}
	n := 0
	for rest := body; len(rest) >= 4; n++ {
		size := int(uint32(rest[0])<<24 | uint32(rest[1])<<16 | uint32(rest[2])<<8 | uint32(rest[3]))
		if size <= 0 || size > len(rest) {
			break
		}
		rest = rest[size:]
	}
	p.Observe(topic, n, len(body), start)
}

// Process answers a pull. When nothing is available and the request may be suspended, it
// parks the request in the hold service and returns nil; the hold service re-runs it (with
// allowSuspend false) when a message arrives or the suspend timeout passes.
func (p *Pull) Process(c *server.Conn, req *remoting.Command, allowSuspend bool) *remoting.Command {
	start := time.Now()
	cfg := p.Config()
	ph, err := protocol.DecodePullMessageRequestHeader(req.RawExt())
	if err != nil {
		return errResp(req, remoting.SystemError, "%v", err)
	}
	if cfg.BrokerPermission&metadata.PermRead == 0 {
		return errResp(req, remoting.NoPermission, "the broker[%s] pulling message is forbidden", cfg.BrokerAddr)
	}
	if p.SlaveDiverged != nil && p.SlaveDiverged() {
		return errResp(req, remoting.SystemError, "the slave[%s] commit log diverged from its master; it serves no reads until repaired", cfg.BrokerAddr)
	}
	gc, ok, err := p.Groups.GetOrCreate(ph.ConsumerGroup, cfg.AutoCreateSubscriptionGroup)
	if err != nil {
		return errResp(req, remoting.SystemError, "subscription group %s: %v", ph.ConsumerGroup, err)
	}
	if !ok {
		return errResp(req, remoting.SubscriptionGroupNotExist, "subscription group [%s] does not exist", ph.ConsumerGroup)
	}
	if !gc.ConsumeEnable {
		return errResp(req, remoting.NoPermission, "subscription group no permission, %s", ph.ConsumerGroup)
	}
	tc, ok := p.Topics.Get(ph.Topic)
	if !ok && !cfg.IsMaster && p.Store.MaxOffsetInQueue(ph.Topic, ph.QueueID) > 0 {
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
			ph.QueueID, ph.Topic, tc.ReadQueueNums, remoteOf(c))
	}
	var sub Filter
	if ph.SysFlag&pullSubscription != 0 {
		sub = p.Subscriptions.Parse(ph.Topic, ph.Subscription, ph.ExpressionType)
	} else {
		s, subVersion, model, found := p.Subscriptions.Subscription(ph.ConsumerGroup, ph.Topic)
		if !found {
			return errResp(req, remoting.SubscriptionNotExist, "the consumer's subscription not exist, group: %s topic: %s", ph.ConsumerGroup, ph.Topic)
		}
		if model == "BROADCASTING" && !gc.ConsumeBroadcastEnable {
			return errResp(req, remoting.NoPermission, "the consumer group[%s] can not consume by broadcast way", ph.ConsumerGroup)
		}
		if subVersion < ph.SubVersion {
			return errResp(req, remoting.SubscriptionNotLatest, "the consumer's subscription not latest")
		}
		sub = s
	}

	maxNums := int(ph.MaxMsgNums)
	if maxNums <= 0 {
		maxNums = 1
	}
	res := p.Store.GetMessage(ph.Topic, ph.QueueID, ph.QueueOffset, maxNums, sub.MatchCode)
	code := GetCode(res.Status, ph.QueueOffset)
	next := res.NextBeginOffset
	body := []byte(nil)
	if res.Status == commitlog.Found {
		body = exactTagFilter(&res, sub)
		if len(body) == 0 {
			code = remoting.PullRetryImmediately
		}
		if p.OnGet != nil {
			p.OnGet(len(res.Messages))
		}
	}
	if !cfg.IsMaster && code == remoting.PullOffsetMoved {
		// A slave never moves consumers (no offsetCheckInSlave).
		code, next = remoting.PullRetryImmediately, ph.QueueOffset
	}
	suggest := int64(0)
	if cfg.SlaveReadEnable {
		suggest = gc.BrokerID
		if n := len(res.Messages); n > 0 {
			// How far the end of the pulled data lies behind the commit-log end.
			if behind := res.MaxPhyOffset - res.LastPhyOffset - int64(len(res.Messages[n-1])); behind > cfg.TotalMemory*int64(cfg.AccessMessageInMemoryMaxRatio)/100 {
				suggest = gc.WhichBrokerWhenConsumeSlowly
			}
		}
	} else if !cfg.IsMaster {
		suggest = 0
	}

	if code == remoting.PullNotFound && allowSuspend && ph.SysFlag&pullSuspend != 0 {
		timeout := ph.SuspendTimeoutMillis
		if !cfg.LongPollingEnable {
			timeout = cfg.ShortPollingTimeMills
		}
		if p.Holder.Suspend(c, req, ph.Topic, ph.QueueID, ph.QueueOffset, sub, timeout) {
			p.commitFromPull(ph, allowSuspend, cfg)
			return nil
		}
		// Shutting down: answered now with what the store has.
	}
	p.commitFromPull(ph, allowSuspend, cfg)

	rh := protocol.PullMessageResponseHeader{NextBeginOffset: next, MinOffset: res.MinOffset, MaxOffset: res.MaxOffset, SuggestWhichBrokerID: suggest}
	if code == remoting.PullOffsetMoved {
		p.Log.Info("pull offset moved", "group", ph.ConsumerGroup, "topic", ph.Topic, "queueId", ph.QueueID,
			"requestOffset", ph.QueueOffset, "nextBeginOffset", next, "status", GetStatusName(res.Status))
	}
	p.observe(ph.Topic, body, start)
	resp := remoting.NewResponseList(req, code, GetStatusName(res.Status))
	resp.Body = body
	return resp.SetRawExt(rh.Append(make([]protocol.ExtField, 0, 4)))
}

// commitFromPull stores the consumer's committed offset carried by the pull (COMMIT_OFFSET bit),
// on a master and only on the first run of a request.
func (p *Pull) commitFromPull(ph pullHeader, firstRun bool, cfg Config) {
	if firstRun && ph.SysFlag&pullCommitOffset != 0 && cfg.IsMaster && ph.CommitOffset >= 0 {
		p.Offsets.Commit(ph.ConsumerGroup, ph.Topic, ph.QueueID, ph.CommitOffset)
	}
}

// exactTagFilter drops messages whose tag hash matched but whose TAGS differ (hash collisions)
// and returns the response body. When every message stays, the body is the store's own buffer
// (the records were copied out of the mapping once, into it): no second copy.
func exactTagFilter(res *commitlog.GetResult, sub Filter) []byte {
	if res.Body == nil { // a store that does not fill Body
		for _, raw := range res.Messages {
			res.Body = append(res.Body, raw...)
		}
	}
	if sub == nil || sub.MatchAll() {
		return res.Body
	}
	keep := make([]bool, len(res.Messages))
	all := true
	for i, raw := range res.Messages {
		tags, _ := message.RecordProperty(raw, message.PropertyTags)
		keep[i] = sub.MatchTags(tags)
		all = all && keep[i]
	}
	if all {
		return res.Body
	}
	var out []byte
	for i, raw := range res.Messages {
		if keep[i] {
			out = append(out, raw...)
		}
	}
	return out
}
