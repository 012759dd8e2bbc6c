package admin

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"time"

	"github.com/skiffmq/skiff/client"
	"github.com/skiffmq/skiff/client/internal/core"
	"github.com/skiffmq/skiff/internal/protocol"
	"github.com/skiffmq/skiff/internal/remoting"
)

// DefaultTimeout is the per-call timeout used when the context has no deadline.
const DefaultTimeout = 5 * time.Second

// Permission bits of a topic (perm).
const (
	PermPriority = 8
	PermRead     = 4
	PermWrite    = 2
	PermInherit  = 1
)

// Option configures New.
type Option func(*options)

type options struct {
	nameServers []string
	logger      *slog.Logger
	timeout     time.Duration
	credentials client.Credentials
	tls         *tls.Config
	jsonHeaders bool
}

// WithNameServers sets the name server addresses ("ip:port"); an entry may hold several
// addresses separated by ';'. Without it New reads NAMESRV_ADDR.
func WithNameServers(addrs []string) Option {
	return func(o *options) { o.nameServers = append(o.nameServers, addrs...) }
}

// WithLogger sets the logger (default: discard).
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// WithTimeout sets the timeout of calls whose context has no deadline (default 5 s).
func WithTimeout(d time.Duration) Option { return func(o *options) { o.timeout = d } }

// WithCredentials signs every request with the ACL credentials of an admin account (needed when
// the cluster runs with aclEnable = true: topic, group, config and offset changes are admin-only).
func WithCredentials(c client.Credentials) Option { return func(o *options) { o.credentials = c } }

// WithTLS connects over TLS with cfg (the servers' tlsServerMode must be permissive or enforcing).
func WithTLS(cfg *tls.Config) Option { return func(o *options) { o.tls = cfg } }

// WithJSONHeaders sends request headers as JSON, the form the official Go client uses, instead
// of RocketMQ's binary header (the default; every RocketMQ 4.x broker and name server accepts it,
// and it costs both sides less per request).
func WithJSONHeaders() Option { return func(o *options) { o.jsonHeaders = true } }

// Admin is an administration client. It is safe for concurrent use.
//
// It is a thin layer over the SDK's shared client (client/internal/core): connections, name-server
// failover in round-robin order, and the mapping of transport and broker errors to package
// client's sentinels are core's; Admin adds only the administration requests.
type Admin struct {
	cl *core.Client
}

// New returns a client for the configured name servers; it dials nothing yet.
func New(opts ...Option) (*Admin, error) {
	o := options{timeout: DefaultTimeout}
	for _, f := range opts {
		f(&o)
	}
	if o.timeout <= 0 {
		o.timeout = DefaultTimeout
	}
	cl, err := core.New(core.Config{Name: "admin", NameServers: o.nameServers, Logger: o.logger, Timeout: o.timeout,
		Credentials: o.credentials, TLS: o.tls, JSONHeaders: o.jsonHeaders})
	if err != nil {
		return nil, err
	}
	return &Admin{cl: cl}, nil
}

// NameServers returns the configured name server addresses.
func (a *Admin) NameServers() []string { return a.cl.NameServers() }

// Close closes every connection. Later calls return ErrClosed.
func (a *Admin) Close() error {
	a.cl.Shutdown()
	return nil
}

// BrokerData is one broker name with its addresses by broker id (0 = master).
type BrokerData = core.BrokerData

// ClusterInfo is the body of GET_BROKER_CLUSTER_INFO (the protocol's type, with ClusterNames and
// MasterAddrs).
type ClusterInfo = protocol.ClusterInfo

// QueueData is a topic's queues on one broker name.
type QueueData = core.QueueData

// TopicRoute is the body of GET_ROUTEINFO_BY_TOPIC.
type TopicRoute = core.TopicRoute

// TopicConfig is a topic's configuration as UPDATE_AND_CREATE_TOPIC sends it (RocketMQ TopicConfig;
// the one type of package protocol). mqadmin's defaults: 8 read and 8 write queues, perm 6,
// SINGLE_TAG (DefaultTopicConfig).
type TopicConfig = protocol.TopicConfig

