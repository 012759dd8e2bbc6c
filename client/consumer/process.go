package consumer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/skiffmq/skiff/client"
	"github.com/skiffmq/skiff/client/internal/core"
	"github.com/skiffmq/skiff/internal/remoting"
)

// processQueue is the consumer's state for one assigned queue: pulled messages not yet consumed.
type processQueue struct {
	mq       client.MessageQueue
	ctx      context.Context // cancelled by drop
	cancel   context.CancelFunc
	done     chan struct{} // closed when the pull loop returned
	dropped  atomic.Bool
	reset    atomic.Bool  // dropped by an offset reset: do not commit the old offset
	brokerID atomic.Int64 // where the broker suggested pulling from

	mu       sync.Mutex
	inflight map[int64]struct{} // pulled, not yet consumed
	low      offsetHeap         // the in-flight offsets (and some consumed ones, dropped lazily)
	maxSeen  int64              // offset after the highest pulled message
	lockedAt time.Time
}

// offsetHeap is a min-heap of queue offsets, typed (container/heap's interface would box every
// offset pushed and popped: two allocations per message). Offsets mostly arrive in increasing
// order, for which push does not move anything.
type offsetHeap []int64

func (h *offsetHeap) push(x int64) {
	*h = append(*h, x)
	a := *h
	for i := len(a) - 1; i > 0; {
		parent := (i - 1) / 2
		if a[parent] <= a[i] {
			break
		}
		a[parent], a[i] = a[i], a[parent]
		i = parent
	}
}

// pop removes the smallest offset; the heap must not be empty.
func (h *offsetHeap) pop() {
	a := *h
	n := len(a) - 1
	a[0] = a[n]
	a = a[:n]
	for i := 0; ; {
		small, l, r := i, 2*i+1, 2*i+2
		if l < n && a[l] < a[small] {
			small = l
		}
		if r < n && a[r] < a[small] {
			small = r
		}
		if small == i {
			break
		}
		a[i], a[small] = a[small], a[i]
		i = small
	}
	*h = a
}

func newProcessQueue(mq client.MessageQueue) *processQueue {
	ctx, cancel := context.WithCancel(context.Background())
	return &processQueue{mq: mq, ctx: ctx, cancel: cancel, done: make(chan struct{}), inflight: map[int64]struct{}{}, maxSeen: -1}
}

func (pq *processQueue) drop() {
	pq.dropped.Store(true)
	pq.cancel()
}

func (pq *processQueue) add(msgs []*client.MessageExt) {
	pq.mu.Lock()
	defer pq.mu.Unlock()
	for _, m := range msgs {
		if _, ok := pq.inflight[m.QueueOffset]; !ok {
			pq.inflight[m.QueueOffset] = struct{}{}
			pq.low.push(m.QueueOffset)
		}
		pq.maxSeen = max(pq.maxSeen, m.QueueOffset+1)
	}
}

func (pq *processQueue) count() int {
	pq.mu.Lock()
	defer pq.mu.Unlock()
	return len(pq.inflight)
}

// remove forgets consumed messages and returns the offset that may be committed: the lowest
// offset still in flight, or the one after the highest pulled when nothing is. Amortized
// O(log n): consumed offsets leave the heap only when they reach its top.
func (pq *processQueue) remove(msgs []*client.MessageExt) int64 {
	pq.mu.Lock()
	defer pq.mu.Unlock()
	for _, m := range msgs {
		delete(pq.inflight, m.QueueOffset)
	}
	for len(pq.low) > 0 {
		if _, ok := pq.inflight[pq.low[0]]; ok {
			return pq.low[0]
		}
		pq.low.pop()
	}
	return pq.maxSeen
}

// lockValid reports whether the broker lock was confirmed recently (orderly consumption).
func (pq *processQueue) lockValid() bool {
	pq.mu.Lock()
	defer pq.mu.Unlock()
	return !pq.lockedAt.IsZero() && time.Since(pq.lockedAt) < lockValidFor
}

func (pq *processQueue) setLocked(ok bool) {
	pq.mu.Lock()
	defer pq.mu.Unlock()
	if ok {
		pq.lockedAt = time.Now()
	} else {
		pq.lockedAt = time.Time{}
	}
}

// A lock is renewed every lockRenew; the consumer stops consuming a queue whose lock was not
// confirmed within lockValidFor (the broker lets a lock expire after 60 s).
const (
	lockRenew    = 20 * time.Second
	lockValidFor = 30 * time.Second
)

func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// task is a batch for the concurrent workers.
type task struct {
	pq   *processQueue
	msgs []*client.MessageExt
}

