package commitlog

import (
	"errors"
	"fmt"

	"github.com/skiffmq/skiff/internal/message"
)

// ErrBadTruncateOffset is returned by TruncateTo for an offset that is outside the stored range or
// not the start of a record.
var ErrBadTruncateOffset = errors.New("commitlog: truncate offset is not a record boundary of the stored log")

// ErrTruncated answers a SYNC_FLUSH write still waiting for its flush when TruncateTo cut its
// records.
var ErrTruncated = errors.New("commitlog: the records were cut by TruncateTo before they were durable")

// TruncateTo durably cuts the commit log at offset, which must be a record boundary between
// MinPhyOffset and MaxPhyOffset (a record start, a segment start, or the end). Records at and
// past offset are gone for good: the rest of the segment is zeroed and fsynced, later segments
// are removed, consume-queue entries pointing past offset are zeroed, the index stops trusting
// its newest file past offset (lookups verify every hit), and the checkpoint is rewritten. After
// TruncateTo returns, neither a restart nor a crash brings the cut records back; the next append
// goes to offset and takes the queue offsets the cut records had.
//
// It is meant for a slave whose log diverged from a new master (failover): the divergent tail
// must not come back after a restart. Writers and the dispatcher are held off while it runs.
func (s *Store) TruncateTo(offset int64) error {
	if s.closed.Load() {
		return ErrClosed
	}
	s.appendMu.Lock()
	defer s.appendMu.Unlock()
	s.dispatchMu.Lock()
	defer s.dispatchMu.Unlock()
	s.flushRun.Lock() // no flush pass may store a flushed offset from before the cut
	defer s.flushRun.Unlock()
	if err := s.FlushError(); err != nil {
		return err
	}
	end := s.writePos
	if offset == end {
		return nil
	}
	if offset > end || offset < s.minPhy.Load() || !s.isBoundary(offset) {
		return fmt.Errorf("%w: %d (stored range %d..%d)", ErrBadTruncateOffset, offset, s.minPhy.Load(), end)
	}
	// Consume queues must hold every record below offset before they are cut, so that the queue
	// offsets of the next appends follow the last kept record.
	if err := s.dispatchUpTo(end); err != nil {
		return fmt.Errorf("commitlog: truncate: dispatch: %w", err)
	}
	if err := s.flushRange(s.flushed.Load(), offset); err != nil {
		s.failFlush(err)
		return err
	}
	s.segMu.Lock()
	s.writePos = offset
	s.wrote.Store(offset)
	err := s.cutTail(offset)
	s.segMu.Unlock()
	if err != nil {
		s.failFlush(err)
		return err
	}
	s.flushed.Store(offset)
	s.dispatched.Store(offset)
	// SYNC_FLUSH writes still owed whose records were cut are answered with ErrTruncated (new
	// records reaching their end offset must not make them look durable).
	s.releaseFlushed(offset)
	s.flushMu.Lock()
	s.failPendingLocked(fmt.Errorf("%w at offset %d", ErrTruncated, offset))
	s.flushMu.Unlock()
	s.wakeAnswerer()
	s.cqMu.RLock()
	for k, q := range s.cqs {
		if err := q.truncateAbove(offset); err != nil {
			s.cqMu.RUnlock()
			s.failFlush(err)
			return err
		}
		_, hi := q.offsets()
		s.setQueueOffset(k, hi)
	}
	s.cqMu.RUnlock()
	if s.cfg.MessageIndexEnable && s.idx.endPhy() >= offset {
		s.idx.seal()
	}
	if err := s.saveCheckpoint(offset, s.lastDispTs.Load(), false); err != nil {
		return err
	}
	s.log.Warn("commit log truncated", "offset", offset, "droppedBytes", end-offset)
	return nil
}

// isBoundary reports whether off starts a record, a blank or a segment, or is the end.
func (s *Store) isBoundary(off int64) bool {
	if off == s.writePos {
		return true
	}
	seg := s.segmentFor(off)
	if seg == nil {
		return false
	}
	if off == seg.start {
		return true
	}
	if _, err := message.RecordSize(seg.data[off-seg.start:]); errors.Is(err, message.ErrBlank) {
		return true
	}
	_, err := s.checkAt(seg, off)
	return err == nil
}
