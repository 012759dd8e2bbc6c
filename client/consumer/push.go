// Package consumer receives messages: PushConsumer (the SDK pulls, with long polling, and calls
// your handler) and PullConsumer (you pull queues at offsets of your choosing).
//
//	c, err := consumer.NewPushConsumer("my-group", consumer.WithNameServers("127.0.0.1:9876"))
//	if err != nil { ... }
//	err = c.Subscribe("TopicTest", "TagA || TagB", func(ctx context.Context, msgs []*client.MessageExt) consumer.ConsumeResult {
//		for _, m := range msgs { fmt.Println(string(m.Body)) }
//		return consumer.ConsumeSuccess
//	})
//	if err := c.Start(); err != nil { ... }
//	defer c.Shutdown(context.Background())
//
// In clustering mode (the default) the queues of each subscribed topic are split among the
// group's consumers (AllocateAveragely), again whenever a consumer joins or leaves or a route
// changes. A handler that returns ConsumeRetryLater (or panics) has its messages sent back to
// the broker, which redelivers them through %RETRY%<group> after growing delays (10 s, 30 s, 1 m,
// ...) and moves them to %DLQ%<group> after the maximum reconsume times (16 by default).
// Offsets are committed every 5 s and on Shutdown. Delivery is at least once: after a crash or
// a rebalance, messages since the last committed offset are delivered again.
//
// With WithOrderly(true) each queue is consumed by one goroutine at a time, in queue order,
// while the consumer holds the broker's lock on the queue; a batch whose handler returns
// ConsumeRetryLater is redelivered locally after WithSuspendTime, and sent to the DLQ after the
// maximum reconsume times.
//
// In broadcasting mode every consumer of the group gets every message and keeps its offsets in
// a local file (WithOffsetDir); failed messages are not redelivered.
package consumer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/skiffmq/skiff/client"
	"github.com/skiffmq/skiff/client/internal/core"
	"github.com/skiffmq/skiff/internal/remoting"
)

// ConsumeResult is what a handler returns.
type ConsumeResult int

// Consume results.
const (
	// ConsumeSuccess: the messages are consumed; their offsets may be committed.
	ConsumeSuccess ConsumeResult = iota
	// ConsumeRetryLater: deliver the messages again later.
	ConsumeRetryLater
)

func (r ConsumeResult) String() string {
	if r == ConsumeRetryLater {
		return "RETRY_LATER"
	}
	return "SUCCESS"
}

// Handler consumes a batch of messages (at most WithBatchSize). ctx is cancelled when the
// consumer shuts down.
type Handler func(ctx context.Context, msgs []*client.MessageExt) ConsumeResult

type subscription struct {
	topic   string
	filter  filter
	version int64
	handler Handler
	retry   bool // the group's %RETRY% topic (clustering)
}

// PushConsumer delivers messages to handlers. It is safe for concurrent use.
type PushConsumer struct {
	o       options
	group   string
	core    *core.Client
	offsets OffsetStore

	mu     sync.Mutex
	subs   map[string]*subscription
	queues map[client.MessageQueue]*processQueue
	state  atomic.Int32

	ctx      context.Context // handlers' context; cancelled on shutdown
	cancel   context.CancelFunc
	tasks    chan task
	stopWork chan struct{}
	workers  sync.WaitGroup
	loops    sync.WaitGroup // pull loops
	kick     chan struct{}
	maxTimes int32
	// resets holds offsets set by RESET_CONSUMER_CLIENT_OFFSET until the queue restarts from them
	// (guarded by mu): the restarted queue starts there, not at what the broker answers, because a
	// commit or a pull's commit offset sent before the reset may reach the broker after it.
	resets map[client.MessageQueue]int64
}

const (
	stateNew int32 = iota
	stateStarted
	stateShutdown
)