// pullLoop pulls mq from offset until the queue is dropped.
func (pc *PushConsumer) pullLoop(pq *processQueue, offset int64) {
	defer pc.loops.Done()
	defer close(pq.done)
	pc.mu.Lock()
	sub := pc.subs[pq.mq.Topic]
	pc.mu.Unlock()
	if sub == nil {
		return
	}
	ctx := pq.ctx
	clusteringOrderly := pc.o.orderly && pc.o.model == Clustering
	next := offset
	for !pq.dropped.Load() {
		if clusteringOrderly && !pq.lockValid() {
			if !pc.lockOne(ctx, pq) {
				sleepCtx(ctx, time.Second)
				continue
			}
			// The previous owner may have committed more than we read at assignment.
			// A pending reset wins: the broker may still hold a commit from before it.
			off, reset := pc.takeReset(pq.mq)
			var err error
			if reset {
				pc.offsets.Update(pq.mq, off, false)
			} else {
				off, err = pc.offsets.Read(ctx, pq.mq, true)
			}
			if err != nil {
				pc.core.Logger().Debug("offset after lock unknown", "queue", pq.mq.String(), "err", err)
				pq.setLocked(false)
				sleepCtx(ctx, time.Second)
				continue
			}
			if off >= 0 {
				next = off
			} else {
				pc.offsets.Update(pq.mq, next, false)
			}
		}
		if pq.count() >= pc.o.maxCached {
			sleepCtx(ctx, 50*time.Millisecond)
			continue
		}
		commit, _ := pc.offsets.Read(ctx, pq.mq, false)
		res, err := pull(ctx, pc.core, pullArgs{group: pc.group, mq: pq.mq, filter: sub.filter, subVersion: sub.version,
			offset: next, max: pc.o.pullBatchSize, commitOffset: commit, suspend: pc.o.pullTimeout, brokerID: pq.brokerID.Load()})
		if err != nil {
			if pq.dropped.Load() {
				return
			}
			pc.core.Logger().Debug("pull failed", "queue", pq.mq.String(), "offset", next, "err", err)
			pq.brokerID.Store(0)
			delay := pc.o.retryDelay
			switch {
			case errors.Is(err, errRouteMoved):
				delay = min(delay, 100*time.Millisecond) // a failover: the route names the new broker
			case core.IsTransport(err) || isNotAvailable(err):
				// The broker died or was deposed: its successor registers within seconds, and the
				// next attempt asks for the route again (at most every half second).
				delay = min(delay, 500*time.Millisecond)
			}
			sleepCtx(ctx, delay)
			continue
		}
		pq.brokerID.Store(res.SuggestWhichBrokerID)
		switch res.Status {
		case client.PullFound:
			msgs := res.Messages
			for _, m := range msgs {
				pc.restoreRetryTopic(m)
			}
			next = res.NextBeginOffset
			if pc.o.orderly {
				next = pc.consumeOrderly(pq, msgs, next)
				continue
			}
			pq.add(msgs)
			for i := 0; i < len(msgs); i += pc.o.batchSize {
				batch := msgs[i:min(i+pc.o.batchSize, len(msgs))]
				select {
				case pc.tasks <- task{pq: pq, msgs: batch}:
				case <-ctx.Done():
					return
				}
			}
		case client.PullNoNewMsg, client.PullNoMatchedMsg:
			next = res.NextBeginOffset
			if pq.count() == 0 {
				pc.offsets.Update(pq.mq, next, true)
			}
		case client.PullOffsetIllegal:
			pc.core.Logger().Warn("pull offset illegal; moving on", "queue", pq.mq.String(), "offset", next,
				"nextBeginOffset", res.NextBeginOffset, "minOffset", res.MinOffset, "maxOffset", res.MaxOffset)
			next = res.NextBeginOffset
			pc.offsets.Update(pq.mq, next, false)
			_ = pc.offsets.Persist(ctx, []client.MessageQueue{pq.mq})
		}
	}
}

// restoreRetryTopic gives a redelivered message its original topic back.
func (pc *PushConsumer) restoreRetryTopic(m *client.MessageExt) {
	if t, ok := strings.CutPrefix(m.Topic, core.RetryPrefix); !ok || t != pc.group {
		return // not a message of the group's retry topic (and no string built to say so)
	}
	if real := m.Property(client.PropertyRetryTopic); real != "" {
		m.Topic = real
	}
}

// handlerFor returns the handler of a message's (original) topic.
func (pc *PushConsumer) handlerFor(topic string) Handler {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if s := pc.subs[topic]; s != nil && s.handler != nil {
		return s.handler
	}
	for _, s := range pc.subs { // a retry message of a topic no longer subscribed
		if s.handler != nil {
			return s.handler
		}
	}
	return nil
}

