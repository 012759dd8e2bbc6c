package processor

import (
	"context"
	"encoding/json"
	"log/slog"
	"time"

	"github.com/skiffmq/skiff/broker/metadata"
	"github.com/skiffmq/skiff/internal/protocol"
	"github.com/skiffmq/skiff/internal/remoting"
	"github.com/skiffmq/skiff/internal/remoting/server"
)

// Clients is the broker's table of connected producers and consumers (its client manager).
type Clients interface {
	RegisterProducer(c *server.Conn, clientID, language string, version int32, group string, now time.Time)
	// RegisterConsumer records a heartbeat of a consumer group member and reports whether the
	// group's membership or topic set changed.
	RegisterConsumer(c *server.Conn, clientID, language string, version int32, d protocol.ConsumerData, now time.Time) bool
	// Unregister removes a connection from its groups (only from the named ones when a group is
	// given) and returns the consumer groups that lost a member.
	Unregister(connID uint64, producerGroup, consumerGroup string) []string
	ConsumerIDs(group string) []string
}

// QueueLocks is the broker side of orderly consumption (§2.11).
type QueueLocks interface {
	// TryLock locks for clientID those of mqs that are free, its own or expired, and returns them.
	TryLock(group, clientID string, mqs []protocol.MessageQueue, now time.Time) []protocol.MessageQueue
	Unlock(group, clientID string, mqs []protocol.MessageQueue)
}

// ClientManage is the client-management processor (RocketMQ's ClientManageProcessor and the
// consumer-list and lock parts of its ConsumerManage/AdminBroker processors): HEART_BEAT,
// UNREGISTER_CLIENT, GET_CONSUMER_LIST_BY_GROUP, LOCK_BATCH_MQ and UNLOCK_BATCH_MQ. Register its
// handlers with server.HandleRaw.
type ClientManage struct {
	Clients Clients
	Locks   QueueLocks
	Groups  Groups
	Topics  Topics
	Config  func() Config
	Now     func() time.Time
	Log     *slog.Logger
	// Register asks for a registration with the name servers (a retry topic was created).
	Register func()
	// NotifyIDsChanged tells a consumer group's members that its membership changed.
	NotifyIDsChanged func(group string)
}

// Heartbeat registers producers and consumers (§2.7): it creates the group config (when
// autoCreateSubscriptionGroup) and, on a master, the group's retry topic, merges subscriptions,
// and notifies the group when its membership or topic set changed. A group or retry topic that
// could not be created (controller mode: not on the in-sync replicas) fails the heartbeat.
func (p *ClientManage) Heartbeat(_ context.Context, c *server.Conn, req *remoting.Command) *remoting.Command {
	hb, err := decodeHeartbeat(req.Body)
	if err != nil {
		return errResp(req, remoting.SystemError, "bad heartbeat body: %v", err)
	}
	cfg := p.Config()
	now := p.Now()
	for _, pd := range hb.ProducerDataSet {
		p.Clients.RegisterProducer(c, hb.ClientID, req.Language, req.Version, pd.GroupName, now)
	}
	for _, cd := range hb.ConsumerDataSet {
		gc, ok, err := p.Groups.GetOrCreate(cd.GroupName, cfg.AutoCreateSubscriptionGroup)
		if err != nil {
			// Not acknowledged (controller mode: the group could not be put on the in-sync
			// replicas); the client heartbeats again.
			p.Log.Error("create subscription group failed", "group", cd.GroupName, "err", err)
			return errResp(req, remoting.SystemError, "create subscription group %s: %v", cd.GroupName, err)
		}
		if ok && cfg.IsMaster {
			retry := metadata.RetryGroupPrefix + cd.GroupName
			n := max(gc.RetryQueueNums, 1)
			_, isNew, err := p.Topics.PutIfAbsent(metadata.TopicConfig{TopicName: retry, ReadQueueNums: n, WriteQueueNums: n, Perm: metadata.PermRead | metadata.PermWrite})
			if err != nil {
				p.Log.Error("create retry topic failed", "topic", retry, "err", err)
				return errResp(req, remoting.SystemError, "create retry topic %s: %v", retry, err)
			} else if isNew {
				p.Log.Info("retry topic created", "topic", retry)
				p.Register()
			}
		}
		if p.Clients.RegisterConsumer(c, hb.ClientID, req.Language, req.Version, cd, now) {
			p.Log.Info("consumer group changed", "group", cd.GroupName, "clientId", hb.ClientID, "addr", remoteOf(c))
			p.NotifyIDsChanged(cd.GroupName)
		}
	}
	return remoting.NewResponseList(req, remoting.Success, "")
}