// NewPushConsumer returns a push consumer of group. Subscribe, then Start.
func NewPushConsumer(group string, opts ...Option) (*PushConsumer, error) {
	o := defaults()
	for _, f := range opts {
		f(&o)
	}
	switch {
	case group == "":
		return nil, fmt.Errorf("consumer: %w: empty group", client.ErrInvalidArgument)
	case o.batchSize < 1 || o.batchSize > 1024:
		return nil, fmt.Errorf("consumer: %w: batch size %d is not 1..1024", client.ErrInvalidArgument, o.batchSize)
	case o.goroutines < 1 || o.goroutines > 1000:
		return nil, fmt.Errorf("consumer: %w: goroutines %d is not 1..1000", client.ErrInvalidArgument, o.goroutines)
	case o.pullBatchSize < 1 || o.pullBatchSize > 1024:
		return nil, fmt.Errorf("consumer: %w: pull batch size %d is not 1..1024", client.ErrInvalidArgument, o.pullBatchSize)
	case o.from == ConsumeFromTimestamp && o.fromTime.IsZero():
		return nil, fmt.Errorf("consumer: %w: ConsumeFromTimestamp needs WithConsumeTimestamp", client.ErrInvalidArgument)
	case o.maxReconsume < -1:
		return nil, fmt.Errorf("consumer: %w: max reconsume times %d is negative", client.ErrInvalidArgument, o.maxReconsume)
	}
	if err := client.ValidateTopic(core.RetryPrefix + group); err != nil {
		return nil, fmt.Errorf("consumer: group %q: %w", group, err)
	}
	c, err := core.New(core.Config{Name: "consumer", NameServers: o.nameServers, Logger: o.logger, Timeout: o.callTimeout,
		InstanceName: o.instanceName, RouteInterval: o.routeInterval, HeartbeatInterval: o.heartbeatInterval,
		Credentials: o.credentials, TLS: o.tls, JSONHeaders: o.jsonHeaders})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	pc := &PushConsumer{o: o, group: group, core: c, subs: map[string]*subscription{},
		queues: map[client.MessageQueue]*processQueue{}, resets: map[client.MessageQueue]int64{}, ctx: ctx, cancel: cancel,
		tasks: make(chan task, o.goroutines), stopWork: make(chan struct{}), kick: make(chan struct{}, 1),
		maxTimes: o.maxReconsume}
	if o.model == Broadcasting {
		pc.offsets = NewLocalOffsetStore(localOffsetPath(o, group, c.ClientID())).WithLogger(o.logger)
	} else {
		pc.offsets = newRemoteOffsetStore(group, c)
	}
	return pc, nil
}

// ClientID returns the id brokers know this consumer by.
func (pc *PushConsumer) ClientID() string { return pc.core.ClientID() }

// Group returns the consumer group.
func (pc *PushConsumer) Group() string { return pc.group }

// OffsetStore returns the consumer's offset store.
func (pc *PushConsumer) OffsetStore() OffsetStore { return pc.offsets }

// Subscribe registers handler for the messages of topic whose tag matches expr ("*", "TagA",
// "TagA || TagB"). Call it before Start, once per topic.
func (pc *PushConsumer) Subscribe(topic, expr string, handler Handler) error {
	if pc.state.Load() != stateNew {
		return fmt.Errorf("consumer: %w: Subscribe after Start", client.ErrInvalidArgument)
	}
	if err := client.ValidateTopic(topic); err != nil {
		return fmt.Errorf("consumer: %w", err)
	}
	if handler == nil {
		return fmt.Errorf("consumer: %w: nil handler for topic %q", client.ErrInvalidArgument, topic)
	}
	f, err := parseFilter(expr)
	if err != nil {
		return fmt.Errorf("consumer: topic %q: %w", topic, err)
	}
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if _, ok := pc.subs[topic]; ok {
		return fmt.Errorf("consumer: %w: topic %q is already subscribed", client.ErrInvalidArgument, topic)
	}
	pc.subs[topic] = &subscription{topic: topic, filter: f, version: time.Now().UnixNano(), handler: handler}
	return nil
}

func (pc *PushConsumer) retryTopic() string { return core.RetryPrefix + pc.group }

func (pc *PushConsumer) heartbeat() *core.HeartbeatData {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	cd := core.ConsumerData{GroupName: pc.group, ConsumeType: "CONSUME_PASSIVELY", MessageModel: pc.o.model.String(),
		ConsumeFromWhere: pc.o.from.String(), SubscriptionDataSet: []core.SubscriptionData{}}
	for _, t := range slices.Sorted(maps.Keys(pc.subs)) {
		s := pc.subs[t]
		cd.SubscriptionDataSet = append(cd.SubscriptionDataSet, s.filter.subscriptionData(t, s.version))
	}
	return &core.HeartbeatData{ConsumerDataSet: []core.ConsumerData{cd}}
}

