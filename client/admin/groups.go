package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"

	"github.com/skiffmq/skiff/client/internal/core"
	"github.com/skiffmq/skiff/internal/message"
	"github.com/skiffmq/skiff/internal/protocol"
	"github.com/skiffmq/skiff/internal/remoting"
)

// SubscriptionGroupConfig is a consumer group's configuration (RocketMQ SubscriptionGroupConfig;
// the one type of package protocol).
type SubscriptionGroupConfig = protocol.SubscriptionGroupConfig

// DefaultGroupConfig is RocketMQ's default group configuration.
func DefaultGroupConfig(group string) SubscriptionGroupConfig {
	return protocol.DefaultSubscriptionGroupConfig(group)
}

// UpdateSubGroup creates or updates a subscription group on a broker (200).
func (a *Admin) UpdateSubGroup(ctx context.Context, brokerAddr string, g SubscriptionGroupConfig) error {
	body, err := json.Marshal(g)
	if err != nil {
		return err
	}
	req := remoting.NewRequest(remoting.UpdateAndCreateSubscriptionGroup, nil, body)
	resp, err := a.cl.Invoke(ctx, brokerAddr, req)
	if err != nil {
		return err
	}
	return core.Check(resp, brokerAddr, req.Code)
}

// DeleteSubGroup deletes a subscription group on a broker (207), with its offsets when removeOffset.
func (a *Admin) DeleteSubGroup(ctx context.Context, brokerAddr, group string, removeOffset bool) error {
	req := remoting.NewRequest(remoting.DeleteSubscriptionGroup, map[string]string{"groupName": group, "removeOffset": strconv.FormatBool(removeOffset)}, nil)
	resp, err := a.cl.Invoke(ctx, brokerAddr, req)
	if err != nil {
		return err
	}
	return core.Check(resp, brokerAddr, req.Code)
}

// SubGroups returns a broker's subscription groups (201).
func (a *Admin) SubGroups(ctx context.Context, brokerAddr string) (map[string]SubscriptionGroupConfig, error) {
	req := remoting.NewRequest(remoting.GetAllSubscriptionGroupConfig, nil, nil)
	resp, err := a.cl.Invoke(ctx, brokerAddr, req)
	if err != nil {
		return nil, err
	}
	if err := core.Check(resp, brokerAddr, req.Code); err != nil {
		return nil, err
	}
	var w struct {
		SubscriptionGroupTable map[string]SubscriptionGroupConfig `json:"subscriptionGroupTable"`
	}
	if err := Unmarshal(resp.Body, &w); err != nil {
		return nil, fmt.Errorf("admin: subscription groups from %s: %w", brokerAddr, err)
	}
	return w.SubscriptionGroupTable, nil
}

// Connection is one client connection of a group.
type Connection struct {
	ClientAddr string `json:"clientAddr"`
	ClientID   string `json:"clientId"`
	Language   string `json:"language"`
	Version    int32  `json:"version"`
}

// ConsumerConnection is the body of GET_CONSUMER_CONNECTION_LIST.
type ConsumerConnection struct {
	ConnectionSet     []Connection               `json:"connectionSet"`
	ConsumeType       string                     `json:"consumeType"`
	MessageModel      string                     `json:"messageModel"`
	ConsumeFromWhere  string                     `json:"consumeFromWhere"`
	SubscriptionTable map[string]json.RawMessage `json:"subscriptionTable"`
}

// ConsumerConnection asks a broker for a group's consumer connections (203).
func (a *Admin) ConsumerConnection(ctx context.Context, brokerAddr, group string) (*ConsumerConnection, error) {
	req := remoting.NewRequest(remoting.GetConsumerConnectionList, map[string]string{"consumerGroup": group}, nil)
	resp, err := a.cl.Invoke(ctx, brokerAddr, req)
	if err != nil {
		return nil, err
	}
	if err := core.Check(resp, brokerAddr, req.Code); err != nil {
		return nil, err
	}
	var cc ConsumerConnection
	if err := Unmarshal(resp.Body, &cc); err != nil {
		return nil, fmt.Errorf("admin: consumer connections from %s: %w", brokerAddr, err)
	}
	sort.Slice(cc.ConnectionSet, func(i, j int) bool { return cc.ConnectionSet[i].ClientID < cc.ConnectionSet[j].ClientID })
	return &cc, nil
}

// ProducerConnection asks a broker for a producer group's connections (204).
func (a *Admin) ProducerConnection(ctx context.Context, brokerAddr, group string) ([]Connection, error) {
	req := remoting.NewRequest(remoting.GetProducerConnectionList, map[string]string{"producerGroup": group}, nil)
	resp, err := a.cl.Invoke(ctx, brokerAddr, req)
	if err != nil {
		return nil, err
	}
	if err := core.Check(resp, brokerAddr, req.Code); err != nil {
		return nil, err
	}
	var w struct {
		ConnectionSet []Connection `json:"connectionSet"`
	}
	if err := Unmarshal(resp.Body, &w); err != nil {
		return nil, fmt.Errorf("admin: producer connections from %s: %w", brokerAddr, err)
	}
	return w.ConnectionSet, nil
}

