// Package producer sends messages to Skiff (or RocketMQ 4.x) brokers: sync, async and one-way
// sends, batches, ordered messages through a queue selector, delay levels, and transactional
// messages (TransactionProducer).
//
//	p, err := producer.New(producer.WithNameServers("127.0.0.1:9876"), producer.WithGroup("pg"))
//	if err != nil { ... }
//	if err := p.Start(); err != nil { ... }
//	defer p.Shutdown(context.Background())
//	res, err := p.Send(ctx, client.NewMessage("TopicTest", []byte("hello")).WithTags("TagA"))
//
// A send that fails before the broker stored the message (connection refused, timeout, broker
// busy, no permission, ...) is retried on another broker set, up to WithRetries times; broker
// sets that failed or answered slowly are avoided for a while. A send the broker stored but could
// not flush or replicate in time returns its *client.SendResult together with an error wrapping
// client.ErrFlushDiskTimeout, ErrFlushSlaveTimeout or ErrSlaveNotAvailable, and is not retried.
package producer

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/skiffmq/skiff/client"
	"github.com/skiffmq/skiff/client/internal/core"
	"github.com/skiffmq/skiff/internal/message"
	"github.com/skiffmq/skiff/internal/protocol"
	"github.com/skiffmq/skiff/internal/remoting"
)

// Producer sends messages. It is safe for concurrent use.
type Producer struct {
	o        options
	core     *core.Client
	faults   *faults
	rr       atomic.Uint32
	state    atomic.Int32 // 0 new, 1 started, 2 shut down
	inflight sync.WaitGroup
	// pubQueues caches each topic's writable queues with the route they were computed from
	// (topic -> *publishCache): the core replaces a route's pointer when it changes, so a send
	// recomputes (sorting the route) only after a route update, not per message.
	pubQueues sync.Map
}

type publishCache struct {
	route *core.TopicRoute
	qs    []client.MessageQueue
}

const (
	stateNew int32 = iota
	stateStarted
	stateShutdown
)

// New returns a producer; call Start before sending.
func New(opts ...Option) (*Producer, error) {
	o := defaults()
	for _, f := range opts {
		f(&o)
	}
	if o.group == "" {
		return nil, fmt.Errorf("producer: %w: empty group", client.ErrInvalidArgument)
	}
	if o.retries < 0 {
		return nil, fmt.Errorf("producer: %w: retries %d is negative", client.ErrInvalidArgument, o.retries)
	}
	if o.compressOver > 0 && (o.compressLevel < 1 || o.compressLevel > 9) {
		return nil, fmt.Errorf("producer: %w: compression level %d is not 1..9", client.ErrInvalidArgument, o.compressLevel)
	}
	if o.sendTimeout <= 0 {
		return nil, fmt.Errorf("producer: %w: send timeout %v is not positive", client.ErrInvalidArgument, o.sendTimeout)
	}
	c, err := core.New(core.Config{
		Name: "producer", NameServers: o.nameServers, Logger: o.logger, Timeout: o.sendTimeout,
		InstanceName: o.instanceName, RouteInterval: o.routeInterval, HeartbeatInterval: o.heartbeatInterval,
		Credentials: o.credentials, TLS: o.tls, JSONHeaders: o.jsonHeaders,
	})
	if err != nil {
		return nil, err
	}
	p := &Producer{o: o, core: c}
	if o.faultTolerance {
		p.faults = newFaults()
	}
	return p, nil
}

// Group returns the producer group.
func (p *Producer) Group() string { return p.o.group }

// ClientID returns the id brokers know this producer by.
func (p *Producer) ClientID() string { return p.core.ClientID() }

// Start starts route refresh and heartbeats. It contacts nobody yet: routes are fetched on the
// first send to a topic.
func (p *Producer) Start() error {
	if !p.state.CompareAndSwap(stateNew, stateStarted) {
		return fmt.Errorf("producer: %w: Start called twice or after Shutdown", client.ErrInvalidArgument)
	}
	p.core.SetHeartbeat(func() *core.HeartbeatData {
		return &core.HeartbeatData{ProducerDataSet: []core.ProducerData{{GroupName: p.o.group}}}
	})
	p.core.OnRouteChange(func(string, *core.TopicRoute) { p.core.KickHeartbeat() })
	p.core.Start()
	p.core.Logger().Info("producer started", "group", p.o.group, "clientId", p.core.ClientID(), "nameServers", p.core.NameServers())
	return nil
}