// call runs the handler; a panic counts as ConsumeRetryLater.
func (pc *PushConsumer) call(msgs []*client.MessageExt) (res ConsumeResult) {
	h := pc.handlerFor(msgs[0].Topic)
	if h == nil {
		return ConsumeRetryLater
	}
	defer func() {
		if r := recover(); r != nil {
			pc.core.Logger().Error("handler panicked; messages will be retried", "group", pc.group, "topic", msgs[0].Topic, "panic", fmt.Sprint(r))
			res = ConsumeRetryLater
		}
	}()
	now := time.Now()
	for _, m := range msgs {
		m.ConsumeStartTime = now
	}
	return h(pc.ctx, msgs)
}

// worker consumes batches concurrently.
func (pc *PushConsumer) worker() {
	defer pc.workers.Done()
	for {
		select {
		case <-pc.stopWork:
			return
		case t := <-pc.tasks:
			pc.consume(t)
		}
	}
}

func (pc *PushConsumer) consume(t task) {
	if t.pq.dropped.Load() {
		return // the next owner reads them again from the committed offset
	}
	res := pc.call(t.msgs)
	done := t.msgs
	if res == ConsumeRetryLater {
		if pc.o.model == Broadcasting {
			pc.core.Logger().Warn("broadcast messages not consumed are dropped", "group", pc.group, "count", len(t.msgs))
		} else {
			var failed []*client.MessageExt
			done = nil
			for _, m := range t.msgs {
				if err := pc.sendBack(t.pq.ctx, m, 0); err != nil {
					pc.core.Logger().Warn("send back failed; retrying locally", "msgId", m.MsgID, "err", err)
					failed = append(failed, m)
					continue
				}
				done = append(done, m)
			}
			if len(failed) > 0 {
				pc.core.Go("retry-local", func() {
					if !sleepCtx(t.pq.ctx, 5*time.Second) {
						return
					}
					for _, m := range failed {
						m.ReconsumeTimes++
					}
					select {
					case pc.tasks <- task{pq: t.pq, msgs: failed}:
					case <-t.pq.ctx.Done():
					}
				})
			}
		}
	}
	if len(done) == 0 {
		return
	}
	off := t.pq.remove(done)
	if !t.pq.dropped.Load() && off >= 0 {
		pc.offsets.Update(t.pq.mq, off, true)
	}
}

// maxReconsume returns the limit for orderly local retries.
func (pc *PushConsumer) maxReconsume() int32 {
	if pc.maxTimes >= 0 {
		return pc.maxTimes
	}
	return 16
}

// consumeOrderly consumes msgs (one queue's, in order) on the pull loop's goroutine and returns
// the next offset to pull.
func (pc *PushConsumer) consumeOrderly(pq *processQueue, msgs []*client.MessageExt, next int64) int64 {
	for i := 0; i < len(msgs); {
		batch := msgs[i:min(i+pc.o.batchSize, len(msgs))]
		if pq.dropped.Load() || (pc.o.model == Clustering && !pq.lockValid()) {
			return batch[0].QueueOffset // not consumed: read again
		}
		if pc.call(batch) == ConsumeSuccess {
			pc.offsets.Update(pq.mq, batch[len(batch)-1].QueueOffset+1, false)
			i += len(batch)
			continue
		}
		if batch[0].ReconsumeTimes >= pc.maxReconsume() && pc.o.model == Clustering {
			ok := true
			for _, m := range batch {
				if err := pc.sendBack(pq.ctx, m, -1); err != nil {
					pc.core.Logger().Warn("moving a message to the DLQ failed", "msgId", m.MsgID, "err", err)
					ok = false
					break
				}
			}
			if ok {
				pc.offsets.Update(pq.mq, batch[len(batch)-1].QueueOffset+1, false)
				i += len(batch)
				continue
			}
		}
		for _, m := range batch {
			m.ReconsumeTimes++
		}
		if !sleepCtx(pq.ctx, pc.o.suspendOrderly) {
			return batch[0].QueueOffset
		}
	}
	return next
}