// Start fetches routes, heartbeats the brokers, assigns queues and starts consuming. It fails
// when nothing was subscribed or no name server answers.
func (pc *PushConsumer) Start() error {
	pc.mu.Lock()
	n := len(pc.subs)
	pc.mu.Unlock()
	if n == 0 {
		return fmt.Errorf("consumer: %w: Subscribe before Start", client.ErrInvalidArgument)
	}
	if !pc.state.CompareAndSwap(stateNew, stateStarted) {
		return fmt.Errorf("consumer: %w: Start called twice or after Shutdown", client.ErrInvalidArgument)
	}
	if pc.o.model == Clustering {
		pc.mu.Lock()
		pc.subs[pc.retryTopic()] = &subscription{topic: pc.retryTopic(), filter: filter{expr: "*", all: true},
			version: time.Now().UnixNano(), retry: true}
		pc.mu.Unlock()
	}
	pc.core.SetHeartbeat(pc.heartbeat)
	pc.core.Handle(remoting.NotifyConsumerIdsChanged, func(string, *remoting.Command) *remoting.Command {
		pc.core.Logger().Debug("consumer ids changed", "group", pc.group)
		pc.kickRebalance()
		return nil
	})
	pc.core.Handle(remoting.ResetConsumerClientOffset, pc.handleResetOffset)
	pc.core.OnRouteChange(func(topic string, _ *core.TopicRoute) {
		pc.core.KickHeartbeat()
		pc.kickRebalance()
	})

	ctx, cancel := context.WithTimeout(context.Background(), 2*pc.o.callTimeout)
	defer cancel()
	var errs []error
	for _, t := range pc.topics() {
		if core.IsRetryTopic(t) {
			continue
		}
		if _, err := pc.core.UpdateRoute(ctx, t); err != nil {
			errs = append(errs, err)
			if !errors.Is(err, client.ErrTopicNotExist) {
				pc.state.Store(stateShutdown)
				pc.core.Shutdown()
				return fmt.Errorf("consumer: start group %q: %w", pc.group, err)
			}
			pc.core.Logger().Warn("subscribed topic has no route yet; will retry", "topic", t, "err", err)
		}
	}
	pc.core.SendHeartbeat(ctx) // creates the group's retry topic on the brokers
	if pc.o.model == Clustering {
		if _, err := pc.core.UpdateRoute(ctx, pc.retryTopic()); err != nil {
			pc.core.Logger().Debug("retry topic has no route yet", "topic", pc.retryTopic(), "err", err)
		}
	}
	pc.core.Start()
	for i := 0; i < pc.o.goroutines && !pc.o.orderly; i++ {
		pc.workers.Add(1)
		go pc.worker()
	}
	if !pc.rebalance(ctx) {
		pc.kickRebalance() // the loop retries with its short backoff
	}
	pc.core.Go("rebalance", pc.rebalanceLoop)
	pc.core.Go("commit", pc.commitLoop)
	if pc.o.orderly && pc.o.model == Clustering {
		pc.core.Go("lock", pc.lockLoop)
	}
	pc.core.Logger().Info("consumer started", "group", pc.group, "clientId", pc.core.ClientID(), "model", pc.o.model.String(),
		"orderly", pc.o.orderly, "topics", pc.topics(), "queues", len(pc.Assigned()))
	return nil
}

func (pc *PushConsumer) topics() []string {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	return slices.Sorted(maps.Keys(pc.subs))
}

// Assigned returns the queues this consumer currently consumes, sorted.
func (pc *PushConsumer) Assigned() []client.MessageQueue {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	out := slices.Collect(maps.Keys(pc.queues))
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Topic != b.Topic {
			return a.Topic < b.Topic
		}
		if a.BrokerName != b.BrokerName {
			return a.BrokerName < b.BrokerName
		}
		return a.QueueID < b.QueueID
	})
	return out
}