// Shutdown waits for async sends in flight (until ctx is done), unregisters the producer group
// from every broker and closes the connections.
func (p *Producer) Shutdown(ctx context.Context) error {
	if !p.state.CompareAndSwap(stateStarted, stateShutdown) {
		if p.state.Load() == stateShutdown {
			return nil
		}
		p.state.Store(stateShutdown)
		p.core.Shutdown()
		return nil
	}
	done := make(chan struct{})
	go func() { p.inflight.Wait(); close(done) }()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = fmt.Errorf("producer: shutdown: async sends still in flight: %w", ctx.Err())
	}
	uctx, cancel := context.WithTimeout(context.Background(), p.o.sendTimeout)
	p.core.Unregister(uctx, p.o.group, "")
	cancel()
	p.core.Shutdown()
	p.core.Logger().Info("producer shut down", "group", p.o.group)
	return err
}

func (p *Producer) checkStarted() error {
	switch p.state.Load() {
	case stateStarted:
		return nil
	case stateShutdown:
		return fmt.Errorf("producer: %w", client.ErrClosed)
	}
	return fmt.Errorf("producer: %w: call Start first", client.ErrNotStarted)
}

// publishQueues returns topic's writable queues, from the route or, for a topic the name servers
// do not know, from the auto-create topic's route (the broker then creates the topic).
func (p *Producer) publishQueues(ctx context.Context, topic string) ([]client.MessageQueue, error) {
	r, err := p.core.Route(ctx, topic)
	if err == nil {
		if c, ok := p.pubQueues.Load(topic); ok && c.(*publishCache).route == r {
			return c.(*publishCache).qs, nil
		}
		if qs := r.PublishQueues(topic); len(qs) > 0 {
			p.pubQueues.Store(topic, &publishCache{route: r, qs: qs})
			return qs, nil
		}
		return nil, fmt.Errorf("producer: topic %q has no writable queue on a registered master: %w", topic, client.ErrNoPermission)
	}
	if !errors.Is(err, client.ErrTopicNotExist) {
		return nil, err
	}
	def, derr := p.core.Route(ctx, p.o.createTopicKey)
	if derr != nil {
		return nil, err // the topic's own error says more
	}
	var qs []client.MessageQueue
	for _, q := range def.PublishQueues(topic) {
		if int(q.QueueID) < p.o.defaultQueueNums {
			qs = append(qs, q)
		}
	}
	if len(qs) == 0 {
		return nil, err
	}
	return qs, nil
}

// prepared is a message ready to go on the wire.
type prepared struct {
	topic     string
	uniq      string
	body      []byte
	props     string
	sysFlag   int32
	flag      int32
	batch     bool
	count     int
	msg       *client.Message // for the selector (first message of a batch)
	reconsume int32
}

func (p *Producer) prepare(msg *client.Message) (*prepared, error) {
	pr := &prepared{}
	if err := p.prepareInto(msg, pr); err != nil {
		return nil, err
	}
	return pr, nil
}

