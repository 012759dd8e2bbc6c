package processor

import (
	"time"

	"github.com/skiffmq/skiff/broker/metadata"
	"github.com/skiffmq/skiff/commitlog"
	"github.com/skiffmq/skiff/internal/message"
	"github.com/skiffmq/skiff/internal/remoting"
	"github.com/skiffmq/skiff/internal/remoting/server"
)

// Store is what the processors need of the commit log (*commitlog.Store implements it).
type Store interface {
	PutMessage(m *message.Message) commitlog.PutResult
	PutMessages(msgs []*message.Message) commitlog.PutResult
	GetMessage(topic string, queueID int32, offset int64, maxMsgNums int, match func(tagsCode int64) bool) commitlog.GetResult
	MaxOffsetInQueue(topic string, queueID int32) int64
}

// SendMeter records the sends stored in one topic (the broker's per-topic counters and its
// send-latency histogram): n messages of bytes body bytes, received at start.
type SendMeter interface {
	RecordSend(n, bytes int, start time.Time)
}

// SendMeterFunc is a SendMeter that is a function.
type SendMeterFunc func(n, bytes int, start time.Time)

// RecordSend calls f.
func (f SendMeterFunc) RecordSend(n, bytes int, start time.Time) { f(n, bytes, start) }

// Topics is the topic table (*metadata.Topics implements it).
type Topics interface {
	Get(name string) (metadata.TopicConfig, bool)
	PutIfAbsent(tc metadata.TopicConfig) (metadata.TopicConfig, bool, error)
}

// Groups is the subscription-group table (*metadata.Groups implements it).
type Groups interface {
	GetOrCreate(name string, autoCreate bool) (metadata.SubscriptionGroupConfig, bool, error)
}

// Offsets stores consumer offsets (*metadata.Offsets implements it).
type Offsets interface {
	Commit(group, topic string, queueID int32, offset int64)
}

// ReplicaStatus is the replication outcome of a store write (§5.4).
type ReplicaStatus int

// Replication outcomes.
const (
	ReplicaOK                ReplicaStatus = iota
	ReplicaSlaveNotAvailable               // SYNC_MASTER without a healthy slave
	ReplicaTimeout                         // SYNC_MASTER: no slave ack within slaveTimeout
	ReplicaNotEnough                       // controller mode: fewer in-sync replicas than minInSyncReplicas
)

// Replicator is the HA master side of a write: Replicate wakes the HA writers for a stored
// message and, when wait is set on a SYNC_MASTER, waits until a slave acknowledged res.EndOffset.
// A nil Replicator means no replication (a slave broker).
type Replicator interface {
	Replicate(res commitlog.PutResult, wait bool) ReplicaStatus
}

// DeferringReplicator is a Replicator that can answer a write after the slave's ack without
// blocking the writer (the broker's HA master implements it).
type DeferringReplicator interface {
	Replicator
	// ReplicateThen is Replicate for a caller that answers later: when the write must wait for
	// an ack it registers the wait and returns deferred=true, and done runs exactly once, later,
	// with the final status (on the HA master's answering goroutine; it must not block).
	// Otherwise it returns the status with deferred=false and never calls done.
	ReplicateThen(res commitlog.PutResult, wait bool, done func(ReplicaStatus)) (st ReplicaStatus, deferred bool)
	// Defers reports whether writes may wait for acks now (SYNC_MASTER, controller mode), so
	// that the send processor takes its deferred path.
	Defers() bool
}

// Filter is a consumer's subscription as the pull path uses it.
type Filter interface {
	MatchAll() bool                // "*" (or class filter / SQL92): everything matches
	MatchCode(tagsCode int64) bool // the consume-queue tag hash is in the subscription
	MatchTags(tags string) bool    // the message's TAGS are in the subscription
}

// Subscriptions are the subscriptions consumers registered with HEART_BEAT.
type Subscriptions interface {
	// Subscription returns group's registered subscription of topic, its subVersion and the
	// group's message model (CLUSTERING / BROADCASTING); ok is false when there is none.
	Subscription(group, topic string) (f Filter, subVersion int64, model string, ok bool)
	// Parse builds the filter of a subscription expression a pull carries (sysFlag bit 2).
	Parse(topic, expr, exprType string) Filter
}

// Holder parks a pull that found nothing (long polling); it re-runs it with Pull.Process(...,
// false) when a message arrives or the timeout passes. Suspend reports false when it did not
// park the pull (the broker is shutting down): the pull is then answered at once.
type Holder interface {
	Suspend(c *server.Conn, req *remoting.Command, topic string, queueID int32, offset int64, f Filter, timeoutMs int64) bool
}

// Config is the part of the broker configuration the processors read; the broker hands a fresh
// snapshot per request (its configuration is replaced as a whole by UPDATE_BROKER_CONFIG).
type Config struct {
	IsMaster                      bool
	BrokerPermission              int32
	BrokerAddr                    string
	BrokerClusterName             string
	BrokerName                    string
	RegionID                      string
	TraceOn                       bool
	RejectTransactionMessage      bool
	AutoCreateSubscriptionGroup   bool
	MaxMessageSize                int
	SlaveReadEnable               bool
	LongPollingEnable             bool
	ShortPollingTimeMills         int64
	AccessMessageInMemoryMaxRatio int
	DelayLevels                   int           // number of delay levels (SCHEDULE_TOPIC_XXXX queues)
	TotalMemory                   int64         // physical memory, for accessMessageInMemoryMaxRatio
	TransactionTimeOut            time.Duration // a half message older than this is checked back
	TransactionCheckMax           int           // checks before a transaction is discarded
	DefaultQueryMaxNum            int           // QUERY_MESSAGE's limit for a unique-key query
}
