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

// adminCodes need an admin account: RocketMQ 4.9's set (topic and group updates and deletes,
// broker config updates) plus what changes a cluster in Skiff: offset resets, broker permission
// changes, KV and name-server config updates, topic deletion on name servers and the ACL config
// codes.
var adminCodes = map[int32]bool{
	remoting.UpdateAndCreateTopic:             true,
	remoting.UpdateAndCreateTopicList:         true,
	remoting.UpdateBrokerConfig:               true,
	remoting.DeleteTopicInBroker:              true,
	remoting.UpdateAndCreateSubscriptionGroup: true,
	remoting.DeleteSubscriptionGroup:          true,
	remoting.InvokeBrokerToResetOffset:        true,
	remoting.ResetConsumerOffsetInBroker:      true,
	remoting.ResetConsumerOffsetInConsumer:    true,
	remoting.WipeWritePermOfBroker:            true,
	remoting.AddWritePermOfBroker:             true,
	remoting.DeleteTopicInNamesrv:             true,
	remoting.RegisterTopicInNamesrv:           true,
	remoting.PutKVConfig:                      true,
	remoting.DeleteKVConfig:                   true,
	remoting.UpdateNamesrvConfig:              true,
	remoting.UpdateAndCreateACLConfig:         true,
	remoting.DeleteACLConfig:                  true,
	remoting.UpdateGlobalWhiteAddrsConfig:     true,
	remoting.TriggerDeleteFiles:               true,
	remoting.CleanExpiredConsumeQueue:         true,
	remoting.CleanUnusedTopic:                 true,
	remoting.DeleteExpiredCommitLog:           true,
	remoting.CloneGroupOffset:                 true,
	remoting.SuspendConsumer:                  true,
	remoting.ResumeConsumer:                   true,
	remoting.RegisterBroker:                   true, // brokers sign with admin inner credentials when no clusterSecret is set
	remoting.UnregisterBroker:                 true,
}

// AdminOnly reports whether code needs an admin account.
func AdminOnly(code int32) bool { return adminCodes[code] }

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