// Unregister serves UNREGISTER_CLIENT (a client shutting down).
func (p *ClientManage) Unregister(_ context.Context, c *server.Conn, req *remoting.Command) *remoting.Command {
	f := protocol.ReadFields(req.RawExt())
	pg, cg := f.Str("producerGroup", false), f.Str("consumerGroup", false)
	for _, g := range p.Clients.Unregister(c.ID(), pg, cg) {
		p.NotifyIDsChanged(g)
	}
	return remoting.NewResponseList(req, remoting.Success, "")
}

// ConsumerList serves GET_CONSUMER_LIST_BY_GROUP: the client ids of a group (rebalance input).
func (p *ClientManage) ConsumerList(_ context.Context, _ *server.Conn, req *remoting.Command) *remoting.Command {
	f := protocol.ReadFields(req.RawExt())
	group := f.Str("consumerGroup", true)
	if err := f.Err(); err != nil {
		return errResp(req, remoting.SystemError, "%v", err)
	}
	ids := p.Clients.ConsumerIDs(group)
	if len(ids) == 0 {
		return errResp(req, remoting.SystemError, "no consumer for this group, %s", group)
	}
	resp := remoting.NewResponseList(req, remoting.Success, "")
	resp.Body, _ = json.Marshal(map[string][]string{"consumerIdList": ids})
	return resp
}

// LockBatch serves LOCK_BATCH_MQ: the queues locked for the client (those free, its own, or
// whose lock expired).
func (p *ClientManage) LockBatch(_ context.Context, _ *server.Conn, req *remoting.Command) *remoting.Command {
	body, err := decodeLockBatch(req.Body)
	if err != nil {
		return errResp(req, remoting.SystemError, "bad lock body: %v", err)
	}
	locked := p.Locks.TryLock(body.ConsumerGroup, body.ClientID, body.MqSet, p.Now())
	if locked == nil {
		locked = []protocol.MessageQueue{}
	}
	resp := remoting.NewResponseList(req, remoting.Success, "")
	resp.Body, _ = json.Marshal(protocol.LockBatchResponseBody{LockOKMQSet: locked})
	return resp
}

// UnlockBatch serves UNLOCK_BATCH_MQ: it releases the client's locks on the queues.
func (p *ClientManage) UnlockBatch(_ context.Context, _ *server.Conn, req *remoting.Command) *remoting.Command {
	body, err := decodeLockBatch(req.Body)
	if err != nil {
		return errResp(req, remoting.SystemError, "bad unlock body: %v", err)
	}
	p.Locks.Unlock(body.ConsumerGroup, body.ClientID, body.MqSet)
	return remoting.NewResponseList(req, remoting.Success, "")
}

// decodeHeartbeat decodes a HEART_BEAT body (§2.7).
func decodeHeartbeat(body []byte) (protocol.HeartbeatData, error) {
	var hb protocol.HeartbeatData
	err := json.Unmarshal(body, &hb)
	return hb, err
}

// decodeLockBatch decodes a LOCK_BATCH_MQ / UNLOCK_BATCH_MQ body (§2.11).
func decodeLockBatch(body []byte) (protocol.LockBatchRequestBody, error) {
	var b protocol.LockBatchRequestBody
	err := json.Unmarshal(body, &b)
	return b, err
}
