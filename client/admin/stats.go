package admin

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/skiffmq/skiff/client"
	"github.com/skiffmq/skiff/client/internal/core"
	"sort"
	"strconv"

	"github.com/skiffmq/skiff/internal/remoting"
)

// MessageQueue identifies one queue of a topic on a broker set.
type MessageQueue = client.MessageQueue

// QueueOffsets is one queue's row of GET_TOPIC_STATS_INFO.
type QueueOffsets struct {
	MessageQueue
	MinOffset, MaxOffset, LastUpdateTimestamp int64
}

// QueueProgress is one queue's row of GET_CONSUME_STATS.
type QueueProgress struct {
	MessageQueue
	BrokerOffset, ConsumerOffset, LastTimestamp int64
}

// TopicStatus returns min/max offsets of every queue of topic on every master hosting it (202).
func (a *Admin) TopicStatus(ctx context.Context, topic string) ([]QueueOffsets, error) {
	route, err := a.TopicRoute(ctx, topic)
	if err != nil {
		return nil, err
	}
	var out []QueueOffsets
	for _, bd := range route.BrokerDatas {
		addr := bd.MasterAddr()
		if addr == "" {
			continue
		}
		req := remoting.NewRequest(remoting.GetTopicStatsInfo, map[string]string{"topic": topic}, nil)
		resp, err := a.cl.Invoke(ctx, addr, req)
		if err != nil {
			return nil, err
		}
		if err := core.Check(resp, addr, req.Code); err != nil {
			return nil, err
		}
		qs, err := decodeTopicStats(resp.Body)
		if err != nil {
			return nil, fmt.Errorf("admin: topic stats of %s from %s: %w", topic, addr, err)
		}
		out = append(out, qs...)
	}
	sortQueues(out, func(q QueueOffsets) MessageQueue { return q.MessageQueue })
	return out, nil
}

// ConsumerProgress returns broker and consumer offsets per queue of a group on the given brokers (208).
func (a *Admin) ConsumerProgress(ctx context.Context, brokers []string, group, topic string) ([]QueueProgress, error) {
	var out []QueueProgress
	for _, addr := range brokers {
		ext := map[string]string{"consumerGroup": group}
		if topic != "" {
			ext["topic"] = topic
		}
		req := remoting.NewRequest(remoting.GetConsumeStats, ext, nil)
		resp, err := a.cl.Invoke(ctx, addr, req)
		if err != nil {
			return nil, err
		}
		if err := core.Check(resp, addr, req.Code); err != nil {
			return nil, err
		}
		qs, err := decodeConsumeStats(resp.Body)
		if err != nil {
			return nil, fmt.Errorf("admin: consume stats of %s from %s: %w", group, addr, err)
		}
		out = append(out, qs...)
	}
	sortQueues(out, func(q QueueProgress) MessageQueue { return q.MessageQueue })
	return out, nil
}

// ResetOffsetByTime moves a group's offsets of topic to the messages stored at ts (ms; -1 = the
// end) on every master hosting the topic (222); with force, offsets also move forward... and
// backward. It returns the new offsets.
func (a *Admin) ResetOffsetByTime(ctx context.Context, group, topic string, ts int64, force bool) (map[MessageQueue]int64, error) {
	route, err := a.TopicRoute(ctx, topic)
	if err != nil {
		return nil, err
	}
	out := map[MessageQueue]int64{}
	for _, bd := range route.BrokerDatas {
		addr := bd.MasterAddr()
		if addr == "" {
			continue
		}
		req := remoting.NewRequest(remoting.InvokeBrokerToResetOffset, map[string]string{"topic": topic, "group": group,
			"timestamp": strconv.FormatInt(ts, 10), "isForce": strconv.FormatBool(force)}, nil)
		resp, err := a.cl.Invoke(ctx, addr, req)
		if err != nil {
			return nil, err
		}
		if err := core.Check(resp, addr, req.Code); err != nil {
			return nil, err
		}
		pairs, err := core.ObjectKeyMap(resp.Body, "offsetTable")
		if err != nil {
			return nil, err
		}
		for _, kv := range pairs {
			var mq MessageQueue
			var off int64
			if json.Unmarshal(kv[0], &mq) != nil {
				return nil, ErrBadResponse
			}
			off, _ = strconv.ParseInt(string(kv[1]), 10, 64)
			out[mq] = off
		}
	}
	return out, nil
}

func sortQueues[T any](s []T, mq func(T) MessageQueue) {
	sort.Slice(s, func(i, j int) bool {
		a, b := mq(s[i]), mq(s[j])
		if a.Topic != b.Topic {
			return a.Topic < b.Topic
		}
		if a.BrokerName != b.BrokerName {
			return a.BrokerName < b.BrokerName
		}
		return a.QueueID < b.QueueID
	})
}

// decodeTopicStats decodes a GET_TOPIC_STATS_INFO body (TopicStatsTable: offsetTable keyed by
// message queue objects).
func decodeTopicStats(body []byte) ([]QueueOffsets, error) {
	pairs, err := core.ObjectKeyMap(body, "offsetTable")
	if err != nil {
		return nil, err
	}
	out := make([]QueueOffsets, 0, len(pairs))
	for _, kv := range pairs {
		var q QueueOffsets
		var v struct{ MinOffset, MaxOffset, LastUpdateTimestamp int64 }
		if json.Unmarshal(kv[0], &q.MessageQueue) != nil || json.Unmarshal(kv[1], &v) != nil {
			return nil, ErrBadResponse
		}
		q.MinOffset, q.MaxOffset, q.LastUpdateTimestamp = v.MinOffset, v.MaxOffset, v.LastUpdateTimestamp
		out = append(out, q)
	}
	return out, nil
}

// decodeConsumeStats decodes a GET_CONSUME_STATS body (ConsumeStats: offsetTable keyed by message
// queue objects).
func decodeConsumeStats(body []byte) ([]QueueProgress, error) {
	pairs, err := core.ObjectKeyMap(body, "offsetTable")
	if err != nil {
		return nil, err
	}
	out := make([]QueueProgress, 0, len(pairs))
	for _, kv := range pairs {
		var q QueueProgress
		var v struct{ BrokerOffset, ConsumerOffset, LastTimestamp int64 }
		if json.Unmarshal(kv[0], &q.MessageQueue) != nil || json.Unmarshal(kv[1], &v) != nil {
			return nil, ErrBadResponse
		}
		q.BrokerOffset, q.ConsumerOffset, q.LastTimestamp = v.BrokerOffset, v.ConsumerOffset, v.LastTimestamp
		out = append(out, q)
	}
	return out, nil
}
