package commitlog

import (
	"fmt"
	"time"

	"github.com/skiffmq/skiff/internal/message"
)

// SYNC_FLUSH group commit without parked goroutines.
//
// A SYNC_FLUSH write registers a completion (the end offset of its records and a callback)
// instead of blocking its caller. The pending completions are kept sorted by end offset. After
// the msync that makes [.., end) durable, the flusher moves every completion it covers (a
// prefix of the sorted list) to the ready queue and wakes the answering goroutine
// (completeLoop), which runs the callbacks in that order. So one msync answers every write that
// was registered before it, however many there are, and no goroutine or timer exists per write:
// one ticker on the answering goroutine answers the completions older than SyncFlushTimeout
// with ErrFlushTimeout. A flush failure answers every pending completion with the sticky flush
// error; Close answers what its last flush covered and then the rest with ErrClosed.
//
// Concurrency: flushMu guards pending, ready and answersClosed. A completion is registered under
// flushMu after reading flushed, and the flusher stores flushed before it takes flushMu to
// release, so a completion is either seen as durable at registration or released by a later
// flush, never missed. Callbacks run without any store lock held.

// completion is one SYNC_FLUSH acknowledgement owed to a writer.
type completion struct {
	end      int64         // the records end here: durable once flushed >= end
	n        int           // messages (for FlushStats)
	deadline time.Duration // since s.epoch: answered with ErrFlushTimeout after this
	fn       func(err error)
	// put, when set instead of fn, is a PutMessagesThen callback: it gets res with the flush
	// outcome applied (so a deferred write costs no closure).
	put func(PutResult)
	res PutResult
}

// readyCompletion is a completion released with its outcome (nil: durable).
type readyCompletion struct {
	c   completion
	err error
}

// AfterFlush arranges for fn to run once the commit log is durable below end (n is the number of
// messages the bytes hold). It reports deferred=true when fn will run, exactly once and later, on
// the store's answering goroutine (or inside Close): with nil after the msync covering end, with
// an error wrapping ErrFlushTimeout after SyncFlushTimeout, with the sticky flush error when a
// flush failed, or with ErrClosed when the store closed first. It reports deferred=false when
// there is nothing to wait for; fn is then never called and err is the outcome: nil when end is
// already durable, the sticky flush error, or ErrClosed. fn must not block (it runs on the one
// goroutine that answers every SYNC_FLUSH write).
func (s *Store) AfterFlush(end int64, n int, fn func(err error)) (deferred bool, err error) {
	return s.afterFlush(completion{end: end, n: n, fn: fn})
}

// afterFlush is AfterFlush for a completion with its callback set (fn or put).
func (s *Store) afterFlush(c completion) (deferred bool, err error) {
	end, n := c.end, c.n
	if s.flushed.Load() >= end {
		s.flushedMsgs.Add(int64(n))
		return false, nil
	}
	c.deadline = time.Since(s.epoch) + s.cfg.SyncFlushTimeout
	s.flushMu.Lock()
	switch {
	case s.flushErr.Load() != nil:
		s.flushMu.Unlock()
		return false, *s.flushErr.Load()
	case s.flushed.Load() >= end: // a flush finished since the first check
		s.flushMu.Unlock()
		s.flushedMsgs.Add(int64(n))
		return false, nil
	case s.answersClosed:
		s.flushMu.Unlock()
		return false, ErrClosed
	}
	// Appends are serialized, so a new end is nearly always the largest: insert from the tail.
	i := len(s.pending)
	for i > 0 && s.pending[i-1].end > end {
		i--
	}
	s.pending = append(s.pending, completion{})
	copy(s.pending[i+1:], s.pending[i:])
	s.pending[i] = c
	s.flushMu.Unlock()
	select {
	case s.wakeFlush <- struct{}{}:
	default:
	}
	return true, nil
}

// PutMessagesThen is PutMessages for a caller that answers later. Under SYNC_FLUSH (unless the
// first message has WAIT=false) it appends, registers a completion and returns at once with
// deferred=true: done then runs exactly once on the store's answering goroutine with the final
// result (PutOK after the covering msync; FlushDiskTimeout with Err wrapping ErrFlushTimeout, the
// sticky flush error or ErrClosed otherwise; the message is stored in every case). Otherwise
// (ASYNC_FLUSH, WAIT=false, an append that failed, bytes already durable) it returns the final
// result with deferred=false and never calls done. done must not block.
func (s *Store) PutMessagesThen(msgs []*message.Message, done func(PutResult)) (res PutResult, deferred bool) {
	res, wait := s.put(msgs)
	if !wait {
		return res, false
	}
	if r, deferred := s.afterPut(res, done); !deferred {
		return r, false
	}
	return res, true
}

// afterPut registers the completion of a stored SYNC_FLUSH write res; the completion keeps res
// and done itself, so no closure is allocated per write.
func (s *Store) afterPut(res PutResult, done func(PutResult)) (PutResult, bool) {
	deferred, err := s.afterFlush(completion{end: res.EndOffset, n: res.MsgCount, put: done, res: res})
	if !deferred {
		return flushOutcome(res, err), false
	}
	return res, true
}

