package broker

import (
	"log/slog"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/skiffmq/skiff/internal/message"
	"github.com/skiffmq/skiff/internal/protocol"
	"github.com/skiffmq/skiff/internal/remoting"
	"github.com/skiffmq/skiff/internal/remoting/server"
)

// heartbeatData is the body of HEART_BEAT (§2.7); the types are package protocol's. CodeSet is
// accepted as strings (Go client) or numbers (Java) but ignored: the broker recomputes tag codes
// from TagsSet with its own hash, the one the consume queue uses.
type (
	heartbeatData    = protocol.HeartbeatData
	producerData     = protocol.ProducerData
	consumerData     = protocol.ConsumerData
	SubscriptionData = protocol.SubscriptionData
)

// subscription is a parsed SubscriptionData ready for filtering.
type subscription struct {
	data  SubscriptionData
	all   bool
	codes map[int64]struct{}
	tags  map[string]struct{}
}

func newSubscription(d SubscriptionData) *subscription {
	s := &subscription{data: d, codes: map[int64]struct{}{}, tags: map[string]struct{}{}}
	expr := strings.TrimSpace(d.SubString)
	if expr == "" || expr == "*" || d.ClassFilterMode || (d.ExpressionType != "" && d.ExpressionType != "TAG") {
		s.all = true
		return s
	}
	tags := d.TagsSet
	if len(tags) == 0 {
		tags = parseTagExpression(expr)
	}
	for _, t := range tags {
		t = strings.TrimSpace(t)
		if t == "" {
			continue
		}
		s.tags[t] = struct{}{}
		s.codes[message.TagsCode(t)] = struct{}{}
	}
	if len(s.tags) == 0 {
		s.all = true
	}
	return s
}

// parseTagExpression splits "TagA || TagB" into tags.
func parseTagExpression(expr string) []string {
	var out []string
	for _, p := range strings.Split(expr, "||") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// matchCode is the consume-queue filter: the tag hash is one of the subscription's.
// MatchAll, MatchCode and MatchTags make a subscription the pull processor's Filter.
func (s *subscription) MatchAll() bool                { return s == nil || s.all }
func (s *subscription) MatchCode(tagsCode int64) bool { return s.matchCode(tagsCode) }
func (s *subscription) MatchTags(tags string) bool    { return s.matchTags(tags) }

func (s *subscription) matchCode(code int64) bool {
	if s == nil || s.all {
		return true
	}
	_, ok := s.codes[code]
	return ok
}

// matchTags is the exact check on the message's TAGS property, after the hash matched.
func (s *subscription) matchTags(tags string) bool {
	if s == nil || s.all {
		return true
	}
	_, ok := s.tags[tags]
	return ok
}

// clientChannel is one client connection registered in a group.
type clientChannel struct {
	conn       *server.Conn
	clientID   string
	language   string
	version    int32
	lastUpdate time.Time
}

type consumerGroup struct {
	channels         map[uint64]*clientChannel // by connection id
	subs             map[string]*subscription  // by topic
	consumeType      string
	messageModel     string
	consumeFromWhere string
}

// clientManager tracks producer and consumer connections per group (concurrency model (b): one
// mutex; never held while sending to a client).
type clientManager struct {
	log *slog.Logger

	mu        sync.RWMutex
	consumers map[string]*consumerGroup
	producers map[string]map[uint64]*clientChannel
}

func newClientManager(log *slog.Logger) *clientManager {
	return &clientManager{log: log, consumers: map[string]*consumerGroup{}, producers: map[string]map[uint64]*clientChannel{}}
}

// RegisterConsumer records a heartbeat of a consumer group member and reports whether the group's
// membership or topic set changed (which calls for NOTIFY_CONSUMER_IDS_CHANGED).
func (m *clientManager) RegisterConsumer(c *server.Conn, clientID, language string, version int32, d consumerData, now time.Time) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	g := m.consumers[d.GroupName]
	if g == nil {
		g = &consumerGroup{channels: map[uint64]*clientChannel{}, subs: map[string]*subscription{}}
		m.consumers[d.GroupName] = g
	}
	changed := false
	ch := g.channels[c.ID()]
	if ch == nil {
		ch = &clientChannel{conn: c}
		g.channels[c.ID()] = ch
		changed = true
	}
	ch.clientID, ch.language, ch.version, ch.lastUpdate = clientID, language, version, now
	g.consumeType, g.messageModel, g.consumeFromWhere = d.ConsumeType, d.MessageModel, d.ConsumeFromWhere

	seen := map[string]bool{}
	for _, sd := range d.SubscriptionDataSet {
		seen[sd.Topic] = true
		old := g.subs[sd.Topic]
		if old == nil {
			g.subs[sd.Topic] = newSubscription(sd)
			changed = true
		} else if sd.SubVersion > old.data.SubVersion || sd.SubString != old.data.SubString {
			g.subs[sd.Topic] = newSubscription(sd)
		}
	}
	for topic := range g.subs {
		if !seen[topic] {
			delete(g.subs, topic)
			changed = true
		}
	}
	return changed
}