// prepareInto is prepare filling pr (which the async path keeps inside its send state).
func (p *Producer) prepareInto(msg *client.Message, pr *prepared) error {
	if err := msg.Validate(p.o.maxMessageSize); err != nil {
		return fmt.Errorf("producer: %w", err)
	}
	if !msg.HasProperties() {
		p.preparePlain(msg, pr)
		return nil
	}
	props := msg.WireProperties()
	uniq := props[client.PropertyUniqKey]
	if uniq == "" {
		uniq = message.NewUniqKey()
		props[client.PropertyUniqKey] = uniq
	}
	*pr = prepared{topic: msg.Topic, uniq: uniq, body: msg.Body, flag: msg.Flag, count: 1, msg: msg}
	if props[client.PropertyTransactionPrep] == "true" {
		pr.sysFlag |= message.TransactionPrepared
	}
	if p.o.compressOver > 0 && len(msg.Body) >= p.o.compressOver {
		if z, err := client.Deflate(msg.Body, p.o.compressLevel); err == nil && len(z) < len(msg.Body) {
			pr.body = z
			pr.sysFlag |= message.FlagCompressed
		}
	}
	pr.props = message.FormatProperties(props)
	if len(pr.props) > message.MaxPropertiesLength {
		return fmt.Errorf("producer: %w: properties of a message to %q take %d bytes (limit %d)", client.ErrInvalidArgument, msg.Topic, len(pr.props), message.MaxPropertiesLength)
	}
	return nil
}

// preparePlain is prepare for a message without user properties (the common case): the property
// string is written directly, in the sorted key order FormatProperties would use, with no map;
// the new unique key is written into it (it sorts last) and pr.uniq is that part of it, so the
// properties and the key take one allocation.
func (p *Producer) preparePlain(msg *client.Message, pr *prepared) {
	*pr = prepared{topic: msg.Topic, body: msg.Body, flag: msg.Flag, count: 1, msg: msg}
	if p.o.compressOver > 0 && len(msg.Body) >= p.o.compressOver {
		if z, err := client.Deflate(msg.Body, p.o.compressLevel); err == nil && len(z) < len(msg.Body) {
			pr.body = z
			pr.sysFlag |= message.FlagCompressed
		}
	}
	keys := ""
	if len(msg.Keys) > 0 {
		keys = strings.Join(msg.Keys, " ")
	}
	var b strings.Builder
	b.Grow(len(msg.Tags) + len(keys) + message.UniqKeyLength + 40)
	add := func(k, v string) {
		if v == "" {
			return
		}
		if b.Len() > 0 {
			b.WriteByte('\x02')
		}
		b.WriteString(k)
		b.WriteByte('\x01')
		b.WriteString(v)
	}
	if msg.DelayLevel > 0 {
		add(client.PropertyDelayLevel, strconv.Itoa(msg.DelayLevel))
	}
	add(client.PropertyKeys, keys)
	add(client.PropertyTags, msg.Tags)
	if b.Len() > 0 {
		b.WriteByte('\x02')
	}
	b.WriteString(client.PropertyUniqKey)
	b.WriteByte('\x01')
	var uniq [message.UniqKeyLength]byte
	b.Write(message.AppendUniqKey(uniq[:0]))
	pr.props = b.String()
	pr.uniq = pr.props[len(pr.props)-message.UniqKeyLength:]
}

func (p *Producer) prepareBatch(msgs []*client.Message) (*prepared, error) {
	if len(msgs) == 0 {
		return nil, fmt.Errorf("producer: %w: empty batch", client.ErrInvalidArgument)
	}
	for i, m := range msgs {
		if m == nil {
			return nil, fmt.Errorf("producer: %w: batch message %d is nil", client.ErrInvalidArgument, i)
		}
	}
	topic := msgs[0].Topic
	entries := make([]message.BatchEntry, 0, len(msgs))
	uniqs := make([]string, 0, len(msgs))
	for i, m := range msgs {
		if err := m.Validate(p.o.maxMessageSize); err != nil {
			return nil, fmt.Errorf("producer: batch message %d: %w", i, err)
		}
		if m.Topic != topic {
			return nil, fmt.Errorf("producer: %w: batch message %d goes to %q, the batch to %q (one topic per batch)", client.ErrInvalidArgument, i, m.Topic, topic)
		}
		if m.DelayLevel > 0 {
			return nil, fmt.Errorf("producer: %w: batch message %d has delay level %d (batches cannot be delayed)", client.ErrInvalidArgument, i, m.DelayLevel)
		}
		props := m.WireProperties()
		if props[client.PropertyUniqKey] == "" {
			props[client.PropertyUniqKey] = message.NewUniqKey()
		}
		uniqs = append(uniqs, props[client.PropertyUniqKey])
		entries = append(entries, message.BatchEntry{Flag: m.Flag, Body: m.Body, Properties: props})
	}
	body := message.EncodeBatch(entries)
	if len(body) > p.o.maxMessageSize {
		return nil, fmt.Errorf("producer: %w: batch of %d messages takes %d bytes (limit %d); split it", client.ErrInvalidArgument, len(msgs), len(body), p.o.maxMessageSize)
	}
	return &prepared{topic: topic, uniq: strings.Join(uniqs, ","), body: body, batch: true, count: len(msgs), msg: msgs[0]}, nil
}

