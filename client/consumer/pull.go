package consumer

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/skiffmq/skiff/client"
	"github.com/skiffmq/skiff/client/internal/core"
	"github.com/skiffmq/skiff/internal/message"
	"github.com/skiffmq/skiff/internal/protocol"
	"github.com/skiffmq/skiff/internal/remoting"
)

// Pull request sysFlag bits.
const (
	pullCommitOffset = 0x1
	pullSuspend      = 0x2
	pullSubscription = 0x4
)

// filter is a parsed tag expression ("*", "TagA", "TagA || TagB").
type filter struct {
	expr string
	all  bool
	tags []string
}

func parseFilter(expr string) (filter, error) {
	expr = strings.TrimSpace(expr)
	if expr == "" || expr == "*" {
		return filter{expr: "*", all: true}, nil
	}
	f := filter{expr: expr}
	for _, t := range strings.Split(expr, "||") {
		t = strings.TrimSpace(t)
		if t == "" {
			return filter{}, fmt.Errorf("%w: tag expression %q has an empty tag", client.ErrInvalidArgument, expr)
		}
		if t == "*" {
			return filter{expr: "*", all: true}, nil
		}
		f.tags = append(f.tags, t)
	}
	return f, nil
}

func (f filter) match(tags string) bool {
	if f.all {
		return true
	}
	for _, t := range f.tags {
		if t == tags {
			return true
		}
	}
	return false
}

func (f filter) subscriptionData(topic string, version int64) core.SubscriptionData {
	sd := core.SubscriptionData{Topic: topic, SubString: f.expr, TagsSet: []string{}, CodeSet: []int64{},
		SubVersion: version, ExpressionType: "TAG"}
	for _, t := range f.tags {
		sd.TagsSet = append(sd.TagsSet, t)
		sd.CodeSet = append(sd.CodeSet, message.TagsCode(t))
	}
	return sd
}

// pullArgs is one PULL_MESSAGE request.
type pullArgs struct {
	group        string
	mq           client.MessageQueue
	filter       filter
	subVersion   int64
	offset       int64
	max          int
	commitOffset int64 // -1: none
	suspend      time.Duration
	brokerID     int64 // suggested by the last pull; 0 = master
}