// sendBack hands a message the handler could not consume back to its broker
// (CONSUMER_SEND_MSG_BACK): delay level 0 lets the broker pick the next retry delay, -1 sends
// it straight to the DLQ.
func (pc *PushConsumer) sendBack(ctx context.Context, m *client.MessageExt, delayLevel int) error {
	addr := pc.core.MasterAddr(m.BrokerName)
	if addr == "" {
		return fmt.Errorf("consumer: send back %s: %w: master of %q is not registered", m.MsgID, client.ErrConnect, m.BrokerName)
	}
	ext := map[string]string{
		"offset": strconv.FormatInt(m.CommitLogOffset, 10), "group": pc.group, "delayLevel": strconv.Itoa(delayLevel),
		"originMsgId": m.MsgID, "originTopic": m.Topic, "unitMode": "false",
	}
	if pc.maxTimes >= 0 {
		ext["maxReconsumeTimes"] = strconv.Itoa(int(pc.maxTimes))
	}
	req := remoting.NewRequest(remoting.ConsumerSendMsgBack, ext, nil)
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), pc.o.callTimeout)
	defer cancel()
	resp, err := pc.core.Invoke(cctx, addr, req)
	if err != nil {
		return err
	}
	return core.Check(resp, addr, req.Code)
}

type lockBody struct {
	ConsumerGroup string                `json:"consumerGroup"`
	ClientID      string                `json:"clientId"`
	MqSet         []client.MessageQueue `json:"mqSet"`
}

// lockBatch asks brokerName's master to lock mqs for this client and returns those locked.
func (pc *PushConsumer) lockBatch(ctx context.Context, brokerName string, mqs []client.MessageQueue) (map[client.MessageQueue]bool, error) {
	addr := pc.core.MasterAddr(brokerName)
	if addr == "" {
		return nil, fmt.Errorf("consumer: lock: %w: master of %q is not registered", client.ErrConnect, brokerName)
	}
	body, _ := json.Marshal(lockBody{ConsumerGroup: pc.group, ClientID: pc.core.ClientID(), MqSet: mqs})
	req := remoting.NewRequest(remoting.LockBatchMQ, nil, body)
	resp, err := pc.core.Invoke(ctx, addr, req)
	if err != nil {
		return nil, err
	}
	if err := core.Check(resp, addr, req.Code); err != nil {
		return nil, err
	}
	var out struct {
		LockOKMQSet []client.MessageQueue `json:"lockOKMQSet"`
	}
	if err := core.Unmarshal(resp.Body, &out); err != nil {
		return nil, fmt.Errorf("consumer: lock answer from %s: %w: %v", addr, client.ErrBadResponse, err)
	}
	ok := map[client.MessageQueue]bool{}
	for _, q := range out.LockOKMQSet {
		ok[q] = true
	}
	return ok, nil
}

func (pc *PushConsumer) lockOne(ctx context.Context, pq *processQueue) bool {
	cctx, cancel := context.WithTimeout(ctx, pc.o.callTimeout)
	defer cancel()
	ok, err := pc.lockBatch(cctx, pq.mq.BrokerName, []client.MessageQueue{pq.mq})
	if err != nil {
		pc.core.Logger().Debug("lock failed", "queue", pq.mq.String(), "err", err)
		return false
	}
	pq.setLocked(ok[pq.mq])
	return ok[pq.mq]
}

// lockLoop renews the locks of every assigned queue.
func (pc *PushConsumer) lockLoop() {
	t := time.NewTicker(lockRenew)
	defer t.Stop()
	for {
		select {
		case <-pc.core.Done():
			return
		case <-t.C:
		}
		pc.mu.Lock()
		byBroker := map[string][]*processQueue{}
		for _, pq := range pc.queues {
			byBroker[pq.mq.BrokerName] = append(byBroker[pq.mq.BrokerName], pq)
		}
		pc.mu.Unlock()
		for b, pqs := range byBroker {
			mqs := make([]client.MessageQueue, len(pqs))
			for i, pq := range pqs {
				mqs[i] = pq.mq
			}
			ctx, cancel := context.WithTimeout(context.Background(), pc.o.callTimeout)
			ok, err := pc.lockBatch(ctx, b, mqs)
			cancel()
			if err != nil {
				continue // keep the old state; it expires after lockValidFor
			}
			for _, pq := range pqs {
				pq.setLocked(ok[pq.mq])
			}
		}
	}
}

// unlock releases the broker locks of mqs.
func (pc *PushConsumer) unlock(ctx context.Context, mqs []client.MessageQueue) {
	byBroker := map[string][]client.MessageQueue{}
	for _, mq := range mqs {
		byBroker[mq.BrokerName] = append(byBroker[mq.BrokerName], mq)
	}
	for b, qs := range byBroker {
		addr := pc.core.MasterAddr(b)
		if addr == "" {
			continue
		}
		body, _ := json.Marshal(lockBody{ConsumerGroup: pc.group, ClientID: pc.core.ClientID(), MqSet: qs})
		if _, err := pc.core.Invoke(ctx, addr, remoting.NewRequest(remoting.UnlockBatchMQ, nil, body)); err != nil {
			pc.core.Logger().Debug("unlock failed", "broker", b, "err", err)
		}
	}
}
