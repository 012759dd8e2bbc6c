package admin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/skiffmq/skiff/client/internal/core"
	"github.com/skiffmq/skiff/internal/remoting"
	"github.com/skiffmq/skiff/internal/remoting/rpc"
)

const codeTopicNotExist = remoting.TopicNotExist

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

// Admin is an administration client. It is safe for concurrent use.
type Admin struct {
	nameServers []string
	timeout     time.Duration
	log         *slog.Logger
	rpc         *rpc.Client

	mu   sync.Mutex
	next int // name server to try first (round robin)
}

// New returns a client for the configured name servers; it dials nothing yet.
func New(opts ...Option) (*Admin, error) {
	o := options{timeout: DefaultTimeout}
	for _, f := range opts {
		f(&o)
	}
	if len(o.nameServers) == 0 {
		if env := os.Getenv("NAMESRV_ADDR"); env != "" {
			o.nameServers = []string{env}
		}
	}
	addrs, err := ParseAddrs(strings.Join(o.nameServers, ";"))
	if err != nil {
		return nil, err
	}
	if o.logger == nil {
		o.logger = slog.New(slog.DiscardHandler)
	}
	if o.timeout <= 0 {
		o.timeout = DefaultTimeout
	}
	log := o.logger.With("component", "admin")
	return &Admin{
		nameServers: addrs,
		timeout:     o.timeout,
		log:         log,
		rpc:         rpc.New(rpc.Config{Logger: log, DialTimeout: o.timeout, DefaultTimeout: o.timeout}),
	}, nil
}

// ParseAddrs splits "ip:port;ip:port" into addresses, checking each has a host and a port.
func ParseAddrs(s string) ([]string, error) {
	var out []string
	for _, a := range strings.Split(s, ";") {
		a = strings.TrimSpace(a)
		if a == "" {
			continue
		}
		host, port, err := net.SplitHostPort(a)
		if err != nil || host == "" {
			return nil, fmt.Errorf("%w: %q is not ip:port", ErrNoNameServer, a)
		}
		if p, err := strconv.Atoi(port); err != nil || p <= 0 || p > 65535 {
			return nil, fmt.Errorf("%w: %q has a bad port", ErrNoNameServer, a)
		}
		out = append(out, a)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: use WithNameServers or set NAMESRV_ADDR", ErrNoNameServer)
	}
	return out, nil
}

// NameServers returns the configured name server addresses.
func (a *Admin) NameServers() []string { return slices.Clone(a.nameServers) }

// Close closes every connection. Later calls return ErrClosed.
func (a *Admin) Close() error { return a.rpc.Close() }

// invoke sends req to addr and returns the response, translating transport errors.
func (a *Admin) invoke(ctx context.Context, addr string, req *remoting.Command) (*remoting.Command, error) {
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, a.timeout)
		defer cancel()
	}
	resp, err := a.rpc.Invoke(ctx, addr, req)
	if err != nil {
		return nil, wrapTransport(err, addr, req.Code)
	}
	return resp, nil
}

// wrapTransport maps an rpc error to this package's sentinels, keeping the detail.
func wrapTransport(err error, addr string, code int32) error {
	var s error
	switch {
	case errors.Is(err, rpc.ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		s = ErrTimeout
	case errors.Is(err, rpc.ErrConnect):
		s = ErrConnect
	case errors.Is(err, rpc.ErrConnClosed):
		s = ErrConnClosed
	case errors.Is(err, rpc.ErrClosed):
		s = ErrClosed
	default:
		return fmt.Errorf("admin: request %d to %s: %w", code, addr, err)
	}
	return fmt.Errorf("admin: request %d to %s: %w (%w)", code, addr, s, err)
}

// transportErr reports whether err is worth trying another name server for.
func transportErr(err error) bool {
	return errors.Is(err, ErrTimeout) || errors.Is(err, ErrConnect) || errors.Is(err, ErrConnClosed)
}

// invokeNamesrv sends a fresh request built by mk to the name servers in turn until one answers.
func (a *Admin) invokeNamesrv(ctx context.Context, mk func() *remoting.Command) (*remoting.Command, string, error) {
	a.mu.Lock()
	start := a.next
	a.next = (a.next + 1) % len(a.nameServers)
	a.mu.Unlock()
	var errs []error
	for i := range a.nameServers {
		addr := a.nameServers[(start+i)%len(a.nameServers)]
		resp, err := a.invoke(ctx, addr, mk())
		if err == nil {
			return resp, addr, nil
		}
		errs = append(errs, err)
		if !transportErr(err) || ctx.Err() != nil {
			break
		}
		a.log.Debug("name server failed, trying the next", "addr", addr, "err", err)
	}
	return nil, "", errors.Join(errs...)
}

// check turns a non-success response into a *BrokerError.
func check(resp *remoting.Command, addr string, reqCode int32) error {
	if resp.Code == remoting.Success {
		return nil
	}
	return &BrokerError{Addr: addr, RequestCode: reqCode, Code: resp.Code, Remark: resp.Remark}
}

// BrokerData is one broker name with its addresses by broker id (0 = master).
type BrokerData = core.BrokerData

// ClusterInfo is the body of GET_BROKER_CLUSTER_INFO.
type ClusterInfo struct {
	BrokerAddrTable  map[string]BrokerData `json:"brokerAddrTable"`
	ClusterAddrTable map[string][]string   `json:"clusterAddrTable"`
}

// ClusterNames returns the cluster names, sorted.
func (ci *ClusterInfo) ClusterNames() []string {
	names := make([]string, 0, len(ci.ClusterAddrTable))
	for c := range ci.ClusterAddrTable {
		names = append(names, c)
	}
	sort.Strings(names)
	return names
}

// MasterAddrs returns the master address of every broker name of cluster, sorted by broker name;
// ErrClusterNotExist when the cluster is unknown.
func (ci *ClusterInfo) MasterAddrs(cluster string) ([]string, error) {
	names, ok := ci.ClusterAddrTable[cluster]
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrClusterNotExist, cluster)
	}
	names = slices.Clone(names)
	sort.Strings(names)
	var out []string
	for _, n := range names {
		if addr := ci.BrokerAddrTable[n].MasterAddr(); addr != "" {
			out = append(out, addr)
		}
	}
	return out, nil
}