// pull sends one PULL_MESSAGE and decodes the answer; messages not matching the filter are
// dropped (the broker filters by tag hash, so rare collisions reach the client).
func pull(ctx context.Context, c *core.Client, a pullArgs) (*client.PullResult, error) {
	addr, slave := c.FindBrokerAddr(a.mq.BrokerName, a.brokerID)
	if addr == "" || (slave && a.brokerID == 0) {
		// No address, or no master known (its registration is gone: it died or was deposed and
		// the new one may be registered by now): the route, now (at most every refreshGap).
		if addr == "" {
			_, _ = c.UpdateRoute(ctx, a.mq.Topic)
		} else {
			c.RefreshRoute(ctx, a.mq.Topic)
		}
		addr, slave = c.FindBrokerAddr(a.mq.BrokerName, a.brokerID)
	}
	if addr == "" {
		return nil, fmt.Errorf("%s: pull %s: %w: no broker of set %q is registered", c.Name(), a.mq, client.ErrConnect, a.mq.BrokerName)
	}
	sysFlag := pullSubscription
	if a.commitOffset >= 0 && !slave {
		sysFlag |= pullCommitOffset
	}
	if a.suspend > 0 {
		sysFlag |= pullSuspend
	}
	ph := protocol.PullMessageRequestHeader{ConsumerGroup: a.group, Topic: a.mq.Topic, QueueID: a.mq.QueueID,
		QueueOffset: a.offset, MaxMsgNums: int32(a.max), SysFlag: int32(sysFlag), CommitOffset: max(a.commitOffset, 0),
		SuspendTimeoutMillis: a.suspend.Milliseconds(), Subscription: a.filter.expr, SubVersion: a.subVersion, ExpressionType: "TAG"}
	req := remoting.NewRequestList(remoting.PullMessage, nil).SetRawExt(ph.Append(make([]protocol.ExtField, 0, 11)))
	if _, ok := ctx.Deadline(); !ok || a.suspend > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, a.suspend+c.Timeout()+5*time.Second)
		defer cancel()
	}
	resp, err := c.InvokeRaw(ctx, addr, req)
	if err != nil {
		return nil, refreshAfter(ctx, c, a.mq, addr, err)
	}
	res := &client.PullResult{}
	switch resp.Code {
	case remoting.Success:
		res.Status = client.PullFound
	case remoting.PullNotFound:
		res.Status = client.PullNoNewMsg
	case remoting.PullRetryImmediately:
		res.Status = client.PullNoMatchedMsg
	case remoting.PullOffsetMoved:
		res.Status = client.PullOffsetIllegal
	default:
		err := fmt.Errorf("%s: pull %s at offset %d: %w", c.Name(), a.mq, a.offset, core.Check(resp, addr, req.Code))
		if resp.Code == remoting.ServiceNotAvailable {
			err = refreshAfter(ctx, c, a.mq, addr, err)
		}
		return nil, err
	}
	var perr error
	num := func(k string) int64 {
		v, err := strconv.ParseInt(resp.ExtValue(k), 10, 64)
		if err != nil && perr == nil {
			perr = fmt.Errorf("%s: pull %s from %s: %w: %s=%q", c.Name(), a.mq, addr, client.ErrBadResponse, k, resp.ExtValue(k))
		}
		return v
	}
	res.NextBeginOffset, res.MinOffset, res.MaxOffset = num("nextBeginOffset"), num("minOffset"), num("maxOffset")
	res.SuggestWhichBrokerID = num("suggestWhichBrokerId")
	if perr != nil {
		return nil, perr
	}
	if res.Status != client.PullFound {
		return res, nil
	}
	msgs, err := client.DecodeMessages(resp.Body, a.mq.BrokerName)
	if err != nil {
		return nil, fmt.Errorf("%s: pull %s from %s: %w", c.Name(), a.mq, addr, err)
	}
	if !a.filter.all {
		kept := msgs[:0]
		for _, m := range msgs {
			if a.filter.match(m.Tags) {
				kept = append(kept, m)
			}
		}
		msgs = kept
	}
	if len(msgs) > 0 {
		res.Messages = msgs
	}
	if len(res.Messages) == 0 {
		res.Status = client.PullNoMatchedMsg
	}
	return res, nil
}

// errRouteMoved marks a failed pull after which the route names another broker for the queue:
// worth retrying at once rather than after the retry delay.
var errRouteMoved = errors.New("the route now names another broker")

// refreshAfter is what a pull does when addr dropped it (a transport error) or refused it as not
// available: it asks for the route at once (as the producer does) instead of waiting for the
// periodic refresh, so a consumer follows a failover within a few seconds. The returned error
// wraps errRouteMoved when the route moved the queue to another address.
func refreshAfter(ctx context.Context, c *core.Client, mq client.MessageQueue, addr string, err error) error {
	if !core.IsTransport(err) && !isNotAvailable(err) {
		return err
	}
	if c.RefreshRoute(ctx, mq.Topic) {
		if now, _ := c.FindBrokerAddr(mq.BrokerName, 0); now != "" && now != addr {
			return fmt.Errorf("%w (%w: %s)", err, errRouteMoved, now)
		}
	}
	return err
}

func isNotAvailable(err error) bool {
	var be *client.BrokerError
	return errors.As(err, &be) && be.Code == remoting.ServiceNotAvailable
}

// PullConsumer reads queues at offsets the caller chooses. It is safe for concurrent use.
type PullConsumer struct {
	o       options
	group   string
	core    *core.Client
	offsets OffsetStore
	started bool
}

