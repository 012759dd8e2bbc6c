package broker

import (
	"context"
	"sort"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/skiffmq/skiff/internal/remoting"
	"github.com/skiffmq/skiff/internal/remoting/server"
)

// producerInfoJSON is one producer connection in GET_ALL_PRODUCER_INFO, with RocketMQ 5's field
// names (ProducerInfo), plus Skiff's topics: the topics this connection stored messages in under
// the group since it connected (sorted), and moreTopics when it sent to more than
// maxTopicsPerConn distinct (group, topic) pairs, of which only the first are kept.
type producerInfoJSON struct {
	ClientID            string   `json:"clientId"`
	RemoteIP            string   `json:"remoteIP"`
	Language            string   `json:"language"`
	Version             int32    `json:"version"`
	LastUpdateTimestamp int64    `json:"lastUpdateTimestamp"`
	Topics              []string `json:"topics"`
	MoreTopics          bool     `json:"moreTopics,omitempty"`
}

// handleAllProducerInfo answers GET_ALL_PRODUCER_INFO (328) with every producer group that has a
// live connection and its connections: {"data":{"group":[ProducerInfo...]}} (RocketMQ 5's
// ProducerTableInfo). It reads a copy of the client table taken under its read lock, and each
// connection's (group, topic) set without a lock.
func (b *Broker) handleAllProducerInfo(_ context.Context, _ *server.Conn, req *remoting.Command) *remoting.Command {
	data := map[string][]producerInfoJSON{}
	for group, chs := range b.clients.producerTable() {
		list := make([]producerInfoJSON, 0, len(chs))
		for _, ch := range chs {
			topics, more := b.produced.topics(ch.conn.ID(), group)
			list = append(list, producerInfoJSON{ClientID: ch.clientID, RemoteIP: ch.conn.RemoteAddr(), Language: ch.language,
				Version: ch.version, LastUpdateTimestamp: ch.lastUpdate.UnixMilli(), Topics: topics, MoreTopics: more})
		}
		data[group] = list
	}
	return respond(req, remoting.Success, "", nil, jsonBody(map[string]any{"data": data}))
}

// producerTable copies every producer group's channels, each list sorted by client id.
func (m *clientManager) producerTable() map[string][]clientChannel {
	m.mu.RLock()
	defer m.mu.RUnlock()
	out := make(map[string][]clientChannel, len(m.producers))
	for group, chs := range m.producers {
		if len(chs) == 0 {
			continue
		}
		list := make([]clientChannel, 0, len(chs))
		for _, ch := range chs {
			list = append(list, *ch)
		}
		sort.Slice(list, func(i, j int) bool { return list[i].clientID < list[j].clientID })
		out[group] = list
	}
	return out
}

// maxTopicsPerConn bounds the (group, topic) pairs kept per connection: a client that sends to
// thousands of topics costs the broker at most this many pairs, and the answer says there are more.
const maxTopicsPerConn = 256

// groupTopic is one (producer group, topic) pair a connection sent to.
type groupTopic struct{ group, topic string }

// connTopics is one connection's pairs: a set replaced as a whole on insert (copy on write), so
// the send path reads it with one atomic load and no lock.
type connTopics struct {
	mu    sync.Mutex // serializes inserts
	set   atomic.Pointer[map[groupTopic]struct{}]
	extra atomic.Bool // a pair was not kept (maxTopicsPerConn reached)
}

// producedTopics records, per connection, the (producer group, topic) pairs of the sends the
// broker stored (concurrency model (b): the connection table under an RWMutex, each
// connection's set copy on write). Its zero value is ready to use. A connection's pairs go when
// the connection closes.
type producedTopics struct {
	mu    sync.RWMutex
	conns map[uint64]*connTopics
}

// record notes that the connection sent to topic as group. For a pair already seen it takes the
// read lock, loads the set and looks the pair up: no allocation (group and topic may alias the
// request frame; they are copied only when a new pair is stored). A nil connection (an
// in-process request) is not recorded.
func (p *producedTopics) record(c *server.Conn, group, topic string) {
	if c == nil {
		return
	}
	id := c.ID()
	p.mu.RLock()
	ct := p.conns[id]
	p.mu.RUnlock()
	if ct != nil {
		if s := ct.set.Load(); s != nil {
			if _, ok := (*s)[groupTopic{group, topic}]; ok {
				return
			}
		}
	} else {
		p.mu.Lock()
		// The server marks a connection closed before its close hook (drop) runs, so a check
		// under the lock never leaves an entry behind that no drop would remove.
		if c.Closed() {
			p.mu.Unlock()
			return
		}
		if p.conns == nil {
			p.conns = map[uint64]*connTopics{}
		}
		if ct = p.conns[id]; ct == nil {
			ct = &connTopics{}
			p.conns[id] = ct
		}
		p.mu.Unlock()
	}
	ct.add(groupTopic{strings.Clone(group), strings.Clone(topic)})
}

// add inserts a pair into the set (a new map with the old pairs and the new one).
func (ct *connTopics) add(gt groupTopic) {
	ct.mu.Lock()
	defer ct.mu.Unlock()
	var old map[groupTopic]struct{}
	if s := ct.set.Load(); s != nil {
		old = *s
	}
	if _, ok := old[gt]; ok {
		return
	}
	if len(old) >= maxTopicsPerConn {
		ct.extra.Store(true)
		return
	}
	next := make(map[groupTopic]struct{}, len(old)+1)
	for k := range old {
		next[k] = struct{}{}
	}
	next[gt] = struct{}{}
	ct.set.Store(&next)
}

// topics returns the sorted topics the connection sent to as group, and whether pairs were left
// out (see maxTopicsPerConn).
func (p *producedTopics) topics(connID uint64, group string) ([]string, bool) {
	p.mu.RLock()
	ct := p.conns[connID]
	p.mu.RUnlock()
	out := []string{}
	if ct == nil {
		return out, false
	}
	if s := ct.set.Load(); s != nil {
		for gt := range *s {
			if gt.group == group {
				out = append(out, gt.topic)
			}
		}
	}
	sort.Strings(out)
	return out, ct.extra.Load()
}

// drop forgets a closed connection's pairs.
func (p *producedTopics) drop(connID uint64) {
	p.mu.Lock()
	delete(p.conns, connID)
	p.mu.Unlock()
}

// conns counts the connections with recorded pairs (tests).
func (p *producedTopics) connCount() int {
	p.mu.RLock()
	defer p.mu.RUnlock()
	return len(p.conns)
}