// DefaultTopicConfig returns mqadmin's defaults for topic: 8 read and 8 write queues, perm 6,
// SINGLE_TAG.
func DefaultTopicConfig(topic string) TopicConfig {
	return TopicConfig{TopicName: topic, ReadQueueNums: 8, WriteQueueNums: 8, Perm: PermRead | PermWrite,
		TopicFilterType: "SINGLE_TAG"}
}

// ClusterInfo asks a name server for the clusters and their brokers (106).
func (a *Admin) ClusterInfo(ctx context.Context) (*ClusterInfo, error) {
	resp, addr, err := a.cl.InvokeNamesrv(ctx, func() *remoting.Command {
		return remoting.NewRequest(remoting.GetBrokerClusterInfo, nil, nil)
	})
	if err != nil {
		return nil, err
	}
	if err := core.Check(resp, addr, remoting.GetBrokerClusterInfo); err != nil {
		return nil, err
	}
	ci := &ClusterInfo{}
	if err := Unmarshal(resp.Body, ci); err != nil {
		return nil, fmt.Errorf("%w: cluster info from %s: %w", ErrBadResponse, addr, err)
	}
	return ci, nil
}

// TopicList returns every topic a name server knows (206), sorted.
func (a *Admin) TopicList(ctx context.Context) ([]string, error) {
	resp, addr, err := a.cl.InvokeNamesrv(ctx, func() *remoting.Command {
		return remoting.NewRequest(remoting.GetAllTopicListFromNameServer, nil, nil)
	})
	if err != nil {
		return nil, err
	}
	if err := core.Check(resp, addr, remoting.GetAllTopicListFromNameServer); err != nil {
		return nil, err
	}
	var body struct {
		TopicList []string `json:"topicList"`
	}
	if len(resp.Body) > 0 {
		if err := Unmarshal(resp.Body, &body); err != nil {
			return nil, fmt.Errorf("%w: topic list from %s: %w", ErrBadResponse, addr, err)
		}
	}
	sort.Strings(body.TopicList)
	return body.TopicList, nil
}

// TopicRoute returns the route of topic (105); ErrTopicNotExist when no name server has one.
func (a *Admin) TopicRoute(ctx context.Context, topic string) (*TopicRoute, error) {
	r, _, err := a.TopicRouteRaw(ctx, topic)
	return r, err
}

// TopicRouteRaw is TopicRoute that also returns the body as the name server sent it.
func (a *Admin) TopicRouteRaw(ctx context.Context, topic string) (*TopicRoute, []byte, error) {
	if topic == "" {
		return nil, nil, fmt.Errorf("%w: empty topic", ErrInvalidArgument)
	}
	return a.cl.FetchRouteRaw(ctx, topic)
}

// CreateTopic creates or updates a topic on the broker at brokerAddr (17). Zero queue numbers and
// perm take the defaults of DefaultTopicConfig.
func (a *Admin) CreateTopic(ctx context.Context, brokerAddr string, tc TopicConfig) error {
	if tc.TopicName == "" {
		return fmt.Errorf("%w: empty topic", ErrInvalidArgument)
	}
	def := DefaultTopicConfig(tc.TopicName)
	if tc.ReadQueueNums == 0 {
		tc.ReadQueueNums = def.ReadQueueNums
	}
	if tc.WriteQueueNums == 0 {
		tc.WriteQueueNums = def.WriteQueueNums
	}
	if tc.Perm == 0 {
		tc.Perm = def.Perm
	}
	if tc.TopicFilterType == "" {
		tc.TopicFilterType = def.TopicFilterType
	}
	req := remoting.NewRequest(remoting.UpdateAndCreateTopic, map[string]string{
		"topic":           tc.TopicName,
		"defaultTopic":    "TBW102",
		"readQueueNums":   strconv.Itoa(int(tc.ReadQueueNums)),
		"writeQueueNums":  strconv.Itoa(int(tc.WriteQueueNums)),
		"perm":            strconv.Itoa(int(tc.Perm)),
		"topicFilterType": tc.TopicFilterType,
		"topicSysFlag":    strconv.Itoa(int(tc.TopicSysFlag)),
		"order":           strconv.FormatBool(tc.Order),
	}, nil)
	resp, err := a.cl.Invoke(ctx, brokerAddr, req)
	if err != nil {
		return fmt.Errorf("admin: create topic %q: %w", tc.TopicName, err)
	}
	return core.Check(resp, brokerAddr, remoting.UpdateAndCreateTopic)
}

