package core

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/skiffmq/skiff/client"
	"github.com/skiffmq/skiff/internal/protocol"
	"github.com/skiffmq/skiff/internal/remoting"
)

// Permission bits of a topic or broker.
const (
	PermRead  = protocol.PermRead
	PermWrite = protocol.PermWrite
)

// The route's types are the protocol's (internal/protocol, route.go): one definition and one
// codec for the name server, the brokers and the SDK.
type (
	BrokerData = protocol.BrokerData // one broker name with its addresses by broker id (0 = master)
	QueueData  = protocol.QueueData  // a topic's queues on one broker name
	TopicRoute = protocol.TopicRouteData
)

// FetchRoute asks the name servers for topic's route, trying each in turn on transport errors.
func (c *Client) FetchRoute(ctx context.Context, topic string) (*TopicRoute, error) {
	r, _, err := c.FetchRouteRaw(ctx, topic)
	return r, err
}

// FetchRouteRaw is FetchRoute that also returns the body as the name server sent it.
func (c *Client) FetchRouteRaw(ctx context.Context, topic string) (*TopicRoute, []byte, error) {
	resp, addr, err := c.InvokeNamesrv(ctx, func() *remoting.Command {
		return remoting.NewRequest(remoting.GetRouteInfoByTopic, map[string]string{"topic": topic}, nil)
	})
	if err != nil {
		return nil, nil, err
	}
	if resp.Code == remoting.TopicNotExist {
		return nil, nil, fmt.Errorf("%s: topic %q: %w (name server %s: %s)", c.name, topic, client.ErrTopicNotExist, addr, resp.Remark)
	}
	if err := Check(resp, addr, remoting.GetRouteInfoByTopic); err != nil {
		return nil, nil, err
	}
	route, err := protocol.DecodeTopicRoute(resp.Body)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: route of %q from %s: %w: %v", c.name, topic, addr, client.ErrBadResponse, err)
	}
	return &route, resp.Body, nil
}

// Route returns topic's route from the cache, fetching it when absent. The topic is refreshed
// every RouteInterval from then on.
func (c *Client) Route(ctx context.Context, topic string) (*TopicRoute, error) {
	c.mu.Lock()
	r := c.routes[topic]
	c.mu.Unlock()
	if r != nil {
		return r, nil
	}
	return c.UpdateRoute(ctx, topic)
}

// UpdateRoute fetches topic's route now, stores it and, when it changed, tells the watchers.
func (c *Client) UpdateRoute(ctx context.Context, topic string) (*TopicRoute, error) {
	r, err := c.FetchRoute(ctx, topic)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	old := c.routes[topic]
	c.routes[topic] = r
	for _, b := range r.BrokerDatas {
		c.brokers[b.BrokerName] = maps.Clone(b.BrokerAddrs)
	}
	watchers := slices.Clone(c.routeWatchers)
	c.mu.Unlock()
	if !r.Equal(old) {
		c.log.Debug("route changed", "topic", topic, "brokers", len(r.BrokerDatas), "queues", len(r.QueueDatas))
		for _, w := range watchers {
			w(topic, r)
		}
	}
	return r, nil
}

// refreshGap is how often RefreshRoute fetches one topic's route at most: the queues of a topic
// fail together when a broker dies or is deposed, and one fetch serves them all.
const refreshGap = 500 * time.Millisecond

// RefreshRoute fetches topic's route now (UpdateRoute) unless RefreshRoute fetched it less than
// refreshGap ago; it is what a caller does when a broker refused it as not master
// (SERVICE_NOT_AVAILABLE) or dropped the connection, instead of waiting for the periodic
// refresh. It reports whether it fetched a route.
func (c *Client) RefreshRoute(ctx context.Context, topic string) bool {
	now := time.Now()
	c.mu.Lock()
	if c.forced == nil {
		c.forced = map[string]time.Time{}
	}
	if last, ok := c.forced[topic]; ok && now.Sub(last) < refreshGap {
		c.mu.Unlock()
		return false
	}
	c.forced[topic] = now
	c.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	if _, err := c.UpdateRoute(ctx, topic); err != nil {
		c.log.Debug("route refresh after a refusal failed", "topic", topic, "err", err)
		return false
	}
	return true
}

