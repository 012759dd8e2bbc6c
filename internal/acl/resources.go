package acl

import (
	"encoding/json"
	"fmt"

	"github.com/skiffmq/skiff/internal/remoting"
)

// Need is one resource a request touches and the permission it needs. Group resources are
// "%RETRY%"+group.
type Need struct {
	Resource string
	Perm     Perm
}

// IsGroup reports whether the resource is a consumer group.
func (n Need) IsGroup() bool {
	return len(n.Resource) > len(RetryGroupPrefix) && n.Resource[:len(RetryGroupPrefix)] == RetryGroupPrefix
}

// Describe names the resource for logs and remarks: "topic:T" or "group:G".
func (n Need) Describe() string {
	if n.IsGroup() {
		return "group:" + n.Resource[len(RetryGroupPrefix):]
	}
	return "topic:" + n.Resource
}

// AdminOnly reports whether code needs an admin account: RocketMQ 4.9's set (topic and group
// updates and deletes, broker config updates) plus what changes a cluster in Skiff: offset resets,
// broker permission changes, KV and name-server config updates, topic deletion on name servers,
// the ACL config codes, and broker registration (brokers sign with admin inner credentials when
// no clusterSecret is set). A switch, not a map: it is asked on every checked request.
func AdminOnly(code int32) bool {
	switch code {
	case remoting.UpdateAndCreateTopic, remoting.UpdateAndCreateTopicList, remoting.UpdateBrokerConfig, remoting.DeleteTopicInBroker, // topics, broker config
		remoting.UpdateAndCreateSubscriptionGroup, remoting.DeleteSubscriptionGroup, // groups
		remoting.InvokeBrokerToResetOffset, remoting.ResetConsumerOffsetInBroker, remoting.ResetConsumerOffsetInConsumer, // offset resets
		remoting.WipeWritePermOfBroker, remoting.AddWritePermOfBroker, // broker permission
		remoting.DeleteTopicInNamesrv, remoting.RegisterTopicInNamesrv, remoting.PutKVConfig, remoting.DeleteKVConfig, remoting.UpdateNamesrvConfig, // name server: topics, KV, config
		remoting.UpdateAndCreateACLConfig, remoting.DeleteACLConfig, remoting.UpdateGlobalWhiteAddrsConfig, // ACL config
		remoting.TriggerDeleteFiles, remoting.CleanExpiredConsumeQueue, remoting.CleanUnusedTopic, remoting.DeleteExpiredCommitLog, remoting.CloneGroupOffset, remoting.SuspendConsumer, remoting.ResumeConsumer, // maintenance
		remoting.RegisterBroker, remoting.UnregisterBroker: // registration (inner credentials without clusterSecret)
		return true
	}
	return false
}

type heartbeatBody struct {
	ConsumerDataSet []struct {
		GroupName           string `json:"groupName"`
		SubscriptionDataSet []struct {
			Topic string `json:"topic"`
		} `json:"subscriptionDataSet"`
	} `json:"consumerDataSet"`
}

type lockBody struct {
	ConsumerGroup string `json:"consumerGroup"`
	MqSet         []struct {
		Topic string `json:"topic"`
	} `json:"mqSet"`
}

// Resources lists what a request with code, extFields (read with get) and body touches. An error
// means the request cannot be judged (a body that does not parse) and is refused.
func Resources(code int32, get func(string) (string, bool), body []byte, out []Need) ([]Need, error) {
	add := func(field string, p Perm, prefix string) {
		if v, ok := get(field); ok && v != "" {
			out = append(out, Need{prefix + v, p})
		}
	}
	switch code {
	case remoting.SendMessage, remoting.SendReplyMessage:
		add("topic", Pub, "")
	case remoting.SendMessageV2, remoting.SendBatchMessage, remoting.SendReplyMessageV2:
		add("b", Pub, "")
	case remoting.ConsumerSendMsgBack:
		add("originTopic", Pub, "")
		add("group", Sub, RetryGroupPrefix)
	case remoting.PullMessage:
		add("topic", Sub, "")
		add("consumerGroup", Sub, RetryGroupPrefix)
	case remoting.QueryMessage, remoting.GetMaxOffset, remoting.GetMinOffset,
		remoting.SearchOffsetByTimestamp, remoting.GetEarliestMsgStoretime:
		add("topic", Sub, "")
	case remoting.UpdateConsumerOffset, remoting.QueryConsumerOffset:
		add("consumerGroup", Sub, RetryGroupPrefix)
		add("topic", Sub, "")
	case remoting.UnregisterClient, remoting.GetConsumerListByGroup:
		add("consumerGroup", Sub, RetryGroupPrefix)
	case remoting.HeartBeat:
		if len(body) == 0 {
			break
		}
		var hb heartbeatBody
		if err := json.Unmarshal(body, &hb); err != nil {
			return out, fmt.Errorf("heartbeat body: %w", err)
		}
		for _, cd := range hb.ConsumerDataSet {
			out = append(out, Need{RetryGroupPrefix + cd.GroupName, Sub})
			for _, sd := range cd.SubscriptionDataSet {
				out = append(out, Need{sd.Topic, Sub})
			}
		}
	case remoting.LockBatchMQ, remoting.UnlockBatchMQ:
		var lb lockBody
		if err := json.Unmarshal(body, &lb); err != nil {
			return out, fmt.Errorf("lock body: %w", err)
		}
		out = append(out, Need{RetryGroupPrefix + lb.ConsumerGroup, Sub})
		for _, mq := range lb.MqSet {
			out = append(out, Need{mq.Topic, Sub})
		}
	}
	return out, nil
}
