package commitlog

import (
	"errors"
	"fmt"
)

// ErrOffsetMismatch is returned by AppendCommitLog when the bytes do not start at the slave's end.
var ErrOffsetMismatch = errors.New("commitlog: replicated bytes do not start at the local end")

// ReadCommitLog returns a copy of raw commit-log bytes from offset, at most maxBytes, never past
// the written end nor across a segment end (HA master, §5.2). It returns nil when offset is the
// end. Offsets below the stored minimum are an error.
func (s *Store) ReadCommitLog(offset int64, maxBytes int) ([]byte, error) {
	end := s.wrote.Load()
	if offset == end {
		return nil, nil
	}
	if offset > end || offset < s.minPhy.Load() {
		return nil, fmt.Errorf("%w: offset %d outside the stored range %d..%d", ErrNotFound, offset, s.minPhy.Load(), end)
	}
	s.segMu.RLock()
	defer s.segMu.RUnlock()
	seg := s.segmentForLocked(offset)
	if seg == nil {
		return nil, fmt.Errorf("%w: no segment for offset %d", ErrNotFound, offset)
	}
	hi := min(end, seg.start+seg.size, offset+int64(maxBytes))
	out := make([]byte, hi-offset)
	copy(out, seg.data[offset-seg.start:hi-seg.start])
	return out, nil
}

// AppendCommitLog appends replicated raw bytes (HA slave). They must start at MaxPhyOffset; an
// empty store accepts any segment-aligned offset and starts there (its consume queues are then
// padded in front). Records split across calls are dispatched once complete.
func (s *Store) AppendCommitLog(offset int64, data []byte) error {
	if s.closed.Load() {
		return ErrClosed
	}
	if err := s.FlushError(); err != nil {
		return fmt.Errorf("%w: %w", ErrNotWriteable, err)
	}
	s.appendMu.Lock()
	defer s.appendMu.Unlock()
	s.replica.Store(true)
	segSize := s.cfg.MappedFileSizeCommitLog
	s.segMu.RLock()
	empty := len(s.segs) == 0
	s.segMu.RUnlock()
	if offset != s.writePos {
		if !(empty && offset%segSize == 0) {
			return fmt.Errorf("%w: got offset %d, local end %d", ErrOffsetMismatch, offset, s.writePos)
		}
		s.writePos = offset
		s.minPhy.Store(offset)
		s.dispatched.Store(offset)
		s.flushed.Store(offset)
	}
	for len(data) > 0 {
		pos := s.writePos
		seg, err := s.segmentForWrite(pos)
		if err != nil {
			s.markNotWriteable(err)
			return err
		}
		n := copy(seg.data[pos-seg.start:], data)
		data = data[n:]
		s.writePos = pos + int64(n)
	}
	s.wrote.Store(s.writePos)
	select {
	case s.wakeDispatch <- struct{}{}:
	default:
	}
	select {
	case s.wakeFlush <- struct{}{}:
	default:
	}
	return nil
}

// PrepareWrites readies a store that received replicated bytes for its own appends (a slave
// promoted to master): it dispatches everything written and then takes every queue's next queue
// offset from its consume queue. Replicated appends do not move the queue offsets PutMessages
// assigns, so without this a promoted slave would hand out queue offsets that already exist.
func (s *Store) PrepareWrites() error {
	if s.closed.Load() {
		return ErrClosed
	}
	s.appendMu.Lock()
	defer s.appendMu.Unlock()
	s.dispatchMu.Lock()
	defer s.dispatchMu.Unlock()
	if err := s.dispatchUpTo(s.writePos); err != nil {
		return fmt.Errorf("commitlog: prepare writes: dispatch: %w", err)
	}
	s.cqMu.RLock()
	for k, q := range s.cqs {
		_, hi := q.offsets()
		s.setQueueOffset(k, hi)
	}
	s.cqMu.RUnlock()
	return nil
}