// NewPullConsumer returns a pull consumer of group; call Start before pulling.
func NewPullConsumer(group string, opts ...Option) (*PullConsumer, error) {
	o := defaults()
	for _, f := range opts {
		f(&o)
	}
	if group == "" {
		return nil, fmt.Errorf("consumer: %w: empty group", client.ErrInvalidArgument)
	}
	c, err := core.New(core.Config{Name: "consumer", NameServers: o.nameServers, Logger: o.logger, Timeout: o.callTimeout,
		InstanceName: o.instanceName, RouteInterval: o.routeInterval, HeartbeatInterval: o.heartbeatInterval,
		Credentials: o.credentials, TLS: o.tls, JSONHeaders: o.jsonHeaders})
	if err != nil {
		return nil, err
	}
	pc := &PullConsumer{o: o, group: group, core: c}
	if o.model == Broadcasting {
		pc.offsets = NewLocalOffsetStore(localOffsetPath(o, group, c.ClientID())).WithLogger(o.logger)
	} else {
		pc.offsets = newRemoteOffsetStore(group, c)
	}
	return pc, nil
}

func localOffsetPath(o options, group, clientID string) string {
	dir := o.offsetDir
	if dir == "" {
		home, err := osUserHome()
		if err != nil {
			home = "."
		}
		dir = filepath.Join(home, ".skiff_offsets")
	}
	name := o.instanceName
	if name == "" {
		name = strings.ReplaceAll(clientID, "#", "_")
	}
	return filepath.Join(dir, sanitize(name), sanitize(group), "offsets.json")
}

func sanitize(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == ':' || r == 0 {
			return '_'
		}
		return r
	}, s)
}

// Start starts route refresh and heartbeats.
func (pc *PullConsumer) Start() error {
	pc.core.SetHeartbeat(func() *core.HeartbeatData {
		return &core.HeartbeatData{ConsumerDataSet: []core.ConsumerData{{GroupName: pc.group,
			ConsumeType: "CONSUME_ACTIVELY", MessageModel: pc.o.model.String(), ConsumeFromWhere: pc.o.from.String(),
			SubscriptionDataSet: []core.SubscriptionData{}}}}
	})
	pc.core.OnRouteChange(func(string, *core.TopicRoute) { pc.core.KickHeartbeat() })
	pc.core.Start()
	pc.started = true
	return nil
}

// Shutdown unregisters the group from the brokers and closes the connections. Offsets are
// committed only by CommitOffset.
func (pc *PullConsumer) Shutdown(ctx context.Context) error {
	if pc.core.Closed() {
		return nil
	}
	pc.core.Unregister(ctx, "", pc.group)
	pc.core.Shutdown()
	return nil
}

func (pc *PullConsumer) check() error {
	if pc.core.Closed() {
		return fmt.Errorf("consumer: %w", client.ErrClosed)
	}
	if !pc.started {
		return fmt.Errorf("consumer: %w: call Start first", client.ErrNotStarted)
	}
	return nil
}

// Queues returns the readable queues of topic.
func (pc *PullConsumer) Queues(ctx context.Context, topic string) ([]client.MessageQueue, error) {
	if err := pc.check(); err != nil {
		return nil, err
	}
	r, err := pc.core.UpdateRoute(ctx, topic)
	if err != nil {
		return nil, err
	}
	return r.SubscribeQueues(topic), nil
}

// Pull reads up to max messages of mq from offset that match the tag expression (without
// waiting for new ones). Use NextBeginOffset of the result for the next pull.
func (pc *PullConsumer) Pull(ctx context.Context, mq client.MessageQueue, expr string, offset int64, max int) (*client.PullResult, error) {
	return pc.PullWait(ctx, mq, expr, offset, max, 0)
}

// PullWait is Pull that waits up to wait at the broker when there is no new message (long
// polling).
func (pc *PullConsumer) PullWait(ctx context.Context, mq client.MessageQueue, expr string, offset int64, max int, wait time.Duration) (*client.PullResult, error) {
	if err := pc.check(); err != nil {
		return nil, err
	}
	if offset < 0 || max <= 0 || max > 1024 {
		return nil, fmt.Errorf("consumer: %w: pull %s at offset %d for %d messages (offset >= 0, 1..1024 messages)", client.ErrInvalidArgument, mq, offset, max)
	}
	f, err := parseFilter(expr)
	if err != nil {
		return nil, fmt.Errorf("consumer: %w", err)
	}
	if _, err := pc.core.Route(ctx, mq.Topic); err != nil {
		return nil, err
	}
	return pull(ctx, pc.core, pullArgs{group: pc.group, mq: mq, filter: f, offset: offset, max: max, commitOffset: -1, suspend: wait})
}