// SyncFlush reports whether the store acknowledges writes only after the msync that covers them
// (flushDiskType SYNC_FLUSH): then PutMessagesThen defers its answers.
func (s *Store) SyncFlush() bool { return s.cfg.FlushDiskType == SyncFlush }

// flushOutcome is res after its flush wait ended with err (nil: durable).
func flushOutcome(res PutResult, err error) PutResult {
	if err != nil {
		res.Status = FlushDiskTimeout
		res.Err = fmt.Errorf("commitlog: flush of offset %d: %w", res.EndOffset, err)
	}
	return res
}

// waitRequested reports whether a SYNC_FLUSH write of msgs waits for its flush (WAIT is not
// "false" on the first message, read from the property map or the stored property string).
func waitRequested(msgs []*message.Message) bool {
	return msgs[0].Property(message.PropertyWait) != "false"
}

// releaseFlushed hands every pending completion that ends at or below end to the answering
// goroutine, in offset order, and reports whether completions are still pending (past end).
func (s *Store) releaseFlushed(end int64) (again bool) {
	s.flushMu.Lock()
	i := 0
	for i < len(s.pending) && s.pending[i].end <= end {
		s.ready = append(s.ready, readyCompletion{c: s.pending[i]})
		i++
	}
	if i > 0 {
		n := copy(s.pending, s.pending[i:])
		clear(s.pending[n:]) // drop the callbacks' references
		s.pending = s.pending[:n]
	}
	again = len(s.pending) > 0
	s.flushMu.Unlock()
	if i > 0 {
		s.wakeAnswerer()
	}
	return again
}

// failPending answers every pending completion with err (a flush failure or Close).
func (s *Store) failPendingLocked(err error) {
	for _, c := range s.pending {
		s.ready = append(s.ready, readyCompletion{c: c, err: err})
	}
	clear(s.pending)
	s.pending = s.pending[:0]
}

// expire answers the pending completions whose SyncFlushTimeout passed (durable ones with nil).
func (s *Store) expire() {
	now := time.Since(s.epoch)
	flushed := s.flushed.Load()
	s.flushMu.Lock()
	if len(s.pending) == 0 {
		s.flushMu.Unlock()
		return
	}
	keep := s.pending[:0]
	n := 0
	for _, c := range s.pending {
		switch {
		case c.end <= flushed:
			s.ready = append(s.ready, readyCompletion{c: c})
		case c.deadline <= now:
			s.ready = append(s.ready, readyCompletion{c: c, err: fmt.Errorf("%w: waited %v", ErrFlushTimeout, s.cfg.SyncFlushTimeout)})
		default:
			keep = append(keep, c)
			continue
		}
		n++
	}
	clear(s.pending[len(keep):])
	s.pending = keep
	s.flushMu.Unlock()
	if n > 0 {
		s.wakeAnswerer()
	}
}

func (s *Store) wakeAnswerer() {
	select {
	case s.wakeAnswer <- struct{}{}:
	default:
	}
}

// timeoutTick is the period of the SyncFlushTimeout ticker: a tenth of the timeout, between
// 1 ms and 100 ms (so a timeout is answered at most a tenth late).
func (s *Store) timeoutTick() time.Duration {
	return min(max(s.cfg.SyncFlushTimeout/10, time.Millisecond), 100*time.Millisecond)
}

// completeLoop is the answering goroutine: it runs the callbacks of released completions and,
// on its ticker, answers the ones that timed out. What is still queued when the store closes is
// answered by Close.
func (s *Store) completeLoop() {
	defer s.wg.Done()
	t := time.NewTicker(s.timeoutTick())
	defer t.Stop()
	var batch []readyCompletion
	for {
		select {
		case <-s.done:
			return
		case <-s.wakeAnswer:
		case <-t.C:
			s.expire()
		}
		batch = s.answerReady(batch)
	}
}

// answerReady runs every queued callback, in queue order; buf is reused between calls.
func (s *Store) answerReady(buf []readyCompletion) []readyCompletion {
	for {
		s.flushMu.Lock()
		batch := s.ready
		s.ready = buf[:0]
		s.flushMu.Unlock()
		if len(batch) == 0 {
			return batch
		}
		// Counted before the callbacks run, so a caller that saw its answer sees the flush stats
		// that include it (TestCommitLogCompletionsAnsweredInOffsetOrderAfterCoveringFlush read
		// them between the last callback and the count, once in CI).
		ok := int64(0)
		for i := range batch {
			if batch[i].err == nil {
				ok += int64(batch[i].c.n)
			}
		}
		s.flushedMsgs.Add(ok)
		for i := range batch {
			s.runCompletion(batch[i])
		}
		clear(batch)
		buf = batch
	}
}

// runCompletion runs one callback; a panic is logged, not allowed to stop the answering loop.
func (s *Store) runCompletion(r readyCompletion) {
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("SYNC_FLUSH completion panicked", "end", r.c.end, "panic", fmt.Sprint(p))
		}
	}()
	if r.c.put != nil {
		r.c.put(flushOutcome(r.c.res, r.err))
		return
	}
	r.c.fn(r.err)
}

// PendingFlushes is the number of SYNC_FLUSH writes waiting for their msync.
func (s *Store) PendingFlushes() int {
	s.flushMu.Lock()
	defer s.flushMu.Unlock()
	return len(s.pending) + len(s.ready)
}