// Shutdown stops pulling, waits for running handlers (until ctx is done; their context is then
// cancelled), commits the offsets, releases orderly locks and unregisters from the brokers.
func (pc *PushConsumer) Shutdown(ctx context.Context) error {
	if !pc.state.CompareAndSwap(stateStarted, stateShutdown) {
		if pc.state.Swap(stateShutdown) == stateNew {
			pc.core.Shutdown()
		}
		return nil
	}
	pc.mu.Lock()
	var pqs []*processQueue
	for _, pq := range pc.queues {
		pqs = append(pqs, pq)
	}
	pc.mu.Unlock()
	for _, pq := range pqs {
		pq.drop()
	}
	done := make(chan struct{})
	go func() {
		pc.loops.Wait()
		close(pc.stopWork)
		pc.workers.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = fmt.Errorf("consumer: shutdown of group %q: handlers still running: %w", pc.group, ctx.Err())
	}
	pc.cancel()
	cctx, cancel := context.WithTimeout(context.Background(), 2*pc.o.callTimeout)
	defer cancel()
	mqs := make([]client.MessageQueue, 0, len(pqs))
	for _, pq := range pqs {
		mqs = append(mqs, pq.mq)
	}
	if perr := pc.offsets.Persist(cctx, mqs); perr != nil {
		pc.core.Logger().Warn("committing offsets at shutdown failed", "group", pc.group, "err", perr)
		err = errors.Join(err, perr)
	}
	if pc.o.orderly && pc.o.model == Clustering {
		pc.unlock(cctx, mqs)
	}
	pc.core.Unregister(cctx, "", pc.group)
	pc.core.Shutdown()
	pc.core.Logger().Info("consumer shut down", "group", pc.group)
	return err
}

func (pc *PushConsumer) kickRebalance() {
	select {
	case pc.kick <- struct{}{}:
	default:
	}
}

func (pc *PushConsumer) rebalanceLoop() {
	t := time.NewTicker(pc.o.rebalanceInterval)
	defer t.Stop()
	// A topic without a route yet (a producer just created it and the broker's registration has
	// not reached the name server) is retried after 1 s, 2 s, 4 s ... instead of waiting a whole
	// rebalance interval for its first queues.
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	backoff := time.Second
	for {
		select {
		case <-pc.core.Done():
			return
		case <-t.C:
		case <-pc.kick:
		case <-retry.C:
		}
		if pc.state.Load() != stateStarted {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*pc.o.callTimeout)
		complete := pc.rebalance(ctx)
		cancel()
		if complete {
			backoff = time.Second
			retry.Stop()
		} else if backoff < pc.o.rebalanceInterval {
			retry.Reset(backoff)
			backoff *= 2
		}
	}
}

func (pc *PushConsumer) commitLoop() {
	t := time.NewTicker(pc.o.commitInterval)
	defer t.Stop()
	for {
		select {
		case <-pc.core.Done():
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*pc.o.callTimeout)
		if err := pc.offsets.Persist(ctx, pc.Assigned()); err != nil {
			pc.core.Logger().Debug("committing offsets failed", "group", pc.group, "err", err)
		}
		cancel()
	}
}

// consumerIDs asks a broker of topic for the group's consumer ids, sorted.
func (pc *PushConsumer) consumerIDs(ctx context.Context, topic string) ([]string, error) {
	addr, err := pc.core.AnyBrokerAddr(ctx, topic)
	if err != nil {
		return nil, err
	}
	req := remoting.NewRequest(remoting.GetConsumerListByGroup, map[string]string{"consumerGroup": pc.group}, nil)
	resp, err := pc.core.Invoke(ctx, addr, req)
	if err != nil {
		return nil, err
	}
	if err := core.Check(resp, addr, req.Code); err != nil {
		return nil, err
	}
	ids, err := decodeConsumerIDList(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("consumer: consumer list of %q from %s: %w: %v", pc.group, addr, client.ErrBadResponse, err)
	}
	return ids, nil
}

// decodeConsumerIDList decodes a GET_CONSUMER_LIST_BY_GROUP body into sorted, distinct ids.
func decodeConsumerIDList(body []byte) ([]string, error) {
	var b struct {
		ConsumerIDList []string `json:"consumerIdList"`
	}
	if err := json.Unmarshal(body, &b); err != nil {
		return nil, err
	}
	sort.Strings(b.ConsumerIDList)
	return slices.Compact(b.ConsumerIDList), nil
}

