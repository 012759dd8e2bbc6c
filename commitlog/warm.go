package commitlog

import (
	"errors"
	"runtime"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// Pre-faulting (Config.WarmMappedFile). A first write to a page of a fresh mapping traps into the
// kernel (a page fault that finds or allocates the page-cache page and maps it writable); at 1 KiB
// records that is one fault every few messages, on the append path, under appendMu. The warm loop
// moves that work off it: after an append it keeps [wrote, wrote+warmAhead) populated with
// madvise(MADV_POPULATE_WRITE), which faults the pages in without changing their contents (so it
// is safe against the writer writing the same pages), and when the window reaches the end of the
// segment it creates the next segment (preallocate, fsync, map) ahead of the writer, under
// newSegMu so the writer and the warm loop never both create it.
//
// The next segment is created ahead only for segments of at least warmNextMinSegment bytes (real
// deployments); small test segments are created by the writer as before.

const (
	warmAhead          = 16 << 20 // bytes kept populated ahead of the write position
	warmNextMinSegment = 64 << 20 // smallest segment size for which the next one is created ahead
	pageSize           = 4096
)

// wakeWarmer asks the warm loop to extend the window after an append that ended at end.
func (s *Store) wakeWarmer(end int64) {
	if !s.cfg.WarmMappedFile || end+warmAhead/2 <= s.warmed.Load() {
		return
	}
	select {
	case s.wakeWarm <- struct{}{}:
	default:
	}
}

// warmLoop is the pre-fault goroutine (owned by the Store, stopped by Close through done).
func (s *Store) warmLoop() {
	defer s.wg.Done()
	for {
		select {
		case <-s.done:
			return
		case <-s.wakeWarm:
		}
		s.warmTo(s.wrote.Load() + warmAhead)
	}
}

// warmTo populates the commit log from max(warmed, wrote) up to target.
func (s *Store) warmTo(target int64) {
	pos := max(s.warmed.Load(), s.wrote.Load())
	size := s.cfg.MappedFileSizeCommitLog
	for pos < target {
		seg := s.segmentFor(pos)
		if seg == nil {
			if size < warmNextMinSegment {
				return
			}
			var err error
			if seg, err = s.createSegment(pos); err != nil {
				s.log.Debug("pre-creating the next commit-log segment failed; the writer will retry", "offset", pos, "err", err)
				return
			}
		}
		end := min(target, seg.start+seg.size)
		from := (pos - seg.start) &^ (pageSize - 1)
		if err := s.prefault.populate(seg.data[from : end-seg.start]); err != nil {
			if !s.warmFailed.Swap(true) {
				s.log.Info("commit-log pre-fault unavailable; pages fault in on first write", "err", err)
			}
			return
		}
		pos = end
		if pos == seg.start+seg.size && size < warmNextMinSegment {
			pos = target // do not create small segments ahead
		}
		s.warmed.Store(pos)
	}
}

// prefaultMeter counts the bytes pre-faulted and the CPU time the kernel spent doing it. That time
// is the page cache allocating and zero-filling fresh pages: an unavoidable cost of new data (the
// writer would pay it on the append path otherwise), and on a virtual machine whose host backs
// guest memory lazily (free page reporting) much of the broker's CPU per message; the meter lets a
// benchmark say how much (skiff_store_prefault_cpu_seconds_total).
type prefaultMeter struct {
	bytes atomic.Int64
	cpuNs atomic.Int64
}

// populate is populate(b), measured with the calling thread's CPU clock (the goroutine is locked
// to its thread for the call so the two readings are of the same thread).
func (m *prefaultMeter) populate(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	t0 := threadCPU()
	err := populate(b)
	m.cpuNs.Add(int64(threadCPU() - t0))
	if err == nil {
		m.bytes.Add(int64(len(b)))
	}
	return err
}

// threadCPU is the calling thread's CPU time (user + system); 0 where the clock is unavailable.
func threadCPU() time.Duration {
	var ts unix.Timespec
	if unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts) != nil {
		return 0
	}
	return time.Duration(ts.Nano())
}

// PrefaultStats returns the bytes pre-faulted so far and the CPU time that took.
func (s *Store) PrefaultStats() (bytes int64, cpu time.Duration) {
	return s.prefault.bytes.Load(), time.Duration(s.prefault.cpuNs.Load())
}

// populate faults b's pages in writable without touching their contents.
func populate(b []byte) error {
	if len(b) == 0 {
		return nil
	}
	err := unix.Madvise(b, unix.MADV_POPULATE_WRITE)
	if errors.Is(err, unix.EINTR) || errors.Is(err, unix.EAGAIN) {
		err = unix.Madvise(b, unix.MADV_POPULATE_WRITE)
	}
	return err
}

// createSegment returns the segment holding pos, creating it when it does not exist yet. The
// writer (segmentForWrite) and the warm loop both create segments through it.
func (s *Store) createSegment(pos int64) (*segment, error) {
	s.newSegMu.Lock()
	defer s.newSegMu.Unlock()
	if seg := s.segmentFor(pos); seg != nil {
		return seg, nil
	}
	start := pos - pos%s.cfg.MappedFileSizeCommitLog
	seg, err := openSegment(s.fs, s.dir, start, s.cfg.MappedFileSizeCommitLog)
	if err != nil {
		return nil, err
	}
	s.segMu.Lock()
	s.segs = append(s.segs, seg)
	s.segMu.Unlock()
	return seg, nil
}
