package consumer

import (
	"crypto/tls"
	"log/slog"
	"time"

	"github.com/skiffmq/skiff/client"
)

// MessageModel says how a group shares messages.
type MessageModel int

// Message models.
const (
	// Clustering: each message goes to one consumer of the group; queues are split among them.
	Clustering MessageModel = iota
	// Broadcasting: every consumer of the group gets every message; offsets are kept locally.
	Broadcasting
)

func (m MessageModel) String() string {
	if m == Broadcasting {
		return "BROADCASTING"
	}
	return "CLUSTERING"
}

// ConsumeFrom says where a group with no committed offset on a queue starts.
type ConsumeFrom int

// Starting points for new groups.
const (
	ConsumeFromLastOffset  ConsumeFrom = iota // only messages that arrive from now on
	ConsumeFromFirstOffset                    // everything still stored
	ConsumeFromTimestamp                      // messages stored since WithConsumeTimestamp
)

func (c ConsumeFrom) String() string {
	switch c {
	case ConsumeFromFirstOffset:
		return "CONSUME_FROM_FIRST_OFFSET"
	case ConsumeFromTimestamp:
		return "CONSUME_FROM_TIMESTAMP"
	}
	return "CONSUME_FROM_LAST_OFFSET"
}

// Option configures NewPushConsumer and NewPullConsumer.
type Option func(*options)

type options struct {
	nameServers       []string
	logger            *slog.Logger
	model             MessageModel
	from              ConsumeFrom
	fromTime          time.Time
	batchSize         int
	goroutines        int
	pullBatchSize     int
	maxCached         int
	maxReconsume      int32
	orderly           bool
	instanceName      string
	offsetDir         string
	commitInterval    time.Duration
	rebalanceInterval time.Duration
	pullTimeout       time.Duration // long-poll suspend at the broker
	callTimeout       time.Duration
	routeInterval     time.Duration
	heartbeatInterval time.Duration
	credentials       client.Credentials
	tls               *tls.Config
	jsonHeaders       bool
	allocate          AllocateStrategy
	suspendOrderly    time.Duration
	retryDelay        time.Duration
}

func defaults() options {
	return options{
		batchSize: 1, goroutines: 20, pullBatchSize: 32, maxCached: 1000, maxReconsume: -1,
		commitInterval: 5 * time.Second, rebalanceInterval: 20 * time.Second, pullTimeout: 15 * time.Second,
		callTimeout: 3 * time.Second, allocate: AllocateAveragely, suspendOrderly: time.Second,
		retryDelay: 3 * time.Second,
	}
}

// WithNameServers sets the name servers ("ip:port"; an entry may join several with ';').
// Default: the NAMESRV_ADDR environment variable.
func WithNameServers(addrs ...string) Option {
	return func(o *options) { o.nameServers = append(o.nameServers, addrs...) }
}

// WithLogger sets the logger (default: silent).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithModel sets clustering (default) or broadcasting.
func WithModel(m MessageModel) Option { return func(o *options) { o.model = m } }

// WithConsumeFrom sets where a group starts on a queue it has no offset for (default: last).
func WithConsumeFrom(f ConsumeFrom) Option { return func(o *options) { o.from = f } }

// WithConsumeTimestamp starts new groups at messages stored since t (ConsumeFromTimestamp).
func WithConsumeTimestamp(t time.Time) Option {
	return func(o *options) { o.from, o.fromTime = ConsumeFromTimestamp, t }
}

// WithBatchSize sets how many messages one handler call gets at most (default 1).
func WithBatchSize(n int) Option { return func(o *options) { o.batchSize = n } }

// WithGoroutines sets how many handler calls run at once (default 20; orderly consumers run one
// per queue regardless).
func WithGoroutines(n int) Option { return func(o *options) { o.goroutines = n } }

// WithPullBatchSize sets how many messages one pull asks for (default 32).
func WithPullBatchSize(n int) Option { return func(o *options) { o.pullBatchSize = n } }

// WithMaxCachedMessages sets how many pulled, unconsumed messages a queue may hold before its
// pulls pause (default 1000).
func WithMaxCachedMessages(n int) Option { return func(o *options) { o.maxCached = n } }

// WithMaxReconsumeTimes sets how often a message is redelivered after RetryLater before it goes
// to %DLQ%<group> (default: the broker's group setting, 16).
func WithMaxReconsumeTimes(n int) Option { return func(o *options) { o.maxReconsume = int32(n) } }

// WithOrderly consumes each queue with one goroutine at a time, in queue order, holding the
// broker's lock on the queue in clustering mode.
func WithOrderly(on bool) Option { return func(o *options) { o.orderly = on } }

// WithInstanceName sets the part of the client id after '@' (default pid#n). Broadcasting
// consumers keep their offsets under this name.
func WithInstanceName(name string) Option { return func(o *options) { o.instanceName = name } }

// WithOffsetDir sets where broadcasting consumers keep their offsets
// (default ~/.skiff_offsets).
func WithOffsetDir(dir string) Option { return func(o *options) { o.offsetDir = dir } }

// WithCommitInterval sets how often consumed offsets are committed (default 5 s; always on
// shutdown and when a queue is given up).
func WithCommitInterval(d time.Duration) Option { return func(o *options) { o.commitInterval = d } }

// WithRebalanceInterval sets how often queues are reassigned besides when members or routes
// change (default 20 s).
func WithRebalanceInterval(d time.Duration) Option {
	return func(o *options) { o.rebalanceInterval = d }
}

// WithPullTimeout sets how long a pull waits at the broker for new messages (default 15 s).
func WithPullTimeout(d time.Duration) Option { return func(o *options) { o.pullTimeout = d } }

// WithCallTimeout bounds other requests (offsets, locks, heartbeats; default 3 s).
func WithCallTimeout(d time.Duration) Option { return func(o *options) { o.callTimeout = d } }

// WithRouteInterval sets how often routes are refreshed (default 30 s).
func WithRouteInterval(d time.Duration) Option { return func(o *options) { o.routeInterval = d } }

// WithHeartbeatInterval sets how often the consumer heartbeats every broker (default 30 s).
func WithHeartbeatInterval(d time.Duration) Option {
	return func(o *options) { o.heartbeatInterval = d }
}

// WithAllocateStrategy sets how queues are split among the group's consumers (default
// AllocateAveragely).
func WithAllocateStrategy(s AllocateStrategy) Option { return func(o *options) { o.allocate = s } }

// WithSuspendTime sets how long an orderly consumer waits before redelivering a batch its handler
// asked to retry (default 1 s).
func WithSuspendTime(d time.Duration) Option { return func(o *options) { o.suspendOrderly = d } }

// WithCredentials signs every request with the ACL credentials of an account in the brokers'
// plain_acl.yml (needed when the brokers run with aclEnable = true). Push and pull consumers
// need SUB on their topics and on their group.
func WithCredentials(c client.Credentials) Option { return func(o *options) { o.credentials = c } }

// WithTLS connects to name servers and brokers over TLS with cfg (their tlsServerMode must be
// permissive or enforcing). ServerName defaults to the host of each address.
func WithTLS(cfg *tls.Config) Option { return func(o *options) { o.tls = cfg } }

// WithJSONHeaders sends request headers as JSON, the form the official Go client uses, instead
// of RocketMQ's binary header (the default; every RocketMQ 4.x broker and name server accepts it,
// and it costs both sides less per request).
func WithJSONHeaders() Option { return func(o *options) { o.jsonHeaders = true } }
