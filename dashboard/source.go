package dashboard

import (
	"context"

	"github.com/skiffmq/skiff/client/admin"
	"github.com/skiffmq/skiff/internal/message"
)

// Source is everything the dashboard reads from and does to the cluster. *admin.Admin implements
// it over the remoting protocol; tests pass a fake. Every call is a request to a name server or a
// broker, answered there from a snapshot or under the broker's own short locks: the dashboard
// holds no lock of a broker and never runs on a gnet event loop.
type Source interface {
	NameServers() []string
	NameServerBrokers(ctx context.Context, addr string) (int, error)
	ClusterInfo(ctx context.Context) (*admin.ClusterInfo, error)
	TopicList(ctx context.Context) ([]string, error)
	TopicRoute(ctx context.Context, topic string) (*admin.TopicRoute, error)
	TopicConfigs(ctx context.Context, brokerAddr string) (map[string]admin.BrokerTopicConfig, error)
	TopicStatus(ctx context.Context, topic string) ([]admin.QueueOffsets, error)
	EarliestStoreTime(ctx context.Context, brokerAddr, topic string, queueID int32) (int64, error)
	SearchOffset(ctx context.Context, brokerAddr, topic string, queueID int32, ts int64) (int64, error)
	CreateTopic(ctx context.Context, brokerAddr string, tc admin.TopicConfig) error
	DeleteTopic(ctx context.Context, cluster, topic string) error
	SendMessage(ctx context.Context, topic string, body []byte, tags, keys, brokerName string, queueID int32) (*admin.SendResult, error)
	SendStored(ctx context.Context, brokerAddr, topic string, queueID int32, m *message.Message) (*admin.SendResult, error)
	BrokerRuntimeInfo(ctx context.Context, brokerAddr string) (map[string]string, error)
	BrokerConfig(ctx context.Context, brokerAddr string) (string, error)
	SubGroups(ctx context.Context, brokerAddr string) (map[string]admin.SubscriptionGroupConfig, error)
	ConsumerProgress(ctx context.Context, brokers []string, group, topic string) ([]admin.QueueProgress, error)
	ConsumerConnection(ctx context.Context, brokerAddr, group string) (*admin.ConsumerConnection, error)
	ResetOffsetByTime(ctx context.Context, group, topic string, ts int64, force bool) (map[admin.MessageQueue]int64, error)
	AllProducers(ctx context.Context, brokerAddr string) (map[string][]admin.ProducerInfo, error)
	ViewMessage(ctx context.Context, offsetMsgID string) (*message.Message, error)
	QueryByKey(ctx context.Context, topic, key string, unique bool, maxNum int, begin, end int64) ([]*message.Message, error)
	PullMessages(ctx context.Context, topic, brokerName string, queueID int32, offset int64, count int) ([]admin.MessageView, error)
}

var _ Source = (*admin.Admin)(nil)
