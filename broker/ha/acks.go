package ha

import (
	"fmt"
	"time"
)

// SYNC_MASTER acknowledgements without parked goroutines.
//
// A write that must wait for a slave's ack registers an ack waiter (the end offset of its
// records, an optional quorum of replica ids, a deadline and a callback) with AfterAck instead
// of blocking its caller. The waiters are kept sorted by offset. When a slave's ack arrives the
// connection's reader wakes the answering goroutine (ackLoop), which moves every waiter the acks
// now cover to the ready queue and runs their callbacks in offset order. One ticker on that
// goroutine answers the waiters whose deadline passed with AckTimeout (never AckOK unless they
// are covered); Close answers what is covered with AckOK and the rest with AckClosed. So no
// goroutine and no timer exists per waiting write, however many are in flight.
//
// Concurrency: waitMu guards waiters, readyAcks and acksClosed. A waiter is registered under
// waitMu after the covering check, and a slave's ack is stored (pushMax, the connection's ack)
// before the answering goroutine is woken, which reads the acks under waitMu: a waiter is either
// seen as covered at registration or released by a later pass, never missed. Callbacks run on
// the answering goroutine (or inside Close) without any Master lock held.

// AckStatus is the outcome of a wait for a slave's ack.
type AckStatus int

// Ack outcomes.
const (
	AckOK      AckStatus = iota // a slave (or the quorum) acknowledged the offset
	AckTimeout                  // no covering ack before the waiter's timeout
	AckClosed                   // the master closed before a covering ack
)

func (s AckStatus) String() string {
	switch s {
	case AckOK:
		return "ok"
	case AckTimeout:
		return "timeout"
	case AckClosed:
		return "closed"
	}
	return fmt.Sprintf("AckStatus(%d)", int(s))
}

// AckWait says what a write waits for.
type AckWait struct {
	// Offset is the end of the write's records: covered once a slave acknowledged at least it.
	Offset int64
	// Replicas, when not empty (controller mode), are the replica ids whose acks count; the
	// write is covered once Need of them acknowledged Offset over a live connection (AckOf).
	// Empty: any slave's ack counts (PushMax), RocketMQ's SYNC_MASTER rule.
	Replicas []int64
	Need     int
	// Timeout is how long the write waits; after it the callback gets AckTimeout.
	Timeout time.Duration
}

// ackWaiter is one registered AckWait.
type ackWaiter struct {
	w        AckWait
	deadline time.Duration // since m.epoch
	fn       func(AckStatus)
}

type readyAck struct {
	fn func(AckStatus)
	st AckStatus
}

// AfterAck arranges for fn to run once w is covered. It reports deferred=true when fn will run,
// exactly once and later, on the master's answering goroutine (or inside Close): with AckOK after
// the ack covering w, AckTimeout after w.Timeout, AckClosed when the master closed first. It
// reports deferred=false when there is nothing to wait for: fn is then never called and st is
// the outcome (AckOK when w is already covered, AckClosed after Close). fn must not block: it
// runs on the one goroutine that answers every waiting write.
func (m *Master) AfterAck(w AckWait, fn func(AckStatus)) (deferred bool, st AckStatus) {
	if len(w.Replicas) == 0 && m.pushMax.Load() >= w.Offset {
		return false, AckOK
	}
	aw := ackWaiter{w: w, deadline: time.Since(m.epoch) + w.Timeout, fn: fn}
	m.waitMu.Lock()
	if m.acksClosed {
		m.waitMu.Unlock()
		return false, AckClosed
	}
	var acks map[int64]int64
	if len(w.Replicas) > 0 {
		acks = m.Acks()
	}
	if m.covered(&aw.w, m.pushMax.Load(), acks) {
		m.waitMu.Unlock()
		return false, AckOK
	}
	// Appends are serialized, so a new offset is nearly always the largest: insert from the tail.
	i := len(m.waiters)
	for i > 0 && m.waiters[i-1].w.Offset > w.Offset {
		i--
	}
	m.waiters = append(m.waiters, ackWaiter{})
	copy(m.waiters[i+1:], m.waiters[i:])
	m.waiters[i] = aw
	if len(w.Replicas) > 0 {
		m.quorumWaiters++
	}
	m.waiting.Store(int64(len(m.waiters)))
	m.waitMu.Unlock()
	return true, AckOK
}

// covered reports whether w is acknowledged given pushMax and (for a quorum) the replicas' acks.
func (m *Master) covered(w *AckWait, pushMax int64, acks map[int64]int64) bool {
	if len(w.Replicas) == 0 {
		return pushMax >= w.Offset
	}
	n := 0
	for _, id := range w.Replicas {
		if a, ok := acks[id]; ok && a >= w.Offset {
			n++
		}
	}
	return n >= w.Need
}