func (m *clientManager) RegisterProducer(c *server.Conn, clientID, language string, version int32, group string, now time.Time) {
	m.mu.Lock()
	defer m.mu.Unlock()
	g := m.producers[group]
	if g == nil {
		g = map[uint64]*clientChannel{}
		m.producers[group] = g
	}
	ch := g[c.ID()]
	if ch == nil {
		ch = &clientChannel{conn: c}
		g[c.ID()] = ch
	}
	ch.clientID, ch.language, ch.version, ch.lastUpdate = clientID, language, version, now
}

// Unregister removes a connection from every group (connection closed, expired, or
// UNREGISTER_CLIENT). It returns the consumer groups that lost a member.
func (m *clientManager) Unregister(connID uint64, onlyProducer, onlyConsumer string) []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var changed []string
	for name, g := range m.consumers {
		if onlyProducer != "" && onlyConsumer == "" {
			break
		}
		if onlyConsumer != "" && name != onlyConsumer {
			continue
		}
		if _, ok := g.channels[connID]; ok {
			delete(g.channels, connID)
			changed = append(changed, name)
			if len(g.channels) == 0 {
				delete(m.consumers, name)
			}
		}
	}
	for name, g := range m.producers {
		if onlyConsumer != "" && onlyProducer == "" {
			break
		}
		if onlyProducer != "" && name != onlyProducer {
			continue
		}
		delete(g, connID)
		if len(g) == 0 {
			delete(m.producers, name)
		}
	}
	return changed
}

// expired returns the connections whose last heartbeat is older than maxAge.
func (m *clientManager) expired(now time.Time, maxAge time.Duration) []*server.Conn {
	m.mu.RLock()
	defer m.mu.RUnlock()
	seen := map[uint64]*server.Conn{}
	for _, g := range m.consumers {
		for id, ch := range g.channels {
			if now.Sub(ch.lastUpdate) > maxAge {
				seen[id] = ch.conn
			}
		}
	}
	for _, g := range m.producers {
		for id, ch := range g {
			if now.Sub(ch.lastUpdate) > maxAge {
				seen[id] = ch.conn
			}
		}
	}
	out := make([]*server.Conn, 0, len(seen))
	for _, c := range seen {
		out = append(out, c)
	}
	return out
}

// ConsumerIDs returns the sorted client ids of a group's live members.
func (m *clientManager) ConsumerIDs(group string) []string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	g := m.consumers[group]
	if g == nil {
		return nil
	}
	set := map[string]struct{}{}
	for _, ch := range g.channels {
		set[ch.clientID] = struct{}{}
	}
	out := make([]string, 0, len(set))
	for id := range set {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

// consumerConns returns a group's connections.
func (m *clientManager) consumerConns(group string) []*server.Conn {
	m.mu.RLock()
	defer m.mu.RUnlock()
	g := m.consumers[group]
	if g == nil {
		return nil
	}
	out := make([]*server.Conn, 0, len(g.channels))
	for _, ch := range g.channels {
		out = append(out, ch.conn)
	}
	return out
}

// subscriptionOf returns the group's subscription of a topic.
func (m *clientManager) subscriptionOf(group, topic string) (*subscription, string, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	g := m.consumers[group]
	if g == nil {
		return nil, "", false
	}
	s, ok := g.subs[topic]
	return s, g.messageModel, ok
}

// groupInfo is a snapshot of one consumer group for admin answers.
type groupInfo struct {
	channels         []clientChannel
	subs             []SubscriptionData
	consumeType      string
	messageModel     string
	consumeFromWhere string
}

func (m *clientManager) consumerGroupInfo(group string) (groupInfo, bool) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	g := m.consumers[group]
	if g == nil {
		return groupInfo{}, false
	}
	gi := groupInfo{consumeType: g.consumeType, messageModel: g.messageModel, consumeFromWhere: g.consumeFromWhere}
	for _, ch := range g.channels {
		gi.channels = append(gi.channels, *ch)
	}
	for _, s := range g.subs {
		gi.subs = append(gi.subs, s.data)
	}
	sort.Slice(gi.channels, func(i, j int) bool { return gi.channels[i].clientID < gi.channels[j].clientID })
	sort.Slice(gi.subs, func(i, j int) bool { return gi.subs[i].Topic < gi.subs[j].Topic })
	return gi, true
}

func (m *clientManager) producerChannels(group string) []clientChannel {
	m.mu.RLock()
	defer m.mu.RUnlock()
	var out []clientChannel
	for _, ch := range m.producers[group] {
		out = append(out, *ch)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].clientID < out[j].clientID })
	return out
}

// consumerGroups returns the names of the groups with live members.
func (m *clientManager) consumerGroups() []string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make([]string, 0, len(m.consumers))
	for g := range m.consumers {
		out = append(out, g)
	}
	sort.Strings(out)
	return out
}

// notifyIDsChanged sends NOTIFY_CONSUMER_IDS_CHANGED (oneway) to every member of a group.
func (b *Broker) notifyIDsChanged(group string) {
	if !b.conf().NotifyConsumerIdsChangedEnable {
		return
	}
	if gc, ok := b.groups.Get(group); ok && !gc.NotifyConsumerIdsChangedEnable {
		return
	}
	for _, c := range b.clients.consumerConns(group) {
		req := remoting.NewRequest(remoting.NotifyConsumerIdsChanged, map[string]string{"consumerGroup": group}, nil)
		if err := c.InvokeOneway(req); err != nil {
			b.log.Debug("notify consumer ids changed failed", "group", group, "addr", c.RemoteAddr(), "err", err)
		}
	}
}
