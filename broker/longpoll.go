package broker

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/skiffmq/skiff/internal/remoting"
	"github.com/skiffmq/skiff/internal/remoting/server"
)

// holdService keeps pulls that found nothing (long polling, §2.5). A held request is re-run as soon
// as the dispatcher writes a matching entry to its queue, or when its suspend timeout passes (a
// timer per request, so the answer comes at the timeout and never later). Concurrency model (a):
// wake-ups from the dispatcher go through a buffered channel to one goroutine that owns nothing
// but the dispatch; the table itself is under mu, which is never held while re-running a pull.
type holdService struct {
	b *Broker

	mu      sync.Mutex
	held    map[queueKey][]*heldPull
	anyHeld atomic.Bool // len(held) > 0, set under mu after every change: onDispatch reads it without mu
	stopped bool        // set by stop: pulls are answered at once, never held
	wake    chan queueEvent

	workers chan struct{} // bounds concurrent re-runs
	done    chan struct{}
	wg      sync.WaitGroup
}

type queueKey struct {
	topic   string
	queueID int32
}

type queueEvent struct {
	key         queueKey
	queueOffset int64
	tagsCode    int64
}

type heldPull struct {
	conn   *server.Conn
	req    *remoting.Command
	offset int64
	sub    *subscription
	timer  *time.Timer
	key    queueKey
}

func newHoldService(b *Broker) *holdService {
	return &holdService{
		b: b, held: map[queueKey][]*heldPull{}, wake: make(chan queueEvent, 65536),
		workers: make(chan struct{}, 16), done: make(chan struct{}),
	}
}

func (h *holdService) start() {
	h.wg.Add(2)
	go h.run()
	go h.sweep()
}

// onDispatch is the store's dispatch callback; it must not block.
func (h *holdService) onDispatch(topic string, queueID int32, queueOffset, tagsCode int64) {
	if !h.anyHeld.Load() {
		// No pull is held (every publish-only load): no channel send and no wake-up per
		// message. A pull held after this load re-reads the queue's end once registered
		// (suspend), and the dispatcher moved that end before calling here, so the message
		// is not missed.
		return
	}
	select {
	case h.wake <- queueEvent{queueKey{topic, queueID}, queueOffset, tagsCode}:
	default:
		// The periodic sweep catches anything dropped here.
	}
}

// suspend holds a pull that found nothing. It returns false, holding nothing, once stop has
// begun: the caller answers the pull at once (a pull held then would wait for a timer on a
// service that no longer runs, and its worker could block shutdown).
func (h *holdService) suspend(c *server.Conn, req *remoting.Command, topic string, queueID int32, offset int64, sub *subscription, timeoutMs int64) bool {
	if timeoutMs <= 0 {
		timeoutMs = 1000
	}
	key := queueKey{topic, queueID}
	p := &heldPull{conn: c, req: req, offset: offset, sub: sub, key: key}
	// The timer is set before p becomes visible in the table: notify stops it as soon as it can
	// find p (the callback takes h.mu itself, on its own goroutine).
	h.mu.Lock()
	if h.stopped {
		h.mu.Unlock()
		return false
	}
	p.timer = time.AfterFunc(time.Duration(timeoutMs)*time.Millisecond, func() {
		if h.remove(p) {
			h.rerun(p)
		}
	})
	h.held[key] = append(h.held[key], p)
	h.anyHeld.Store(true)
	h.mu.Unlock()
	// A message may have arrived between the store read and the registration above.
	if h.b.store.MaxOffsetInQueue(topic, queueID) > offset && (h.b.fo == nil || !h.b.fo.readHeldBack(key)) {
		if h.remove(p) {
			p.timer.Stop()
			h.rerun(p)
		}
	}
	return true
}

// remove takes p out of the table; only the caller that removes it may answer it.
func (h *holdService) remove(p *heldPull) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	list := h.held[p.key]
	for i, q := range list {
		if q == p {
			list[i] = list[len(list)-1]
			list = list[:len(list)-1]
			if len(list) == 0 {
				delete(h.held, p.key)
			} else {
				h.held[p.key] = list
			}
			h.anyHeld.Store(len(h.held) > 0)
			return true
		}
	}
	return false
}