// MasterAddrs returns the master address of every broker of cluster.
func (a *Admin) MasterAddrs(ctx context.Context, cluster string) ([]string, error) {
	ci, err := a.ClusterInfo(ctx)
	if err != nil {
		return nil, err
	}
	addrs, err := ci.MasterAddrs(cluster)
	if err != nil {
		return nil, err
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("%w: %q has no master", ErrClusterNotExist, cluster)
	}
	return addrs, nil
}

// CreateTopicInCluster creates or updates the topic on every master of cluster and returns their
// addresses. It stops at the first failure.
func (a *Admin) CreateTopicInCluster(ctx context.Context, cluster string, tc TopicConfig) ([]string, error) {
	addrs, err := a.MasterAddrs(ctx, cluster)
	if err != nil {
		return nil, err
	}
	for _, addr := range addrs {
		if err := a.CreateTopic(ctx, addr, tc); err != nil {
			return nil, err
		}
	}
	return addrs, nil
}

// DeleteTopic deletes topic from every master of cluster (215), then from every name server (216,
// with clusterName). Every target is tried; the errors are joined.
func (a *Admin) DeleteTopic(ctx context.Context, cluster, topic string) error {
	if topic == "" {
		return fmt.Errorf("%w: empty topic", ErrInvalidArgument)
	}
	addrs, err := a.MasterAddrs(ctx, cluster)
	if err != nil {
		return err
	}
	var errs []error
	for _, addr := range addrs {
		req := remoting.NewRequest(remoting.DeleteTopicInBroker, map[string]string{"topic": topic}, nil)
		resp, err := a.cl.Invoke(ctx, addr, req)
		if err == nil {
			err = core.Check(resp, addr, remoting.DeleteTopicInBroker)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("admin: delete topic %q on broker %s: %w", topic, addr, err))
		}
	}
	for _, ns := range a.cl.NameServers() {
		req := remoting.NewRequest(remoting.DeleteTopicInNamesrv, map[string]string{"topic": topic, "clusterName": cluster}, nil)
		resp, err := a.cl.Invoke(ctx, ns, req)
		if err == nil {
			err = core.Check(resp, ns, remoting.DeleteTopicInNamesrv)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("admin: delete topic %q on name server %s: %w", topic, ns, err))
		}
	}
	return errors.Join(errs...)
}

// BrokerRuntimeInfo returns the runtime KV table of the broker at brokerAddr (28).
func (a *Admin) BrokerRuntimeInfo(ctx context.Context, brokerAddr string) (map[string]string, error) {
	resp, err := a.cl.Invoke(ctx, brokerAddr, remoting.NewRequest(remoting.GetBrokerRuntimeInfo, nil, nil))
	if err != nil {
		return nil, err
	}
	if err := core.Check(resp, brokerAddr, remoting.GetBrokerRuntimeInfo); err != nil {
		return nil, err
	}
	var body struct {
		Table map[string]string `json:"table"`
	}
	if err := Unmarshal(resp.Body, &body); err != nil {
		return nil, fmt.Errorf("%w: runtime info from %s: %w", ErrBadResponse, brokerAddr, err)
	}
	if body.Table == nil {
		body.Table = map[string]string{}
	}
	return body.Table, nil
}