// rebalance recomputes the queues of every subscribed topic and starts or stops pulling them. It
// reports false when some topic had no route yet.
func (pc *PushConsumer) rebalance(ctx context.Context) (complete bool) {
	complete = true
	for _, topic := range pc.topics() {
		r, err := pc.core.Route(ctx, topic)
		if err != nil {
			pc.core.Logger().Debug("rebalance: no route", "topic", topic, "err", err)
			complete = false
			continue
		}
		all := r.SubscribeQueues(topic)
		mine := all
		if pc.o.model == Clustering {
			ids, err := pc.consumerIDs(ctx, topic)
			if err != nil {
				pc.core.Logger().Debug("rebalance: consumer list failed", "topic", topic, "err", err)
				complete = false
				continue
			}
			if !slices.Contains(ids, pc.core.ClientID()) {
				pc.core.KickHeartbeat() // the broker does not know us yet
				complete = false
			}
			mine = pc.o.allocate(pc.core.ClientID(), ids, all)
		}
		pc.apply(ctx, topic, mine)
	}
	return complete
}

// apply makes topic's assigned queues equal mine.
func (pc *PushConsumer) apply(ctx context.Context, topic string, mine []client.MessageQueue) {
	want := map[client.MessageQueue]bool{}
	for _, q := range mine {
		want[q] = true
	}
	pc.mu.Lock()
	var drop []*processQueue
	for mq, pq := range pc.queues {
		if mq.Topic == topic && !want[mq] {
			drop = append(drop, pq)
			delete(pc.queues, mq)
		}
	}
	for mq := range pc.resets {
		if mq.Topic == topic && !want[mq] {
			delete(pc.resets, mq) // the queue went to another consumer, which reads the broker's
		}
	}
	var add []client.MessageQueue
	for _, mq := range mine {
		if _, ok := pc.queues[mq]; !ok {
			add = append(add, mq)
		}
	}
	pc.mu.Unlock()
	for _, pq := range drop {
		pc.core.Logger().Info("queue released", "group", pc.group, "queue", pq.mq.String())
		pq.drop()
		pc.core.Go("release", func() { pc.release(pq) })
	}
	for _, mq := range add {
		off, err := pc.startOffset(ctx, mq)
		if err != nil {
			pc.core.Logger().Warn("cannot start queue; will retry", "group", pc.group, "queue", mq.String(), "err", err)
			continue
		}
		if !(pc.o.orderly && pc.o.model == Clustering) {
			pc.offsets.Update(mq, off, false)
		}
		// An orderly queue gets its offset once it holds the broker lock: until then the
		// previous owner may still commit, and committing ours would move its offset back.
		pq := newProcessQueue(mq)
		pc.mu.Lock()
		if pc.state.Load() != stateStarted {
			pc.mu.Unlock()
			return
		}
		pc.queues[mq] = pq
		pc.loops.Add(1)
		pc.mu.Unlock()
		pc.core.Logger().Info("queue assigned", "group", pc.group, "queue", mq.String(), "offset", off)
		go pc.pullLoop(pq, off)
	}
}

// release commits a dropped queue's offset once its pull loop ended and releases its lock.
func (pc *PushConsumer) release(pq *processQueue) {
	<-pq.done
	ctx, cancel := context.WithTimeout(context.Background(), 2*pc.o.callTimeout)
	defer cancel()
	if !pq.reset.Load() {
		if err := pc.offsets.Persist(ctx, []client.MessageQueue{pq.mq}); err != nil {
			pc.core.Logger().Warn("commit offset of a released queue failed", "queue", pq.mq.String(), "err", err)
		}
	}
	if pc.o.orderly && pc.o.model == Clustering {
		pc.unlock(ctx, []client.MessageQueue{pq.mq})
	}
	pc.mu.Lock()
	_, again := pc.queues[pq.mq]
	pc.mu.Unlock()
	if !again {
		pc.offsets.Remove(pq.mq)
	}
}