// queueOffset asks mq's master for one of its offsets (GET_MIN/MAX_OFFSET, SEARCH_OFFSET...).
func (pc *PullConsumer) queueOffset(ctx context.Context, code int32, mq client.MessageQueue, ext map[string]string) (int64, error) {
	if err := pc.check(); err != nil {
		return -1, err
	}
	return queueOffset(ctx, pc.core, code, mq, ext)
}

func queueOffset(ctx context.Context, c *core.Client, code int32, mq client.MessageQueue, ext map[string]string) (int64, error) {
	if _, err := c.Route(ctx, mq.Topic); err != nil {
		return -1, err
	}
	addr, _ := c.FindBrokerAddr(mq.BrokerName, 0)
	if addr == "" {
		return -1, fmt.Errorf("%s: %w: no broker of set %q is registered", c.Name(), client.ErrConnect, mq.BrokerName)
	}
	if ext == nil {
		ext = map[string]string{}
	}
	ext["topic"], ext["queueId"] = mq.Topic, strconv.Itoa(int(mq.QueueID))
	resp, err := c.Invoke(ctx, addr, remoting.NewRequest(code, ext, nil))
	if err != nil {
		return -1, err
	}
	if err := core.Check(resp, addr, code); err != nil {
		return -1, fmt.Errorf("%s: %s: %w", c.Name(), mq, err)
	}
	v, err := strconv.ParseInt(resp.ExtFields["offset"], 10, 64)
	if err != nil {
		return -1, fmt.Errorf("%s: %s from %s: %w: offset %q", c.Name(), mq, addr, client.ErrBadResponse, resp.ExtFields["offset"])
	}
	return v, nil
}

// MinOffset returns the smallest offset still stored in mq.
func (pc *PullConsumer) MinOffset(ctx context.Context, mq client.MessageQueue) (int64, error) {
	return pc.queueOffset(ctx, remoting.GetMinOffset, mq, nil)
}

// MaxOffset returns the offset the next message of mq will get.
func (pc *PullConsumer) MaxOffset(ctx context.Context, mq client.MessageQueue) (int64, error) {
	return pc.queueOffset(ctx, remoting.GetMaxOffset, mq, nil)
}

// SearchOffset returns the offset of the first message of mq stored at or after t.
func (pc *PullConsumer) SearchOffset(ctx context.Context, mq client.MessageQueue, t time.Time) (int64, error) {
	return pc.queueOffset(ctx, remoting.SearchOffsetByTimestamp, mq, map[string]string{"timestamp": strconv.FormatInt(t.UnixMilli(), 10)})
}

// CommittedOffset returns the group's committed offset of mq, from the broker (clustering) or
// the local file (broadcasting). -1 means none; like RocketMQ's, a broker answers 0 instead for
// a group without an offset on a queue whose first message is still at offset 0 and in memory.
func (pc *PullConsumer) CommittedOffset(ctx context.Context, mq client.MessageQueue) (int64, error) {
	if err := pc.check(); err != nil {
		return -1, err
	}
	if _, err := pc.core.Route(ctx, mq.Topic); err != nil {
		return -1, err
	}
	return pc.offsets.Read(ctx, mq, true)
}

// CommitOffset stores offset (the next message to consume) as the group's offset of mq.
func (pc *PullConsumer) CommitOffset(ctx context.Context, mq client.MessageQueue, offset int64) error {
	if err := pc.check(); err != nil {
		return err
	}
	if offset < 0 {
		return fmt.Errorf("consumer: %w: offset %d of %s is negative", client.ErrInvalidArgument, offset, mq)
	}
	if _, err := pc.core.Route(ctx, mq.Topic); err != nil {
		return err
	}
	pc.offsets.Update(mq, offset, false)
	return pc.offsets.Persist(ctx, []client.MessageQueue{mq})
}

// OffsetStore returns the consumer's offset store.
func (pc *PullConsumer) OffsetStore() OffsetStore { return pc.offsets }
