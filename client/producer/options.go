package producer

import (
	"crypto/tls"
	"log/slog"
	"time"

	"github.com/skiffmq/skiff/client"
)

// Option configures New and NewTransactionProducer.
type Option func(*options)

type options struct {
	nameServers       []string
	group             string
	logger            *slog.Logger
	sendTimeout       time.Duration
	retries           int
	selector          QueueSelector
	compressOver      int
	compressLevel     int
	maxMessageSize    int
	instanceName      string
	faultTolerance    bool
	defaultQueueNums  int
	createTopicKey    string
	routeInterval     time.Duration
	heartbeatInterval time.Duration
	credentials       client.Credentials
	tls               *tls.Config
	jsonHeaders       bool
}

func defaults() options {
	return options{
		group: "DEFAULT_PRODUCER", sendTimeout: 3 * time.Second, retries: 2,
		compressOver: 4096, compressLevel: 5, maxMessageSize: 4 << 20, faultTolerance: true,
		defaultQueueNums: 4, createTopicKey: "TBW102",
	}
}

// WithNameServers sets the name servers ("ip:port"; an entry may join several with ';').
// Default: the NAMESRV_ADDR environment variable.
func WithNameServers(addrs ...string) Option {
	return func(o *options) { o.nameServers = append(o.nameServers, addrs...) }
}

// WithGroup sets the producer group (default DEFAULT_PRODUCER). Transaction check-backs go to a
// producer of the group that sent the half message.
func WithGroup(group string) Option { return func(o *options) { o.group = group } }

// WithLogger sets the logger (default: silent).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithSendTimeout bounds each send attempt when the context has no deadline (default 3 s).
func WithSendTimeout(d time.Duration) Option { return func(o *options) { o.sendTimeout = d } }

// WithRetries sets how many times a failed send is retried, on another broker set when there is
// one (default 2, so three attempts). Sends that reached a broker and were stored are never
// retried.
func WithRetries(n int) Option { return func(o *options) { o.retries = n } }

// WithQueueSelector chooses the queue of every message (for ordered messages use
// HashQueueSelector with a sharding key on each message). Default: round robin that avoids
// broker sets which recently failed or were slow.
func WithQueueSelector(s QueueSelector) Option { return func(o *options) { o.selector = s } }

// WithCompression compresses (zlib) bodies of at least threshold bytes at level 1..9 (default
// 4096 bytes, level 5, as the official clients). A threshold <= 0 turns compression off.
func WithCompression(threshold, level int) Option {
	return func(o *options) { o.compressOver, o.compressLevel = threshold, level }
}

// WithMaxMessageSize refuses bodies larger than n bytes before sending (default 4 MiB).
func WithMaxMessageSize(n int) Option { return func(o *options) { o.maxMessageSize = n } }

// WithInstanceName sets the part of the client id after '@' (default pid#n).
func WithInstanceName(name string) Option { return func(o *options) { o.instanceName = name } }

// WithLatencyFaultTolerance turns on or off (default on) avoiding broker sets after a failed
// send (30 s) or a slow one (30 s from 550 ms up to 10 min from 15 s).
func WithLatencyFaultTolerance(on bool) Option { return func(o *options) { o.faultTolerance = on } }

// WithDefaultTopicQueueNums sets the queue count of a topic the broker creates automatically on
// the first send (default 4).
func WithDefaultTopicQueueNums(n int) Option { return func(o *options) { o.defaultQueueNums = n } }

// WithRouteInterval sets how often routes are refreshed (default 30 s).
func WithRouteInterval(d time.Duration) Option { return func(o *options) { o.routeInterval = d } }

// WithHeartbeatInterval sets how often the producer heartbeats every broker (default 30 s).
func WithHeartbeatInterval(d time.Duration) Option {
	return func(o *options) { o.heartbeatInterval = d }
}

// WithCredentials signs every request with the ACL credentials of an account in the brokers'
// plain_acl.yml (needed when the brokers run with aclEnable = true).
func WithCredentials(c client.Credentials) Option { return func(o *options) { o.credentials = c } }

// WithTLS connects to name servers and brokers over TLS with cfg (their tlsServerMode must be
// permissive or enforcing). ServerName defaults to the host of each address.
func WithTLS(cfg *tls.Config) Option { return func(o *options) { o.tls = cfg } }

// WithJSONHeaders sends request headers as JSON, the form the official Go client uses, instead
// of RocketMQ's binary header (the default; every RocketMQ 4.x broker and name server accepts it,
// and it costs both sides less per request).
func WithJSONHeaders() Option { return func(o *options) { o.jsonHeaders = true } }