// requestFields is the room a send's header list gets: the 12-14 header fields and, with
// credentials, AccessKey, SecurityToken and Signature, so that signing appends without growing it.
const requestFields = 17

func (p *Producer) request(pr *prepared, queueID int32) *remoting.Command {
	req := new(remoting.Command)
	p.requestInto(req, make([]protocol.ExtField, 0, requestFields), pr, queueID, time.Now())
	return req
}

// requestInto sets req to the send request of pr to queueID, born at now, its header appended
// to ext (empty, with room for requestFields).
func (p *Producer) requestInto(req *remoting.Command, ext []protocol.ExtField, pr *prepared, queueID int32, now time.Time) {
	code := remoting.SendMessageV2
	if pr.batch {
		code = remoting.SendBatchMessage
	}
	h := protocol.SendMessageRequestHeader{ProducerGroup: p.o.group, Topic: pr.topic, DefaultTopic: p.o.createTopicKey,
		DefaultTopicQueueNums: int32(p.o.defaultQueueNums), QueueID: queueID, SysFlag: pr.sysFlag,
		BornTimestamp: now.UnixMilli(), Flag: pr.flag, Properties: pr.props, ReconsumeTimes: pr.reconsume, Batch: pr.batch}
	*req = remoting.RequestListOf(code, pr.body)
	req.SetRawExt(h.AppendShort(ext))
}

// result turns a send answer into a SendResult (and an error for every status but SEND_OK).
func (p *Producer) result(resp *remoting.Command, addr string, reqCode int32, mq client.MessageQueue, pr *prepared) (*client.SendResult, error) {
	var status client.SendStatus
	switch resp.Code {
	case remoting.Success:
		status = client.SendOK
	case remoting.FlushDiskTimeout:
		status = client.SendFlushDiskTimeout
	case remoting.FlushSlaveTimeout:
		status = client.SendFlushSlaveTimeout
	case remoting.SlaveNotAvailable:
		status = client.SendSlaveNotAvailable
	default:
		return nil, fmt.Errorf("producer: send to %s (%s): %w", mq, addr, core.Check(resp, addr, reqCode))
	}
	rh := protocol.DecodeSendMessageResponseHeader(resp.RawExt())
	res := &client.SendResult{Status: status, MsgID: pr.uniq, OffsetMsgID: rh.MsgID, Queue: mq,
		TransactionID: rh.TransactionID, RegionID: rh.MsgRegion, QueueOffset: rh.QueueOffset}
	if v, ok := resp.Ext("queueId"); ok {
		if q, err := strconv.ParseInt(v, 10, 32); err == nil {
			res.Queue.QueueID = int32(q)
		}
	}
	if status != client.SendOK {
		return res, fmt.Errorf("producer: message %s stored on %s (%s) with status %s: %w", pr.uniq, mq, addr, status, core.Check(resp, addr, reqCode))
	}
	return res, nil
}

// retryable reports whether a failed attempt may be tried again (the message was not stored).
func retryable(err error) bool {
	if core.IsTransport(err) {
		return true
	}
	var be *client.BrokerError
	if errors.As(err, &be) {
		switch be.Code {
		case remoting.TopicNotExist, remoting.ServiceNotAvailable, remoting.SystemError, remoting.SystemBusy, remoting.FlowControl,
			remoting.NoPermission, remoting.NoBuyerID, remoting.NotInCurrentUnit:
			return true
		}
	}
	return false
}