// startOffset is where consumption of mq starts: the committed offset, or for a new group the
// consume-from-where setting.
func (pc *PushConsumer) startOffset(ctx context.Context, mq client.MessageQueue) (int64, error) {
	if !(pc.o.orderly && pc.o.model == Clustering) { // an orderly queue takes it once locked
		if off, ok := pc.takeReset(mq); ok {
			return off, nil
		}
	}
	var off int64
	var err error
	if rs, ok := pc.offsets.(*RemoteOffsetStore); ok {
		off, err = rs.fetch(ctx, mq) // apply decides whether the memory copy takes it
	} else {
		off, err = pc.offsets.Read(ctx, mq, true)
	}
	if err != nil {
		return -1, err
	}
	if off >= 0 {
		return off, nil
	}
	// As RocketMQ: a new group reads its retry topic from the start, except when it starts
	// from a timestamp (then from the end).
	retry := core.IsRetryTopic(mq.Topic)
	switch {
	case pc.o.from == ConsumeFromFirstOffset || (retry && pc.o.from == ConsumeFromLastOffset):
		return 0, nil
	case retry || pc.o.from == ConsumeFromLastOffset:
		return queueOffset(ctx, pc.core, remoting.GetMaxOffset, mq, nil)
	default:
		return queueOffset(ctx, pc.core, remoting.SearchOffsetByTimestamp, mq,
			map[string]string{"timestamp": strconv.FormatInt(pc.o.fromTime.UnixMilli(), 10)})
	}
}

// handleResetOffset applies RESET_CONSUMER_CLIENT_OFFSET: the queues named are dropped and
// restarted from the new offsets (which the broker has already stored).
func (pc *PushConsumer) handleResetOffset(addr string, req *remoting.Command) *remoting.Command {
	if req.ExtFields["group"] != pc.group {
		return nil
	}
	resets, err := decodeResetOffsets(req.Body)
	if err != nil {
		pc.core.Logger().Warn("bad reset offset request", "addr", addr, "err", err)
		return nil
	}
	reset := map[client.MessageQueue]int64{}
	var dropped []*processQueue
	for _, r := range resets {
		mq, off := r.mq, r.offset
		reset[mq] = off
		pc.mu.Lock()
		pq := pc.queues[mq]
		delete(pc.queues, mq)
		pc.resets[mq] = off
		pc.mu.Unlock()
		pc.offsets.Update(mq, off, false)
		if pq != nil {
			pq.reset.Store(true)
			pq.drop()
			dropped = append(dropped, pq)
		}
		pc.core.Logger().Info("offset reset", "group", pc.group, "queue", mq.String(), "offset", off)
	}
	// Off the broker's request: wait for the dropped queues to stop, commit the reset offsets
	// (after any commit of the old ones still in flight: commits are serialized), then let the
	// rebalance start the queues again.
	pc.core.Go("reset offsets", func() {
		for _, pq := range dropped {
			pc.release(pq)
		}
		for mq, off := range reset {
			pc.offsets.Update(mq, off, false)
		}
		if rs, ok := pc.offsets.(*RemoteOffsetStore); ok {
			ctx, cancel := context.WithTimeout(pc.ctx, 2*pc.o.callTimeout)
			for mq, off := range reset {
				if err := rs.commit(ctx, mq, off); err != nil {
					pc.core.Logger().Warn("commit of a reset offset failed", "group", pc.group, "queue", mq.String(), "offset", off, "err", err)
				}
			}
			cancel()
		}
		pc.kickRebalance()
	})
	return nil
}

// takeReset returns, and forgets, the offset a RESET_CONSUMER_CLIENT_OFFSET set for mq that no
// queue has restarted from yet.
func (pc *PushConsumer) takeReset(mq client.MessageQueue) (int64, bool) {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	off, ok := pc.resets[mq]
	delete(pc.resets, mq)
	return off, ok
}

type queueReset struct {
	mq     client.MessageQueue
	offset int64
}

// decodeResetOffsets decodes a RESET_CONSUMER_CLIENT_OFFSET body (offsetTable keyed by message
// queue objects, in the gson or the fastjson form); entries that do not parse are skipped.
func decodeResetOffsets(body []byte) ([]queueReset, error) {
	pairs, err := core.ObjectKeyMap(body, "offsetTable")
	if err != nil {
		return nil, err
	}
	var out []queueReset
	for _, kv := range pairs {
		var mq client.MessageQueue
		if json.Unmarshal(kv[0], &mq) != nil {
			continue
		}
		off, err := strconv.ParseInt(string(kv[1]), 10, 64)
		if err != nil {
			continue
		}
		out = append(out, queueReset{mq, off})
	}
	return out, nil
}