// PendingAcks is the number of writes waiting for a slave's ack (registered and not yet
// answered).
func (m *Master) PendingAcks() int {
	m.waitMu.Lock()
	defer m.waitMu.Unlock()
	return len(m.waiters) + len(m.readyAcks)
}

// wakeAcks wakes the answering goroutine after an ack when writes are waiting.
func (m *Master) wakeAcks() {
	if m.waiting.Load() == 0 {
		return
	}
	select {
	case m.ackWake <- struct{}{}:
	default:
	}
}

// releaseAcks moves the waiters the acks cover (and, with expire, the ones whose deadline
// passed) to the ready queue, keeping offset order; it reports whether any moved.
func (m *Master) releaseAcksLocked(expire bool) bool {
	if len(m.waiters) == 0 {
		return false
	}
	pushMax := m.pushMax.Load()
	var acks map[int64]int64
	if m.quorumWaiters > 0 {
		acks = m.Acks()
	}
	now := time.Since(m.epoch)
	moved := false
	if !expire && m.quorumWaiters == 0 {
		// The common case: any slave's ack counts, the covered waiters are a prefix.
		i := 0
		for i < len(m.waiters) && m.waiters[i].w.Offset <= pushMax {
			m.readyAcks = append(m.readyAcks, readyAck{fn: m.waiters[i].fn, st: AckOK})
			i++
		}
		if i == 0 {
			return false
		}
		n := copy(m.waiters, m.waiters[i:])
		clear(m.waiters[n:]) // drop the callbacks' references
		m.waiters = m.waiters[:n]
		m.waiting.Store(int64(n))
		return true
	}
	// Quorum waiters (different replica sets) or the timeout pass: check every waiter, in order.
	// Past the largest ack nothing is covered.
	top := pushMax
	for _, a := range acks {
		top = max(top, a)
	}
	keep := m.waiters[:0]
	for _, aw := range m.waiters {
		switch {
		case aw.w.Offset <= top && m.covered(&aw.w, pushMax, acks):
			m.readyAcks = append(m.readyAcks, readyAck{fn: aw.fn, st: AckOK})
		case expire && aw.deadline <= now:
			m.readyAcks = append(m.readyAcks, readyAck{fn: aw.fn, st: AckTimeout})
		default:
			keep = append(keep, aw)
			continue
		}
		moved = true
		if len(aw.w.Replicas) > 0 {
			m.quorumWaiters--
		}
	}
	clear(m.waiters[len(keep):])
	m.waiters = keep
	m.waiting.Store(int64(len(keep)))
	return moved
}

// ackTick is the period of the timeout ticker: a tenth of cfg.AckTimeout, between 1 ms and
// 100 ms (so a timeout is answered at most a tenth late).
func (m *Master) ackTick() time.Duration {
	return min(max(m.cfg.AckTimeout/10, time.Millisecond), 100*time.Millisecond)
}

// ackLoop is the answering goroutine: after every wake (a slave's ack) it answers the covered
// waiters; on its ticker it answers the ones that timed out. What is left when the master closes
// is answered by Close.
func (m *Master) ackLoop() {
	defer m.wg.Done()
	t := time.NewTicker(m.ackTick())
	defer t.Stop()
	var buf []readyAck
	for {
		expire := false
		select {
		case <-m.done:
			return
		case <-m.ackWake:
		case <-t.C:
			expire = true
		}
		m.waitMu.Lock()
		m.releaseAcksLocked(expire)
		m.waitMu.Unlock()
		buf = m.answerAcks(buf)
	}
}

// answerAcks runs every queued callback, in queue order; buf is reused between calls.
func (m *Master) answerAcks(buf []readyAck) []readyAck {
	for {
		m.waitMu.Lock()
		batch := m.readyAcks
		m.readyAcks = buf[:0]
		m.waitMu.Unlock()
		if len(batch) == 0 {
			return batch
		}
		for i := range batch {
			m.runAck(batch[i])
		}
		clear(batch)
		buf = batch
	}
}

// runAck runs one callback; a panic is logged, not allowed to stop the answering loop.
func (m *Master) runAck(r readyAck) {
	defer func() {
		if p := recover(); p != nil {
			m.log.Error("SYNC_MASTER ack callback panicked", "status", r.st, "panic", fmt.Sprint(p))
		}
	}()
	r.fn(r.st)
}

// closeAcks runs in Close after the answering goroutine stopped: the covered waiters get AckOK,
// the rest AckClosed, and no new waiter is taken.
func (m *Master) closeAcks() {
	m.waitMu.Lock()
	m.acksClosed = true
	m.releaseAcksLocked(false)
	for _, aw := range m.waiters {
		m.readyAcks = append(m.readyAcks, readyAck{fn: aw.fn, st: AckClosed})
	}
	clear(m.waiters)
	m.waiters = m.waiters[:0]
	m.quorumWaiters = 0
	m.waiting.Store(0)
	m.waitMu.Unlock()
	m.answerAcks(nil)
}