func (h *holdService) run() {
	defer h.wg.Done()
	for {
		select {
		case <-h.done:
			return
		case ev := <-h.wake:
			if h.b.fo != nil && h.b.fo.readHeldBack(ev.key) {
				continue // controller mode: woken when the queue's messages are confirmed
			}
			h.notify(ev.key, ev.queueOffset+1, &ev.tagsCode)
		}
	}
}

// notify re-runs the held pulls of a queue whose offset is now below maxOffset and whose filter
// matches the new entry (tagsCode nil = do not filter).
func (h *holdService) notify(key queueKey, maxOffset int64, tagsCode *int64) {
	var ready []*heldPull
	h.mu.Lock()
	list := h.held[key]
	keep := list[:0]
	for _, p := range list {
		if p.offset < maxOffset && (tagsCode == nil || p.sub.matchCode(*tagsCode)) {
			ready = append(ready, p)
		} else {
			keep = append(keep, p)
		}
	}
	if len(keep) == 0 {
		delete(h.held, key)
	} else {
		h.held[key] = keep
	}
	h.anyHeld.Store(len(h.held) > 0)
	h.mu.Unlock()
	for _, p := range ready {
		p.timer.Stop()
		h.rerun(p)
	}
}

// rerun executes a held pull again without the suspend option and writes its answer.
func (h *holdService) rerun(p *heldPull) {
	if p.conn.Closed() {
		return
	}
	h.workers <- struct{}{}
	go func() {
		defer func() { <-h.workers }()
		resp := h.b.processPull(p.conn, p.req, false)
		if resp != nil {
			if err := p.conn.WriteResponse(resp); err != nil {
				h.b.log.Debug("write held pull response failed", "addr", p.conn.RemoteAddr(), "err", err)
			}
		}
	}()
}

// sweep re-checks every held request every 5 s, in case a wake-up was dropped.
func (h *holdService) sweep() {
	defer h.wg.Done()
	t := time.NewTicker(5 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-h.done:
			return
		case <-t.C:
			h.mu.Lock()
			keys := make([]queueKey, 0, len(h.held))
			for k := range h.held {
				keys = append(keys, k)
			}
			h.mu.Unlock()
			for _, k := range keys {
				h.notify(k, h.b.store.MaxOffsetInQueue(k.topic, k.queueID), nil)
			}
		}
	}
}

// dropConn forgets the held pulls of a closed connection.
func (h *holdService) dropConn(connID uint64) {
	h.mu.Lock()
	var gone []*heldPull
	for k, list := range h.held {
		keep := list[:0]
		for _, p := range list {
			if p.conn.ID() == connID {
				gone = append(gone, p)
			} else {
				keep = append(keep, p)
			}
		}
		if len(keep) == 0 {
			delete(h.held, k)
		} else {
			h.held[k] = keep
		}
	}
	h.anyHeld.Store(len(h.held) > 0)
	h.mu.Unlock()
	for _, p := range gone {
		p.timer.Stop()
	}
}

// stop answers every held pull at once (with whatever the store has), makes later pulls be
// answered at once instead of held, and stops the goroutines. It is idempotent.
func (h *holdService) stop() {
	h.mu.Lock()
	if h.stopped {
		h.mu.Unlock()
		return
	}
	h.stopped = true
	var all []*heldPull
	for _, list := range h.held {
		all = append(all, list...)
	}
	h.held = map[queueKey][]*heldPull{}
	h.anyHeld.Store(false)
	h.mu.Unlock()
	for _, p := range all {
		p.timer.Stop()
		if !p.conn.Closed() {
			if resp := h.b.processPull(p.conn, p.req, false); resp != nil {
				_ = p.conn.WriteResponse(resp)
			}
		}
	}
	close(h.done)
	h.wg.Wait()
	for i := 0; i < cap(h.workers); i++ {
		h.workers <- struct{}{}
	}
}
