package broker

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/skiffmq/skiff/broker/metadata"
	"github.com/skiffmq/skiff/internal/remoting"
	"github.com/skiffmq/skiff/internal/remoting/server"
)

// handleHeartbeat registers producers and consumers (§2.7): it creates the group config and the
// group's retry topic, merges subscriptions, and notifies the group when its membership or topic
// set changed.
func (b *Broker) handleHeartbeat(_ context.Context, c *server.Conn, req *remoting.Command) *remoting.Command {
	hb, err := decodeHeartbeat(req.Body)
	if err != nil {
		return errResp(req, remoting.SystemError, "bad heartbeat body: %v", err)
	}
	now := b.now()
	for _, p := range hb.ProducerDataSet {
		b.clients.registerProducer(c, hb.ClientID, req.Language, req.Version, p.GroupName, now)
	}
	for _, cd := range hb.ConsumerDataSet {
		gc, ok, err := b.groups.GetOrCreate(cd.GroupName, b.conf().AutoCreateSubscriptionGroup)
		if err != nil {
			b.log.Error("create subscription group failed", "group", cd.GroupName, "err", err)
		}
		if ok && b.conf().IsMaster() {
			retry := metadata.RetryGroupPrefix + cd.GroupName
			n := max(gc.RetryQueueNums, 1)
			_, isNew, err := b.topics.PutIfAbsent(metadata.TopicConfig{TopicName: retry, ReadQueueNums: n, WriteQueueNums: n, Perm: 6})
			if err != nil {
				b.log.Error("create retry topic failed", "topic", retry, "err", err)
			} else if isNew {
				b.log.Info("retry topic created", "topic", retry)
				b.triggerRegister()
			}
		}
		if b.clients.registerConsumer(c, hb.ClientID, req.Language, req.Version, cd, now) {
			b.log.Info("consumer group changed", "group", cd.GroupName, "clientId", hb.ClientID, "addr", c.RemoteAddr())
			b.notifyIDsChanged(cd.GroupName)
		}
	}
	return respond(req, remoting.Success, "", nil, nil)
}

func (b *Broker) handleUnregisterClient(_ context.Context, c *server.Conn, req *remoting.Command) *remoting.Command {
	h := newHeader(req)
	pg, cg := h.str("producerGroup", false), h.str("consumerGroup", false)
	for _, g := range b.clients.unregister(c.ID(), pg, cg) {
		b.notifyIDsChanged(g)
	}
	return respond(req, remoting.Success, "", nil, nil)
}

func (b *Broker) handleConsumerList(_ context.Context, _ *server.Conn, req *remoting.Command) *remoting.Command {
	h := newHeader(req)
	group := h.str("consumerGroup", true)
	if h.err != nil {
		return errResp(req, remoting.SystemError, "%v", h.err)
	}
	ids := b.clients.consumerIDs(group)
	if len(ids) == 0 {
		return errResp(req, remoting.SystemError, "no consumer for this group, %s", group)
	}
	body, _ := json.Marshal(map[string][]string{"consumerIdList": ids})
	return respond(req, remoting.Success, "", nil, body)
}

// messageQueue is RocketMQ's MessageQueue as it appears in JSON bodies.
type messageQueue struct {
	Topic      string `json:"topic"`
	BrokerName string `json:"brokerName"`
	QueueID    int32  `json:"queueId"`
}

type lockBatchBody struct {
	ConsumerGroup  string         `json:"consumerGroup"`
	ClientID       string         `json:"clientId"`
	OnlyThisBroker bool           `json:"onlyThisBroker"`
	MqSet          []messageQueue `json:"mqSet"`
}

// queueLocks is the broker side of orderly consumption (§2.11): a queue is locked by one client of
// a group; a lock expires when its owner does not renew it within 60 s.
type queueLocks struct {
	mu    sync.Mutex
	locks map[string]map[messageQueue]*queueLock // by group
}

type queueLock struct {
	clientID string
	last     time.Time
}

const lockMaxLive = 60 * time.Second

func newQueueLocks() *queueLocks { return &queueLocks{locks: map[string]map[messageQueue]*queueLock{}} }

func (l *queueLocks) tryLock(group, clientID string, mqs []messageQueue, now time.Time) []messageQueue {
	l.mu.Lock()
	defer l.mu.Unlock()
	g := l.locks[group]
	if g == nil {
		g = map[messageQueue]*queueLock{}
		l.locks[group] = g
	}
	out := []messageQueue{}
	for _, mq := range mqs {
		lk := g[mq]
		if lk == nil || lk.clientID == clientID || now.Sub(lk.last) > lockMaxLive {
			g[mq] = &queueLock{clientID: clientID, last: now}
			out = append(out, mq)
		}
	}
	return out
}

func (l *queueLocks) unlock(group, clientID string, mqs []messageQueue) {
	l.mu.Lock()
	defer l.mu.Unlock()
	g := l.locks[group]
	for _, mq := range mqs {
		if lk := g[mq]; lk != nil && lk.clientID == clientID {
			delete(g, mq)
		}
	}
}

func (b *Broker) handleLockBatch(_ context.Context, _ *server.Conn, req *remoting.Command) *remoting.Command {
	body, err := decodeLockBatch(req.Body)
	if err != nil {
		return errResp(req, remoting.SystemError, "bad lock body: %v", err)
	}
	locked := b.locks.tryLock(body.ConsumerGroup, body.ClientID, body.MqSet, b.now())
	out, _ := json.Marshal(map[string][]messageQueue{"lockOKMQSet": locked})
	return respond(req, remoting.Success, "", nil, out)
}

func (b *Broker) handleUnlockBatch(_ context.Context, _ *server.Conn, req *remoting.Command) *remoting.Command {
	body, err := decodeLockBatch(req.Body)
	if err != nil {
		return errResp(req, remoting.SystemError, "bad unlock body: %v", err)
	}
	b.locks.unlock(body.ConsumerGroup, body.ClientID, body.MqSet)
	return respond(req, remoting.Success, "", nil, nil)
}

// decodeHeartbeat decodes a HEART_BEAT body (§2.7).
func decodeHeartbeat(body []byte) (heartbeatData, error) {
	var hb heartbeatData
	err := json.Unmarshal(body, &hb)
	return hb, err
}

// decodeLockBatch decodes a LOCK_BATCH_MQ / UNLOCK_BATCH_MQ body (§2.11).
func decodeLockBatch(body []byte) (lockBatchBody, error) {
	var b lockBatchBody
	err := json.Unmarshal(body, &b)
	return b, err
}