// refusedAsNotMaster reports a SERVICE_NOT_AVAILABLE answer: the broker is a slave, or a master
// that lost its role.
func refusedAsNotMaster(err error) bool {
	var be *client.BrokerError
	return errors.As(err, &be) && be.Code == remoting.ServiceNotAvailable
}

// chooseQueue picks the queue for an attempt.
func (p *Producer) chooseQueue(pr *prepared, queues []client.MessageQueue, avoid string) client.MessageQueue {
	if p.o.selector != nil {
		return p.o.selector.Select(pr.msg, slices.Clone(queues)) // the cached slice stays ours
	}
	return pick(queues, &p.rr, p.faults, avoid)
}

func (p *Producer) record(broker string, start time.Time, failed bool) {
	if p.faults != nil {
		p.faults.record(broker, time.Since(start), failed)
	}
}

// Send sends msg and waits for the broker's answer.
func (p *Producer) Send(ctx context.Context, msg *client.Message) (*client.SendResult, error) {
	if err := p.checkStarted(); err != nil {
		return nil, err
	}
	pr, err := p.prepare(msg)
	if err != nil {
		return nil, err
	}
	return p.sendSync(ctx, pr, nil)
}

// SendBatch sends messages of one topic as one request: they are stored together, in order, in
// one queue. The result's MsgID and OffsetMsgID join the ids with commas.
func (p *Producer) SendBatch(ctx context.Context, msgs ...*client.Message) (*client.SendResult, error) {
	if err := p.checkStarted(); err != nil {
		return nil, err
	}
	pr, err := p.prepareBatch(msgs)
	if err != nil {
		return nil, err
	}
	return p.sendSync(ctx, pr, nil)
}

// SendToQueue sends msg to one given queue (no retry on another broker set).
func (p *Producer) SendToQueue(ctx context.Context, msg *client.Message, mq client.MessageQueue) (*client.SendResult, error) {
	if err := p.checkStarted(); err != nil {
		return nil, err
	}
	if msg == nil {
		return nil, fmt.Errorf("producer: %w: nil message", client.ErrInvalidArgument)
	}
	if mq.Topic != msg.Topic {
		return nil, fmt.Errorf("producer: %w: queue %s is not of topic %q", client.ErrInvalidArgument, mq, msg.Topic)
	}
	pr, err := p.prepare(msg)
	if err != nil {
		return nil, err
	}
	return p.sendSync(ctx, pr, &mq)
}

func (p *Producer) attemptCtx(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, p.o.sendTimeout)
}

// sendOp is one send and its retries. Sync and async sends drive the same loop: next picks the
// queue and master of the next attempt (refreshing the route when no master is known), done
// judges its outcome (stored, retry elsewhere, or give up).
type sendOp struct {
	p        *Producer
	ctx      context.Context
	pr       *prepared
	fixed    *client.MessageQueue // SendToQueue: this queue only, one attempt
	attempts int
	tried    int
	avoid    string // broker set the last attempt failed on
	errs     []error
}

// attempt is one request of a sendOp.
type attempt struct {
	mq    client.MessageQueue
	addr  string
	req   *remoting.Command
	start time.Time
}

func (p *Producer) newSendOp(ctx context.Context, pr *prepared, fixed *client.MessageQueue) *sendOp {
	op := &sendOp{p: p, ctx: ctx, pr: pr, fixed: fixed, attempts: p.o.retries + 1}
	if fixed != nil {
		op.attempts = 1
	}
	return op
}

// next returns the next attempt to make; false when the send has failed (see err).
func (op *sendOp) next() (attempt, bool) {
	mq, addr, ok := op.target()
	if !ok {
		return attempt{}, false
	}
	return attempt{mq: mq, addr: addr, req: op.p.request(op.pr, mq.QueueID), start: time.Now()}, true
}