// OnRouteChange registers fn, called after a topic's route changed (from the refreshing goroutine).
func (c *Client) OnRouteChange(fn func(topic string, r *TopicRoute)) {
	c.mu.Lock()
	c.routeWatchers = append(c.routeWatchers, fn)
	c.mu.Unlock()
}

// ForgetRoute drops topic from the cache (it is no longer refreshed).
func (c *Client) ForgetRoute(topic string) {
	c.mu.Lock()
	delete(c.routes, topic)
	c.mu.Unlock()
}

// refreshRoutes updates every cached topic.
func (c *Client) refreshRoutes(ctx context.Context) {
	c.mu.Lock()
	topics := slices.Collect(maps.Keys(c.routes))
	c.mu.Unlock()
	for _, t := range topics {
		if _, err := c.UpdateRoute(ctx, t); err != nil {
			c.log.Debug("route refresh failed", "topic", t, "err", err)
		}
	}
}

// BrokerAddr returns the address of brokerID in brokerName, "" when unknown.
func (c *Client) BrokerAddr(brokerName string, brokerID int64) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.brokers[brokerName][brokerID]
}

// MasterAddr returns the master address of brokerName, "" when unknown or down.
func (c *Client) MasterAddr(brokerName string) string { return c.BrokerAddr(brokerName, 0) }

// FindBrokerAddr returns brokerID's address in brokerName when known; otherwise the master's,
// otherwise any slave's. slave reports whether the address is not the master's.
func (c *Client) FindBrokerAddr(brokerName string, brokerID int64) (addr string, slave bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	addrs := c.brokers[brokerName]
	if a := addrs[brokerID]; a != "" {
		return a, brokerID != 0
	}
	if a := addrs[0]; a != "" {
		return a, false
	}
	ids := slices.Sorted(maps.Keys(addrs))
	for _, id := range ids {
		return addrs[id], true
	}
	return "", false
}

// BrokerAddrs returns every known broker address (masters and slaves), sorted.
func (c *Client) BrokerAddrs(mastersOnly bool) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	set := map[string]bool{}
	for _, addrs := range c.brokers {
		for id, a := range addrs {
			if a != "" && (!mastersOnly || id == 0) {
				set[a] = true
			}
		}
	}
	out := slices.Collect(maps.Keys(set))
	sort.Strings(out)
	return out
}

// AnyBrokerAddr returns a master address of one of topic's broker names (a slave's when no
// master is up), for group-wide queries.
func (c *Client) AnyBrokerAddr(ctx context.Context, topic string) (string, error) {
	r, err := c.Route(ctx, topic)
	if err != nil {
		return "", err
	}
	names := make([]string, 0, len(r.BrokerDatas))
	for _, b := range r.BrokerDatas {
		names = append(names, b.BrokerName)
	}
	sort.Strings(names)
	for _, n := range names {
		if a, slave := c.FindBrokerAddr(n, 0); a != "" && !slave {
			return a, nil
		}
	}
	for _, n := range names {
		if a, _ := c.FindBrokerAddr(n, 0); a != "" {
			return a, nil
		}
	}
	return "", fmt.Errorf("%s: no broker of topic %q is registered: %w", c.name, topic, client.ErrConnect)
}

// IsRetryTopic reports whether topic is a %RETRY% topic.
func IsRetryTopic(topic string) bool { return strings.HasPrefix(topic, RetryPrefix) }

// Topic prefixes of system topics.
const (
	RetryPrefix = "%RETRY%"
	DLQPrefix   = "%DLQ%"
)