// BrokerConfig returns a broker's configuration as key=value properties text (26).
func (a *Admin) BrokerConfig(ctx context.Context, brokerAddr string) (string, error) {
	req := remoting.NewRequest(remoting.GetBrokerConfig, nil, nil)
	resp, err := a.cl.Invoke(ctx, brokerAddr, req)
	if err != nil {
		return "", err
	}
	if err := core.Check(resp, brokerAddr, req.Code); err != nil {
		return "", err
	}
	return string(resp.Body), nil
}

// WritePerm wipes (wipe=true, 205) or restores (327) the write permission of a broker name on
// every name server; it returns the number of topics touched per name server.
func (a *Admin) WritePerm(ctx context.Context, brokerName string, wipe bool) (map[string]int, error) {
	code, field := remoting.AddWritePermOfBroker, "addTopicCount"
	if wipe {
		code, field = remoting.WipeWritePermOfBroker, "wipeTopicCount"
	}
	out := map[string]int{}
	for _, ns := range a.cl.NameServers() {
		req := remoting.NewRequest(code, map[string]string{"brokerName": brokerName}, nil)
		resp, err := a.cl.Invoke(ctx, ns, req)
		if err != nil {
			return out, err
		}
		if err := core.Check(resp, ns, req.Code); err != nil {
			return out, err
		}
		n, _ := strconv.Atoi(resp.ExtFields[field])
		out[ns] = n
	}
	return out, nil
}

// ViewMessage reads the message behind an offset message id (33 to the store host in the id).
func (a *Admin) ViewMessage(ctx context.Context, offsetMsgID string) (*message.Message, error) {
	host, off, err := message.ParseOffsetMsgID(offsetMsgID)
	if err != nil {
		return nil, fmt.Errorf("admin: %w: %v", ErrInvalidArgument, err)
	}
	addr := host.String()
	req := remoting.NewRequest(remoting.ViewMessageByID, map[string]string{"offset": strconv.FormatInt(off, 10)}, nil)
	resp, err := a.cl.Invoke(ctx, addr, req)
	if err != nil {
		return nil, err
	}
	if err := core.Check(resp, addr, req.Code); err != nil {
		return nil, err
	}
	m, err := message.Decode(resp.Body, true)
	if err != nil {
		return nil, fmt.Errorf("admin: message %s from %s: %w", offsetMsgID, addr, err)
	}
	return m, nil
}

// QueryByKey asks every master hosting topic for messages with a key (or a unique key) stored
// within [begin, end] ms (12), and keeps those whose key really matches (the index hashes).
func (a *Admin) QueryByKey(ctx context.Context, topic, key string, unique bool, maxNum int, begin, end int64) ([]*message.Message, error) {
	route, err := a.TopicRoute(ctx, topic)
	if err != nil {
		return nil, err
	}
	var out []*message.Message
	for _, bd := range route.BrokerDatas {
		addr := bd.MasterAddr()
		if addr == "" {
			continue
		}
		ext := map[string]string{"topic": topic, "key": key, "maxNum": strconv.Itoa(maxNum),
			"beginTimestamp": strconv.FormatInt(begin, 10), "endTimestamp": strconv.FormatInt(end, 10)}
		if unique {
			ext["_UNIQUE_KEY_QUERY"] = "true"
		}
		req := remoting.NewRequest(remoting.QueryMessage, ext, nil)
		resp, err := a.cl.Invoke(ctx, addr, req)
		if err != nil {
			return out, err
		}
		if resp.Code == remoting.QueryNotFound {
			continue
		}
		if err := core.Check(resp, addr, req.Code); err != nil {
			return out, err
		}
		msgs, err := message.DecodeAll(resp.Body)
		if err != nil {
			return out, fmt.Errorf("admin: query %s on %s: %w", key, addr, err)
		}
		for _, m := range msgs {
			match := m.UniqKey() == key
			if !unique {
				for _, k := range m.Keys() {
					match = match || k == key
				}
			}
			if match && m.Topic == topic {
				out = append(out, m)
			}
		}
	}
	return out, nil
}

// UpdateBrokerConfig changes configuration keys of a running broker (25); the body is key=value
// lines. Skiff accepts only keys that may change at runtime and does not rewrite the file.
func (a *Admin) UpdateBrokerConfig(ctx context.Context, brokerAddr string, kv map[string]string) error {
	keys := make([]string, 0, len(kv))
	for k := range kv {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var body []byte
	for _, k := range keys {
		body = append(body, k+"="+kv[k]+"\n"...)
	}
	req := remoting.NewRequest(remoting.UpdateBrokerConfig, nil, body)
	resp, err := a.cl.Invoke(ctx, brokerAddr, req)
	if err != nil {
		return err
	}
	return core.Check(resp, brokerAddr, req.Code)
}