// QueueData is a topic's queues on one broker name.
type QueueData = core.QueueData

// TopicRoute is the body of GET_ROUTEINFO_BY_TOPIC.
type TopicRoute = core.TopicRoute

// TopicConfig is what CreateTopic sends (UPDATE_AND_CREATE_TOPIC header).
type TopicConfig struct {
	TopicName       string
	ReadQueueNums   int32  // default 8
	WriteQueueNums  int32  // default 8
	Perm            int32  // default 6 (read and write)
	TopicFilterType string // SINGLE_TAG (default) or MULTI_TAG
	TopicSysFlag    int32
	Order           bool
}

// DefaultTopicConfig returns mqadmin's defaults for topic: 8 read and 8 write queues, perm 6,
// SINGLE_TAG.
func DefaultTopicConfig(topic string) TopicConfig {
	return TopicConfig{TopicName: topic, ReadQueueNums: 8, WriteQueueNums: 8, Perm: PermRead | PermWrite,
		TopicFilterType: "SINGLE_TAG"}
}

// ClusterInfo asks a name server for the clusters and their brokers (106).
func (a *Admin) ClusterInfo(ctx context.Context) (*ClusterInfo, error) {
	resp, addr, err := a.invokeNamesrv(ctx, func() *remoting.Command {
		return remoting.NewRequest(remoting.GetBrokerClusterInfo, nil, nil)
	})
	if err != nil {
		return nil, err
	}
	if err := check(resp, addr, remoting.GetBrokerClusterInfo); err != nil {
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
	resp, addr, err := a.invokeNamesrv(ctx, func() *remoting.Command {
		return remoting.NewRequest(remoting.GetAllTopicListFromNameServer, nil, nil)
	})
	if err != nil {
		return nil, err
	}
	if err := check(resp, addr, remoting.GetAllTopicListFromNameServer); err != nil {
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
	resp, addr, err := a.invokeNamesrv(ctx, func() *remoting.Command {
		return remoting.NewRequest(remoting.GetRouteInfoByTopic, map[string]string{"topic": topic}, nil)
	})
	if err != nil {
		return nil, nil, err
	}
	if resp.Code == remoting.TopicNotExist {
		return nil, nil, fmt.Errorf("admin: topic %q: %w (name server %s: %s)", topic, ErrTopicNotExist, addr, resp.Remark)
	}
	if err := check(resp, addr, remoting.GetRouteInfoByTopic); err != nil {
		return nil, nil, err
	}
	r := &TopicRoute{}
	if err := Unmarshal(resp.Body, r); err != nil {
		return nil, nil, fmt.Errorf("%w: route of %q from %s: %w", ErrBadResponse, topic, addr, err)
	}
	return r, resp.Body, nil
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
	resp, err := a.invoke(ctx, brokerAddr, req)
	if err != nil {
		return fmt.Errorf("admin: create topic %q: %w", tc.TopicName, err)
	}
	return check(resp, brokerAddr, remoting.UpdateAndCreateTopic)
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
		resp, err := a.invoke(ctx, addr, req)
		if err == nil {
			err = check(resp, addr, remoting.DeleteTopicInBroker)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("admin: delete topic %q on broker %s: %w", topic, addr, err))
		}
	}
	for _, ns := range a.nameServers {
		req := remoting.NewRequest(remoting.DeleteTopicInNamesrv, map[string]string{"topic": topic, "clusterName": cluster}, nil)
		resp, err := a.invoke(ctx, ns, req)
		if err == nil {
			err = check(resp, ns, remoting.DeleteTopicInNamesrv)
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("admin: delete topic %q on name server %s: %w", topic, ns, err))
		}
	}
	return errors.Join(errs...)
}

// BrokerRuntimeInfo returns the runtime KV table of the broker at brokerAddr (28).
func (a *Admin) BrokerRuntimeInfo(ctx context.Context, brokerAddr string) (map[string]string, error) {
	resp, err := a.invoke(ctx, brokerAddr, remoting.NewRequest(remoting.GetBrokerRuntimeInfo, nil, nil))
	if err != nil {
		return nil, err
	}
	if err := check(resp, brokerAddr, remoting.GetBrokerRuntimeInfo); err != nil {
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