// target picks the queue and master address of the next attempt; false when the send has
// failed (see err).
func (op *sendOp) target() (client.MessageQueue, string, bool) {
	p, pr := op.p, op.pr
	for op.tried < op.attempts {
		op.tried++
		if op.ctx.Err() != nil {
			op.errs = append(op.errs, fmt.Errorf("producer: %w: %w", client.ErrTimeout, op.ctx.Err()))
			return client.MessageQueue{}, "", false
		}
		var mq client.MessageQueue
		if op.fixed != nil {
			mq = *op.fixed
		} else {
			queues, err := p.publishQueues(op.ctx, pr.topic)
			if err != nil {
				op.errs = append(op.errs, err)
				if !retryable(err) {
					return client.MessageQueue{}, "", false
				}
				continue
			}
			mq = p.chooseQueue(pr, queues, op.avoid)
		}
		addr := p.core.MasterAddr(mq.BrokerName)
		if addr == "" {
			if _, err := p.core.UpdateRoute(op.ctx, pr.topic); err == nil {
				addr = p.core.MasterAddr(mq.BrokerName)
			}
			if addr == "" {
				op.errs = append(op.errs, fmt.Errorf("producer: no master of broker set %q for %s: %w", mq.BrokerName, mq, client.ErrConnect))
				op.avoid = mq.BrokerName
				continue
			}
		}
		return mq, addr, true
	}
	return client.MessageQueue{}, "", false
}

// done judges the outcome of at. over reports whether the send is finished; res and err are then
// its result (a stored message gives res, with an error for a status other than SEND_OK).
func (op *sendOp) done(at attempt, resp *remoting.Command, err error) (res *client.SendResult, _ error, over bool) {
	p := op.p
	if err == nil {
		res, err = p.result(resp, at.addr, at.req.Code, at.mq, op.pr)
		if res != nil { // stored, whatever the status
			p.record(at.mq.BrokerName, at.start, false)
			return res, err, true
		}
	}
	p.record(at.mq.BrokerName, at.start, true)
	op.errs = append(op.errs, err)
	p.core.Logger().Debug("send attempt failed", "topic", op.pr.topic, "broker", at.mq.BrokerName, "addr", at.addr, "attempt", op.tried, "err", err)
	if !retryable(err) {
		return nil, op.err(), true
	}
	if errors.Is(err, client.ErrTopicNotExist) || core.IsTransport(err) || refusedAsNotMaster(err) {
		// The broker dropped the connection or is no longer master (a failover): ask for the
		// route now instead of waiting for the next periodic refresh.
		_, _ = p.core.UpdateRoute(op.ctx, op.pr.topic)
	}
	op.avoid = at.mq.BrokerName
	return nil, nil, false
}

// err is the error of a send that failed: every attempt's error, joined.
func (op *sendOp) err() error {
	return fmt.Errorf("producer: send %s to topic %q failed after %d attempt(s): %w", op.pr.uniq, op.pr.topic, len(op.errs), errors.Join(op.errs...))
}

func (p *Producer) sendSync(ctx context.Context, pr *prepared, fixed *client.MessageQueue) (*client.SendResult, error) {
	op := p.newSendOp(ctx, pr, fixed)
	for {
		at, ok := op.next()
		if !ok {
			return nil, op.err()
		}
		actx, cancel := p.attemptCtx(ctx)
		resp, err := p.core.Invoke(actx, at.addr, at.req)
		cancel()
		if res, err, over := op.done(at, resp, err); over {
			return res, err
		}
	}
}

// SendAsync sends msg and returns once the request is written; cb is called exactly once, from
// another goroutine, with the result or the error (after retries on other broker sets). When
// SendAsync returns an error, cb is not called.
func (p *Producer) SendAsync(ctx context.Context, msg *client.Message, cb func(*client.SendResult, error)) error {
	if err := p.checkStarted(); err != nil {
		return err
	}
	if cb == nil {
		return fmt.Errorf("producer: %w: nil callback", client.ErrInvalidArgument)
	}
	as := &asyncSend{cb: cb}
	if err := p.prepareInto(msg, &as.pr); err != nil {
		return err
	}
	return p.startAsync(ctx, as)
}

