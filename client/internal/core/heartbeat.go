package core

import (
	"context"
	"encoding/json"
	"maps"
	"sync"

	"github.com/skiffmq/skiff/internal/protocol"
	"github.com/skiffmq/skiff/internal/remoting"
)

// The HEART_BEAT (34) body types are package protocol's (one definition for the SDK and the
// broker).
type (
	HeartbeatData    = protocol.HeartbeatData
	ProducerData     = protocol.ProducerData
	ConsumerData     = protocol.ConsumerData
	SubscriptionData = protocol.SubscriptionData
)

// SetHeartbeat sets the function that builds this client's heartbeat (producer and consumer
// groups); the client id is filled in.
func (c *Client) SetHeartbeat(fn func() *HeartbeatData) {
	c.mu.Lock()
	c.heartbeat = fn
	c.mu.Unlock()
}

// KickHeartbeat asks the heartbeat loop to send one now.
func (c *Client) KickHeartbeat() {
	select {
	case c.hbKick <- struct{}{}:
	default:
	}
}

// SendHeartbeat sends the heartbeat to every known broker (slaves only when it carries
// consumers) in parallel and reports how many accepted it.
func (c *Client) SendHeartbeat(ctx context.Context) int {
	c.mu.Lock()
	fn := c.heartbeat
	c.mu.Unlock()
	if fn == nil {
		return 0
	}
	hb := fn()
	hb.ClientID = c.clientID
	if hb.ProducerDataSet == nil {
		hb.ProducerDataSet = []ProducerData{}
	}
	if hb.ConsumerDataSet == nil {
		hb.ConsumerDataSet = []ConsumerData{}
	}
	body, err := json.Marshal(hb)
	if err != nil {
		return 0
	}
	addrs := c.BrokerAddrs(len(hb.ConsumerDataSet) == 0)
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	for _, a := range addrs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := c.Invoke(ctx, a, remoting.NewRequest(remoting.HeartBeat, nil, body))
			if err == nil {
				err = Check(resp, a, remoting.HeartBeat)
			}
			if err != nil {
				c.log.Debug("heartbeat failed", "addr", a, "err", err)
				return
			}
			mu.Lock()
			ok++
			mu.Unlock()
		}()
	}
	wg.Wait()
	return ok
}

// Unregister tells every known broker that this client's producer and consumer groups are gone.
func (c *Client) Unregister(ctx context.Context, producerGroup, consumerGroup string) {
	ext := map[string]string{"clientID": c.clientID}
	if producerGroup != "" {
		ext["producerGroup"] = producerGroup
	}
	if consumerGroup != "" {
		ext["consumerGroup"] = consumerGroup
	}
	var wg sync.WaitGroup
	for _, a := range c.BrokerAddrs(false) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.Invoke(ctx, a, remoting.NewRequest(remoting.UnregisterClient, maps.Clone(ext), nil)); err != nil {
				c.log.Debug("unregister failed", "addr", a, "err", err)
			}
		}()
	}
	wg.Wait()
}