// SendBatchAsync is SendBatch that returns once the request is written; cb is called as for
// SendAsync.
func (p *Producer) SendBatchAsync(ctx context.Context, cb func(*client.SendResult, error), msgs ...*client.Message) error {
	if err := p.checkStarted(); err != nil {
		return err
	}
	if cb == nil {
		return fmt.Errorf("producer: %w: nil callback", client.ErrInvalidArgument)
	}
	pr, err := p.prepareBatch(msgs)
	if err != nil {
		return err
	}
	return p.startAsync(ctx, &asyncSend{cb: cb, pr: *pr})
}

// asyncSend is one async send: the send loop's state, the prepared message, the request of the
// current attempt (command and header list) and the user's callback, in one allocation. It is
// the transport's callback for each of its attempts (Answered), so an attempt allocates no
// closure; a retry reuses the request (the transport keeps no reference to a request once it
// is written).
type asyncSend struct {
	op     sendOp
	pr     prepared
	cb     func(*client.SendResult, error)
	at     attempt
	cancel context.CancelFunc // the attempt's context, for a send whose context can be cancelled
	req    remoting.Command
	ext    [requestFields]protocol.ExtField
}

func (p *Producer) startAsync(ctx context.Context, as *asyncSend) error {
	as.op = sendOp{p: p, ctx: ctx, pr: &as.pr, attempts: p.o.retries + 1}
	p.inflight.Add(1)
	if err := as.run(); err != nil {
		p.inflight.Done()
		return err
	}
	return nil
}

// run drives the send until a request is in flight (it returns nil; that request's answer, in
// Answered, drives the rest of the loop and ends it with the callback) or until the send failed
// before any request was in flight (it returns the error and the callback is not called).
func (as *asyncSend) run() error {
	op, p := &as.op, as.op.p
	for {
		mq, addr, ok := op.target()
		if !ok {
			return op.err()
		}
		now := time.Now()
		p.requestInto(&as.req, as.ext[:0], op.pr, mq.QueueID, now)
		as.at = attempt{mq: mq, addr: addr, req: &as.req, start: now}
		var err error
		if op.ctx.Done() == nil {
			// A context that can never be cancelled: the attempt's only limit is the send
			// timeout, which the transport enforces without a context and a timer per send.
			err = p.core.InvokeAsyncRawUntilCallback(now.Add(p.o.sendTimeout), addr, &as.req, as)
		} else {
			actx, cancel := p.attemptCtx(op.ctx)
			as.cancel = cancel // set before the call: Answered may run before it returns
			if err = p.core.InvokeAsyncRawCallback(actx, addr, &as.req, as); err != nil {
				as.cancel = nil
				cancel()
			}
		}
		if err == nil {
			return nil
		}
		if _, err, over := op.done(as.at, nil, err); over {
			return err
		}
	}
}

// Answered is the transport's answer to the current attempt (rpc.Callback).
func (as *asyncSend) Answered(resp *remoting.Command, err error) {
	op, p := &as.op, as.op.p
	if as.cancel != nil {
		as.cancel()
		as.cancel = nil
	}
	if err != nil {
		err = p.core.Transport(err, as.at.addr, as.at.req.Code)
	}
	if res, err, over := op.done(as.at, resp, err); over {
		as.finish(res, err)
		return
	}
	if err := as.run(); err != nil {
		as.finish(nil, err)
	}
}

func (as *asyncSend) finish(res *client.SendResult, err error) {
	defer as.op.p.inflight.Done()
	as.cb(res, err)
}

// SendOneway writes msg to a broker without waiting for an answer: fastest, but the caller never
// learns whether it was stored.
func (p *Producer) SendOneway(ctx context.Context, msg *client.Message) error {
	if err := p.checkStarted(); err != nil {
		return err
	}
	pr, err := p.prepare(msg)
	if err != nil {
		return err
	}
	queues, err := p.publishQueues(ctx, pr.topic)
	if err != nil {
		return err
	}
	mq := p.chooseQueue(pr, queues, "")
	addr := p.core.MasterAddr(mq.BrokerName)
	if addr == "" {
		return fmt.Errorf("producer: no master of broker set %q for %s: %w", mq.BrokerName, mq, client.ErrConnect)
	}
	return p.core.InvokeOneway(ctx, addr, p.request(pr, mq.QueueID))
}
